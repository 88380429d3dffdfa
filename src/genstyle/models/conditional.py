"""Class-conditional GAN and VAE (model=cgan, model=cvae): the class is the content, the latent
code is the style.

Both are the plain families built with `num_classes`; these classes only insist on it (so a run
on unlabelled data cannot silently train an unconditional model) and add what conditioning makes
possible: `ConditionalVAE.stylize(content, style)` keeps the style image's latent code and swaps
in the content image's class.
"""

from __future__ import annotations

import torch

from genstyle.errors import GenstyleError, require
from genstyle.models.gan import GAN
from genstyle.models.vae import VAE

CLASSIFIER_SHAPE = (1, 28, 28)


def require_num_classes(name: str, num_classes: int | None) -> None:
    require(
        num_classes is not None,
        f"model={name} is class-conditional and needs model.num_classes (it follows data.num_classes). "
        "Use data with classes (data=fashion_mnist), or for data=image_folder give one sub-folder per "
        "class and set data.num_classes to their number.",
    )


class ConditionalGAN(GAN):
    """DCGAN with a label embedding in G and a projection (or concatenated label map) in D."""

    def __init__(self, *args, num_classes: int | None = None, **kwargs) -> None:
        require_num_classes("cgan", num_classes)
        super().__init__(*args, num_classes=num_classes, **kwargs)


class ConditionalVAE(VAE):
    """VAE with q(z | x, y) and p(x | z, y): z keeps what the class does not explain (stroke,
    shade, proportions), which is what `stylize` carries from the style image."""

    def __init__(self, *args, num_classes: int | None = None, **kwargs) -> None:
        require_num_classes("cvae", num_classes)
        super().__init__(*args, num_classes=num_classes, **kwargs)
        self._classifier = None  # loaded on first use, kept out of the state dict (not a submodule)

    def __setattr__(self, name: str, value) -> None:
        if name == "_classifier":  # plain attribute: the classifier's weights are not this model's
            object.__setattr__(self, name, value)
        else:
            super().__setattr__(name, value)

    # --- stylize -------------------------------------------------------------------------------

    def _check_images(self, images: torch.Tensor, who: str) -> torch.Tensor:
        require(
            isinstance(images, torch.Tensor) and images.ndim == 4 and tuple(images.shape[1:]) == self.image_shape,
            f"{who} must be a (B, {', '.join(map(str, self.image_shape))}) tensor in [-1, 1] (the model's image "
            f"shape), got {tuple(images.shape) if isinstance(images, torch.Tensor) else type(images).__name__}.",
        )
        require(bool(torch.isfinite(images).all()), f"{who} contains NaN or infinite values.")
        return images.float().to(self.device)

    def classify(self, images: torch.Tensor, who: str) -> torch.Tensor:
        """Class indices `(B,)` from the Fashion-MNIST classifier, for images given without labels."""
        names = self.class_names()
        from genstyle.data.sources import FASHION_MNIST_CLASSES

        if self.image_shape != CLASSIFIER_SHAPE or tuple(names) != FASHION_MNIST_CLASSES:
            raise GenstyleError(
                f"{who} were not given and this model was not trained on Fashion-MNIST (classes: "
                f"{', '.join(names) or 'unknown'}), so the Fashion-MNIST classifier cannot label the images; "
                f"pass {who}=<class indices>."
            )
        if self._classifier is None:
            try:
                from genstyle.metrics.classifier import load_classifier
            except ImportError as err:
                raise GenstyleError(f"{who} were not given and the Fashion-MNIST classifier is unavailable ({err}); pass {who}.") from None
            try:
                self._classifier = load_classifier()
            except GenstyleError as err:
                raise GenstyleError(f"{who} were not given, so the images must be classified, but {err} Or pass {who}.") from None
        classifier = self._classifier.to(self.device)
        return classifier(images).argmax(dim=1)

    @torch.no_grad()
    def stylize(
        self,
        content: torch.Tensor,
        style: torch.Tensor,
        content_labels: torch.Tensor | None = None,
        style_labels: torch.Tensor | None = None,
    ) -> torch.Tensor:
        """`content` `(B, C, H, W)` and `style` `(B or 1, C, H, W)` in [-1, 1] -> `(B, C, H, W)` in [-1, 1]:
        the style image's posterior-mean latent decoded with the content image's class. Labels not
        given come from the Fashion-MNIST classifier (the encoder needs the style image's class too)."""
        content = self._check_images(content, "content")
        style = self._check_images(style, "style")
        batch = len(content)
        require(len(style) in (1, batch), f"style has {len(style)} images for {batch} content images; give 1 or {batch}.")
        if len(style) == 1:
            style = style.expand(batch, -1, -1, -1)
            if style_labels is not None and len(torch.as_tensor(style_labels)) == 1:
                style_labels = torch.as_tensor(style_labels).expand(batch)
        was_training = self.training
        self.eval()
        content_labels = self.check_labels(content_labels, batch, "content_labels")
        if content_labels is None:
            content_labels = self.classify(content, "content_labels")
        style_labels = self.check_labels(style_labels, batch, "style_labels")
        if style_labels is None:
            style_labels = self.classify(style, "style_labels")
        mean, _ = self.encode(style, style_labels)  # (B, latent_dim): the style code
        out = self.decode_mean(mean, content_labels)
        self.train(was_training)
        return out

"""Class-conditional GAN and VAE (model=cgan, model=cvae): the class is the content, the latent
code is the style.

Both are the plain families built with `num_classes`; these classes only insist on it (so a run
on unlabelled data cannot silently train an unconditional model) and add what conditioning makes
possible: `stylize(content, style)` keeps the style image's latent code (the CVAE's encoder mean,
the cGAN's by GAN inversion) and swaps in the content image's class.
"""

from __future__ import annotations

from collections.abc import Callable

import torch

from genstyle.errors import GenstyleError, require
from genstyle.models.base import evaluating
from genstyle.models.gan import GAN
from genstyle.models.vae import VAE


def require_num_classes(name: str, num_classes: int | None) -> None:
    require(
        num_classes is not None,
        f"model={name} is class-conditional and needs model.num_classes (it follows data.num_classes). "
        "Use data with classes (data=fashion_mnist), or for data=image_folder give one sub-folder per "
        "class and set data.num_classes to their number.",
    )


class ConditionalStylize:
    """What `stylize` needs in both conditional families: input checks and, for images given
    without labels, an image classifier that the caller attaches (`use_classifier`; the stylize
    command attaches the Fashion-MNIST classifier). The model never loads one itself."""

    _classifier = None  # class attribute default; instances set a plain attribute, not a submodule

    def __setattr__(self, name: str, value) -> None:
        if name == "_classifier":  # plain attribute: the classifier's weights are not this model's
            object.__setattr__(self, name, value)
        else:
            super().__setattr__(name, value)

    def use_classifier(self, classifier: Callable[[torch.Tensor], torch.Tensor] | None) -> None:
        """Attach `classifier` (images `(B, C, H, W)` in [-1, 1] -> logits `(B, num_classes)`),
        used to label content or style images given without labels."""
        self._classifier = classifier

    def _check_images(self, images: torch.Tensor, who: str) -> torch.Tensor:
        require(
            isinstance(images, torch.Tensor) and images.ndim == 4 and tuple(images.shape[1:]) == self.image_shape,
            f"{who} must be a (B, {', '.join(map(str, self.image_shape))}) tensor in [-1, 1] (the model's image "
            f"shape), got {tuple(images.shape) if isinstance(images, torch.Tensor) else type(images).__name__}.",
        )
        require(bool(torch.isfinite(images).all()), f"{who} contains NaN or infinite values.")
        return images.float().to(self.device)

    def classify(self, images: torch.Tensor, who: str) -> torch.Tensor:
        """Class indices `(B,)` from the attached classifier, for images given without labels."""
        if self._classifier is None:
            names = self.class_names()
            raise GenstyleError(
                f"{who} were not given and no classifier is attached to label the images (python stylize.py attaches "
                f"the Fashion-MNIST classifier to models trained on Fashion-MNIST at 28x28; this model's classes: "
                f"{', '.join(names) or 'unknown'}); pass {who}=<class indices>."
            )
        classifier = self._classifier.to(self.device) if isinstance(self._classifier, torch.nn.Module) else self._classifier
        return classifier(images).argmax(dim=1)

    def stylize_inputs(
        self, content: torch.Tensor, style: torch.Tensor, content_labels, style_labels
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
        """Checked `(content, style, content_labels, style_labels)` with `style` broadcast to the
        content batch; labels not given come from the classifier. Call in eval mode."""
        content = self._check_images(content, "content")
        style = self._check_images(style, "style")
        batch = len(content)
        require(len(style) in (1, batch), f"style has {len(style)} images for {batch} content images; give 1 or {batch}.")
        if len(style) == 1:
            style = style.expand(batch, -1, -1, -1)
            if style_labels is not None and len(torch.as_tensor(style_labels)) == 1:
                style_labels = torch.as_tensor(style_labels).expand(batch)
        content_labels = self.check_labels(content_labels, batch, "content_labels")
        if content_labels is None:
            content_labels = self.classify(content, "content_labels")
        style_labels = self.check_labels(style_labels, batch, "style_labels")
        if style_labels is None:
            style_labels = self.classify(style, "style_labels")
        return content, style, content_labels, style_labels


class ConditionalGAN(ConditionalStylize, GAN):
    """DCGAN with a label embedding in G and a projection (or concatenated label map) in D.

    `stylize` finds the style image's latent code by GAN inversion (G has no encoder) and decodes
    it with the content image's class. `inversion_steps` / `inversion_lr` / `inversion_restarts` /
    `inversion_prior` set that optimisation (see `invert`)."""

    def __init__(
        self,
        *args,
        num_classes: int | None = None,
        inversion_steps: int = 200,
        inversion_lr: float = 0.05,
        inversion_restarts: int = 1,
        inversion_prior: float = 1e-3,
        inversion_seed: int = 0,
        **kwargs,
    ) -> None:
        require_num_classes("cgan", num_classes)
        require(isinstance(inversion_steps, int) and inversion_steps >= 0, f"model.inversion_steps={inversion_steps} must be an integer >= 0.")
        require(inversion_lr > 0, f"model.inversion_lr={inversion_lr} must be > 0.")
        require(isinstance(inversion_restarts, int) and inversion_restarts >= 1, f"model.inversion_restarts={inversion_restarts} must be an integer >= 1.")
        require(inversion_prior >= 0, f"model.inversion_prior={inversion_prior} must be >= 0.")
        super().__init__(*args, num_classes=num_classes, **kwargs)
        self.inversion_steps, self.inversion_lr = inversion_steps, inversion_lr
        self.inversion_restarts, self.inversion_prior, self.inversion_seed = inversion_restarts, inversion_prior, inversion_seed

    def inversion_error(self, z: torch.Tensor, images: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
        """Per-image mean squared pixel error `(B,)` of G(z, labels) against `images`."""
        return (self.inference_network("generator")(z, labels) - images).pow(2).flatten(1).mean(dim=1)

    def initial_latent(self, n: int, restart: int = 0) -> torch.Tensor:
        """The fixed starting codes `(n, latent_dim)` of restart `restart` (own generator: the
        global RNG is left alone, and the same call always starts from the same codes)."""
        generator = torch.Generator().manual_seed(self.inversion_seed + restart)
        return self.noise(n, self.latent_dim, generator)

    def invert(self, images: torch.Tensor, labels: torch.Tensor, steps: int | None = None) -> torch.Tensor:
        """Latent codes `(B, latent_dim)` with G(z, labels) close to `images` `(B, C, H, W)` in [-1, 1].

        Adam on z for `steps` (default `inversion_steps`) minimising the per-image pixel MSE plus
        `inversion_prior * mean(z^2)` (keeps z where G was trained), from `inversion_restarts`
        fixed-seed starts; each image keeps its best code. G is frozen in eval mode. This is an
        approximation (G may not be able to draw the image at all) and costs
        `restarts * (steps + 1)` generator forward and backward passes."""
        steps = self.inversion_steps if steps is None else steps
        was_training = self.training
        self.eval()  # not `evaluating`: the optimisation of z needs gradients
        frozen = [(p, p.requires_grad) for p in self.inference_network("generator").parameters()]
        for p, _ in frozen:
            p.requires_grad_(False)
        images, labels = images.detach(), labels.detach()
        best_z, best_err = None, None
        try:
            with torch.enable_grad():  # callers such as stylize run under no_grad
                for restart in range(self.inversion_restarts):
                    z = self.initial_latent(len(images), restart).requires_grad_(True)
                    optimizer = torch.optim.Adam([z], lr=self.inversion_lr)
                    for _ in range(steps):
                        optimizer.zero_grad(set_to_none=True)
                        loss = self.inversion_error(z, images, labels) + self.inversion_prior * z.pow(2).mean(dim=1)
                        loss.sum().backward()  # sum: each image's code gets its own loss's gradient
                        optimizer.step()
                    with torch.no_grad():
                        err = self.inversion_error(z, images, labels)
                        if best_z is None:
                            best_z, best_err = z.detach().clone(), err
                        else:
                            better = err < best_err
                            best_z[better], best_err = z.detach()[better], torch.minimum(err, best_err)
        finally:
            for p, requires_grad in frozen:
                p.requires_grad_(requires_grad)
            self.train(was_training)
        return best_z

    @torch.no_grad()
    def stylize(
        self,
        content: torch.Tensor,
        style: torch.Tensor,
        content_labels: torch.Tensor | None = None,
        style_labels: torch.Tensor | None = None,
    ) -> torch.Tensor:
        """`content` `(B, C, H, W)` and `style` `(B or 1, C, H, W)` in [-1, 1] -> `(B, C, H, W)` in [-1, 1]:
        the style image's latent code decoded with the content image's class. Labels not given come
        from the attached classifier (inversion needs the style image's class too).

        A GAN has no encoder, so the style code is found by inversion (`invert`): an approximation
        that costs `inversion_restarts * (inversion_steps + 1)` generator passes per batch, not one.
        Deterministic: the starting codes come from a fixed seed, not the global RNG."""
        with evaluating(self):
            content, style, content_labels, style_labels = self.stylize_inputs(content, style, content_labels, style_labels)
            z = self.invert(style, style_labels)  # (B, latent_dim): the style code
            return self.inference_network("generator")(z, content_labels).clamp(-1, 1)


class ConditionalVAE(ConditionalStylize, VAE):
    """VAE with q(z | x, y) and p(x | z, y): z keeps what the class does not explain (stroke,
    shade, proportions), which is what `stylize` carries from the style image."""

    def __init__(self, *args, num_classes: int | None = None, **kwargs) -> None:
        require_num_classes("cvae", num_classes)
        super().__init__(*args, num_classes=num_classes, **kwargs)

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
        given come from the attached classifier (the encoder needs the style image's class too)."""
        with evaluating(self):
            content, style, content_labels, style_labels = self.stylize_inputs(content, style, content_labels, style_labels)
            mean, _ = self.encode(style, style_labels)  # (B, latent_dim): the style code
            return self.decode_mean(mean, content_labels)

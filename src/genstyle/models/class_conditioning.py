"""Class conditioning, and sampling from the prior, shared by the GAN and VAE families.

A model is class-conditional when it is built with `num_classes`. It then
- needs a `label` in every batch (a clear error otherwise, never a silent unconditional run);
- samples labels from the training label distribution when `sample(..., labels=None)`; the
  distribution is a buffer set at fit start from `trainer.datamodule.label_distribution()` and
  saved in the checkpoint, so a reloaded model samples the same way;
- records the data's class names in its run config (stored in every checkpoint), so
  `generate.py labels=[sneaker,coat]` can name classes.

`ConditionalStylize` is what stylizing by class needs in cGAN, cVAE and StarGAN v2: content and
style labels, given or read by a classifier that the caller attaches.
"""

from __future__ import annotations

from collections.abc import Callable

import torch

from genstyle.errors import GenstyleError, require
from genstyle.modes import evaluating

NO_LABELS_HELP = (
    "Train conditional models on data with classes: data=fashion_mnist (or mnist, cifar10), or "
    "data=image_folder with one sub-folder per class and data.num_classes set to their number."
)


class LabelConditioning:
    """Mixin for `GenerativeModule` subclasses; call `init_conditioning()` in `__init__`."""

    num_classes: int | None

    def init_conditioning(self) -> None:
        if self.num_classes is not None:
            require(
                isinstance(self.num_classes, int) and self.num_classes >= 2,
                f"model.num_classes={self.num_classes} must be an integer >= 2 (or null for an unconditional model).",
            )
            # Uniform until fit start replaces it with the training label frequencies.
            self.register_buffer("label_prior", torch.full((self.num_classes,), 1.0 / self.num_classes))

    @property
    def is_conditional(self) -> bool:
        return self.num_classes is not None

    # --- data checks ---------------------------------------------------------------------------

    def on_fit_start(self) -> None:
        super().on_fit_start()
        if not self.is_conditional:
            return
        datamodule = getattr(self.trainer, "datamodule", None)
        distribution = datamodule.label_distribution() if hasattr(datamodule, "label_distribution") else None
        if distribution is None:
            raise GenstyleError(f"This {self.family} model is class-conditional but the training data has no labels. {NO_LABELS_HELP}")
        classes = tuple(getattr(datamodule, "classes", ()) or ())
        require(
            len(distribution) == self.num_classes and (not classes or len(classes) == self.num_classes),
            f"model.num_classes={self.num_classes} but the data has {len(classes) or len(distribution)} classes "
            f"({', '.join(classes)}); set data.num_classes to the number of classes of the data.",
        )
        self.label_prior.copy_(distribution.to(self.label_prior))
        if self.run_config is not None and classes:
            self.run_config["class_names"] = list(classes)

    def batch_labels(self, batch: dict[str, torch.Tensor]) -> torch.Tensor | None:
        """The batch's labels for a conditional model (error if absent), None for an unconditional one."""
        if not self.is_conditional:
            return None
        if "label" not in batch:
            raise GenstyleError(f"This {self.family} model is class-conditional but the batch has no 'label'. {NO_LABELS_HELP}")
        return batch["label"]

    def check_labels(self, labels: torch.Tensor | None, n: int, who: str = "labels") -> torch.Tensor | None:
        """Validate user-given labels `(n,)` in `[0, num_classes)`; refuse them for unconditional models."""
        if labels is None:
            return None
        if not self.is_conditional:
            raise GenstyleError(
                f"{who} were given but this {self.family} model is not class-conditional; drop them, or train "
                "a conditional model (model=cgan or model=cvae)."
            )
        labels = torch.as_tensor(labels)
        require(
            labels.dtype in (torch.int64, torch.int32, torch.int16, torch.uint8) and tuple(labels.shape) == (n,),
            f"{who} must be {n} integer class indices, got {labels.dtype} of shape {tuple(labels.shape)}.",
        )
        bad = labels[(labels < 0) | (labels >= self.num_classes)]
        require(len(bad) == 0, f"{who} contain {bad[0].item() if len(bad) else ''}; classes are 0..{self.num_classes - 1}.")
        return labels.long().to(self.device)

    def sample_labels(self, n: int, generator: torch.Generator | None = None) -> torch.Tensor:
        """`(n,)` labels drawn from the training label distribution (repeatable with `generator`)."""
        labels = torch.multinomial(self.label_prior.detach().float().cpu(), n, replacement=True, generator=generator)
        return labels.to(self.device)

    def class_names(self) -> list[str]:
        return list((self.run_config or {}).get("class_names") or [])

    # --- sampling from the prior ---------------------------------------------------------------

    def draw(self, n: int, labels: torch.Tensor | None, generator: torch.Generator | None) -> torch.Tensor:
        """`sample`'s body for the latent-variable families (GAN, VAE and their conditional
        versions): z ~ N(0, I), labels from the training distribution when a conditional model
        is given none, decoded by `decode_latent`."""
        labels = self.check_labels(labels, n)
        z = self.noise(n, self.latent_dim, generator)
        if labels is None and self.is_conditional:
            labels = self.sample_labels(n, generator)  # the training label distribution
        return self.decode_latent(z, labels)


def require_num_classes(name: str, num_classes: int | None) -> None:
    require(
        num_classes is not None,
        f"model={name} is class-conditional and needs model.num_classes (it follows data.num_classes). "
        "Use data with classes (data=fashion_mnist), or for data=image_folder give one sub-folder per "
        "class and set data.num_classes to their number.",
    )


class ConditionalStylize:
    """What `stylize` needs in the families that stylize by class (cGAN, cVAE, StarGAN v2): the
    labels it uses (`stylize_labels`) and, for images given without labels, an image classifier
    that the caller attaches (`use_classifier`; the stylize command attaches the Fashion-MNIST
    classifier). The model never loads one itself."""

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

    @property
    def stylize_labels(self) -> tuple[str, ...]:
        return ("content_labels", "style_labels")  # the content image's class, the style image's code in its own class

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

    @torch.no_grad()
    def stylize(self, content: torch.Tensor, style: torch.Tensor, *, content_labels=None, style_labels=None) -> torch.Tensor:
        """`content` `(B, C, H, W)` and `style` `(B or 1, C, H, W)` in [-1, 1] -> `(B, C, H, W)` in
        [-1, 1]: the style image's latent code (`style_code`, in the style image's class) drawn with
        the content image's class (`draw_with_class`). Labels not given come from the attached
        classifier."""
        with evaluating(self):
            content, style, content_labels, style_labels = self.stylize_inputs(content, style, content_labels, style_labels)
            return self.draw_with_class(self.style_code(style, style_labels), content_labels)

    def stylize_inputs(
        self, content: torch.Tensor, style: torch.Tensor, content_labels, style_labels
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
        """Checked `(content, style, content_labels, style_labels)` with `style` broadcast to the
        content batch; labels not given come from the classifier. Call in eval mode."""
        one_style = isinstance(style, torch.Tensor) and len(style) == 1
        content, style = self.check_stylize_inputs(content, style, content_labels, style_labels)
        batch = len(content)
        if one_style and style_labels is not None and torch.as_tensor(style_labels).numel() == 1:
            style_labels = torch.as_tensor(style_labels).reshape(1).expand(batch)
        content_labels = self.check_labels(content_labels, batch, "content_labels")
        if content_labels is None:
            content_labels = self.classify(content, "content_labels")
        style_labels = self.check_labels(style_labels, batch, "style_labels")
        if style_labels is None:
            style_labels = self.classify(style, "style_labels")
        return content, style, content_labels, style_labels

"""Pictures and a class check of image-to-image models, through `translate` and `stylize` only.

- Translation models (`model.can_translate`, two-domain batches): after every training epoch the
  cycle grid, rows A | G(A) | F(G(A)) | B | F(B) | G(F(B)), as `samples/cycle_epoch_XXX.png`
  (XXX: the epoch, counted from 1)
  (logged as `cycle`). With Fashion-MNIST classes as domains at 28x28, validation and test also
  log the fraction of translations that the Fashion-MNIST classifier puts in the target class
  (`val/target_class_a2b`, `val/target_class_b2a`).
- Exemplar models (`model.can_stylize`, not class-conditional): after every training epoch the
  style x content grid (rows share a style, columns a content) as
  `samples/style_content_epoch_XXX.png` (logged as `style_content_grid`).

The images are the first validation batch (the first training batch when a run has none), up to
the model's `grid_size` (`model.grid_size`) or this callback's.
"""

from __future__ import annotations

import logging
from pathlib import Path

import pytorch_lightning as pl
import torch
from torch import nn

from genstyle.callbacks.epoch_names import shown_epoch
from genstyle.data.sources import FASHION_MNIST_CLASSES
from genstyle.errors import GenstyleError, require
from genstyle.images import grid_image, label_axes, log_image, save_grid, save_png
from genstyle.models.base import GenerativeModule

log = logging.getLogger("genstyle.translation_views")
CLASSIFIER_SHAPE = (1, 28, 28)


@torch.no_grad()
def cycle_grid(model: GenerativeModule, real_a: torch.Tensor, real_b: torch.Tensor) -> torch.Tensor:
    """Rows A | G(A) | F(G(A)) | B | F(B) | G(F(B)), `k` columns: `(6k, C, H, W)` in [-1, 1]."""
    k = min(len(real_a), len(real_b))
    real_a, real_b = real_a[:k].to(model.device), real_b[:k].to(model.device)
    fake_b, fake_a = model.translate(real_a, "b"), model.translate(real_b, "a")  # translate(x, target domain)
    rec_a, rec_b = model.translate(fake_b, "a"), model.translate(fake_a, "b")
    return torch.cat([real_a, fake_b, rec_a, real_b, fake_a, rec_b])


@torch.no_grad()
def stylize_grid(model: GenerativeModule, content: torch.Tensor, style: torch.Tensor) -> torch.Tensor:
    """uint8 `(C, H', W')` grid of `(1 + len(style))` rows by `(1 + len(content))` columns, its axes
    named (`images.label_axes`: "content ->" above it, "style ->" down its left side).

    The top row holds the content images and the left column the style images (the corner is
    blank); cell (i, j) is `model.stylize(content[j], style[i])`, so rows share a style and
    columns share a content."""
    k = len(content)
    device = model.device
    rows = [torch.cat([torch.full_like(content[:1], 1.0), content.cpu()])]  # white corner
    for s in style:
        result = model.stylize(content.to(device), s[None].to(device).expand(k, -1, -1, -1))
        rows.append(torch.cat([s[None].cpu(), result.cpu()]))
    return label_axes(grid_image(torch.cat(rows), nrow=k + 1), top="content ->", left="style ->")


class TranslationViews(pl.Callback):
    def __init__(self, grid_size: int = 8) -> None:
        require(grid_size >= 2, f"callbacks.translation_views.grid_size={grid_size} must be >= 2.")
        self.grid_size = grid_size
        self._batch: dict[str, torch.Tensor] | None = None  # the grid's images (CPU)
        self._from_validation = False
        self._classifier: nn.Module | None = None
        self._class_index: tuple[int, int] | None = None
        self._classifier_checked = False

    # --- which images ---------------------------------------------------------------------------

    def _size(self, pl_module: GenerativeModule) -> int:
        return int(getattr(pl_module, "grid_size", None) or self.grid_size)

    def _keep(self, batch: dict[str, torch.Tensor], pl_module: GenerativeModule) -> None:
        k = self._size(pl_module)
        self._batch = {key: batch[key][:k].detach().cpu() for key in ("image", "image_b") if key in batch}

    def on_train_batch_end(self, trainer, pl_module, outputs, batch, batch_idx: int) -> None:
        if self._batch is None and isinstance(batch, dict):  # used when the run has no validation
            self._keep(batch, pl_module)

    def on_validation_batch_end(self, trainer, pl_module, outputs, batch, batch_idx: int, dataloader_idx: int = 0) -> None:
        if batch_idx == 0 and not trainer.sanity_checking and isinstance(batch, dict):
            if not self._from_validation or self._batch is None:
                self._keep(batch, pl_module)
                self._from_validation = True
        self._log_target_class(pl_module, batch, "val")

    def on_test_batch_end(self, trainer, pl_module, outputs, batch, batch_idx: int, dataloader_idx: int = 0) -> None:
        self._log_target_class(pl_module, batch, "test")

    # A run resumed mid-epoch must draw its grids from the images the uninterrupted run kept (the
    # first training batch when there is no validation), not from the first batch after the resume.
    def state_dict(self) -> dict:
        return {"batch": self._batch, "from_validation": self._from_validation}

    def load_state_dict(self, state_dict: dict) -> None:
        self._batch = state_dict.get("batch")
        self._from_validation = bool(state_dict.get("from_validation", False))

    # --- target-class accuracy ------------------------------------------------------------------

    def _target_classifier(self, trainer: pl.Trainer, pl_module: GenerativeModule) -> nn.Module | None:
        """The Fashion-MNIST classifier when the domains are Fashion-MNIST classes at 28x28; None
        (with one logged note) when its weights are not available."""
        if not self._classifier_checked:
            self._classifier_checked = True
            # The model's record of its domains (model.domain_classes), else the data's.
            datamodule = trainer.datamodule
            a, b = getattr(pl_module, "domain_classes", None) or (None, None)
            if a is None or b is None:
                a, b = getattr(datamodule, "domain_a", None), getattr(datamodule, "domain_b", None)
            if a in FASHION_MNIST_CLASSES and b in FASHION_MNIST_CLASSES and pl_module.image_shape == CLASSIFIER_SHAPE:
                try:
                    from genstyle.classifier.fashion_classifier import load_classifier

                    self._classifier = load_classifier()
                    self._class_index = (FASHION_MNIST_CLASSES.index(a), FASHION_MNIST_CLASSES.index(b))
                except (ImportError, GenstyleError) as err:
                    log.warning("val/target_class_* not computed: the Fashion-MNIST classifier is unavailable (%s)", err)
        return None if self._classifier is None else self._classifier.to(pl_module.device)

    @torch.no_grad()
    def _log_target_class(self, pl_module: GenerativeModule, batch, prefix: str) -> None:
        if not (pl_module.can_translate and isinstance(batch, dict) and "image_b" in batch):
            return
        classifier = self._target_classifier(pl_module.trainer, pl_module)
        if classifier is None:
            return
        index_a, index_b = self._class_index
        real_a, real_b = batch["image"], batch["image_b"]
        fake_b, fake_a = pl_module.translate(real_a, "b"), pl_module.translate(real_b, "a")
        metrics = {
            f"{prefix}/target_class_a2b": (classifier(fake_b).argmax(1) == index_b).float().mean(),
            f"{prefix}/target_class_b2a": (classifier(fake_a).argmax(1) == index_a).float().mean(),
        }
        pl_module.log_dict(metrics, on_epoch=True, sync_dist=True, batch_size=len(real_a))

    # --- pictures -------------------------------------------------------------------------------

    def on_train_epoch_end(self, trainer: pl.Trainer, pl_module: GenerativeModule) -> None:
        if self._batch is None or not trainer.is_global_zero:
            return
        epoch, samples = shown_epoch(trainer.current_epoch), Path(trainer.default_root_dir) / "samples"
        images = self._batch["image"]
        if pl_module.can_translate and "image_b" in self._batch:
            real_b = self._batch["image_b"]
            path = save_grid(cycle_grid(pl_module, images, real_b), samples / f"cycle_epoch_{epoch:03d}.png",
                             nrow=min(len(images), len(real_b)))
            caption = f"epoch {epoch}: rows A, G(A), F(G(A)), B, F(B), G(F(B))"
            log_image(trainer, "cycle", path, step=trainer.global_step, caption=caption)
        elif pl_module.can_stylize and not pl_module.is_conditional and len(images) >= 2:
            grid = stylize_grid(pl_module, content=images, style=images.flip(0))
            path = save_png(grid, samples / f"style_content_epoch_{epoch:03d}.png")
            log_image(trainer, "style_content_grid", path, step=trainer.global_step,
                      caption=f"epoch {epoch}: rows share a style, columns a content")

"""Interpretability views at the end of training, saved to `<run dir>/views/` and logged.

Which views a run gets follows from the model's interface (see `genstyle.callbacks.latent_views`): VAEs get
`interpolation.png` and `traversal.png`; conditional models `style_content.png`; other models
none. `views.json` says how each picture was made (images used, latent dimensions and their KL).
"""

from __future__ import annotations

import json
from pathlib import Path

import pytorch_lightning as pl
import torch
from pytorch_lightning.utilities import rank_zero_only

from genstyle.callbacks import latent_views
from genstyle.errors import require
from genstyle.files import write_text_atomic
from genstyle.images import grid_image, label_axes, log_image, save_grid, save_png
from genstyle.models.base import GenerativeModule, evaluating


def reference_batch(trainer: pl.Trainer) -> dict[str, torch.Tensor]:
    """The first validation batch (fixed order), or the first training batch when there is no validation split."""
    datamodule = trainer.datamodule
    require(datamodule is not None, "callbacks.interpretability needs the run's DataModule for real images.")
    loader = datamodule.val_dataloader()
    if not loader:
        loader = datamodule.train_dataloader()
    return next(iter(loader))


def same_class_pairs(labels: torch.Tensor, n: int) -> tuple[list[int], list[int]]:
    """Up to `n` index pairs (a, b), a != b, with equal labels, each starting from a different class where possible."""
    starts, ends = [], []
    for a in range(len(labels)):
        partners = [b for b in range(a + 1, len(labels)) if labels[b] == labels[a] and b not in ends and b not in starts]
        if partners and a not in ends and labels[a] not in labels[starts]:
            starts.append(a)
            ends.append(partners[0])
        if len(starts) == n:
            break
    return starts, ends


class InterpretabilityViews(pl.Callback):
    def __init__(
        self, dirpath: str, num_pairs: int = 6, steps: int = 8, num_dims: int = 8, num_styles: int = 8,
    ) -> None:
        require(min(num_pairs, num_dims, num_styles) > 0 and steps >= 2,
                "callbacks.interpretability: num_pairs, num_dims, num_styles must be > 0 and steps >= 2.")
        self.dirpath = Path(dirpath)
        self.num_pairs, self.steps, self.num_dims, self.num_styles = num_pairs, steps, num_dims, num_styles

    @rank_zero_only
    def on_train_end(self, trainer: pl.Trainer, pl_module: GenerativeModule) -> None:
        views = self.render(pl_module, reference_batch(trainer))
        for name, (path, caption) in views.items():
            log_image(trainer, f"views/{name}", path, step=trainer.global_step, caption=caption)

    def render(self, model: GenerativeModule, batch: dict[str, torch.Tensor]) -> dict[str, tuple[Path, str]]:
        """Write the views that apply to `model`; returns {name: (png path, caption)}."""
        images = batch["image"]
        labels = batch.get("label") if model.is_conditional else None
        out: dict[str, tuple[Path, str]] = {}
        facts: dict[str, object] = {"reference_images": len(images)}
        if model.has_encoder:
            out.update(self._vae_views(model, images, labels, facts))
        if latent_views.has_style_content(model):
            out.update(self._style_content(model, images, labels, facts))
        if out:
            write_text_atomic(self.dirpath / "views.json", json.dumps(facts, indent=2) + "\n")
        return out

    def _vae_views(self, model, images, labels, facts) -> dict[str, tuple[Path, str]]:
        out = {}
        if labels is not None:  # conditional: interpolate within a class, so only the style moves
            starts, ends = same_class_pairs(labels, self.num_pairs)
        else:
            n = min(self.num_pairs, len(images) // 2)
            starts, ends = list(range(0, 2 * n, 2)), list(range(1, 2 * n, 2))
        if starts:
            pair_labels = None if labels is None else labels[starts]
            grid = latent_views.interpolation(model, images[starts], images[ends], pair_labels, self.steps)
            path = save_grid(grid, self.dirpath / "interpolation.png", nrow=self.steps + 2)
            out["interpolation"] = (path, "rows: real image, posterior-mean interpolation, real image")
            facts["interpolation"] = {"pairs": [[a, b] for a, b in zip(starts, ends, strict=True)], "steps": self.steps}
        kl = latent_views.kl_per_dimension(model, images, labels)
        dims = latent_views.top_kl_dims(kl, self.num_dims)
        values = torch.linspace(-3, 3, 9)
        grid = latent_views.traversal(model, images[:1], dims, None if labels is None else labels[:1], values)
        path = save_grid(grid, self.dirpath / "traversal.png", nrow=len(values))
        out["traversal"] = (path, f"rows: latent dims {dims} (highest KL first), columns: value -3..3")
        facts["traversal"] = {
            "dims": dims, "kl_nats": [round(float(kl[d]), 4) for d in dims], "values": values.tolist(),
            "total_kl_nats": round(float(kl.sum()), 4), "base_image_index": 0,
        }
        return out

    def _style_content(self, model, images, labels, facts) -> dict[str, tuple[Path, str]]:
        r = min(self.num_styles, len(images))
        if model.has_encoder:  # styles of real images, each shown at the start of its row
            with evaluating(model):
                styles, _ = model.encode(images[:r].to(model.device), labels[:r].to(model.device))
            style_images, source = images[:r], "posterior means of the first reference images (shown first)"
        else:
            generator = torch.Generator().manual_seed(0)
            styles, style_images, source = torch.randn(r, model.latent_dim, generator=generator), None, "z ~ N(0, I), seed 0"
        grid = latent_views.class_style_grid(model, styles, style_images)
        ncol = model.num_classes + (style_images is not None)
        path = save_png(label_axes(grid_image(grid, nrow=ncol), top="class (content) ->", left="style ->"),
                        self.dirpath / "style_content.png")
        names = model.class_names() if hasattr(model, "class_names") else []
        out = {"style_content": (path, "rows share a latent code (style), columns a class (content)")}
        facts["style_content"] = {"rows": r, "styles": source, "columns": names or list(range(model.num_classes))}
        return out

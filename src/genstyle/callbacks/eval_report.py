"""The report writer shared by sample and translation evaluation: `eval.json` (every number,
its protocol and the history of evaluations), the grids of evaluated images and the W&B summary
(best value of each metric, the protocol)."""

from __future__ import annotations

import json
import math
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import pytorch_lightning as pl
import torch

from genstyle.files import write_json_atomic
from genstyle.images import log_image, save_grid


class EvalReport:
    def __init__(self, dirpath: Path, grid_samples: int) -> None:
        self.dirpath, self.grid_samples = Path(dirpath), grid_samples
        self.history: list[dict[str, Any]] = []
        self._wandb_defined = False

    def write(self, trainer: pl.Trainer, epoch: int, logged: dict[str, float], seconds: float, **sections: Any) -> None:
        """Add this evaluation to the history and rewrite `eval.json` with it and `sections`
        (protocol, notes, class counts ...)."""
        metrics = {k: float(v) for k, v in logged.items()}
        self.history.append({"epoch": epoch, "step": trainer.global_step, **metrics})
        payload = {"epoch": epoch, "step": trainer.global_step, "metrics": metrics, **sections,
                   "seconds": round(seconds, 3), "history": self.history}
        self.dirpath.mkdir(parents=True, exist_ok=True)
        write_json_atomic(self.dirpath / "eval.json", json.loads(json.dumps(payload, default=str)))

    def grid(self, trainer: pl.Trainer, images: torch.Tensor, name: str, key: str, caption: str) -> None:
        """Save the first `grid_samples` images as `eval_samples/<name>.png` and log them as `key`."""
        path = save_grid(images[: self.grid_samples], self.dirpath / "eval_samples" / f"{name}.png",
                         nrow=max(1, int(math.sqrt(self.grid_samples))))
        log_image(trainer, key, path, step=trainer.global_step, caption=caption)

    def wandb_loggers(self, trainer: pl.Trainer, lower: Iterable[str], higher: Iterable[str]) -> list:
        """The run's W&B loggers. On first use, W&B is told to keep the best value of each metric in
        the summary (min for `lower`, max for `higher`), so runs sort by val/fid in the dashboard."""
        from pytorch_lightning.loggers import WandbLogger

        loggers = [logger for logger in trainer.loggers if isinstance(logger, WandbLogger)]
        if loggers and not self._wandb_defined:
            for logger in loggers:
                for keys, summary in ((lower, "min"), (higher, "max")):
                    for key in keys:
                        logger.experiment.define_metric(f"val/{key}", summary=summary)
            self._wandb_defined = True
        return loggers

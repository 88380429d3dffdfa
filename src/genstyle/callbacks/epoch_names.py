"""Epoch numbers as the user sees them: counted from 1, as the progress bar and the headline count.

Lightning counts from 0 (`trainer.current_epoch`). The records keep its count (`epoch` in
metrics_history.jsonl, eval.json and the checkpoints); file names, image captions and messages say
`shown_epoch(trainer.current_epoch)`: the first epoch's grid is `samples/epoch_001.png` and its
best checkpoint `checkpoints/best-epoch001.ckpt` (`EpochCheckpoint`). Runs written before
(`epoch_000.png`, `best-epoch000.ckpt` for the first epoch) load and resume as they are: nothing
finds a file by the epoch number in its name (`ckpt_path=last` is `last.ckpt`)."""

from __future__ import annotations

from typing import Any

from pytorch_lightning.callbacks import ModelCheckpoint


def shown_epoch(current_epoch: int) -> int:
    """The number a user reads for Lightning's `current_epoch` (0 -> 1)."""
    return int(current_epoch) + 1


class EpochCheckpoint(ModelCheckpoint):
    """Lightning's ModelCheckpoint whose file names count epochs from 1: `{epoch}` in `filename`
    is `shown_epoch` of the epoch the checkpoint ends (`best-epoch{epoch:03d}` -> `best-epoch001.ckpt`
    after the first). `{step}` and the monitored values are Lightning's."""

    def format_checkpoint_name(self, metrics: dict[str, Any], filename: str | None = None, ver: int | None = None,
                               prefix: str | None = None) -> str:
        metrics = dict(metrics)  # Lightning's candidates are used again after naming (its log lines)
        if "epoch" in metrics:
            metrics["epoch"] = shown_epoch(metrics["epoch"])
        return super().format_checkpoint_name(metrics, filename=filename, ver=ver, prefix=prefix)

    @property
    def state_key(self) -> str:
        # Lightning's key names the class: keep ModelCheckpoint's, so the best-model record of a
        # checkpoint written by plain ModelCheckpoint (runs from before this class) is restored on
        # resume, and the other way round.
        return super().state_key.replace(type(self).__qualname__, ModelCheckpoint.__qualname__, 1)

"""Mid-epoch resumption for the training loader.

Lightning saves `state_dict()` of every training loader that has one into each checkpoint and
calls `load_state_dict()` on resume. The samplers already give an order that is a pure function
of (seed, epoch); what a mid-epoch resume also needs is *where* in that order the run stopped,
so the resumed epoch skips exactly the batches that were already trained on.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import torch
from torch.utils.data import DataLoader, Sampler


class ResumingSampler(Sampler):
    """Wraps any epoch-aware batch sampler; after `resume_at(epoch, done)` the next pass over
    `epoch` starts at batch `done`. Every other pass is the inner sampler's, unchanged."""

    def __init__(self, inner: Sampler) -> None:
        self.inner = inner
        self.pending: tuple[int, int] | None = None

    @property
    def epoch(self) -> int:
        return getattr(self.inner, "epoch", 0)

    def set_epoch(self, epoch: int) -> None:  # Lightning calls this at the start of every epoch
        if hasattr(self.inner, "set_epoch"):
            self.inner.set_epoch(epoch)

    def resume_at(self, epoch: int, done: int) -> None:
        self.pending = (epoch, done)

    def __iter__(self) -> Iterator[Any]:
        pending, self.pending = self.pending, None  # only the interrupted epoch is shortened
        for index, batch in enumerate(self.inner):
            if pending is not None and pending[0] == self.epoch and index < pending[1]:
                continue
            yield batch

    def __len__(self) -> int:
        return len(self.inner)  # the full epoch: Lightning's own counters account for the skipped part


class ResumableLoader(DataLoader):
    """A batch_size=None loader whose position survives a checkpoint. `batches_done` is the
    trainer's count of batches processed this epoch: the iterator's own count runs ahead of it
    because Lightning prefetches one batch, so it cannot be used."""

    def __init__(self, dataset: Any, sampler: Sampler, batches_done: Callable[[], int], **kwargs: Any) -> None:
        # Its own generator: without one, every `iter()` (each epoch) draws a worker seed from the
        # *global* torch RNG, and a run resumed from an epoch-end checkpoint would be one draw behind.
        kwargs.setdefault("generator", torch.Generator().manual_seed(0))
        super().__init__(dataset, sampler=ResumingSampler(sampler), batch_size=None, **kwargs)
        self.batches_done = batches_done

    def state_dict(self) -> dict[str, int]:
        return {"epoch": int(self.sampler.epoch), "batches_done": int(self.batches_done())}

    def load_state_dict(self, state: dict[str, int]) -> None:
        self.sampler.resume_at(int(state["epoch"]), int(state["batches_done"]))


def resumable(loader: DataLoader, batches_done: Callable[[], int]) -> ResumableLoader:
    """The same loader (dataset, sampler, workers), made resumable mid-epoch."""
    if loader.batch_size is not None:
        raise ValueError("resumable() expects a loader whose sampler yields whole batches (batch_size=None).")
    return ResumableLoader(
        loader.dataset, loader.sampler, batches_done,
        num_workers=loader.num_workers, persistent_workers=loader.persistent_workers,
    )

"""Drawing the generated images that the metrics measure: a pure function of the model's
weights and a seed, the same in training-time evaluation, evaluate.py and under DDP."""

from __future__ import annotations

import torch

from genstyle.errors import require
from genstyle.metrics.distributed import owns_chunk


@torch.no_grad()
def generate(
    model, n: int, seed: int, batch_size: int, label_distribution: torch.Tensor | None,
    rank: int = 0, world: int = 1,
) -> torch.Tensor:
    """`n` samples `(n, C, H, W)` in `[-1, 1]` on the CPU, a pure function of (weights, seed).

    Each chunk of `batch_size` samples has its own generator (seed, chunk index), so under DDP
    rank r makes only its chunks (`owns_chunk`) and the ranks together make exactly the
    single-process set; `gather_features` puts their features back in order."""
    generator = torch.Generator().manual_seed(seed)
    labels = None
    if model.is_conditional:
        require(
            label_distribution is not None,
            "This model is class-conditional but the data has no labels to draw a label distribution from.",
        )
        labels = torch.multinomial(label_distribution.double(), n, replacement=True, generator=generator)
    chunks = []
    for index, start in enumerate(range(0, n, batch_size)):
        if not owns_chunk(index, rank, world):
            continue
        size = min(batch_size, n - start)
        chunk_generator = torch.Generator().manual_seed(seed * 1_000_003 + index)
        chunk_labels = None if labels is None else labels[start : start + size].to(model.device)
        chunks.append(model.sample(size, labels=chunk_labels, generator=chunk_generator).float().cpu())
    return torch.cat(chunks) if chunks else torch.empty(0, *model.image_shape)

"""Evaluation under DDP: each rank generates some chunks of the sample set, the features are
gathered, and every rank then holds the features of all samples, each exactly once, in the order a
single process would have produced them. So FID under DDP equals the single-process FID."""

from __future__ import annotations

import torch


def chunk_sizes(n: int, batch_size: int) -> list[int]:
    return [min(batch_size, n - start) for start in range(0, n, batch_size)]


def owns_chunk(index: int, rank: int, world: int) -> bool:
    """Chunks are dealt round-robin: rank r makes chunks r, r + world, r + 2 * world, ..."""
    return index % world == rank


def interleave_chunks(parts: list[dict[str, torch.Tensor]], n: int, batch_size: int) -> dict[str, torch.Tensor]:
    """Per-rank features (`parts[r]` = rank r's chunks, concatenated) -> all n rows in chunk order."""
    world = len(parts)
    sizes = chunk_sizes(n, batch_size)
    offsets = [0] * world
    out: dict[str, list[torch.Tensor]] = {key: [] for key in parts[0]}
    for index, size in enumerate(sizes):
        rank = index % world
        for key in out:
            out[key].append(parts[rank][key][offsets[rank] : offsets[rank] + size])
        offsets[rank] += size
    for rank, part in enumerate(parts):
        for key, value in part.items():
            if len(value) != offsets[rank]:
                raise RuntimeError(f"rank {rank} sent {len(value)} rows of {key!r}, expected {offsets[rank]}")
    return {key: torch.cat(chunks) for key, chunks in out.items()}


def is_distributed() -> bool:
    return torch.distributed.is_available() and torch.distributed.is_initialized() and torch.distributed.get_world_size() > 1


@torch.no_grad()
def sync_buffers_from_rank_zero(module: torch.nn.Module) -> None:
    """Give every rank rank 0's buffers before sampling. DDP broadcasts buffers at the start of each
    forward, but BatchNorm running statistics updated later in a step (a GAN runs G several times
    per step) stay rank-local; the checkpoint holds rank 0's, so all ranks sample with those."""
    if not is_distributed():
        return
    for buffer in module.buffers():
        torch.distributed.broadcast(buffer, src=0)


def gather_features(features: dict[str, torch.Tensor], n: int, batch_size: int) -> dict[str, torch.Tensor]:
    """All ranks' features in single-process order (a no-op without an initialised process group)."""
    if not is_distributed():
        return features
    parts: list = [None] * torch.distributed.get_world_size()
    # Objects, not tensors: ranks hold different row counts, and gloo/NCCL all_gather needs equal shapes.
    torch.distributed.all_gather_object(parts, {k: v.detach().cpu() for k, v in features.items()})
    return interleave_chunks(parts, n, batch_size)

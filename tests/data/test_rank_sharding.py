"""Both batch samplers under distributed training, with the world size patched in-process (no
process group): the ranks together see each batch of the single-process epoch at most once,
each rank takes every world-th batch, and all ranks take the same number of steps."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from unittest import mock

import pytest
import torch

from genstyle.data.datamodule import EpochBatchSampler
from genstyle.data.unpaired import UnpairedBatchSampler


@contextmanager
def distributed(rank: int, world: int) -> Iterator[None]:
    """torch.distributed as a sampler sees it inside rank `rank` of `world` processes."""
    with (
        mock.patch.object(torch.distributed, "is_available", return_value=True),
        mock.patch.object(torch.distributed, "is_initialized", return_value=True),
        mock.patch.object(torch.distributed, "get_rank", return_value=rank),
        mock.patch.object(torch.distributed, "get_world_size", return_value=world),
    ):
        yield


def batches_of(make, rank: int, world: int, epoch: int) -> list[tuple]:
    """The batches rank `rank` trains on in `epoch`, as hashable tuples."""
    sampler = make()
    sampler.set_epoch(epoch)
    with distributed(rank, world):
        out = [tuple(b) if isinstance(b[0], int) else (tuple(b[0]), tuple(b[1])) for b in sampler]
        assert len(sampler) == len(out)
    return out


SAMPLERS = {
    # 103 images in batches of 10: 10 full batches (drop_last), 3 left over for 4 ranks.
    "epoch": lambda: EpochBatchSampler(103, 10, shuffle=True, drop_last=True, seed=5),
    # 103 A and 61 B images: B is cycled to 103; again 10 full batches.
    "unpaired": lambda: UnpairedBatchSampler(103, 61, 10, shuffle=True, drop_last=True, seed=5),
}


@pytest.mark.parametrize("name", list(SAMPLERS))
@pytest.mark.parametrize("world", [2, 3, 4])
def test_ranks_take_every_world_th_batch_of_the_single_process_order(name, world):
    make = SAMPLERS[name]
    for epoch in (0, 3):
        single = batches_of(make, 0, 1, epoch)
        assert len(single) == 10
        usable = len(single) - len(single) % world
        shards = [batches_of(make, rank, world, epoch) for rank in range(world)]
        for rank, shard in enumerate(shards):
            assert shard == single[rank:usable:world]
        assert {len(shard) for shard in shards} == {usable // world}  # same step count on every rank
        seen = [batch for shard in shards for batch in shard]
        assert len(seen) == len(set(seen)) == usable  # no batch twice, none invented
    assert batches_of(make, 0, 2, 0) != batches_of(make, 0, 2, 1)  # a new order every epoch


def test_epoch_sampler_ranks_share_no_image():
    world = 3
    shards = [batches_of(SAMPLERS["epoch"], rank, world, 0) for rank in range(world)]
    images = [set(i for batch in shard for i in batch) for shard in shards]
    for r in range(world):
        for s in range(r + 1, world):
            assert not images[r] & images[s]
    assert sum(len(i) for i in images) == 9 * 10  # 9 of the 10 batches (3 per rank), 10 images each

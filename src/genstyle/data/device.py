"""Device-resident data: the decoded uint8 data set kept on the training device.

On a GPU a 28x28 model is launch-bound; copying every batch from host memory (and converting
it there) leaves the chip waiting. Fashion-MNIST is 47 MB as uint8, so it fits many times over:
the DataModule copies each split to the device once, and a batch is one gather plus one
conversion to `[-1, 1]` there. The batch *order* is still computed on the CPU with the same
generators as before (a pure function of (seed, epoch)), then moved to the device once per
epoch, so a resumed run and an uninterrupted one see bit-identical batches wherever the data is.
"""

from __future__ import annotations

import torch

from genstyle.errors import require

ON_DEVICE_CHOICES = ("auto", True, False)
# `auto` keeps the data on an accelerator when it takes at most this share of its free memory.
AUTO_MAX_MEMORY_FRACTION = 0.25


def check_on_device(value: object) -> str | bool:
    require(
        value in ON_DEVICE_CHOICES and (isinstance(value, bool) or value == "auto"),
        f"data.on_device={value!r} is not known; use auto (on the training device when it is an accelerator "
        "and the data fits), true (always on the training device) or false (host memory, batches copied per step).",
    )
    return value


def free_memory(device: torch.device) -> int | None:
    if device.type == "cuda":
        free, _ = torch.cuda.mem_get_info(device)
        return int(free)
    return None


def choose_data_device(setting: str | bool, device: torch.device, nbytes: int, num_workers: int) -> torch.device | None:
    """Where the training data lives: `device`, or None for host memory (the classic path).

    `auto` picks the device only when it is an accelerator, no loader workers are used (worker
    processes cannot share device tensors) and the data takes at most a quarter of its free
    memory; on a CPU the host path is already the device path. `true` insists, `false` refuses."""
    if setting is False:
        return None
    if setting is True:
        require(
            num_workers == 0,
            "data.on_device=true keeps the data on the training device, which loader worker processes cannot "
            "read; set data.num_workers=0 (batches need no workers then) or data.on_device=false.",
        )
        return device
    if device.type == "cpu" or num_workers > 0:
        return None
    free = free_memory(device)
    if free is not None and nbytes > AUTO_MAX_MEMORY_FRACTION * free:
        return None
    return device


def batches_to_device(batches: list[torch.Tensor], device: torch.device) -> list[torch.Tensor]:
    """The index batches of one epoch, moved in one copy (through pinned memory on CUDA, so the
    copy does not make the host wait for the device) and split there again."""
    if not batches:
        return []
    flat = torch.cat(batches)
    if device.type == "cuda":
        flat = flat.pin_memory().to(device, non_blocking=True)
    else:
        flat = flat.to(device)
    return list(flat.split([len(b) for b in batches]))

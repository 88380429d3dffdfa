"""Where reading a tensor's value back to Python is free.

On the CPU it is; on an accelerator `.item()`, `float(t)` or `if t:` make the host wait until
the device has finished everything queued so far, which at 28x28 costs more than the step itself.
Code on the training step's path asks this one function, so a test can make the CPU behave like
an accelerator and check that a step reads nothing back (tests/test_host_sync.py).
"""

from __future__ import annotations

import torch


def host_reads_are_free(device: torch.device) -> bool:
    return device.type == "cpu"

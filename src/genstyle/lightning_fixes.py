"""A fix for a Lightning cost every training step pays, applied once on import.

`self.log(...)` moves the stored metric to the value's device on every call
(`_ResultCollection.log` -> `_ResultMetric.to(value.device)`), and that move walks the metric's
whole `__dict__` with `apply_to_collection`, deep-copying its metadata, even when the metric is
already there. On this project's 2-core CPU that is about 1 ms per logged key per step: a
tenth of the VAE's 27 ms step with its three training losses (Lightning issue #20388; the
proposed upstream fix, pull request #21769, returns early in exactly the case handled here).

The early return is taken only for `.to(device)` with one device argument, when both of the
metric's tensors are already on that device; every other call (a dtype, another device, a
torchmetrics value) goes through Lightning's own method unchanged.
"""

from __future__ import annotations

import torch

_installed = False


def install() -> None:
    """Patch `_ResultMetric.to` once (idempotent); a Lightning without it is left alone."""
    global _installed
    if _installed:
        return
    try:
        from pytorch_lightning.trainer.connectors.logger_connector.result import _ResultMetric
    except ImportError:  # a Lightning that reorganised its internals: nothing to fix here
        return
    original = _ResultMetric.to

    def to(self, *args, **kwargs):
        if not kwargs and len(args) == 1 and isinstance(args[0], (str, torch.device)) and already_on(self, torch.device(args[0])):
            return self
        return original(self, *args, **kwargs)

    to.__wrapped__ = original
    _ResultMetric.to = to
    _installed = True


def already_on(metric, device: torch.device) -> bool:
    state = metric.__dict__
    tensors = [state.get("value"), state.get("cumulated_batch_size", state.get("value"))]
    # An unindexed "cuda" does not equal "cuda:0" and takes the full path: Lightning passes the
    # value's own (indexed) device, so the early return still applies where it matters.
    return all(isinstance(t, torch.Tensor) and t.device == device for t in tensors)

"""A fix for a Lightning cost every training step pays, installed by the commands that train.

`self.log(...)` moves the stored metric to the value's device on every call
(`_ResultCollection.log` -> `_ResultMetric.to(value.device)`), and that move walks the metric's
whole `__dict__` with `apply_to_collection`, deep-copying its metadata, even when the metric is
already there. On this project's 2-core CPU that is about 1 ms per logged key per step: a
tenth of the VAE's 27 ms step with its three training losses (Lightning issue #20388; the
proposed upstream fix, pull request #21769, returns early in exactly the case handled here).

The early return is taken only for `.to(device)` with one device argument, when both of the
metric's tensors are already on that device; every other call (a dtype, another device, a
torchmetrics value) goes through Lightning's own method unchanged.

`install()` is called by whatever runs a `Trainer` (cli/train.py's `build`, the benchmarks, the
tests' conftest), never as a side effect of an import. It patches only the Lightning releases
whose `_ResultMetric.to` and `_ResultCollection.log` were read for it (CHECKED: the per-call move
arrived in 2.4; 2.4.0 to 2.6.5 have the same two methods); any other release gets a warning and
is left exactly as it is. Imports no genstyle module.
"""

from __future__ import annotations

import re
import warnings

import torch

# (major, minor) of the first and last pytorch-lightning releases this patch was checked against.
CHECKED = ((2, 4), (2, 6))


def lightning_version(text: str) -> tuple[int, int] | None:
    """`"2.6.6"`, `"2.6.0rc1"` -> (2, 6); None when the text does not start with major.minor."""
    match = re.match(r"(\d+)\.(\d+)", text)
    return (int(match.group(1)), int(match.group(2))) if match else None


def is_installed() -> bool:
    from pytorch_lightning.trainer.connectors.logger_connector.result import _ResultMetric

    return getattr(_ResultMetric.to, "genstyle_fix", False)


def install() -> bool:
    """Patch `_ResultMetric.to` once (idempotent). True when the fix is in place; False, with a
    warning, on a Lightning release outside CHECKED, which is left untouched."""
    import pytorch_lightning

    version = lightning_version(pytorch_lightning.__version__)
    if version is None or not CHECKED[0] <= version <= CHECKED[1]:
        (lo_major, lo_minor), (hi_major, hi_minor) = CHECKED
        warnings.warn(
            f"genstyle's fix for Lightning's per-key device walk in self.log was checked against "
            f"pytorch-lightning {lo_major}.{lo_minor} to {hi_major}.{hi_minor}, not {pytorch_lightning.__version__}; "
            "it is not applied (training is unchanged, logging may cost about 1 ms more per key and step).",
            RuntimeWarning,
            stacklevel=2,
        )
        return False
    from pytorch_lightning.trainer.connectors.logger_connector.result import _ResultMetric

    if is_installed():
        return True
    original = _ResultMetric.to

    def to(self, *args, **kwargs):
        if not kwargs and len(args) == 1 and isinstance(args[0], (str, torch.device)) and already_on(self, torch.device(args[0])):
            return self
        return original(self, *args, **kwargs)

    to.__wrapped__ = original
    to.genstyle_fix = True
    _ResultMetric.to = to
    return True


def already_on(metric, device: torch.device) -> bool:
    state = metric.__dict__
    tensors = [state.get("value"), state.get("cumulated_batch_size", state.get("value"))]
    # An unindexed "cuda" does not equal "cuda:0" and takes the full path: Lightning passes the
    # value's own (indexed) device, so the early return still applies where it matters.
    return all(isinstance(t, torch.Tensor) and t.device == device for t in tensors)

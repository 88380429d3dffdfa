"""Third-party messages that tell a genstyle user nothing, silenced one by one at their source.

Each entry names the exact message (never a whole category or module), so any other warning from
the same library still shows. (torchmetrics' FutureWarning came from our own import path and is
fixed there, in models/munit.py.) W&B's console summary is turned off in `ResilientWandbLogger`
(`console_summary=false`), in favour of the results block `train.py` prints.
"""

from __future__ import annotations

import logging
import warnings

# (message regex, why it is noise for genstyle's users)
IGNORED_WARNINGS = (
    # Lightning's own pytree helper trips a torch deprecation on every fit; nothing a user can change.
    (r".*isinstance\(treespec, LeafSpec\)", "Lightning internals vs. newer torch"),
    # Small debug runs log every step they have; Lightning warns that its default interval is longer.
    (r"The number of training batches \(\d+\) is smaller than the logging interval", "short runs log what they have"),
    # The frozen networks some families train through (adain's classifier encoder, the metrics'
    # extractors) are in eval mode on purpose; the run's summary line says what trains.
    (r"Found \d+ module\(s\) in eval mode at the start of training", "frozen networks are meant to be in eval mode"),
)
IGNORED_LOG_PREFIXES = (
    "💡 Tip:",  # Lightning advertising its cloud logger on every run
    # The accelerator inventory on every run; the run's summary line names the device it trains on,
    # and Lightning still warns when a GPU is there but unused.
    "GPU available:", "TPU available:", "HPU available:",
)


class _DropPrefixes(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        return not str(record.msg).startswith(IGNORED_LOG_PREFIXES)


def plain_lightning_console() -> None:
    """Lightning's own console lines as Lightning prints them (its message only, on stderr, not via
    Hydra's timestamped handlers). Lightning sets this up itself when imported before logging is
    configured; train.py imports it later, only when a run starts (start-up time)."""
    for name in ("lightning_fabric", "pytorch_lightning"):
        logger = logging.getLogger(name)
        if not logger.handlers:
            logger.addHandler(logging.StreamHandler())
            logger.setLevel(logging.INFO)
            logger.propagate = False


def quiet_third_party() -> None:
    """Install the filters (idempotent); called by the commands before any training starts."""
    plain_lightning_console()
    for message, _why in IGNORED_WARNINGS:
        warnings.filterwarnings("ignore", message=message)
    for name in ("pytorch_lightning.utilities.rank_zero", "lightning_fabric.utilities.rank_zero", "lightning.pytorch.utilities.rank_zero"):
        logger = logging.getLogger(name)
        if not any(isinstance(f, _DropPrefixes) for f in logger.filters):
            logger.addFilter(_DropPrefixes())

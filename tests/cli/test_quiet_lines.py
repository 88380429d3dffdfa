"""Lightning's accelerator inventory and its eval-mode warning are dropped; other lines stay."""

from __future__ import annotations

import logging
import warnings

from genstyle.cli.quiet import quiet_third_party


def test_inventory_lines_and_eval_mode_warning_are_silenced(caplog):
    quiet_third_party()
    logger = logging.getLogger("pytorch_lightning.utilities.rank_zero")
    with caplog.at_level(logging.INFO, logger="pytorch_lightning.utilities.rank_zero"):
        for line in ("GPU available: False, used: False", "TPU available: False, using: 0 TPU cores", "Seed set to 0"):
            record = logging.LogRecord(logger.name, logging.INFO, __file__, 1, line, None, None)
            if logger.filter(record):
                caplog.records.append(record)
    assert [r.getMessage() for r in caplog.records] == ["Seed set to 0"]
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("default")
        quiet_third_party()
        warnings.warn("Found 20 module(s) in eval mode at the start of training. This may lead to unexpected behavior", UserWarning, stacklevel=1)
        warnings.warn("something else", UserWarning, stacklevel=1)
    assert [str(w.message) for w in caught] == ["something else"]

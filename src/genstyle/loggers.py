"""Loggers that survive what a long run meets: a resume and a failing W&B.

`ResumableCSVLogger` keeps the rows a resumed run already logged (Lightning's CSV logger
deletes `metrics.csv` when a new logger opens an existing folder). `ResilientWandbLogger`
resumes the same W&B run (its id is kept in the run directory) and never lets a W&B error stop
training: on the first failure it says so loudly and logs to a local CSV file from then on.
"""

from __future__ import annotations

import csv
import logging
import os
import secrets
import string
from pathlib import Path
from typing import Any

from lightning_fabric.loggers.logger import _DummyExperiment
from pytorch_lightning.loggers import CSVLogger, WandbLogger
from pytorch_lightning.loggers.csv_logs import ExperimentWriter
from pytorch_lightning.utilities import rank_zero_only

from genstyle.files import write_text_atomic

log = logging.getLogger("genstyle.loggers")
RUN_ID_FILE = "wandb_run_id"


class AppendingExperimentWriter(ExperimentWriter):
    """Continues an existing `metrics.csv` (header included) instead of deleting it."""

    def _check_log_dir_exists(self) -> None:
        path = Path(self.metrics_file_path)
        if path.is_file() and path.stat().st_size:
            with path.open(newline="") as fh:
                self.metrics_keys = sorted(csv.DictReader(fh).fieldnames or [])


class ResumableCSVLogger(CSVLogger):
    @property
    def experiment(self) -> ExperimentWriter:
        if self._experiment is None:
            os.makedirs(self.root_dir, exist_ok=True)
            self._experiment = AppendingExperimentWriter(log_dir=self.log_dir)
        return self._experiment


def stored_run_id(save_dir: str | os.PathLike) -> str | None:
    """The W&B run id a run directory already holds (a resume), else None."""
    path = Path(save_dir) / RUN_ID_FILE
    if path.is_file():
        return path.read_text().strip() or None
    return None


def new_run_id() -> str:
    alphabet = string.ascii_lowercase + string.digits  # the form of W&B's own run ids
    return "".join(secrets.choice(alphabet) for _ in range(8))


def store_run_id(save_dir: str | os.PathLike, run_id: str) -> None:
    path = Path(save_dir) / RUN_ID_FILE
    if stored_run_id(save_dir) != run_id:
        write_text_atomic(path, run_id + "\n")


class ResilientWandbLogger(WandbLogger):
    """A WandbLogger whose failures (no network, bad API key, full disk, W&B bugs) are reported
    once and then routed to `<save_dir>/wandb_fallback/metrics.csv`; training goes on.

    `id: null` uses the id stored in the run directory, so `ckpt_path=last` continues the same
    W&B run (`resume="allow"`) instead of starting a new one. `console_summary=false` (the default)
    keeps W&B's history/summary block off the console; the run's data are unchanged."""

    def __init__(self, *args: Any, id: str | None = None, resume: str | None = "allow", console_summary: bool = False, **kwargs: Any) -> None:
        save_dir = kwargs.get("save_dir") or "."
        self.failure: str | None = None
        self._fallback: ResumableCSVLogger | None = None
        self._fallback_dir = save_dir
        self._hparams: dict[str, Any] = {}
        # The id is chosen now but stored (and the W&B run created) only when the first number is
        # logged, once training runs: a start that fails leaves no W&B run to sync and no id file.
        self._save_dir_for_id = save_dir
        self._pending_hparams = False
        try:
            run_id = id or stored_run_id(save_dir) or new_run_id()
        except OSError:  # an unreadable run dir fails later, with its own message
            run_id = id or new_run_id()
        super().__init__(*args, id=run_id, resume=resume, **kwargs)
        # Lightning always passes `anonymous`, which W&B now only answers with a deprecation warning.
        self._wandb_init.pop("anonymous", None)
        if not console_summary:  # W&B's ~30-line history/summary footer; train.py prints the results block
            settings = dict(self._wandb_init.get("settings") or {})
            # offline: silent (the results block says where the run is and how to sync it);
            # online: quiet, which keeps the run's URL on the console
            settings.setdefault("silent" if kwargs.get("offline") else "quiet", True)
            self._wandb_init["settings"] = settings

    # --- failure handling ----------------------------------------------------------------------

    def _fail(self, action: str, err: BaseException) -> None:
        self.failure = f"{type(err).__name__}: {err}".splitlines()[0]
        self._fallback = ResumableCSVLogger(self._fallback_dir, name="wandb_fallback", version="")
        if self._hparams:
            self._fallback.log_hyperparams(self._hparams)
        message = (
            f"W&B failed while {action} ({self.failure}). Training continues; from now on metrics are logged to "
            f"{self._fallback.experiment.metrics_file_path} (and metrics.json / metrics_history.jsonl in the run "
            "directory as always). To use W&B again, fix the cause (`wandb login`, network, or logger.wandb.offline=true) "
            "and resume with ckpt_path=last."
        )
        log.warning(message)
        import sys

        print(f"warning: {message}", file=sys.stderr, flush=True)

    def _guard(self, action: str, call: Any, fallback: Any = None) -> None:
        if self.failure is None:
            try:
                call()
                return
            except Exception as err:  # any W&B error: this logger must never end the run
                self._fail(action, err)
        if fallback is not None:
            fallback(self._fallback)

    # --- the Logger interface, each call guarded ------------------------------------------------

    @property
    def experiment(self) -> Any:
        """The W&B run; after a failure (also when it cannot start) an object that ignores every call."""
        if self.failure is None:
            try:
                created = self._experiment is None
                experiment = WandbLogger.experiment.fget(self)
                if created:
                    self._on_run_created()
                return experiment
            except Exception as err:  # wandb.init failed: no network, no API key, unwritable folder ...
                self._fail("starting the run", err)
        return _DummyExperiment()

    def _on_run_created(self) -> None:
        try:
            store_run_id(self._save_dir_for_id, self._id)
        except OSError as err:
            log.warning("Could not store the W&B run id in %s (%s); a resumed run will start a new W&B run.", self._save_dir_for_id, err)
        if self._pending_hparams:  # the config, held back until the run existed
            self._pending_hparams = False
            super().log_hyperparams(self._hparams)

    @rank_zero_only
    def log_hyperparams(self, params: Any) -> None:
        if isinstance(params, dict):
            self._hparams.update(params)
            if self._experiment is None and self.failure is None:
                self._pending_hparams = True  # sent when the run is created, at the first logged number
                return
        self._guard("logging the config", lambda: super(ResilientWandbLogger, self).log_hyperparams(params),
                    lambda fb: fb.log_hyperparams(params))

    @rank_zero_only
    def log_metrics(self, metrics: Any, step: int | None = None) -> None:
        self._guard("logging metrics", lambda: super(ResilientWandbLogger, self).log_metrics(metrics, step),
                    lambda fb: (fb.log_metrics(metrics, step), fb.save()))

    @rank_zero_only
    def log_image(self, key: str, images: list[Any], step: int | None = None, **kwargs: Any) -> None:
        # images are saved under samples/ anyway; only W&B's copy is lost
        self._guard(f"logging image {key}", lambda: super(ResilientWandbLogger, self).log_image(key, images, step, **kwargs))

    @rank_zero_only
    def log_table(self, *args: Any, **kwargs: Any) -> None:
        self._guard("logging a table", lambda: super(ResilientWandbLogger, self).log_table(*args, **kwargs))

    @rank_zero_only
    def log_text(self, *args: Any, **kwargs: Any) -> None:
        self._guard("logging text", lambda: super(ResilientWandbLogger, self).log_text(*args, **kwargs))

    def after_save_checkpoint(self, checkpoint_callback: Any) -> None:
        self._guard("recording a checkpoint", lambda: super(ResilientWandbLogger, self).after_save_checkpoint(checkpoint_callback))

    @rank_zero_only
    def finalize(self, status: str) -> None:
        self._guard("closing the run", lambda: super(ResilientWandbLogger, self).finalize(status),
                    lambda fb: fb.finalize(status))

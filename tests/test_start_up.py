"""Start-up: `--help` and config errors answer without importing torch, Lightning or W&B, and a
misspelt key gets a did-you-mean from the config's own keys (exit 2, no run folder)."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from tests.conftest import ROOT, run_cli

HEAVY = ("torch", "pytorch_lightning", "lightning_fabric", "wandb")
ENV = {"PYTHONPATH": str(ROOT / "src"), "OMP_NUM_THREADS": "1"}


def imported_after(code: str) -> list[str]:
    probe = f"import sys\n{code}\nprint(','.join(m for m in {HEAVY!r} if m in sys.modules))"
    result = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, cwd=ROOT, timeout=120,
                            env={**os.environ, **ENV})
    assert result.returncode == 0, result.stderr[-2000:]
    return [m for m in result.stdout.strip().split(",") if m]


def test_entry_module_and_config_check_import_no_torch():
    assert imported_after("import genstyle.cli.train") == []
    code = ("from hydra import compose, initialize_config_dir\nfrom genstyle.cli.common import CONFIG_DIR\n"
            "from genstyle.config_check import config_problems\n"
            "with initialize_config_dir(config_dir=CONFIG_DIR, version_base='1.3'):\n"
            "    cfg = compose('train', overrides=['+model.lrr=1', 'trainer.max_epochs=-5'])\n"
            "problems = config_problems(cfg, targets=False)\n"
            "assert any('model.lrr: unknown key for VAE' in p for p in problems), problems\n"
            "assert any('trainer.max_epochs=-5' in p for p in problems), problems")
    assert imported_after(code) == []


@pytest.mark.parametrize(("args", "expected"), [
    (["trainer.max_epoch=2"], "trainer.max_epoch: no such key; did you mean trainer.max_epochs?"),
    (["model.lr=1e-3"], "model.lr: no such key; did you mean model.optimizer.lr?"),
    (["model=dcgan", "model.lr=1e-3"], "model.lr: no such key; did you mean model.g_optimizer.lr or model.d_optimizer.lr?"),
    (["+seeed=3"], "+seeed: the top level has no key 'seeed' and takes no new ones; did you mean seed?"),
    (["+nonsense_key=1"], "+nonsense_key: the top level has no key 'nonsense_key' and takes no new ones; the keys of the top level are: callbacks"),
    (["+model.lr=1"], "model.lr: unknown key for VAE; did you mean model.optimizer.lr?"),
])
def test_misspelt_keys_get_a_did_you_mean(tmp_path, args, expected):
    result = run_cli("train.py", *args, cwd=tmp_path, env=ENV, timeout=120)
    assert result.returncode == 2, result.stderr[-2000:]
    assert expected in result.stderr and "Traceback" not in result.stderr
    assert "To append to your config use" not in result.stderr  # Hydra's advice, the wrong fix here
    assert list(tmp_path.iterdir()) == []  # nothing was run, no run folder


def test_help_answers_without_importing_torch(tmp_path):
    result = subprocess.run([sys.executable, "-X", "importtime", str(ROOT / "train.py"), "--help"], capture_output=True,
                            text=True, cwd=tmp_path, timeout=120, env={**os.environ, **ENV})
    assert result.returncode == 0 and "== Config ==" in result.stdout, result.stderr[-2000:]
    imported = {line.split("|")[-1].strip() for line in result.stderr.splitlines() if line.startswith("import time:")}
    assert not imported & set(HEAVY), sorted(imported & set(HEAVY))

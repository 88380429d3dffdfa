"""Checkpoints and feature-extractor weights are read with torch.load(weights_only=True): a file
whose pickle would run code is refused, by every path that loads one, and the code never runs."""

from __future__ import annotations

import pickle
from pathlib import Path

import pytest
import torch

from genstyle.checkpoints import read_checkpoint
from genstyle.errors import GenstyleError
from tests.helpers.forked_cli import run_cli_forked as run_cli
from tests.helpers.runs import trained_run


class Payload:
    """Unpickling this calls exec(): it writes `marker`. Only an unsafe loader would run it."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self):
        return (exec, (f"open({str(self.marker)!r}, 'w').write('code ran')",))


def malicious_checkpoint(path: Path, marker: Path, real: dict | None = None) -> Path:
    """A checkpoint-shaped file (a real genstyle checkpoint when given) with the payload inside."""
    content = dict(real) if real else {"state_dict": {}, "genstyle": {"format_version": 1, "config": {}}}
    content["callbacks"] = {"innocent looking": Payload(marker)}
    torch.save(content, path)
    return path


@pytest.fixture(scope="module")
def vae_run(tmp_path_factory, fmnist_root) -> Path:
    return trained_run(tmp_path_factory.getbasetemp(), fmnist_root, "vae")


def test_payload_really_runs_code_when_loaded_unsafely(tmp_path):
    # The control: without weights_only the same file runs its code, so the refusals below mean something.
    marker = tmp_path / "marker"
    path = malicious_checkpoint(tmp_path / "evil.ckpt", marker)
    torch.load(path, weights_only=False)
    assert marker.read_text() == "code ran"


def test_genstyle_checkpoints_load_with_weights_only(vae_run):
    checkpoint = torch.load(vae_run / "checkpoints" / "last.ckpt", map_location="cpu", weights_only=True)
    # resume state (RNG, epoch sums), loops, optimisers and the data position all pass the safe loader
    assert any("ResumeState" in key for key in checkpoint["callbacks"])
    assert checkpoint["optimizer_states"] and checkpoint["loops"]["fit_loop"]["state_dict"]["combined_loader"]


def test_read_checkpoint_refuses_payload(tmp_path, vae_run):
    marker = tmp_path / "marker"
    real = torch.load(vae_run / "checkpoints" / "last.ckpt", weights_only=True)
    path = malicious_checkpoint(tmp_path / "evil.ckpt", marker, real)
    with pytest.raises(GenstyleError, match="refused by the safe loader"):
        read_checkpoint(path)
    assert not marker.exists()


def test_classifier_weights_path_refuses_payload(tmp_path):
    from genstyle.classifier.fashion_classifier import read_checkpoint as read_classifier

    marker = tmp_path / "marker"
    path = tmp_path / "classifier.pt"
    torch.save({"state_dict": {}, "meta": Payload(marker)}, path)
    with pytest.raises(GenstyleError, match="(?i)refus"):
        read_classifier(path)
    assert not marker.exists()


@pytest.mark.slow  # the same errors are checked through the CLIs in tests/test_bad_inputs.py
def test_generate_and_train_resume_refuse_payload(tmp_path, vae_run, fmnist_root):
    marker = tmp_path / "marker"
    real = torch.load(vae_run / "checkpoints" / "last.ckpt", weights_only=True)
    evil = malicious_checkpoint(tmp_path / "evil.ckpt", marker, real)
    generate = run_cli("generate.py", f"ckpt_path={evil}", f"out={tmp_path / 'grid.png'}", "n=4")
    resume = run_cli(
        "train.py", f"ckpt_path={evil}", f"data.root={fmnist_root}", "data.download=false", "logger=csv",
        "~callbacks.evaluation", f"hydra.run.dir={tmp_path / 'resume'}", "trainer.accelerator=cpu",
    )
    for result in (generate, resume):
        assert result.returncode == 2, result.stderr[-2000:]
        assert "refused by the safe loader" in result.stderr and "Traceback" not in result.stderr
    assert not marker.exists()
    assert not (tmp_path / "grid.png").exists()


def test_unpickling_error_is_what_torch_raises(tmp_path):
    # read_checkpoint relies on torch reporting a refused global as UnpicklingError.
    path = malicious_checkpoint(tmp_path / "evil.ckpt", tmp_path / "marker")
    with pytest.raises(pickle.UnpicklingError):
        torch.load(path, weights_only=True)

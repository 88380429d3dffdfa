"""The commands' shared guard (genstyle.cli.options): every numeric option bounded in one table,
device= checked, and an interrupt ended with one line and 130 / 143, leaving no half-written output."""

from __future__ import annotations

import os
import signal

import pytest
import torch
from hydra import compose, initialize_config_dir
from hydra.core.global_hydra import GlobalHydra
from omegaconf import OmegaConf

from genstyle.cli.common import CONFIG_DIR
from genstyle.cli.options import BOUNDS, check_device, command, numeric_leaves, option_problems
from genstyle.errors import GenstyleError

COMMANDS = ("generate", "evaluate", "stylize", "rate")


def composed(name: str, *overrides: str):
    GlobalHydra.instance().clear()
    with initialize_config_dir(config_dir=CONFIG_DIR, version_base="1.3"):
        return compose(name, overrides=list(overrides))


@pytest.mark.parametrize("name", COMMANDS)
def test_every_numeric_option_has_a_bound(name):
    """A number added to conf/<command>.yaml without a bound fails here (null defaults are listed by hand)."""
    cfg = composed(name)
    unbounded = [key for key, _ in numeric_leaves(cfg) if key not in BOUNDS[name]]
    assert unbounded == []
    assert option_problems(cfg, name) == []  # the defaults themselves are in range


@pytest.mark.parametrize(("name", "override", "message"), [
    ("stylize", "n_styles=100000", r"n_styles=100000: must be an integer in \[1, 256\] or null"),
    ("generate", "seed=abc", r"seed='abc': must be an integer in \[0, 4_294_967_295\]"),
    ("generate", "n=2.5", r"n=2.5: must be an integer"),
    ("evaluate", "batch_size=0", r"batch_size=0: must be an integer in \[1, 100_000\]"),
    ("evaluate", "metrics.min_samples=0", r"metrics\.min_samples=0: must be an integer in \[2,"),
    ("stylize", "style_weight=-5.0", r"style_weight=-5\.0: must be a number in \[0, 1e\+09\]"),
    ("rate", "n=[1,2]", r"n=\[1, 2\]: must be an integer"),
])
def test_out_of_range_options_are_named(name, override, message):
    import re

    problems = option_problems(composed(name, override), name)
    assert len(problems) == 1 and re.fullmatch(message + r".*", problems[0]), problems


def test_steps_and_style_weight_each_named_alone():
    problems = option_problems(composed("stylize", "steps=0", "style_weight=5.0"), "stylize")
    assert problems == ["steps=0: must be an integer in [1, 100_000]."]


def test_device_without_such_hardware_is_a_message():
    check_device("cpu")
    with pytest.raises(GenstyleError, match=r"device=cuda:99: this machine has (no CUDA GPU|\d+ CUDA GPU)"):
        check_device("cuda:99")
    with pytest.raises(GenstyleError, match=r"device=gpu: not a device; use cpu, cuda"):
        check_device("gpu")
    if not torch.cuda.is_available():
        with pytest.raises(GenstyleError, match=r"device=cuda: this machine has no CUDA GPU.*device=cpu"):
            check_device("cuda")


@pytest.mark.parametrize(("signum", "status"), [(signal.SIGINT, 130), (signal.SIGTERM, 143)])
def test_an_interrupt_is_one_line_and_its_exit_status(signum, status, capsys):
    @command("generate", interrupted="nothing to see")
    def main(cfg):
        os.kill(os.getpid(), signum)
        raise AssertionError("the signal did not stop the command")

    before = signal.getsignal(signal.SIGTERM)
    # Python's own SIGINT handler, as in a terminal, whatever the runner or an earlier test left
    # installed (ignored, or a handler that does not raise): the suite once failed here.
    interactive = signal.signal(signal.SIGINT, signal.default_int_handler)
    try:
        with pytest.raises(SystemExit) as stop:
            main(OmegaConf.create({"n": 4, "seed": 0}))
    finally:
        signal.signal(signal.SIGINT, interactive)
    assert stop.value.code == status
    err = capsys.readouterr().err
    assert err == f"{signal.Signals(signum).name}: generate.py stopped before it finished; nothing to see.\n"
    assert signal.getsignal(signal.SIGTERM) is before


def test_options_are_checked_before_the_command_runs(capsys):
    ran = []

    @command("generate")
    def main(cfg):
        ran.append(cfg)

    with pytest.raises(SystemExit) as stop:
        main(OmegaConf.create({"n": 0, "seed": 0}))
    assert stop.value.code == 2 and ran == []
    assert "n=0: must be an integer in [1, 1_000_000]" in capsys.readouterr().err


def test_generate_interrupted_leaves_no_images(tmp_path, monkeypatch):
    """grid=false writes into a hidden folder moved into place at the end: Ctrl-C halfway leaves
    nothing, so the rerun is not refused for existing files."""
    import genstyle.cli.generate as gen

    real_save, calls = gen.save_png, []

    def save_then_interrupt(image, path):
        calls.append(path)
        if len(calls) == 3:
            raise KeyboardInterrupt
        return real_save(image, path)

    monkeypatch.setattr(gen, "save_png", save_then_interrupt)
    out = tmp_path / "samples"
    images = torch.zeros(5, 1, 4, 4, dtype=torch.uint8)
    targets = gen.output_files(out, 5, grid=False, overwrite=False)
    with pytest.raises(KeyboardInterrupt):
        gen.write_folder(images, targets, out)
    assert list(tmp_path.iterdir()) == []
    monkeypatch.setattr(gen, "save_png", real_save)
    gen.write_folder(images, gen.output_files(out, 5, grid=False, overwrite=False), out)
    assert sorted(p.name for p in out.iterdir()) == [f"{i:05d}.png" for i in range(5)]
    # into a folder that already holds other files: those stay, the images join them
    (out / "notes.txt").write_text("mine")
    gen.write_folder(images[:2], gen.output_files(out, 2, grid=False, overwrite=True), out)
    assert (out / "notes.txt").read_text() == "mine" and len(list(out.iterdir())) == 6
    assert [p.name for p in tmp_path.iterdir()] == ["samples"]
    assert oct(out.stat().st_mode & 0o777) == oct(0o777 & ~_umask())


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def test_generate_help_lists_only_its_own_options():
    from tests.conftest import run_cli

    result = run_cli("generate.py", "--help")
    assert result.returncode == 0
    assert "ckpt_path" in result.stdout and "n_styles" not in result.stdout
    assert "model:" not in result.stdout and "trainer" not in result.stdout, result.stdout



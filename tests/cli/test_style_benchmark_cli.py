"""The style benchmark's commands on a tiny real checkpoint (`evaluate.py task=style`,
`benchmarks/style.py`), `stylize.py method=optimise` without a checkpoint, and bad input: one
`error: ...` paragraph, exit status 2, nothing written."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
from PIL import Image

from genstyle.data.sources import load_fashion_mnist
from genstyle.images import save_png
from tests.cli.fake_stylers import FakeSampler, write_checkpoint
from tests.conftest import ROOT
from tests.helpers.forked_cli import run_cli_forked as run_cli

THREADS = {"OMP_NUM_THREADS": "1"}


@pytest.fixture(scope="module")
def images(tmp_path_factory, fmnist_root) -> Path:
    root = tmp_path_factory.mktemp("images")
    data = load_fashion_mnist("test", root=str(fmnist_root), download=False)
    save_png(data.images[4], root / "shirt.png")
    save_png(data.images[6], root / "coat.png")
    return root


def test_evaluate_task_style_writes_the_table(adain_ckpt, tmp_path, fmnist_root):
    out = tmp_path / "style.json"
    result = run_cli("evaluate.py", f"ckpt_path={adain_ckpt}", "task=style", "style_pairs=24", f"out={out}", f"data_root={fmnist_root}", env=THREADS)
    assert result.returncode == 0, result.stderr
    payload = json.loads(out.read_text())
    names = [r["name"] for r in payload["rows"]]
    assert names[0].startswith("adain") and "copy content (reference)" in names and "copy style (reference)" in names
    copy = next(r for r in payload["rows"] if r["name"] == "copy content (reference)")
    assert copy["style_dist"] == pytest.approx(1.0)
    assert payload["protocol"]["num_pairs"] == 24 and result.stdout.startswith("adain")
    # One line per metric: the model's number beside the two copies', each number printed once.
    lines = {line.split("  ")[0]: line.split()[-3:] for line in result.stdout.splitlines() if "  " in line}
    for metric in ("keeps content class", "Gram distance", "source dependence (features)", "background change", "FID"):
        assert metric in lines, result.stdout
    model = payload["rows"][0]
    assert lines["FID"] == [f"{model['fid']:.3f}", f"{model['content_fid']:.3f}", f"{model['style_fid']:.3f}"]
    assert lines["source dependence (features)"][1:] == ["1.000", "0.000"]
    assert result.stdout.count(f"{model['fid']:.3f}") == 1


def test_benchmark_script_runs_several_checkpoints_in_one_table(adain_ckpt, tmp_path, fmnist_root):
    out = tmp_path / "bench.json"
    args = ["--ckpts", str(adain_ckpt), str(adain_ckpt), "--names", "first", "second", "--pairs", "16",
            "--optimise-weights", "10", "--optimise-steps", "3", "--alphas", "0.5", "1", "--refine-weights", "10",
            "--refine-steps", "2", "--optimise-pairs", "8", "--data-root", str(fmnist_root), "--out", str(out)]
    result = run_cli("benchmarks/style.py", *args, env=THREADS)
    assert result.returncode == 0, result.stderr
    rows = json.loads(out.read_text())["rows"]
    names = [r["name"] for r in rows]
    assert names[-6:] == ["first, alpha 0.5", "first, alpha 1", "second, alpha 0.5", "second, alpha 1",
                          "first, alpha 1 + refine (2 steps, style weight 10)", "second, alpha 1 + refine (2 steps, style weight 10)"]
    assert rows[-3]["style_dist"] == pytest.approx(rows[-5]["style_dist"])  # same model, same pairs
    assert rows[-1]["num_pairs"] == 8 and rows[-1]["gram_dist"] != pytest.approx(rows[-3]["gram_dist"])
    assert any(r["name"].startswith("optimisation") for r in rows)
    assert out.with_suffix(".md").read_text().startswith("| stylizer |")
    assert out.with_suffix(".png").read_bytes().startswith(b"\x89PNG")


def test_stylize_method_optimise_writes_a_file_without_a_checkpoint(images, tmp_path):
    out = tmp_path / "r.png"
    result = run_cli("stylize.py", "method=optimise", f"content={images / 'shirt.png'}", f"style={images / 'coat.png'}", f"out={out}", "steps=5", env=THREADS)
    assert result.returncode == 0, result.stderr
    with Image.open(out) as img:
        assert img.size == (28, 28) and img.mode == "L"


def test_stylize_method_refine_optimises_from_the_models_result(adain_ckpt, images, tmp_path):
    import numpy as np
    import torch

    from genstyle.checkpoints import load_model
    from genstyle.classifier.fashion_classifier import load_classifier
    from genstyle.cli.stylize_inputs import load_image
    from genstyle.stylization.optimise import optimise_style

    outs = {}
    for method in ("model", "refine"):
        outs[method] = tmp_path / f"{method}.png"
        args = [f"method={method}", f"ckpt_path={adain_ckpt}", f"content={images / 'shirt.png'}", f"style={images / 'coat.png'}",
                f"out={outs[method]}", "steps=3", "style_weight=30"]
        result = run_cli("stylize.py", *args, env=THREADS)
        assert result.returncode == 0, result.stderr
    read = {k: np.asarray(Image.open(v), dtype=np.int16) for k, v in outs.items()}
    # What the command wrote is the optimisation started at the model's own result, not at the content.
    model, _ = load_model(adain_ckpt)
    content = load_image(images / "shirt.png", "content", (1, 28, 28), False)[None]
    style = load_image(images / "coat.png", "style", (1, 28, 28), False)[None]
    with torch.no_grad():
        start = model.stylize(content, style)
    classifier = load_classifier()
    expected = optimise_style(content, style, classifier, steps=3, style_weight=30.0, init=start)
    from_content = optimise_style(content, style, classifier, steps=3, style_weight=30.0)
    as_uint8 = lambda x: ((x[0, 0].clamp(-1, 1) + 1) * 127.5).round().numpy()  # noqa: E731
    assert np.abs(read["refine"] - as_uint8(expected)).max() <= 1
    assert np.abs(read["refine"] - as_uint8(from_content)).max() > 1 and np.abs(read["refine"] - read["model"]).max() > 1


@pytest.mark.parametrize(
    ("script", "args", "message"),
    [
        # one process per case: the first runs by default, the others with -m slow
        ("evaluate.py", ["task=style"], "can neither stylize nor translate"),
        pytest.param("stylize.py", ["method=paint"], "method=paint is not a stylize method", marks=pytest.mark.slow),
        pytest.param("evaluate.py", ["task=styles"], "task=styles is not a task", marks=pytest.mark.slow),
        pytest.param("benchmarks/style.py", [], "can neither stylize nor translate", marks=pytest.mark.slow),
    ],
)
def test_bad_input_is_one_paragraph_and_exit_2(images, tmp_path, script, args, message):
    sampler = write_checkpoint(FakeSampler, tmp_path / "sampler.ckpt")
    out = tmp_path / "out"
    if script == "stylize.py":
        args = [*args, f"content={images / 'shirt.png'}", f"style={images / 'coat.png'}", f"out={out / 'r.png'}"]
    elif script == "evaluate.py":
        args = [f"ckpt_path={sampler}", *args, f"out={out / 'e.json'}"]
    else:
        args = ["--ckpts", str(sampler), "--out", str(out / "b.json")]
    # The fake model's class lives in tests/: a script outside the repo root needs the root on its path.
    result = run_cli(script, *args, env={**THREADS, "PYTHONPATH": f"{ROOT}{os.pathsep}{ROOT / 'src'}"})
    assert result.returncode == 2, result.stderr
    assert result.stderr.startswith("error: ") and message in result.stderr
    assert "Traceback" not in result.stderr and len(result.stderr.strip().splitlines()) == 1
    assert not out.exists()

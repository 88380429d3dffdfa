"""evaluate.py on checkpoints and folders: right numbers, eval.json, and clear errors on bad input."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch
from hydra import compose, initialize_config_dir
from hydra.core.global_hydra import GlobalHydra
from hydra.core.hydra_config import HydraConfig
from omegaconf import open_dict

from genstyle.cli.common import CONFIG_DIR
from genstyle.cli.evaluate import evaluate
from genstyle.cli.train import train
from genstyle.data.sources import load_fashion_mnist
from genstyle.errors import GenstyleError
from genstyle.images import save_png

CHEAP_EVAL = ["metrics.num_real=500", "metrics.kid_subsets=10", "metrics.min_samples=100"]


@pytest.fixture
def eval_cfg(tmp_path, fmnist_root, classifier_weights):
    from tests.conftest import FEATURE_CACHE

    def _make(*overrides: str):
        GlobalHydra.instance().clear()
        with initialize_config_dir(config_dir=CONFIG_DIR, version_base="1.3"):
            cfg = compose("evaluate", overrides=[*CHEAP_EVAL, f"data_root={fmnist_root}",
                                                 f"metrics.classifier_weights={classifier_weights}", *overrides],
                          return_hydra_config=True)
        HydraConfig().set_config(cfg)
        with open_dict(cfg):
            del cfg["hydra"]
            cfg.paths.root_dir = str(tmp_path)
            cfg.paths.data_dir = str(tmp_path / "data")
            cfg.metrics.cache_dir = str(FEATURE_CACHE)
        return cfg

    yield _make
    GlobalHydra.instance().clear()


def write_pngs(folder: Path, images: torch.Tensor) -> Path:
    for i, image in enumerate(images):
        save_png(image, folder / f"{i:04d}.png")
    return folder


def test_folder_of_real_images_scores_far_better_than_noise(tmp_path, fmnist_root, eval_cfg):
    real = load_fashion_mnist("train", str(fmnist_root), download=False).images[:300]
    noise = torch.randint(0, 256, real.shape, generator=torch.Generator().manual_seed(0), dtype=torch.uint8)
    good = evaluate(eval_cfg(f"generated={write_pngs(tmp_path / 'real', real)}", "reference=fashion_mnist:test"))
    bad = evaluate(eval_cfg(f"generated={write_pngs(tmp_path / 'noise', noise)}", "reference=fashion_mnist:test"))
    assert good["metrics"]["fid"] < 0.1 * bad["metrics"]["fid"]
    assert good["protocol"]["num_fake"] == 300 and good["protocol"]["num_real"] == 500
    assert json.loads((tmp_path / "real_eval.json").read_text())["metrics"]["fid"] == good["metrics"]["fid"]
    # The two-sample test: a fresh judge cannot tell real images from real images, noise it can.
    low, high = good["two_sample"]["ci95"]
    assert low <= 0.5 <= high and good["metrics"]["c2st_acc"] < 0.6 and good["two_sample"]["total"] == 300
    assert bad["metrics"]["c2st_acc"] > 0.95 and bad["metrics"]["c2st_p"] < 1e-20
    # Folder against folder: a set against itself has FID 0.
    same = evaluate(eval_cfg(f"generated={tmp_path / 'real'}", f"reference={tmp_path / 'real'}", "metrics.num_real=null"))
    assert abs(same["metrics"]["fid"]) < 1e-6
    assert "two_sample" not in same and any("two-sample test skipped" in n for n in same["notes"])


def test_bad_folders_get_clear_errors_or_stated_adjustments(tmp_path, eval_cfg):
    (tmp_path / "empty").mkdir()
    with pytest.raises(GenstyleError, match="holds no images"):
        evaluate(eval_cfg(f"generated={tmp_path / 'empty'}", "reference=fashion_mnist:test"))
    images = torch.randint(0, 256, (120, 1, 28, 28), generator=torch.Generator().manual_seed(0), dtype=torch.uint8)
    mixed = write_pngs(tmp_path / "mixed", images)
    save_png(torch.zeros(1, 32, 32, dtype=torch.uint8), mixed / "big.png")
    with pytest.raises(GenstyleError, match="mixed sizes: 1 of 32x32.*resize=true"):
        evaluate(eval_cfg(f"generated={mixed}", "reference=fashion_mnist:test"))
    adjusted = evaluate(eval_cfg(f"generated={mixed}", "reference=fashion_mnist:test", "resize=true"))
    assert any("resized 1 images" in n for n in adjusted["notes"]) and adjusted["protocol"]["num_fake"] == 121
    few = write_pngs(tmp_path / "few", images[:50])
    with pytest.raises(GenstyleError, match="fewer than metrics.min_samples=100"):
        evaluate(eval_cfg(f"generated={few}", "reference=fashion_mnist:test"))
    with pytest.raises(GenstyleError, match="expected <dataset>:<split>"):
        evaluate(eval_cfg(f"generated={few}", "reference=fashion_mnist:validation"))


def test_checkpoint_evaluation_writes_eval_json_beside_it(make_cfg, classifier_weights, eval_cfg):
    cfg = make_cfg("model=vae", f"metrics.classifier_weights={classifier_weights}")
    train(cfg)
    ckpt = Path(cfg.paths.output_dir) / "checkpoints" / "last.ckpt"
    out = evaluate(eval_cfg(f"ckpt_path={ckpt}", "num_samples=200", "latent_samples=100"))
    assert {"fid", "kid_mean", "is_mean", "precision", "recall", "class_kl", "modes_covered", "kl", "active_units", "c2st_acc", "c2st_p"} <= set(out["metrics"])
    assert out["two_sample"]["protocol"]["test_generated"] == 100 and out["two_sample"]["protocol"]["judge"] == "cnn"
    assert out["protocol"]["reference"] == "fashion_mnist:test" and out["protocol"]["family"] == "vae"
    assert json.loads((ckpt.parent / "eval.json").read_text())["protocol"]["num_fake"] == 200


def test_conditional_checkpoint_evaluation_reports_cas(make_cfg, classifier_weights, eval_cfg):
    cfg = make_cfg("model=cvae", f"metrics.classifier_weights={classifier_weights}")
    train(cfg)
    ckpt = Path(cfg.paths.output_dir) / "checkpoints" / "last.ckpt"
    out = evaluate(eval_cfg(f"ckpt_path={ckpt}", "num_samples=200", "latent_samples=100", "two_sample=null"))
    cas = out["cas"]
    assert cas["protocol"]["train_generated"] == 200 and cas["total"] == 10000 and cas["ci95"][0] <= cas["accuracy"] <= cas["ci95"][1]
    assert out["metrics"]["cas"] == pytest.approx(cas["accuracy"]) and "cas_low" in out["metrics"] and "c2st_acc" not in out["metrics"]
    assert json.loads((ckpt.parent / "eval.json").read_text())["cas"]["accuracy"] == cas["accuracy"]


@pytest.mark.slow  # a subprocess: ~20 s of imports on a shared CPU
def test_wrong_kind_of_checkpoint_is_refused_by_the_cli(tmp_path, classifier_weights):
    from tests.helpers.forked_cli import run_cli_forked as run_cli

    result = run_cli("evaluate.py", f"ckpt_path={classifier_weights}", "num_samples=100", "metrics.min_samples=2")
    assert result.returncode == 2, result.stderr
    assert "not a genstyle checkpoint" in result.stderr and "Traceback" not in result.stderr


def test_table_gives_kl_no_better_direction(capsys):
    from genstyle.cli.evaluate import print_table

    payload = {"protocol": {"num_fake": 10, "num_real": 10, "reference": "fashion_mnist:test", "extractor": "x",
                            "weights_sha256": "0" * 64}, "metrics": {"fid": 1.0, "kl": 12.0}, "notes": []}
    print_table(payload)
    rows = {line.split()[0]: line.split()[2:] for line in capsys.readouterr().out.splitlines() if line.startswith(("fid ", "kl "))}
    assert rows == {"fid": ["lower"], "kl": []}  # KL 0 is a collapsed posterior: no direction is "better"

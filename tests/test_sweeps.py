"""`python train.py -m ...` as a user runs it: a failing job is recorded and the sweep goes on,
sweep.json summarises it, a restart skips finished jobs, compare.py reports it, and an Optuna
search stores its trials and continues from them."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

import pytest
import yaml
from omegaconf import OmegaConf

from genstyle.sweep.job import label_wandb_run, sweep_group
from tests.browser import open_page
from tests.conftest import CHEAP, run_cli

# Sweep machinery only: the evaluation callback (tested on its own) would dominate the time.
FAST = ["~callbacks.evaluation"]


def sweep_args(sweep_dir: Path, fmnist_root: Path, *extra: str) -> list[str]:
    return ["-m", *CHEAP, *FAST, f"data.root={fmnist_root}", f"hydra.sweep.dir={sweep_dir}", *extra]


@pytest.fixture(scope="module")
def sweep(tmp_path_factory, fmnist_root: Path) -> tuple[Path, object]:
    """Two jobs; the second gets a learning rate that is not a number and must fail."""
    sweep_dir = tmp_path_factory.mktemp("multirun") / "2026-12-01" / "10-00-00"
    result = run_cli("train.py", *sweep_args(sweep_dir, fmnist_root, "model=vae", "model.optimizer.lr=0.001,abc"))
    return sweep_dir, result


def test_failing_job_is_recorded_and_the_sweep_goes_on(sweep) -> None:
    sweep_dir, result = sweep
    assert result.returncode == 1, result.stderr[-3000:]  # a job failed: the command says so
    assert "1 of 2 sweep jobs failed" in result.stderr
    ok, bad = sweep_dir / "0_vae", sweep_dir / "1_vae"
    assert (ok / "done").is_file() and (ok / "metrics.json").is_file() and list((ok / "samples").glob("*.png"))
    assert not (ok / "failed").exists()
    failed = (bad / "failed").read_text()
    first_line = failed.splitlines()[0]
    assert first_line.startswith("error: ") and "model.optimizer.lr" in first_line and "abc" in first_line
    assert "Traceback" in failed
    assert not (bad / "done").exists()


def test_sweep_json_summarises_every_job(sweep) -> None:
    sweep_dir, _ = sweep
    summary = json.loads((sweep_dir / "sweep.json").read_text())
    assert summary["counts"] == {"done": 1, "failed": 1, "incomplete": 0}
    first, second = summary["jobs"]
    assert (first["dir"], first["status"], second["status"]) == ("0_vae", "done", "failed")
    assert "model.optimizer.lr=0.001" in first["overrides"] and "model.optimizer.lr=abc" in second["overrides"]
    assert first["metrics"]["val/loss"] > 0 and second["metrics"] == {}
    assert second["error"].startswith("error: ") and "model.optimizer.lr" in second["error"]


def test_compare_reports_the_sweep_in_a_browser(sweep, tmp_path: Path) -> None:
    sweep_dir, _ = sweep
    out = tmp_path / "report"
    result = run_cli("compare.py", str(sweep_dir), "--out", str(out))
    assert result.returncode == 0, result.stderr
    page = open_page(out / "report.html", tmp_path)
    assert page.console == []
    assert 'id="runs"' in page.dom and 'id="configurations"' in page.dom
    assert page.dom.count('<img alt="samples of') == 1  # the finished job's last grid
    assert "model.optimizer.lr=abc" in page.dom and "must be a number" in page.dom  # the failed job and its error


@pytest.mark.slow  # a second sweep process: 15-50 s on two shared cores
def test_restarted_sweep_skips_finished_jobs(sweep, fmnist_root: Path) -> None:
    sweep_dir, _ = sweep
    done_before = (sweep_dir / "0_vae" / "done").read_text()
    history_before = (sweep_dir / "0_vae" / "metrics_history.jsonl").read_text()
    result = run_cli("train.py", *sweep_args(sweep_dir, fmnist_root, "model=vae", "model.optimizer.lr=0.001,abc"))
    assert result.returncode == 1
    assert "already finished" in (sweep_dir / "0_vae" / "train.log").read_text()
    assert (sweep_dir / "0_vae" / "done").read_text() == done_before  # not trained again
    assert (sweep_dir / "0_vae" / "metrics_history.jsonl").read_text() == history_before
    assert (sweep_dir / "1_vae" / "failed").is_file()


def test_wandb_run_is_grouped_by_sweep_and_tagged_with_overrides() -> None:
    cfg = OmegaConf.create({"tags": ["mine"], "logger": {"wandb": {"group": None, "tags": "${tags}"}}})
    label_wandb_run(cfg, ["model=vae", "seed=2"], "/x/outputs/multirun/2026-12-01/10-00-00")
    assert cfg.logger.wandb.group == "2026-12-01_10-00-00"
    assert list(cfg.logger.wandb.tags) == ["mine", "model=vae", "seed=2"]
    assert sweep_group("/tmp/my_sweep") == "my_sweep"


@pytest.mark.slow  # three short trainings in subprocesses: about 40 s on two shared cores
def test_optuna_search_stores_trials_and_continues(tmp_path: Path, fmnist_root: Path) -> None:
    pytest.importorskip("hydra_plugins.hydra_optuna_sweeper", reason="needs the [sweep] extra: pip install -e '.[sweep]'")
    sweep_dir = tmp_path / "optuna"
    base = ["hparams_search=vae_optuna", "optimized_metric=val/loss", *sweep_args(sweep_dir, fmnist_root)[1:]]
    first = run_cli("train.py", "-m", *base, "hydra.sweeper.n_trials=2")
    assert first.returncode == 0, first.stderr[-3000:]
    results = yaml.safe_load((sweep_dir / "optimization_results.yaml").read_text())
    assert results["best_value"] > 0 and set(results["best_params"]) == {"model.optimizer.lr", "model.beta", "model.latent_dim"}

    # Interrupted or not: the same directory (and storage) continues the study with one more trial.
    again = run_cli("train.py", "-m", *base, "hydra.sweeper.n_trials=1", "hydra.sweeper.sampler.seed=2")
    assert again.returncode == 0, again.stderr[-3000:]
    with sqlite3.connect(sweep_dir / "optuna.db") as db:
        states = [row[0] for row in db.execute("SELECT state FROM trials ORDER BY number")]
    assert states == ["COMPLETE"] * 3
    summary = json.loads((sweep_dir / "sweep.json").read_text())
    assert summary["counts"]["done"] == 3 and len({j["dir"] for j in summary["jobs"]}) == 3


def test_compare_families_expands_to_every_family_and_three_seeds() -> None:
    from hydra import compose, initialize_config_dir
    from hydra.core.global_hydra import GlobalHydra
    from hydra.core.override_parser.overrides_parser import OverridesParser

    from genstyle.cli.common import CONFIG_DIR

    GlobalHydra.instance().clear()
    with initialize_config_dir(config_dir=CONFIG_DIR, version_base="1.3"):
        cfg = compose("train", overrides=["experiment=compare_families"], return_hydra_config=True)
    GlobalHydra.instance().clear()
    params = cfg.hydra.sweeper.params
    parsed = OverridesParser.create().parse_overrides([f"{k}={v}" for k, v in params.items()])
    jobs = [[str(v) for v in o.sweep_iterator()] for o in parsed]
    assert jobs == [["vae", "dcgan", "wgan_gp", "cgan", "cvae"], ["1", "2", "3"]]
    assert all((Path(CONFIG_DIR) / "model" / f"{m}.yaml").is_file() for m in jobs[0])
    assert cfg.trainer.max_epochs == 10 and cfg.data.train_subset == 10000  # one budget for all


def test_slurm_launcher_starts_one_task_per_gpu_with_srun(tmp_path: Path, monkeypatch) -> None:
    """The sbatch script submitit would submit for a 2-node x 4-GPU DDP sweep (nothing is submitted)."""
    submitit = pytest.importorskip("submitit", reason="needs the [sweep] extra: pip install -e '.[sweep]'")
    from hydra import compose, initialize_config_dir
    from hydra.core.global_hydra import GlobalHydra
    from hydra.core.hydra_config import HydraConfig
    from hydra_plugins.hydra_submitit_launcher.config import BaseQueueConf

    from genstyle.cli.common import CONFIG_DIR

    GlobalHydra.instance().clear()
    overrides = ["hydra/launcher=submitit_slurm", "hydra.launcher.partition=gpu", "trainer=ddp", "trainer.devices=4", "trainer.num_nodes=2"]
    with initialize_config_dir(config_dir=CONFIG_DIR, version_base="1.3"):
        cfg = compose("train", overrides=overrides, return_hydra_config=True)
    HydraConfig().set_config(cfg)
    GlobalHydra.instance().clear()
    launcher = OmegaConf.to_container(cfg.hydra.launcher, resolve=True)
    assert (launcher["nodes"], launcher["tasks_per_node"], launcher["gpus_per_node"]) == (2, 4, 4)

    # submitit refuses to build an executor without `srun` on PATH; a stand-in that is never run.
    fake = tmp_path / "bin"
    fake.mkdir()
    (fake / "srun").write_text("#!/bin/sh\nexit 1\n")
    (fake / "srun").chmod(0o755)
    monkeypatch.setenv("PATH", f"{fake}:{__import__('os').environ['PATH']}")
    executor = submitit.AutoExecutor(cluster="slurm", folder=tmp_path / "submitit")
    base = set(OmegaConf.structured(BaseQueueConf).keys())  # the launcher's own parameter mapping
    executor.update_parameters(**{k if k in base else f"slurm_{k}": v for k, v in launcher.items()
                                  if k not in ("_target_", "submitit_folder", "max_num_timeout")})
    script = executor._executor._make_submission_file_text("python -u -m submitit.core._submit x", "uid")
    for line in ("#SBATCH --nodes=2", "#SBATCH --ntasks-per-node=4", "#SBATCH --gpus-per-node=4", "#SBATCH --partition=gpu"):
        assert line in script
    assert "\nsrun " in script


def test_restart_skips_only_an_unchanged_job() -> None:
    from genstyle.sweep.job import config_digest, finished_before

    cfg = OmegaConf.create({"seed": 1, "model": {"lr": 0.001}})
    digest = config_digest(cfg)
    done = {"overrides": ["seed=1"], "config_sha256": digest}
    assert finished_before(done, ["seed=1"], digest)
    assert not finished_before(done, ["seed=2"], digest)  # another job
    cfg.model.lr = 0.002  # a default edited in conf/ since the job finished
    assert not finished_before(done, ["seed=1"], config_digest(cfg))
    assert not finished_before(None, ["seed=1"], digest)

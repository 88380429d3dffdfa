"""DDP on this CPU: evaluation features gathered across ranks give the single-process FID for the
same samples, a two-process (gloo) training run finishes, and the DDP-under-multirun trap is refused."""

from __future__ import annotations

import json
import os
import socket
from pathlib import Path

import hydra
import pytest
import torch
import torch.multiprocessing as mp
from omegaconf import OmegaConf

from genstyle.classifier.fashion_classifier import FORMAT_VERSION, FashionClassifier
from genstyle.metrics.backends import ClassifierBackend
from genstyle.metrics.distributed import gather_features, interleave_chunks
from genstyle.metrics.fidelity import fid
from genstyle.metrics.generation import generate
from genstyle.sweep.job import relaunching_ddp
from tests.conftest import CHEAP, run_cli

N, BATCH = 250, 60  # five chunks of unequal share: rank 0 makes chunks 0, 2, 4 and rank 1 chunks 1, 3


def tiny_classifier() -> FashionClassifier:
    torch.manual_seed(0)  # random but fixed weights: FID only has to be the same function of the samples
    return FashionClassifier(widths=(4, 8, 8), feature_dim=16).eval()


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_interleave_chunks_restores_single_process_order() -> None:
    rows = torch.arange(N, dtype=torch.float64)[:, None]
    chunks = list(rows.split(BATCH))
    parts = [{"features": torch.cat(chunks[r::2])} for r in range(2)]
    assert torch.equal(interleave_chunks(parts, N, BATCH)["features"], rows)
    with pytest.raises(RuntimeError, match="rank 1 sent"):
        interleave_chunks([parts[0], {"features": parts[1]["features"][:-1]}], N, BATCH)


def _rank_fid(rank: int, world: int, port: int, model, out: str) -> None:
    os.environ.update(MASTER_ADDR="127.0.0.1", MASTER_PORT=str(port))
    torch.distributed.init_process_group("gloo", rank=rank, world_size=world)
    try:
        backend = ClassifierBackend(model=tiny_classifier())
        images = generate(model, N, 0, BATCH, None, rank=rank, world=world)
        features = gather_features(backend(images), N, BATCH)
        reference = backend(torch.rand(300, 1, 28, 28, generator=torch.Generator().manual_seed(1)) * 2 - 1)
        Path(out, f"rank{rank}.json").write_text(json.dumps({"local": len(images), "fid": fid(features["features"], reference["features"])}))
    finally:
        torch.distributed.destroy_process_group()


@pytest.mark.slow  # two spawned processes import torch: 15-50 s on two shared cores
def test_fid_under_ddp_equals_single_process_fid(make_cfg, tmp_path: Path) -> None:
    torch.set_num_threads(1)
    model = hydra.utils.instantiate(make_cfg("model=dcgan").model).eval()
    mp.spawn(_rank_fid, args=(2, free_port(), model, str(tmp_path)), nprocs=2, join=True)
    ranks = [json.loads((tmp_path / f"rank{r}.json").read_text()) for r in range(2)]
    assert [r["local"] for r in ranks] == [60 + 60 + 10, 60 + 60]  # every sample made once, by one rank

    backend = ClassifierBackend(model=tiny_classifier())
    single = backend(generate(model, N, 0, BATCH, None))
    reference = backend(torch.rand(300, 1, 28, 28, generator=torch.Generator().manual_seed(1)) * 2 - 1)
    expected = fid(single["features"], reference["features"])
    assert ranks[0]["fid"] == pytest.approx(expected, rel=1e-9, abs=1e-9)
    assert ranks[1]["fid"] == ranks[0]["fid"]  # every rank logs the same number


def test_ddp_under_multirun_is_detected() -> None:
    ddp = OmegaConf.create({"strategy": "ddp", "devices": 4})
    assert relaunching_ddp(ddp)
    assert not relaunching_ddp(OmegaConf.create({"strategy": "ddp_spawn", "devices": 4}))
    assert not relaunching_ddp(OmegaConf.create({"strategy": "ddp", "devices": 1}))
    assert not relaunching_ddp(OmegaConf.create({"strategy": "auto", "devices": 4}))
    ddp_cpu = OmegaConf.load(Path(__file__).resolve().parents[1] / "conf" / "trainer" / "ddp_cpu.yaml")
    assert relaunching_ddp(ddp_cpu)


def write_classifier(path: Path) -> Path:
    model = tiny_classifier()
    payload = {"format_version": FORMAT_VERSION, "state_dict": model.state_dict(), "widths": [4, 8, 8], "feature_dim": 16}
    torch.save(payload, path)
    return path


@pytest.mark.slow  # three Python processes start and train, then evaluate.py: 1-2 minutes on two shared cores
def test_two_process_ddp_run_logs_the_single_process_fid(tmp_path: Path, fmnist_root: Path) -> None:
    weights = write_classifier(tmp_path / "classifier.pt")
    run_dir = tmp_path / "ddp_run"
    # the same reference (500 test images) for both, so the two FIDs differ only if the samples do
    eval_args = [f"metrics.classifier_weights={weights}", "metrics.min_samples=100", "metrics.num_real=500",
                 f"metrics.cache_dir={tmp_path / 'cache'}"]
    result = run_cli(
        "train.py", "trainer=ddp_cpu", "model=dcgan", *CHEAP, f"data.root={fmnist_root}", f"hydra.run.dir={run_dir}",
        "trainer.accelerator=cpu", f"callbacks.evaluation.num_samples={N}", f"callbacks.evaluation.batch_size={BATCH}",
        "callbacks.evaluation.latent_samples=100", *eval_args, "test=false",
        env={"OMP_NUM_THREADS": "1"},
    )
    assert result.returncode == 0, result.stderr[-4000:]
    log = (run_dir / "train.log").read_text() + result.stdout + result.stderr
    assert "world_size: 2" in log or "MEMBER: 2/2" in log  # really two processes
    ddp_fid = json.loads((run_dir / "eval.json").read_text())["metrics"]["val/fid"]

    # The same checkpoint, evaluated by one process with the same samples (seed, count, chunking).
    out = tmp_path / "single_eval.json"
    single = run_cli("evaluate.py", f"ckpt_path={run_dir / 'checkpoints' / 'last.ckpt'}", f"num_samples={N}", f"batch_size={BATCH}",
                     f"data_root={fmnist_root}", f"out={out}", *eval_args)
    assert single.returncode == 0, single.stderr[-4000:]
    assert json.loads(out.read_text())["metrics"]["fid"] == pytest.approx(ddp_fid, rel=1e-6)

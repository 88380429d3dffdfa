"""Bad inputs through the real command-line tools: each must exit non-zero with a message a user
can act on, without a bare traceback (unless HYDRA_FULL_ERROR=1), without leaving a run folder
behind, and without modifying or deleting any file the user already had.

Every case is a real subprocess of train.py, generate.py, evaluate.py, stylize.py or compare.py.
Start-up dominates (torch and Lightning imports), so the cases run two at a time, once per
module; each case is then checked by its own test.
"""

from __future__ import annotations

import gzip
import hashlib
import json
import os
import shutil
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from tests.helpers.forked_cli import forkable, run_cli_forked, warm_imports
from tests.helpers.runs import trained_run

TRACEBACK = "Traceback (most recent call last)"


@dataclass(frozen=True)
class Case:
    id: str
    script: str
    args: tuple[str, ...]  # {name} placeholders are paths of the `user` fixture
    expect: str  # what the message must say (case-insensitive regex): the key or file, and the problem
    slow: bool = False  # the same path as a default case (another file, another CLI): run with -m slow


T, G, E, S, C, R = "train.py", "generate.py", "evaluate.py", "stylize.py", "compare.py", "rate.py"
FAST_TRAIN = ("logger=csv", "~callbacks.evaluation", "trainer.accelerator=cpu", "data.download=false")

CASES = [
    # --- train.py: groups, keys, types, ranges -------------------------------------------------
    Case("train-unknown-group-option", T, ("model=vaee",), r"Could not find 'model/vaee'.*Available options"),
    Case("train-unknown-key", T, ("model.lrr=0.1",), r"model\.lrr: no such key; the keys of model are: .*latent_dim"),
    Case("train-added-unknown-key", T, ("+model.lrr=0.1",), r"model\.lrr: unknown key for VAE; accepted keys: .*latent_dim"),
    Case("train-wrong-type-epochs", T, ("trainer.max_epochs=abc",), r"trainer\.max_epochs='abc': must be a positive integer"),
    Case("train-zero-batch-size", T, ("data.batch_size=0",), r"data\.batch_size=0: must be a positive integer"),
    Case("train-negative-latent", T, ("model.latent_dim=-3",), r"model\.latent_dim=-3: must be a positive integer"),
    # --- train.py: data --------------------------------------------------------------------------
    Case("train-folder-root-missing-key", T, ("data=image_folder",), r"data\.root must be set"),
    Case("train-missing-data-folder", T, ("data=image_folder", "data.root={missing}", *FAST_TRAIN), r"{missing} does not exist or is not a folder"),
    Case("train-truncated-gzip", T, ("data.root={truncated_fmnist}", *FAST_TRAIN), r"(train|t10k)-images-idx3-ubyte\.gz is corrupt or truncated"),
    Case("train-empty-image-folder", T, ("data=image_folder", "data.root={empty}", *FAST_TRAIN), r"No images in {empty} \(looked recursively for .*\.png"),
    Case("train-png-not-an-image", T, ("data=image_folder", "data.root={not_images}", *FAST_TRAIN), r"cannot read image {not_images}/fake\.png \(cannot identify image file"),
    # --- train.py: resume -------------------------------------------------------------------------
    Case("train-resume-last-without-checkpoint", T, ("ckpt_path=last", "hydra.run.dir={old_run}", "data.root={fmnist}", *FAST_TRAIN), r"ckpt_path=last: no checkpoint at .*last\.ckpt"),
    Case("train-resume-other-model", T, ("model=dcgan", "model.monitor=null", "ckpt_path={vae_ckpt}", "data.root={fmnist}", *FAST_TRAIN), r"holds a VAE model but this run builds a GAN"),
    Case("train-resume-other-program", T, ("ckpt_path={foreign_ckpt}", "data.root={fmnist}", *FAST_TRAIN), r"not a genstyle checkpoint"),
    Case("train-resume-code-in-pickle", T, ("ckpt_path={evil_ckpt}", "data.root={fmnist}", *FAST_TRAIN), r"refused by the safe loader"),
    Case("train-resume-truncated-checkpoint", T, ("ckpt_path={truncated_ckpt}", "data.root={fmnist}", *FAST_TRAIN), r"truncated\.ckpt.*not a readable PyTorch checkpoint", slow=True),
    # --- train.py: failed starts leave at most their log --------------------------------------------
    Case("train-explicit-data-root-missing", T, ("data.root={missing}", *FAST_TRAIN), r"data\.root={missing}: the folder does not exist"),
    Case("train-gpu-without-one", T, ("trainer.accelerator=gpu", "data.root={fmnist}", "logger=csv", "~callbacks.evaluation", "data.download=false"),
         r"trainer\.accelerator=gpu: .*no such device.*trainer\.accelerator=cpu"),
    Case("train-val-size-larger-than-data", T, ("data.val_size=70000", "data.root={fmnist}", *FAST_TRAIN), r"data\.val_size=70000 leaves no training images \(60000 in total\)"),
    Case("train-wandb-png-not-an-image", T, ("data=image_folder", "data.root={not_images}", "logger=wandb", "~callbacks.evaluation", "trainer.accelerator=cpu"), r"cannot read image {not_images}/fake\.png \(cannot identify image file", slow=True),
    Case("train-read-only-run-dir", T, ("hydra.run.dir=/sys/genstyle-run",), r"hydra\.run\.dir=/sys/genstyle-run: the run directory cannot be created"),
    Case("train-several-devices-without-ddp", T, ("trainer.devices=3", "data.root={fmnist}", *FAST_TRAIN),
         r"trainer\.devices=3: training on several devices needs the DDP settings: trainer=ddp_cpu"),
    Case("train-run-dir-holds-a-run", T, ("hydra.run.dir={old_run}", "data.root={fmnist}", *FAST_TRAIN),
         r"hydra\.run\.dir={old_run} already holds a run.*ckpt_path=last.*overwrite=true"),
    Case("train-search-space-reversed", T, ("-m", "hparams_search=vae_optuna", "model.beta=interval(4.0, 0.25)", "hydra.sweep.dir={user}/sweep"),
         r"model\.beta: interval\(4\.0, 0\.25\) has its low bound above its high bound; write interval\(0\.25, 4\.0\)"),
    # --- generate.py ------------------------------------------------------------------------------
    Case("generate-no-checkpoint-given", G, (), r"ckpt_path is required"),
    Case("generate-missing-checkpoint", G, ("ckpt_path={missing}/x.ckpt",), r"ckpt_path=.*no such file"),
    Case("generate-truncated-checkpoint", G, ("ckpt_path={truncated_ckpt}",), r"not a readable PyTorch checkpoint"),
    Case("generate-directory-as-checkpoint", G, ("ckpt_path={empty}",), r"ckpt_path={empty} is a folder, not a checkpoint file", slow=True),
    Case("generate-other-program-checkpoint", G, ("ckpt_path={foreign_ckpt}",), r"not a genstyle checkpoint"),
    Case("generate-code-in-pickle", G, ("ckpt_path={evil_ckpt}", "out={user}/evil.png"), r"refused by the safe loader"),
    Case("generate-zero-images", G, ("ckpt_path={vae_ckpt}", "n=0"), r"n=0: must be an integer in \[1, 1_000_000\]"),
    Case("generate-wrong-type-n", G, ("ckpt_path={vae_ckpt}", "n=abc"), r"n='abc': must be an integer in \[1, 1_000_000\]", slow=True),
    Case("generate-labels-for-unconditional", G, ("ckpt_path={vae_ckpt}", "labels=[3]", "out={user}/l.png"), r"labels=.*not class-conditional"),
    Case("generate-output-inside-a-file", G, ("ckpt_path={vae_ckpt}", "out={existing_png}/x.png"), r"out=.*result\.png/x\.png: .*result\.png is a file", slow=True),
    Case("generate-existing-output", G, ("ckpt_path={vae_ckpt}", "out={existing_png}"), r"out=.*result\.png: 1 output file already exists.*overwrite=true"),
    Case("generate-huge-grid", G, ("ckpt_path={vae_ckpt}", "n=200000", "out={user}/big.png"), r"n=200000 with grid=true would be a single \d+x\d+-pixel PNG.*grid=false"),
    Case("generate-device-without-gpu", G, ("ckpt_path={vae_ckpt}", "device=cuda:99", "out={user}/c.png"), r"device=cuda:99: this machine has (no CUDA GPU|\d+ CUDA GPU)"),
    Case("generate-seed-not-a-number", G, ("ckpt_path={vae_ckpt}", "seed=abc", "out={user}/s.png"), r"seed='abc': must be an integer in \[0, 4_294_967_295\]"),
    Case("generate-read-only-output", G, ("ckpt_path={vae_ckpt}", "out=/sys/genstyle/grid.png"), r"Could not write .*/sys/genstyle"),
    # --- evaluate.py ------------------------------------------------------------------------------
    Case("evaluate-unknown-key", E, ("samples=10",), r"Key 'samples' is not in struct"),
    Case("evaluate-empty-folder", E, ("generated={empty}", "reference=fashion_mnist:test", "data_root={fmnist}"), r"generated={empty} holds no images"),
    Case("evaluate-png-not-an-image", E, ("generated={not_images}", "reference=fashion_mnist:test", "data_root={fmnist}"), r"cannot read image {not_images}/fake\.png \(cannot identify image file", slow=True),
    Case("evaluate-wrong-size-images", E, ("generated={wrong_size}", "reference=fashion_mnist:test", "data_root={fmnist}"), r"generated={wrong_size}: 4 of 64x64, but the metrics compare 28x28 images"),
    Case("evaluate-other-program-checkpoint", E, ("ckpt_path={foreign_ckpt}",), r"not a genstyle checkpoint"),
    Case("evaluate-translation-checkpoint", E, ("ckpt_path={cyclegan_ckpt}",), r"holds a CycleGAN translation model, which has no samples of its own"),
    Case("evaluate-style-folder-as-checkpoint", E, ("ckpt_path={empty}", "task=style"), r"ckpt_path={empty} is a folder, not a checkpoint file\. Give the \.ckpt file"),
    Case("evaluate-zero-samples", E, ("ckpt_path={vae_ckpt}", "num_samples=0"), r"num_samples=0: must be an integer in \[1, 1_000_000\]"),
    Case("evaluate-seed-not-a-number", E, ("ckpt_path={vae_ckpt}", "seed=abc"), r"seed='abc': must be an integer in \[0, 4_294_967_295\]"),
    Case("evaluate-zero-batch-size", E, ("ckpt_path={vae_ckpt}", "batch_size=0"), r"batch_size=0: must be an integer in \[1, 100_000\]"),
    # --- stylize.py -------------------------------------------------------------------------------
    Case("stylize-model-cannot-stylize", S, ("ckpt_path={vae_ckpt}", "content={gray}", "style={gray}", "out={user}/s.png"), r"cannot stylize or translate"),
    Case("stylize-colour-image-for-gray-model", S, ("ckpt_path={cvae_ckpt}", "content={rgb}", "style={gray}", "out={user}/s.png"), r"{rgb} is a colour \(RGB\) image but the model works on grayscale"),
    Case("stylize-existing-output", S, ("ckpt_path={cvae_ckpt}", "content={gray}", "style={gray}", "out={existing_png}"), r"out={existing_png}: 1 output file\(s\) already exist.*overwrite=true"),
    Case("stylize-output-inside-a-file", S, ("ckpt_path={cvae_ckpt}", "content={gray}", "style={gray}", "out={existing_png}/r.png"), r"out=.*result\.png/r\.png: .*result\.png is a file"),
    Case("stylize-folder-as-style", S, ("ckpt_path={cvae_ckpt}", "content={gray}", "style={empty}", "out={user}/f.png"), r"style={empty} is a folder, not an image file \(give one style image"),
    Case("stylize-optimise-folder-as-style", S, ("method=optimise", "content={gray}", "style={empty}", "out={user}/o.png"), r"style={empty} is a folder, not an image file \(give one style image"),
    Case("stylize-broken-link-style", S, ("ckpt_path={cvae_ckpt}", "content={gray}", "style={broken_link}", "out={user}/s.png"), r"style={broken_link}: no such image file"),
    Case("stylize-png-not-an-image", S, ("ckpt_path={cvae_ckpt}", "content={not_images}/fake.png", "style={gray}", "out={user}/s.png"), r"cannot read image {not_images}/fake\.png \(cannot identify image file", slow=True),
    Case("stylize-image-name-for-a-folder", S, ("ckpt_path={cvae_ckpt}", "content={wrong_size}", "style={gray}", "out={user}/x.png"),
         r"out=.*x\.png names an image file, but content=.*wrong_size is a folder of 4 images"),
    Case("stylize-content-labels-list", S, ("ckpt_path={cvae_ckpt}", "content={gray}", "style={gray}", "content_labels=[shirt,coat]", "out={user}/l.png"),
         r"content_labels=\['shirt', 'coat'\]: content_labels is one class .* not a list"),
    Case("stylize-animated-image", S, ("ckpt_path={cvae_ckpt}", "content={animated}", "style={gray}", "out={user}/a.png"),
         r"anim\.gif is an animated image \(2 frames\); give a still image"),
    Case("stylize-unbounded-n-styles", S, ("ckpt_path={cvae_ckpt}", "content={gray}", "target=coat", "n_styles=100000", "out={user}/n.png"),
         r"n_styles=100000: must be an integer in \[1, 256\]"),
    # --- compare.py -------------------------------------------------------------------------------
    Case("compare-missing-folder", C, ("{missing}",), r"{missing}: no such directory"),
    Case("compare-empty-folder", C, ("{empty}",), r"{empty} holds no runs"),
    Case("compare-run-listed-twice", C, ("{vae_run}", "{vae_run}", "--out", "{user}/report"), r"{vae_run} is given twice; each run would enter the means"),
    Case("compare-file-given-as-run", C, ("{existing_png}",), r"{existing_png} is a file, not a directory"),
    Case("compare-read-only-out", C, ("{vae_run}", "--out", "/sys/genstyle-report"), r"--out /sys/genstyle-report: cannot write the report there .*--out <folder>"),
    # --- rate.py ----------------------------------------------------------------------------------
    Case("rate-duplicated-vote", R, ("score={votes_duplicated}", "write_eval=false"), r"vote 41 of 41: pair 0 is voted on twice"),
    Case("rate-folder-as-votes", R, ("score={empty}", "write_eval=false"), r"score={empty} is a folder, not a votes file\. Give the votes\.json"),
    Case("rate-vote-for-missing-pair", R, ("score={votes_missing_pair}", "write_eval=false"), r"vote 1 of 40: field \"pair\" is 999, which is not a pair"),
    Case("compare-unknown-option", C, ("{old_run}", "--bogus"), r"unrecognized arguments: --bogus"),
]


# Errors found once the run has begun (data files, the checkpoint's content): the run folder
# stays, with its log. Config errors are found before the folder exists and leave nothing.
FAIL_AFTER_START = {
    "train-missing-data-folder", "train-truncated-gzip", "train-empty-image-folder", "train-png-not-an-image",
    "train-val-size-larger-than-data", "train-wandb-png-not-an-image",
}
# Errors that are the user's (bad config, data, file or checkpoint) exit 2; Hydra's own errors exit 1.
HYDRA_ERRORS = {"train-unknown-group-option", "evaluate-unknown-key"}


def png(path: Path, array: np.ndarray) -> Path:
    Image.fromarray(array).save(path)
    return path


def snapshot(folder: Path) -> dict[str, str]:
    """sha256 of every file (and the target of every link) the user has."""
    out = {}
    for path in sorted(folder.rglob("*")):
        if path.is_symlink():
            out[str(path)] = "link:" + os.readlink(path)
        elif path.is_file():
            out[str(path)] = hashlib.sha256(path.read_bytes()).hexdigest()
        elif path.is_dir():
            out[str(path)] = "dir"
    return out


@pytest.fixture(scope="module")
def user(tmp_path_factory, fmnist_root) -> dict[str, str]:
    """The user's files: checkpoints good and bad, images, data folders, an earlier run."""
    base = tmp_path_factory.getbasetemp()
    home = tmp_path_factory.mktemp("user")
    vae_run, cvae_run = trained_run(base, fmnist_root, "vae"), trained_run(base, fmnist_root, "cvae")
    cyclegan_run = trained_run(base, fmnist_root, "cyclegan", "data=fashion_unpaired", "data.domain_a=sneaker", "data.domain_b=ankle_boot")
    paths = {"user": home, "fmnist": fmnist_root, "missing": home / "does-not-exist", "vae_run": vae_run}
    paths["vae_ckpt"] = Path(shutil.copy(vae_run / "checkpoints" / "last.ckpt", home / "vae.ckpt"))
    paths["cvae_ckpt"] = Path(shutil.copy(cvae_run / "checkpoints" / "last.ckpt", home / "cvae.ckpt"))
    paths["cyclegan_ckpt"] = Path(shutil.copy(cyclegan_run / "checkpoints" / "last.ckpt", home / "cyclegan.ckpt"))
    torch.save({"conv1.weight": torch.zeros(8, 1, 3, 3), "fc.bias": torch.zeros(10)}, paths.setdefault("foreign_ckpt", home / "resnet.pth"))
    data = paths["vae_ckpt"].read_bytes()
    (paths.setdefault("truncated_ckpt", home / "truncated.ckpt")).write_bytes(data[: len(data) // 2])
    (paths.setdefault("text_ckpt", home / "notes.ckpt")).write_text("this is not a checkpoint\n")
    from tests.test_safe_loading import malicious_checkpoint

    paths["marker"] = home.parent / "pwned-marker"
    paths["evil_ckpt"] = malicious_checkpoint(home / "evil.ckpt", paths["marker"], torch.load(paths["vae_ckpt"], weights_only=True))
    rng = np.random.default_rng(0)
    paths["gray"] = png(home / "gray.png", rng.integers(0, 255, (28, 28), dtype=np.uint8))
    paths["rgb"] = png(home / "rgb.png", rng.integers(0, 255, (28, 28, 3), dtype=np.uint8))
    paths["existing_png"] = png(home / "result.png", rng.integers(0, 255, (28, 28), dtype=np.uint8))
    (paths.setdefault("empty", home / "empty")).mkdir()
    (paths.setdefault("not_images", home / "not_images")).mkdir()
    (paths["not_images"] / "fake.png").write_text("<html>not a PNG</html>\n")
    (paths.setdefault("wrong_size", home / "wrong_size")).mkdir()
    for i in range(4):
        png(paths["wrong_size"] / f"{i}.png", rng.integers(0, 255, (64, 64), dtype=np.uint8))
    frames = [Image.fromarray(np.full((28, 28), v, np.uint8)) for v in (0, 255)]
    frames[0].save(paths.setdefault("animated", home / "anim.gif"), save_all=True, append_images=frames[1:])
    from tests.rating.test_score import always_a, votes_file

    for name, change in (("votes_duplicated", lambda d: d["votes"].append(dict(d["votes"][0]))),
                         ("votes_missing_pair", lambda d: d["votes"][0].update(pair=999))):
        doc = json.loads(votes_file(home / f"{name}.json", always_a).read_text())
        change(doc)
        (paths.setdefault(name, home / f"{name}.json")).write_text(json.dumps(doc))
    paths["broken_link"] = home / "style.png"
    os.symlink(home / "deleted.png", paths["broken_link"])
    # Fashion-MNIST files cut off in the middle of the gzip stream
    (paths.setdefault("truncated_fmnist", home / "fmnist_truncated")).mkdir()
    for name in ("t10k-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz", "train-images-idx3-ubyte.gz", "train-labels-idx1-ubyte.gz"):
        raw = (fmnist_root / name).read_bytes()
        (paths["truncated_fmnist"] / name).write_bytes(raw[: len(raw) // 3] if "images" in name else raw)
    with pytest.raises(EOFError):
        gzip.decompress((paths["truncated_fmnist"] / "t10k-images-idx3-ubyte.gz").read_bytes())
    # an earlier run whose folder has no checkpoint (its config and log must survive a failed resume)
    paths["old_run"] = home / "old_run"
    (paths["old_run"] / ".hydra").mkdir(parents=True)
    (paths["old_run"] / ".hydra" / "config.yaml").write_text("model: vae\n")
    (paths["old_run"] / "train.log").write_text("an earlier run\n")
    return {k: str(v) for k, v in paths.items()}


def selected_cases(session) -> list[Case]:
    """The cases this session collected (`-m slow` adds the slow ones): only those are run."""
    ids = {item.callspec.params["case"].id for item in session.items
           if item.originalname == "test_bad_input" and "case" in getattr(getattr(item, "callspec", None), "params", {})}
    return [c for c in CASES if c.id in ids]


@pytest.fixture(scope="module")
def results(user, tmp_path_factory, request) -> dict[str, tuple[object, Path]]:
    before = snapshot(Path(user["user"]))
    cwd_root = tmp_path_factory.mktemp("cwd")

    def run(case: Case):
        cwd = cwd_root / case.id
        cwd.mkdir()
        args = [a.format(**user) for a in case.args]
        return case.id, (run_cli_forked(case.script, *args, cwd=cwd, env={"OMP_NUM_THREADS": "1"}, timeout=600), cwd)

    warm_imports()  # once here, then every case is a fork that does not import torch again
    start = time.monotonic()
    cases = selected_cases(request.session)
    if forkable():
        out = dict(map(run, cases))
    else:  # each case a new interpreter: two at a time
        with ThreadPoolExecutor(2) as pool:
            out = dict(pool.map(run, cases))
    print(f"\n{len(cases)} bad inputs through the CLIs in {time.monotonic() - start:.0f} s")
    out["__unchanged__"] = (before == snapshot(Path(user["user"])), None)
    return out


def test_enough_cases_across_every_cli():
    assert len(CASES) >= 30 and len({c.id for c in CASES}) == len(CASES)
    assert {c.script for c in CASES} == {T, G, E, S, C, R}


@pytest.mark.parametrize("case", [pytest.param(c, marks=[pytest.mark.slow] if c.slow else []) for c in CASES], ids=[c.id for c in CASES])
def test_bad_input(case: Case, results, user):
    result, cwd = results[case.id]
    assert result.returncode != 0, f"exit 0 for {case.id}:\n{result.stdout[-1500:]}"
    if case.id not in HYDRA_ERRORS:
        assert result.returncode == 2, (case.id, result.returncode, result.stderr[-2000:])
    assert TRACEBACK not in result.stderr, result.stderr[-3000:]
    import re

    pattern = case.expect.format(**{k: re.escape(v) for k, v in user.items()})
    assert re.search(pattern, result.stderr, re.IGNORECASE | re.DOTALL), f"message does not match {pattern!r}:\n{result.stderr[-3000:]}"
    if case.id in FAIL_AFTER_START:
        # the run had started: at most its log stays for the user to read, nothing else (no config copies,
        # no empty checkpoints/ or csv/, no W&B run that `wandb sync` would upload as an empty run)
        left = [p for p in cwd.rglob("*") if p.is_file()]
        assert [p.name for p in left] in ([], ["train.log"]), left
    else:
        assert list(cwd.iterdir()) == [], f"left behind in the working directory: {list(cwd.rglob('*'))}"


def test_no_user_file_modified_or_deleted(results, user):
    assert results["__unchanged__"][0]
    assert not Path(user["marker"]).exists()  # no payload ran

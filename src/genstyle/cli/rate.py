"""`python rate.py runs=[A,B] n=100 out=rating.html` writes a blind rating page;
`python rate.py score=votes.json` (or `score=[a.json,b.json]`) scores what raters saved.

The page shows randomised pairs (two runs' samples, a run's sample and a real image with
`real=<dataset>:<split>`, or two runs' results on the same content/style pair for style models)
with identities hidden and sides random. Scoring merges raters, prints win rates with Wilson
intervals and exact binomial tests, and records them in each run's `eval.json` (`human_rating`),
where `compare.py` shows them.
"""

from __future__ import annotations

import glob
import json
import time
from dataclasses import dataclass
from pathlib import Path

import hydra
import torch
from omegaconf import DictConfig, ListConfig

from genstyle.checkpoints import load_model
from genstyle.cli.common import CONFIG_DIR
from genstyle.cli.options import command
from genstyle.errors import GenstyleError, require
from genstyle.files import write_json_atomic
from genstyle.models.base import GenerativeModule
from genstyle.pixels import to_model_range, to_uint8
from genstyle.rating.page import page_data, write_page
from genstyle.rating.plan import make_entities, plan_pairs
from genstyle.rating.score import compare, format_table, per_entity
from genstyle.rating.votes import read_votes

TASK_CHOICES = ("auto", "samples", "stylize")
DATASETS = ("fashion_mnist", "mnist", "cifar10")
SPLITS = ("train", "test")


@dataclass
class RatedRun:
    label: str
    run_dir: Path
    model: GenerativeModule


def as_list(value) -> list:
    if value is None:
        return []
    return list(value) if isinstance(value, (list, tuple, ListConfig)) else [value]


def locate_checkpoint(spec: str) -> tuple[Path, Path]:
    """(run folder, checkpoint) for a run folder or a .ckpt file."""
    path = Path(spec).expanduser()
    if path.is_file() and path.suffix == ".ckpt":
        return path.resolve().parent.parent, path
    require(path.is_dir(), f"runs: {spec} is neither a run folder nor a .ckpt file. Give run folders such as outputs/runs/<date>/<time>_<model> (the folder train.py printed).")
    ckpt = path / "checkpoints" / "last.ckpt"
    require(
        ckpt.is_file(),
        f"runs: {spec} has no checkpoints/last.ckpt, so there is no model to draw images from. The run may have "
        "failed before its first checkpoint; give another run, or the path of one of its .ckpt files.",
    )
    return path.resolve(), ckpt


def short_labels(paths: list[Path]) -> list[str]:
    """The fewest trailing path parts that tell the runs apart (at least the run folder's name)."""
    for depth in range(1, max(len(p.parts) for p in paths) + 1):
        labels = ["/".join(p.parts[-depth:]) for p in paths]
        if len(set(labels)) == len(labels):
            return labels
    return [str(p) for p in paths]


def load_runs(specs: list[str], device: str) -> list[RatedRun]:
    located = [locate_checkpoint(str(spec)) for spec in specs]
    keys = [ckpt.resolve() for _, ckpt in located]
    require(len(set(keys)) == len(keys), f"runs: {', '.join(map(str, specs))} names a checkpoint twice; give each run once.")
    # A .ckpt other than last.ckpt is named by its file too, so two checkpoints of one run stay apart.
    names = [run_dir if ckpt.name == "last.ckpt" else run_dir / ckpt.name for run_dir, ckpt in located]
    runs = [RatedRun(label, run_dir, load_model(ckpt, device)[0])
            for label, (run_dir, ckpt) in zip(short_labels(names), located, strict=True)]
    shapes = {r.model.image_shape for r in runs}
    require(len(shapes) == 1, f"runs: the runs make images of different shapes ({', '.join(map(str, sorted(shapes)))}); rate runs trained on the same data.")
    return runs


def dataset_split(name: str, split: str, cfg: DictConfig, channels: int, size: int):
    from genstyle.data.datamodule import ImageDataModule

    dm = ImageDataModule(dataset=name, root=cfg.data_root, download_dir=cfg.paths.data_dir, download=False, image_size=size,
                         channels=channels, num_classes=10, val_size=0)
    return dm.load_split(split)


def dataset_images(name: str, split: str, cfg: DictConfig, channels: int, size: int) -> torch.Tensor:
    return dataset_split(name, split, cfg, channels, size).images


def parse_real(spec: str) -> tuple[str, str]:
    name, _, split = str(spec).partition(":")
    require(name in DATASETS and split in SPLITS, f"real={spec!r}: expected <dataset>:<split> with dataset one of {', '.join(DATASETS)} and split train or test (e.g. real=fashion_mnist:test).")
    return name, split


def seeded_order(count: int, n: int, seed: int) -> torch.Tensor:
    require(count >= n, f"The data holds {count} images, fewer than n={n}; lower n.")
    return torch.randperm(count, generator=torch.Generator().manual_seed(seed))[:n]


def seeded_pick(images: torch.Tensor, n: int, seed: int) -> torch.Tensor:
    return images[seeded_order(len(images), n, seed)]


@torch.no_grad()
def draw_samples(model: GenerativeModule, n: int, seed: int, batch_size: int) -> torch.Tensor:
    """`n` samples as uint8, a pure function of (weights, seed): the same for every run rated."""
    generator = torch.Generator().manual_seed(seed)
    chunks = [model.sample(min(batch_size, n - start), generator=generator).float().cpu() for start in range(0, n, batch_size)]
    return to_uint8(torch.cat(chunks))


@torch.no_grad()
def stylize_all(model: GenerativeModule, content: torch.Tensor, style: torch.Tensor, batch_size: int,
                labels: dict[str, torch.Tensor] | None = None) -> torch.Tensor:
    """Every pair stylized; `labels` (the test split's true classes of the content and style images)
    go to the models whose stylize takes them (conditional models), so none has to guess them."""
    used = {k: v for k, v in (labels or {}).items() if k in getattr(model, "stylize_labels", ())}
    out = []
    for start in range(0, len(content), batch_size):
        c = content[start : start + batch_size].to(model.device)
        s = style[start : start + batch_size].to(model.device)
        extra = {k: v[start : start + batch_size].to(model.device) for k, v in used.items()}
        out.append(model.stylize(c, s, **extra).float().cpu())
    return to_uint8(torch.cat(out))


def choose_task(cfg: DictConfig, runs: list[RatedRun]) -> str:
    require(cfg.task in TASK_CHOICES, f"task={cfg.task} is not one of {', '.join(TASK_CHOICES)}.")
    can_stylize = all(r.model.can_stylize for r in runs)
    if cfg.task == "stylize":
        require(can_stylize, "task=stylize, but " + ", ".join(r.label for r in runs if not r.model.can_stylize) + " cannot stylize; use task=samples.")
        require(cfg.real is None, "task=stylize compares runs with each other; real= applies to samples only (drop real= or use task=samples).")
    if cfg.task == "samples" or cfg.real is not None or not can_stylize:
        return "samples"
    return "stylize"


def make_page(cfg: DictConfig) -> Path:
    require(isinstance(cfg.n, int) and cfg.n > 0, f"n={cfg.n} must be a positive integer (the number of pairs on the page).")
    require(isinstance(cfg.batch_size, int) and cfg.batch_size > 0, f"batch_size={cfg.batch_size} must be a positive integer.")
    specs = as_list(cfg.runs)
    require(specs, "runs= is empty: give the run folders to rate, e.g. runs=[outputs/runs/A,outputs/runs/B] (or one run with real=fashion_mnist:test).")
    require(len(specs) >= 2 or cfg.real is not None, "One run alone has nothing to be compared with: give two or more runs, or add real=fashion_mnist:test for a real-or-generated page.")
    out = Path(cfg.out).expanduser()
    require(out.suffix.lower() in (".html", ".htm"), f"out={out} must end in .html (the page is one HTML file).")
    require(not out.exists() or cfg.overwrite, f"out={out} exists; choose another name or pass overwrite=true to replace it.")
    real = None if cfg.real is None else parse_real(cfg.real)
    runs = load_runs(specs, cfg.device)
    channels, size, _ = runs[0].model.image_shape
    task = choose_task(cfg, runs)
    entities = make_entities([(r.label, str(r.run_dir)) for r in runs], None if real is None else ":".join(real), int(cfg.seed))
    pairs = plan_pairs(entities, int(cfg.n), int(cfg.seed))
    images: dict[str, torch.Tensor] = {}
    context = None
    if task == "stylize":
        dataset = {str((r.model.run_config or {}).get("data", {}).get("dataset")) for r in runs}
        require(len(dataset) == 1, f"runs: the style models were trained on different data ({', '.join(sorted(dataset))}); their results on one content/style pair need one data set.")
        test = dataset_split(dataset.pop(), "test", cfg, channels, size)
        order = seeded_order(len(test.images), 2 * int(cfg.n), int(cfg.seed))
        content, style = test.images[order].split(int(cfg.n))
        labels = {} if test.labels is None else dict(zip(("content_labels", "style_labels"), test.labels[order].split(int(cfg.n)), strict=True))
        context = list(zip(content, style, strict=True))
        content_f, style_f = to_model_range(content), to_model_range(style)
        for run, entity in zip(runs, entities, strict=False):
            images[entity.hidden_id] = stylize_all(run.model, content_f, style_f, int(cfg.batch_size), labels)
    else:
        for run, entity in zip(runs, entities, strict=False):
            images[entity.hidden_id] = draw_samples(run.model, int(cfg.n), int(cfg.seed), int(cfg.batch_size))
        if real is not None:
            pool = dataset_images(real[0], real[1], cfg, channels, size)
            images[entities[-1].hidden_id] = seeded_pick(pool, int(cfg.n), int(cfg.seed))
    rating_task = "realness" if real is not None else "style" if task == "stylize" else "preference"
    data = page_data(entities, pairs, images, rating_task, int(cfg.seed), context)
    title = cfg.title or {"realness": "Blind rating: real or generated", "style": "Blind rating: stylizations", "preference": "Blind rating: two models"}[rating_task]
    write_page(data, title, out)
    print(f"Wrote {out} ({len(pairs)} pairs, {rating_task} task, seed {cfg.seed}, page {data['page_id'][:12]}). "
          "Open it in a browser, rate every pair, press Save votes, then: python rate.py score=votes.json")
    return out


def expand_votes(specs: list[str]) -> list[Path]:
    paths: list[Path] = []
    for spec in specs:
        matches = sorted(glob.glob(str(Path(str(spec)).expanduser()))) if any(ch in str(spec) for ch in "*?[") else [str(spec)]
        require(matches, f"score={spec} matches no file.")
        paths += [Path(m) for m in matches]
    return paths


def record_in_eval_json(run_dir: Path, comparisons: list, files: list[Path]) -> Path:
    """Add (or replace) the `human_rating` section of the run's eval.json, keeping everything else."""
    path = run_dir / "eval.json"
    payload = {}
    if path.is_file():
        try:
            payload = json.loads(path.read_text(encoding="utf-8"))
        except ValueError as err:
            raise GenstyleError(f"{path} is not valid JSON ({err}); fix or remove it, or score with write_eval=false.") from None
    payload["human_rating"] = {
        "comparisons": [c.as_dict() for c in comparisons],
        "votes_files": [str(f.resolve()) for f in files],
        "scored_at": time.strftime("%Y-%m-%dT%H:%M:%S"),
    }
    write_json_atomic(path, json.loads(json.dumps(payload)))
    return path


def score(cfg: DictConfig) -> list:
    paths = expand_votes(as_list(cfg.score))
    files = [read_votes(p) for p in paths]
    comparisons = compare(files)
    require(comparisons, f"score: {', '.join(map(str, paths))} hold no votes yet; rate some pairs before saving.")
    print(format_table(comparisons))
    print(f"\n{sum(len(f.votes) for f in files)} votes from {len(files)} file(s). Win rate = wins / (wins + losses); "
          "ties (can't tell) excluded; 95% Wilson interval; p = exact two-sided binomial test against 0.5.")
    if cfg.write_eval:
        sources = {str(e.get("source")): str(e.get("label")) for f in files for e in f.entities.values() if e.get("kind") == "run"}
        missing = [f"{label} ({source})" for source, label in sources.items() if not Path(source).is_dir()]
        require(not missing, f"score: the run folder of {', '.join(missing)} does not exist here, so its eval.json cannot be updated. "
                "Score where the runs are, or pass write_eval=false to print the numbers only.")
        for source, mine in per_entity(comparisons).items():
            if source in sources:
                print(f"Wrote {record_in_eval_json(Path(source), mine, paths)}")
    return comparisons


def rate(cfg: DictConfig):
    if cfg.score is not None:
        require(not as_list(cfg.runs), "Give either runs=[...] (write a page) or score=votes.json (score votes), not both.")
        return score(cfg)
    return make_page(cfg)


@hydra.main(version_base="1.3", config_path=CONFIG_DIR, config_name="rate")
@command("rate", interrupted="no page or score was written")
def main(cfg: DictConfig) -> None:
    rate(cfg)


if __name__ == "__main__":
    main()

"""The style benchmark's composition: checkpoints and references in, one table out.

`genstyle.metrics.style_benchmark` scores images; this module turns each thing that can stylize
into a stylizer callable for it, the way `stylize.py` drives each family:

- models with `stylize(content, style)` (adain, munit) get the pairs' images;
- conditional models (cvae, cgan: `stylize(..., content_labels, style_labels)`) also get the
  pairs' true test labels, as `stylize.py content_labels=... style_labels=...` passes them;
  models with domains (stargan_v2: `stylize(..., style_labels)`) the style images' true labels;
- translation models (cyclegan) translate on the class pair they were trained on: contents of
  class A with `translate(x, "b")` (into domain B: their style images are of class B), and the reverse;
- the trivial references copy the content or the style image; the optimisation reference
  (Gatys et al. 2016, `genstyle.stylization.optimise`) optimises each result.

Used by `python evaluate.py ckpt_path=... task=style` and `python benchmarks/style.py`.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import torch

from genstyle.classifier.fashion_classifier import FashionClassifier
from genstyle.directions import target_domain
from genstyle.errors import GenstyleError, file_problem, require
from genstyle.files import write_text_atomic
from genstyle.metrics import style_benchmark as sb
from genstyle.metrics.settings import MetricSettings

CAPABLE = "adain, munit, cvae and cgan (stylize), cyclegan trained on two Fashion-MNIST classes (translate)"


@dataclass
class Entry:
    """One row to compute: a name, a stylizer, and the class pair of a translator (else None)."""

    name: str
    stylizer: sb.Stylizer
    classes: tuple[int, int] | None = None
    note: str = ""
    max_pairs: int | None = None  # a slow stylizer is scored on the first max_pairs pairs only
    curve: str | None = None  # rows of one stylizer at several strengths share a curve in the plot
    strength: float | None = None  # its strength control (AdaIN's alpha, the optimisation's style weight)


def translator_classes(model, ckpt_path: str) -> tuple[int, int]:
    """The two Fashion-MNIST class indices a cyclegan checkpoint translates between."""
    from genstyle.data.sources import FASHION_MNIST_CLASSES

    data = dict((model.run_config or {}).get("data") or {})
    names = (data.get("domain_a"), data.get("domain_b"))
    require(
        data.get("dataset") == "fashion_unpaired" and all(n in FASHION_MNIST_CLASSES for n in names),
        f"ckpt_path={ckpt_path} holds a {model.family} model trained on data.dataset={data.get('dataset')!r}; the style "
        "benchmark scores translators only on two Fashion-MNIST classes (data=fashion_unpaired).",
    )
    return FASHION_MNIST_CLASSES.index(names[0]), FASHION_MNIST_CLASSES.index(names[1])


def model_entry(ckpt_path: str, device: str = "cpu", name: str | None = None) -> Entry:
    """A checkpoint as one benchmark row, at the model's default strength."""
    return model_entries(ckpt_path, device, name)[0]


def model_entries(ckpt_path: str, device: str = "cpu", name: str | None = None, alphas: list[float] | None = None) -> list[Entry]:
    """A checkpoint as benchmark rows: one per `alphas` value when its `stylize` takes `alpha`
    (AdaIN's test-time strength; one curve), else one row. A model that can neither stylize nor
    translate, or one not made for 1x28x28 Fashion-MNIST images, is an error that says which can."""
    from genstyle.checkpoints import load_model

    model, _ = load_model(ckpt_path, device)
    require(
        tuple(model.image_shape) == (1, 28, 28),
        f"ckpt_path={ckpt_path} holds a model for {tuple(model.image_shape)} images; the style benchmark uses Fashion-MNIST "
        "test pairs and its classifier, so it takes models trained on 1x28x28 images.",
    )
    label = name or f"{model.family} ({Path(ckpt_path).parent.parent.name or Path(ckpt_path).stem})"
    if model.can_stylize:
        # The true labels go to whichever of content_labels / style_labels `stylize` uses.
        takes = list(model.stylize_labels)

        def stylizer(options: dict):
            def stylize(content, style, content_labels, style_labels):
                given = {"content_labels": content_labels, "style_labels": style_labels}
                with torch.no_grad():
                    labels = {k: given[k].to(model.device) for k in takes}
                    return model.stylize(content.to(model.device), style.to(model.device), **labels, **options)

            stylize.loss_feature_networks = model.loss_feature_networks  # scoring it in those is refused
            return stylize

        notes = {("content_labels", "style_labels"): "true class labels given", ("style_labels",): "true style labels given"}
        note = notes.get(tuple(takes), "")
        if alphas and "alpha" in model.stylize_options:
            return [Entry(f"{label}, alpha {a:g}", stylizer({"alpha": a}), note=note, curve=label, strength=a) for a in alphas]
        return [Entry(label, stylizer({}), note=note)]
    if model.can_translate:
        a, b = translator_classes(model, ckpt_path)

        def translate(content, style, content_labels, style_labels):
            out = torch.empty_like(content)
            with torch.no_grad():
                for cls, direction in ((a, "a2b"), (b, "b2a")):
                    rows = content_labels == cls
                    if bool(rows.any()):
                        out[rows] = model.translate(content[rows].to(model.device), target_domain(direction)).cpu()
            return out

        translate.loss_feature_networks = model.loss_feature_networks

        return [Entry(label, translate, classes=(a, b), note=f"translate on its classes {a} <-> {b}")]
    raise GenstyleError(
        f"ckpt_path={ckpt_path} holds a {model.family} model ({type(model).__name__}), which can neither stylize nor "
        f"translate, so the style benchmark has nothing to score. Models that can: {CAPABLE}."
    )


def reference_entries(optimise_weights: list[float], classifier: FashionClassifier, steps: int, optimise_pairs: int | None = None) -> list[Entry]:
    from genstyle.stylization.optimise import optimisation_stylizer

    entries = [Entry("copy content (reference)", sb.copy_content), Entry("copy style (reference)", sb.copy_style)]
    for w in optimise_weights:
        entries.append(Entry(
            f"optimisation, Gatys et al. ({steps} Adam steps, style weight {w:g})",
            optimisation_stylizer(classifier, steps=steps, style_weight=w), max_pairs=optimise_pairs,
            curve=f"optimisation, Gatys et al. ({steps} Adam steps)", strength=w,
        ))  # fmt: skip
    return entries


def refine_entries(entries: list[Entry], classifier: FashionClassifier, steps: int, weights: list[float], max_pairs: int | None) -> list[Entry]:
    """For each stylizer with a test-time strength (adain), its strongest row refined by `steps`
    optimisation steps at each style weight: one curve per stylizer, scored on the optimisation
    rows' pairs."""
    from genstyle.stylization.optimise import refining_stylizer

    strongest: dict[str, Entry] = {}
    for entry in entries:
        if entry.curve is not None and (entry.curve not in strongest or entry.strength > strongest[entry.curve].strength):
            strongest[entry.curve] = entry
    return [
        Entry(
            f"{e.name} + refine ({steps} steps, style weight {w:g})", refining_stylizer(e.stylizer, classifier, steps, w),
            note=e.note, max_pairs=max_pairs, curve=f"{e.name} + refine ({steps} steps)", strength=w,
        )
        for e in strongest.values()
        for w in weights
    ]


def run_entries(
    entries: list[Entry], num_pairs: int, seed: int, data_root: str | None = None, log=print,
    network: str = "fmnist-independent", allow_own_features: bool = False,
) -> dict:  # fmt: skip
    """Score every entry on its pairs (entries with the same class pair share them) in `network`
    -> payload `{'rows': [...], 'protocol': {...}}`. A stylizer whose losses use `network`
    (`loss_feature_networks`) is refused before anything runs, unless `allow_own_features`; its
    row is then flagged (`own_features`, and in its name)."""
    from genstyle.data.sources import load_fashion_mnist_test
    from genstyle.metrics.features import default_network
    from genstyle.metrics.own_features import check_own_features

    classifier = default_network(network)
    own = {e.name: check_own_features(e.name, network, classifier.weights_sha256, getattr(e.stylizer, "loss_feature_networks", ()),
                                      allow_own_features) for e in entries}  # fmt: skip
    test = load_fashion_mnist_test(data_root)
    pairs_by_classes: dict = {}
    rows = []
    for entry in entries:
        if entry.classes not in pairs_by_classes:
            pairs_by_classes[entry.classes] = sb.prepare_pairs(test.images, test.labels, classifier, num_pairs, seed, entry.classes)
        pairs = pairs_by_classes[entry.classes]
        if entry.max_pairs is not None and entry.max_pairs < len(pairs.content):
            pairs = pairs.prefix(entry.max_pairs)
        row, _ = sb.benchmark(entry.stylizer, pairs, classifier)
        row = {"name": entry.name, **row, "note": entry.note, "pairs": pairs.protocol["pairs"], "num_pairs": len(pairs.content)}
        if entry.curve is not None:
            row |= {"curve": entry.curve, "strength": entry.strength}
        if own[entry.name]:
            row |= {"name": f"{entry.name} [scored in its own loss network]", "own_features": True}
        rows.append(row)
        log(f"{entry.name}: content class {row['content_class']:.3f}, style dist {row['style_dist']:.3f}, "
            f"Gram dist {row['gram_dist']:.3f}, source dependence {row['source_dependence']:.3f}, "
            f"background change {row['background_change']:.3f}, FID {row['fid']:.3f} (floors {row['content_fid']:.3f} / "
            f"{row['style_fid']:.3f}), {row['sec_per_image']:.2e} s/image")
    protocol = {
        **next(iter(pairs_by_classes.values())).protocol,
        "network": network,
        "network_sha256": classifier.weights_sha256,
        "torch_threads": torch.get_num_threads(),
        "fid": f"{network} features ({classifier.feature_dim}-d), results vs the real images of the contents' classes in the half of "
        "the split the pairs do not use; floors: the untouched contents and styles on the same protocol",
    }
    protocol.pop("pairs", None)
    return {"rows": rows, "protocol": protocol}


def write_outputs(payload: dict, json_path: Path, md_path: Path | None) -> None:
    write_text_atomic(json_path, json.dumps(payload, indent=2))
    if md_path is not None:
        write_text_atomic(md_path, table_text(payload) + "\n")


def table_text(payload: dict) -> str:
    p = payload["protocol"]
    head = (
        f"{p['num_pairs']} {p['split']} pairs of different classes (seed {p['seed']}); scored in {p['network']} (sha256 "
        f"{p['network_sha256'][:12]}); FID against {p['num_reference']} other {p['split']} images (the half the pairs do not "
        f"use); source dependence on {p.get('source_dependence_grid', 'no grid')}; {p['torch_threads']} torch thread(s)."
    )
    return sb.markdown_table(payload["rows"]) + "\n\n" + head


def evaluate_style(cfg) -> dict:
    """`python evaluate.py ckpt_path=... task=style`: the checkpoint and the two trivial references
    on `style_pairs` fixed test pairs; writes `style_eval.json` (or `out`) and prints the table."""
    require(cfg.ckpt_path is not None and cfg.get("generated") is None, "task=style scores a model: give ckpt_path=<.ckpt file> (and no generated=).")
    problem = file_problem(Path(cfg.ckpt_path).expanduser(), "checkpoint file")
    require(problem is None, f"ckpt_path={cfg.ckpt_path}{problem}. Give the .ckpt file of a genstyle run (outputs/.../checkpoints/last.ckpt).")
    num_pairs = int(cfg.style_pairs)
    require(num_pairs >= 2, f"style_pairs={num_pairs} must be at least 2.")
    entry = model_entry(str(cfg.ckpt_path), cfg.device)
    # The copies only (benchmarks/style.py adds the optimisation rows), on the model's pairs.
    refs = [Entry(r.name, r.stylizer, entry.classes) for r in reference_entries([], None, 0)]
    m = MetricSettings.from_mapping(cfg.get("metrics"))  # judge_extractor: the network every number is computed in
    payload = run_entries([entry, *refs], num_pairs, int(cfg.seed), cfg.get("data_root"), log=lambda line: None,  # the summary says it
                          network=m.judge_extractor, allow_own_features=bool(m.allow_own_features))
    payload["protocol"]["ckpt_path"] = str(Path(cfg.ckpt_path).expanduser().resolve())
    out = Path(cfg.out) if cfg.out else Path(cfg.ckpt_path).expanduser().resolve().parent / "style_eval.json"
    write_outputs(payload, out, None)
    print(summary_text(payload))
    print(f"\nWrote {out}")
    return payload


SUMMARY = (
    ("keeps content class", "content_class", "%"),
    ("style class", "style_class", "%"),
    ("Gram distance", "gram_dist", ".3f"),
    ("pixel statistics distance", "pixel_dist", ".3f"),
    ("source dependence (features)", "source_dependence", ".3f"),
    ("source dependence (pixels)", "source_dependence_pixel", ".3f"),
    ("background change", "background_change", ".3f"),
    ("FID", "fid", ".3f"),
    ("seconds per image", "sec_per_image", ".2e"),
)


def summary_text(payload: dict) -> str:
    """The first row beside the two copies, one metric per line, each number once: the copies'
    columns are the floors and ceilings the model's number sits between."""
    rows = payload["rows"]
    copies = [next(r for r in rows if r["name"] == name) for name in ("copy content (reference)", "copy style (reference)")]
    model = next(r for r in rows if r not in copies)
    cell = lambda r, key, spec: f"{100 * r[key]:.1f}%" if spec == "%" else format(r[key], spec)  # noqa: E731
    width = max(len(label) for label, _, _ in SUMMARY)
    lines = [f"{model['name']}" + (f" ({model['note']})" if model.get("note") else ""),
             f"{'':{width}}  {'result':>10}  {'copy content':>12}  {'copy style':>10}"]  # fmt: skip
    for label, key, spec in SUMMARY:
        lines.append(f"{label:{width}}  {cell(model, key, spec):>10}  {cell(copies[0], key, spec):>12}  {cell(copies[1], key, spec):>10}")
    p = payload["protocol"]
    lines.append(
        f"\n{p['num_pairs']} {p['split']} pairs of different classes (seed {p['seed']}), scored in {p['network']} (sha256 {p['network_sha256'][:12]}); "
        f"FID against {p['num_reference']} other {p['split']} images; source dependence on {p['source_dependence_grid']}.\n"
        "Distances: 0 = the style image's statistics, 1 = the content's. Source dependence: 1 = results vary as their "
        "sources, 0 = one result per reference. Background change: mean |change| where the content is black (0-2)."
    )
    return "\n".join(lines)

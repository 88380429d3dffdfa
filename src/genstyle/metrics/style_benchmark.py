"""The style benchmark: how well a stylizer puts one image's style on another image's content.

Fixed (content, style) pairs of test images of *different* classes (seeded), one result per pair
from any stylizer (a model's `stylize`, the optimisation reference, or a trivial copy), and per
stylizer:

- `content_class` / `style_class`: share of results the Fashion-MNIST classifier assigns to the
  content image's class / the style image's class (true test labels);
- `style_dist`: style-statistics distance, 0 = the style image's own statistics, 1 = the content
  image's own. It is the mean of three ratios `mean ||d(result) - d(style)|| / mean ||d(content) -
  d(style)||` over the pairs, for three descriptors d: pixel statistics (`pixel_dist`: mean,
  standard deviation and mean absolute horizontal / vertical gradient) and the Gram matrices of
  the classifier's first and second stage feature maps (`gram_dist`, the mean of those two);
- `fid`: FID of the results against real test images of the contents' classes that are neither
  contents nor styles (the split is halved with a fixed seed: pairs come from one half, the FID
  reference is the other), in the classifier's penultimate features; beside it the floors of the
  same protocol, `content_fid` and `style_fid` (the untouched contents / styles of the same
  pairs, real images the reference does not hold), and `fid_ratio`, FID over `content_fid`;
- `source_dependence` (features) and `source_dependence_pixel`: on a grid of references each
  stylized with sources of other classes from the pairs' half, the spread of a reference's results
  over the spread of their sources (`genstyle.metrics.source_dependence`: 1 = copy the source, 0 =
  every source gives the same result);
- `background_change`: mean change of the results where the content image is black
  (`genstyle.metrics.background`: 0 = background untouched);
- `sec_per_image`: wall-clock seconds per result (with the thread count in the protocol).

Functions here see images, labels and classifier features only, never a model: the commands
(`evaluate.py task=style`, `benchmarks/style.py`) hand in a stylizer callable. They also pick the
network every class share, Gram matrix and FID here is computed in (the `classifier` argument):
by default `fmnist-independent` (`genstyle.classifier.independent`), which no model trains or
optimises against; the shipped classifier (`fmnist-classifier`) is the loss network of adain and
of the optimisation, and scoring them in it is refused unless asked (`genstyle.metrics.own_features`).
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass, field

import torch

from genstyle.classifier.fashion_classifier import FashionClassifier
from genstyle.errors import require
from genstyle.metrics import source_dependence as sd
from genstyle.metrics.background import background_change
from genstyle.metrics.fidelity import fid
from genstyle.pixels import to_model_range
from genstyle.style_ops import gram_matrix, pixel_statistics, relative_distance

# (content, style, content_labels, style_labels) -> results, all (B, 1, 28, 28) in [-1, 1].
Stylizer = Callable[[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor], torch.Tensor]

GRAM_STAGES = 2  # Gram matrices of the classifier's first two stages (14x14 and 7x7 maps)
COLUMNS = (
    "content_class", "style_class", "style_dist", "pixel_dist", "gram_dist", "source_dependence", "source_dependence_pixel",
    "background_change", "fid", "fid_ratio", "sec_per_image",
)  # fmt: skip
REFERENCE_SEED = 0  # halves the split: pairs and grid from one half, the FID reference from the other


def split_halves(n: int, seed: int = REFERENCE_SEED) -> tuple[torch.Tensor, torch.Tensor]:
    """Sorted indices `(pool, reference)` of a seeded halving of `n` images: the pairs and the
    source-dependence grid are drawn from `pool`, the FID reference is `reference`; no image is in
    both."""
    require(n >= 4, f"The style benchmark needs at least 4 images to halve, got {n}.")
    perm = torch.randperm(n, generator=torch.Generator().manual_seed(seed))
    return perm[: n // 2].sort().values, perm[n // 2 :].sort().values


@torch.no_grad()
def style_descriptors(images: torch.Tensor, classifier: FashionClassifier, batch_size: int = 500) -> dict[str, torch.Tensor]:
    """Pixel statistics and the flattened Gram matrices of the first `GRAM_STAGES` stages of
    `classifier` for float images in [-1, 1]: `{'pixel': (N, 4), 'gram1': (N, C1*C1), ...}`."""
    classifier.eval()
    parts: dict[str, list[torch.Tensor]] = {}
    for chunk in images.split(batch_size):
        chunk = chunk.float().clamp(-1, 1)
        parts.setdefault("pixel", []).append(pixel_statistics(chunk))
        for i, maps in enumerate(classifier.stage_outputs(chunk, GRAM_STAGES), start=1):
            parts.setdefault(f"gram{i}", []).append(gram_matrix(maps).flatten(1))
    return {k: torch.cat(v).double() for k, v in parts.items()}


def style_distances(result: dict[str, torch.Tensor], style: dict[str, torch.Tensor], content: dict[str, torch.Tensor]) -> dict[str, float]:
    """`pixel_dist`, `gram_dist` (mean over the Gram stages) and `style_dist` (mean of the pixel
    ratio and the per-stage Gram ratios) from descriptors of `style_descriptors`."""
    ratios = {k: float(relative_distance(result[k], style[k], content[k])) for k in result}
    grams = [v for k, v in ratios.items() if k.startswith("gram")]
    return {
        "pixel_dist": ratios["pixel"],
        "gram_dist": sum(grams) / len(grams),
        "style_dist": sum(ratios.values()) / len(ratios),
    }


def make_pairs(labels: torch.Tensor, num_pairs: int, seed: int, classes: tuple[int, int] | None = None) -> tuple[torch.Tensor, torch.Tensor]:
    """Indices `(content_idx, style_idx)` of `num_pairs` pairs whose two images have different
    classes, drawn with a fixed seed. `classes=(a, b)`: contents of class a take styles of class
    b and the other way round (for a translator trained on that class pair), half each."""
    require(num_pairs >= 1, f"num_pairs={num_pairs} must be >= 1.")
    gen = torch.Generator().manual_seed(seed)
    if classes is not None:
        a, b = classes
        pools = [torch.nonzero(labels == c).flatten() for c in (a, b)]
        require(all(len(p) > 0 for p in pools), f"The test split has no images of class {a} or {b}.")
        halves = (num_pairs + 1) // 2, num_pairs // 2
        content, style = [], []
        for (src, dst), n in zip(((0, 1), (1, 0)), halves, strict=True):
            content.append(pools[src][torch.randint(len(pools[src]), (n,), generator=gen)])
            style.append(pools[dst][torch.randint(len(pools[dst]), (n,), generator=gen)])
        return torch.cat(content), torch.cat(style)
    require(len(labels.unique()) >= 2, "Style pairs need test images of at least two classes.")
    content = torch.randint(len(labels), (num_pairs,), generator=gen)
    style = torch.randint(len(labels), (num_pairs,), generator=gen)
    clash = labels[content] == labels[style]
    while bool(clash.any()):  # redraw the style of same-class pairs until every pair crosses classes
        style[clash] = torch.randint(len(labels), (int(clash.sum()),), generator=gen)
        clash = labels[content] == labels[style]
    return content, style


@dataclass
class StylePairs:
    """The fixed benchmark inputs and everything about them that does not depend on a stylizer."""

    content: torch.Tensor  # (N, 1, 28, 28) float in [-1, 1]
    style: torch.Tensor
    content_labels: torch.Tensor  # (N,) long, true test labels
    style_labels: torch.Tensor
    content_desc: dict[str, torch.Tensor]
    style_desc: dict[str, torch.Tensor]
    reference_features: torch.Tensor  # (M, D) classifier features of the reference half's images of the contents' classes
    content_fid: float  # FID of the untouched contents against the reference: the copy-content floor
    protocol: dict = field(default_factory=dict)
    content_features: torch.Tensor | None = None  # (N, D) classifier features of the contents
    style_features: torch.Tensor | None = None  # (N, D) classifier features of the styles
    style_fid: float = math.nan  # FID of the untouched styles against the reference: the copy-style floor
    content_idx: torch.Tensor | None = None  # (N,) indices into the split of the contents, the styles,
    style_idx: torch.Tensor | None = None  # and the FID reference (disjoint from both)
    reference_idx: torch.Tensor | None = None
    grid_images: torch.Tensor | None = None  # (M, 1, 28, 28) uint8: the split the grid indexes
    grid_labels: torch.Tensor | None = None
    grid_references: torch.Tensor | None = None  # (R,) references of the source-dependence grid
    grid_sources: torch.Tensor | None = None  # (R, S) their sources

    def prefix(self, n: int) -> StylePairs:
        """The first `n` pairs (for a slow stylizer), with the FID floor of their own contents."""
        require(self.content_features is not None, "These pairs were built without content features; use prepare_pairs.")
        n = min(n, len(self.content))
        cut = lambda d: {k: v[:n] for k, v in d.items()}  # noqa: E731
        return StylePairs(
            self.content[:n], self.style[:n], self.content_labels[:n], self.style_labels[:n],
            cut(self.content_desc), cut(self.style_desc), self.reference_features,
            fid(self.content_features[:n], self.reference_features), {**self.protocol, "num_pairs": n}, self.content_features[:n],
            self.style_features[:n], fid(self.style_features[:n], self.reference_features), self.content_idx[:n],
            self.style_idx[:n], self.reference_idx, self.grid_images, self.grid_labels, self.grid_references, self.grid_sources,
        )  # fmt: skip


def prepare_pairs(
    images: torch.Tensor,
    labels: torch.Tensor,
    classifier: FashionClassifier,
    num_pairs: int = 2000,
    seed: int = 0,
    classes: tuple[int, int] | None = None,
    split: str = "test",
    grid: tuple[int, int] = (sd.NUM_REFERENCES, sd.NUM_SOURCES),
) -> StylePairs:
    """Draw the pairs and the `grid` (references, sources per reference) of source dependence
    from one half of uint8 `images` `(N, 1, 28, 28)` with `labels` (`split_halves`), and measure
    what the scores are relative to: descriptors of contents and styles, the FID reference (the
    other half's images of the contents' classes) and its two floors."""
    from genstyle.metrics.features import extract_features

    pool, held_out = split_halves(len(labels))
    content_idx, style_idx = (pool[i] for i in make_pairs(labels[pool], num_pairs, seed, classes))
    grid_refs, grid_sources = (pool[i] for i in sd.make_grid(labels[pool], grid[0], grid[1], seed, classes))
    content, style = to_model_range(images[content_idx]), to_model_range(images[style_idx])
    reference_idx = held_out[torch.isin(labels[held_out], labels[content_idx].unique())]
    reference = extract_features(images[reference_idx], model=classifier)["features"]
    content_features = extract_features(content, model=classifier)["features"]
    style_features = extract_features(style, model=classifier)["features"]
    protocol = {
        "split": split,
        "num_pairs": num_pairs,
        "seed": seed,
        "pairs": "content and style of different classes" + (f", classes {classes[0]} <-> {classes[1]}" if classes else ""),
        "num_reference": len(reference_idx),
        "reference": f"the half of the {split} split the pairs do not use (seed {REFERENCE_SEED}), images of the contents' classes",
        "gram_stages": GRAM_STAGES,
        "source_dependence_grid": f"{grid[0]} references x {grid[1]} sources of other classes (seed {seed})",
    }
    return StylePairs(
        content, style, labels[content_idx], labels[style_idx],
        style_descriptors(content, classifier), style_descriptors(style, classifier),
        reference, fid(content_features, reference), protocol, content_features, style_features, fid(style_features, reference),
        content_idx, style_idx, reference_idx, images, labels, grid_refs, grid_sources,
    )  # fmt: skip


def run_stylizer(stylizer: Stylizer, pairs: StylePairs, batch_size: int = 200) -> tuple[torch.Tensor, float]:
    """Results `(N, 1, 28, 28)` in [-1, 1] for every pair, and wall seconds per image."""
    results = []
    start = time.perf_counter()
    for lo in range(0, len(pairs.content), batch_size):
        sl = slice(lo, lo + batch_size)
        out = stylizer(pairs.content[sl], pairs.style[sl], pairs.content_labels[sl], pairs.style_labels[sl])
        require(
            tuple(out.shape) == tuple(pairs.content[sl].shape),
            f"The stylizer returned images of shape {tuple(out.shape)} for inputs {tuple(pairs.content[sl].shape)}.",
        )
        results.append(out.detach().float().cpu().clamp(-1, 1))
    seconds = time.perf_counter() - start
    return torch.cat(results), seconds / len(pairs.content)


def run_grid(stylizer: Stylizer, pairs: StylePairs, batch_size: int = 200) -> tuple[torch.Tensor, torch.Tensor]:
    """(results, sources) `(R, S, 1, 28, 28)` of the pairs' source-dependence grid."""
    require(pairs.grid_sources is not None, "These pairs were built without a source-dependence grid; use prepare_pairs.")
    return sd.stylize_grid(stylizer, pairs.grid_images, pairs.grid_labels, pairs.grid_references, pairs.grid_sources, batch_size)


@torch.no_grad()
def score_results(
    results: torch.Tensor, pairs: StylePairs, classifier: FashionClassifier, sec_per_image: float, grid: tuple[torch.Tensor, torch.Tensor] | None = None
) -> dict[str, float]:
    """One row of the table for `results` (one per pair, in pair order); `grid`: the stylizer's
    (results, sources) on the pairs' grid (`run_grid`), for source dependence."""
    from genstyle.metrics.features import extract_features

    require(len(results) == len(pairs.content), f"{len(results)} results for {len(pairs.content)} pairs.")
    out = extract_features(results.clamp(-1, 1), model=classifier)
    predicted = out["logits"].argmax(dim=1)
    row = {
        "content_class": float((predicted == pairs.content_labels).double().mean()),
        "style_class": float((predicted == pairs.style_labels).double().mean()),
        **style_distances(style_descriptors(results, classifier), pairs.style_desc, pairs.content_desc),
    }
    if grid is not None:
        row |= sd.grid_dependence(*grid, lambda x: extract_features(x, model=classifier)["features"])
    row["background_change"] = background_change(results, pairs.content)
    row["fid"] = fid(out["features"], pairs.reference_features)
    row["content_fid"], row["style_fid"] = pairs.content_fid, pairs.style_fid
    row["fid_ratio"] = row["fid"] / pairs.content_fid if pairs.content_fid > 0 else math.inf
    row["sec_per_image"] = sec_per_image
    return row


def benchmark(stylizer: Stylizer, pairs: StylePairs, classifier: FashionClassifier, batch_size: int = 200) -> tuple[dict[str, float], torch.Tensor]:
    """Run `stylizer` on every pair (timed) and on the source-dependence grid, and score it:
    (row, results on the pairs)."""
    results, sec = run_stylizer(stylizer, pairs, batch_size)
    grid = run_grid(stylizer, pairs, batch_size) if pairs.grid_sources is not None else None
    return score_results(results, pairs, classifier, sec, grid), results


def copy_content(content: torch.Tensor, style: torch.Tensor, content_labels: torch.Tensor, style_labels: torch.Tensor) -> torch.Tensor:
    """Trivial reference: the content image unchanged (style distance 1 by construction)."""
    return content.clone()


def copy_style(content: torch.Tensor, style: torch.Tensor, content_labels: torch.Tensor, style_labels: torch.Tensor) -> torch.Tensor:
    """Trivial reference: the style image itself (style distance 0, and the style's class)."""
    return style.clone()


def _number(row: dict, key: str, spec: str = ".3f") -> str:
    value = row.get(key)
    return "" if value is None or (isinstance(value, float) and math.isnan(value)) else format(value, spec)


def markdown_table(rows: list[dict]) -> str:
    """Rows `{'name': ..., **metrics}` as a markdown table (shares as percentages; a number a row
    was not measured with is left blank)."""
    head = (
        "| stylizer | pairs | keeps content class | style class | style dist (0 = style, 1 = content) | pixel dist | Gram dist "
        "| source dependence (features / pixels) | background change | FID | FID floors (copy content / copy style) | s per image |"
    )
    lines = [head, "|" + "---|" * 12]
    for r in rows:
        floors = f"{_number(r, 'content_fid')} / {_number(r, 'style_fid')}" if "content_fid" in r else ""
        dependence = f"{_number(r, 'source_dependence')} / {_number(r, 'source_dependence_pixel')}" if "source_dependence_pixel" in r else ""
        lines.append(
            f"| {r['name']} | {r.get('num_pairs', '')} | {100 * r['content_class']:.1f}% | {100 * r['style_class']:.1f}% | {r['style_dist']:.3f} | "
            f"{r['pixel_dist']:.3f} | {r['gram_dist']:.3f} | {dependence} | {_number(r, 'background_change')} | {r['fid']:.3f} | {floors} | "
            f"{r['sec_per_image']:.2e} |"
        )
    return "\n".join(lines)

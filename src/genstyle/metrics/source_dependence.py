"""Source dependence: does a stylizer's result depend on its source image, or only on the reference?

A grid of `R` references, each stylized with `S` sources of other classes: `y_rs = stylize(x_rs,
r)`. For one reference, the spread of its `S` results is compared with the spread of their `S`
sources, in a descriptor `phi` (the evaluation network's features, or the flattened pixels):

    spread(v_1 .. v_S) = sqrt( mean_s || v_s - mean_s' v_s' ||^2 )       (RMS distance to the group mean)
    ratio_r            = spread(phi(y_r1) .. phi(y_rS)) / spread(phi(x_r1) .. phi(x_rS))
    source_dependence  = mean over the R references of ratio_r

The mean squared distance to the group mean is half the mean squared distance over all ordered
pairs, so the ratio is also the ratio of the root mean squared pairwise distances: it is in
distance units and does not depend on which of the two conventions is used. It reads:

- **1**: the results vary as much as their sources do (copying the source scores exactly 1);
- **0**: every source gives the same result (copying the reference scores exactly 0);
- 0.5: the results of one reference are half as far apart as their sources (the halfway blend
  `(x + r) / 2` scores exactly 0.5 in pixels); above 1: the stylizer amplifies source differences.

Each reference counts the same (the mean of per-reference ratios, not a pooled ratio). Functions
here see images, labels and features only: a stylizer comes in as a callable, as in
`genstyle.metrics.style_benchmark`.
"""

from __future__ import annotations

from collections.abc import Callable

import torch

from genstyle.errors import require
from genstyle.pixels import to_model_range

# (content, style, content_labels, style_labels) -> results, all (B, C, H, W) in [-1, 1].
Stylizer = Callable[[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor], torch.Tensor]
# images (N, C, H, W) float in [-1, 1] -> features (N, D)
Features = Callable[[torch.Tensor], torch.Tensor]

NUM_REFERENCES = 16
NUM_SOURCES = 16


def spread(groups: torch.Tensor) -> torch.Tensor:
    """`(G, S, D)` -> `(G,)`: root mean squared distance of each group's `S` vectors to their mean."""
    require(groups.ndim == 3 and groups.shape[1] >= 2, f"spread needs (G, S >= 2, D) vectors, got {tuple(groups.shape)}.")
    groups = groups.double()
    return (groups - groups.mean(dim=1, keepdim=True)).pow(2).sum(dim=2).mean(dim=1).sqrt()


def dependence_ratio(results: torch.Tensor, sources: torch.Tensor) -> torch.Tensor:
    """Per-reference ratios `(R,)` of the results' spread to the sources' spread, both `(R, S, D)`."""
    require(results.shape == sources.shape, f"results {tuple(results.shape)} and sources {tuple(sources.shape)} must have the same shape.")
    den = spread(sources)
    require(bool((den > 0).all()), "Every reference needs sources that differ (a group of identical sources has no spread).")
    return spread(results) / den


def source_dependence(results: torch.Tensor, sources: torch.Tensor) -> float:
    """The mean over references of `dependence_ratio`: descriptors `(R, S, D)` of the results and of
    their sources (row r: the S sources stylized with reference r)."""
    return float(dependence_ratio(results, sources).mean())


def make_grid(
    labels: torch.Tensor,
    num_references: int = NUM_REFERENCES,
    num_sources: int = NUM_SOURCES,
    seed: int = 0,
    classes: tuple[int, int] | None = None,
) -> tuple[torch.Tensor, torch.Tensor]:
    """Indices into `labels`: `(reference_idx (R,), source_idx (R, S))`, seeded. Each reference's
    sources are distinct images of classes other than its own. `classes=(a, b)` (a translator of
    one class pair): references alternate between class b (sources of class a) and class a
    (sources of class b), the first one of class b."""
    require(num_references >= 1 and num_sources >= 2, f"A source-dependence grid needs >= 1 reference and >= 2 sources, got {num_references} x {num_sources}.")
    gen = torch.Generator().manual_seed(seed)
    references, sources = [], []
    for r in range(num_references):
        if classes is None:
            ref = int(torch.randint(len(labels), (1,), generator=gen))
            pool = torch.nonzero(labels != labels[ref]).flatten()
        else:
            src_cls, ref_cls = classes if r % 2 == 0 else classes[::-1]
            refs = torch.nonzero(labels == ref_cls).flatten()
            require(len(refs) > 0, f"No images of class {ref_cls} to use as references.")
            ref = int(refs[torch.randint(len(refs), (1,), generator=gen)])
            pool = torch.nonzero(labels == src_cls).flatten()
        require(len(pool) >= num_sources, f"Only {len(pool)} images of other classes for {num_sources} sources per reference.")
        references.append(ref)
        sources.append(pool[torch.randperm(len(pool), generator=gen)[:num_sources]])
    return torch.tensor(references), torch.stack(sources)


@torch.no_grad()
def stylize_grid(
    stylizer: Stylizer,
    images: torch.Tensor,
    labels: torch.Tensor,
    reference_idx: torch.Tensor,
    source_idx: torch.Tensor,
    batch_size: int = 256,
) -> tuple[torch.Tensor, torch.Tensor]:
    """(results, sources), both `(R, S, C, H, W)` float in [-1, 1]: every source of row r stylized
    with reference r. `images` are float in [-1, 1] (or uint8), indexed by the grid."""
    if images.dtype == torch.uint8:
        images = to_model_range(images)
    num_refs, num_sources = source_idx.shape
    content_idx = source_idx.flatten()
    style_idx = reference_idx.repeat_interleave(num_sources)
    out = []
    for lo in range(0, len(content_idx), batch_size):
        c, s = content_idx[lo : lo + batch_size], style_idx[lo : lo + batch_size]
        result = stylizer(images[c], images[s], labels[c], labels[s])
        require(tuple(result.shape) == tuple(images[c].shape), f"The stylizer returned {tuple(result.shape)} for inputs {tuple(images[c].shape)}.")
        out.append(result.detach().float().cpu().clamp(-1, 1))
    shape = (num_refs, num_sources, *images.shape[1:])
    return torch.cat(out).view(shape), images[content_idx].view(shape)


def grid_dependence(results: torch.Tensor, sources: torch.Tensor, features: Features | None = None) -> dict[str, float]:
    """`source_dependence` of a stylized grid `(R, S, C, H, W)`: in pixels (`source_dependence_pixel`)
    and, given `features` (images -> `(N, D)`), in those features (`source_dependence`)."""
    num_refs, num_sources = results.shape[:2]
    scores = {"source_dependence_pixel": source_dependence(results.flatten(2), sources.flatten(2))}
    if features is not None:
        embed = lambda x: torch.as_tensor(features(x.flatten(0, 1))).view(num_refs, num_sources, -1)  # noqa: E731
        scores = {"source_dependence": source_dependence(embed(results), embed(sources)), **scores}
    return scores

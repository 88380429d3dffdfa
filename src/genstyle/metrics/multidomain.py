"""Multi-domain translation metrics in StarGAN v2's protocol, on features (no models here).

For each target domain, the images of every *other* domain are translated into it (latent-guided:
style codes from noise; reference-guided: codes of real images of the target domain) and the
translations are compared with that domain's real images:

- `domain_fids`: FID of each target domain's translations against its real images; the mean over
  domains is what StarGAN v2 reports (`val/fid_latent`, `val/fid_reference`);
- `target_share`: the share of translations a classifier assigns to the target domain;
- `mean_pairwise_distance`: diversity, the mean pairwise L2 distance between the features of the
  results for one input (StarGAN v2 uses LPIPS; this is a classifier-feature distance, hence the
  name `val/diversity_feature`), next to `real_groups` of as many real images of the domain.
"""

from __future__ import annotations

import torch

from genstyle.errors import require
from genstyle.metrics.fidelity import fid


def domain_fids(fake: dict[int, torch.Tensor], real: dict[int, torch.Tensor]) -> dict[int, float]:
    """FID per target domain: `fake[d]` `(N_d, D)` translation features against `real[d]` `(M_d, D)`."""
    missing = sorted(set(fake) - set(real))
    require(not missing, f"No real features for target domain(s) {missing}.")
    return {d: fid(fake[d], real[d]) for d in sorted(fake)}


def target_share(logits: torch.Tensor, targets: torch.Tensor) -> float:
    """Share of rows of `logits` `(N, K)` whose arg-max is the row's target domain `(N,)`."""
    require(len(logits) == len(targets) and len(logits) > 0, f"target_share: {len(logits)} logits for {len(targets)} targets.")
    return float((logits.argmax(dim=1).cpu() == targets.cpu()).double().mean())


def mean_pairwise_distance(groups: torch.Tensor) -> float:
    """`groups` `(G, K, D)`: K feature vectors per group (the results for one input); the mean
    over groups of the mean L2 distance over the K (K - 1) / 2 pairs."""
    require(groups.ndim == 3 and groups.shape[1] >= 2, f"mean_pairwise_distance needs (G, K >= 2, D) features, got {tuple(groups.shape)}.")
    k = groups.shape[1]
    distances = torch.cdist(groups.double(), groups.double())  # (G, K, K)
    upper = torch.triu_indices(k, k, offset=1)
    return float(distances[:, upper[0], upper[1]].mean())


def real_groups(features: torch.Tensor, group_size: int, num_groups: int, generator: torch.Generator) -> torch.Tensor:
    """`(num_groups, group_size, D)`: random groups of distinct real images' features, the
    baseline for the diversity of `group_size` results of one input."""
    require(len(features) >= group_size >= 2, f"real_groups: {len(features)} real images for groups of {group_size}.")
    index = torch.stack([torch.randperm(len(features), generator=generator)[:group_size] for _ in range(num_groups)])
    return features[index]


def summary_logs(
    fids: dict[str, dict[int, float]],
    shares: dict[str, float],
    diversity: dict[str, float],
    domain_names: list[str],
    prefix: str = "val/",
) -> dict[str, float]:
    """Logged names: `fid_<mode>` (mean over target domains) and `fid_<mode>_<domain>` per domain,
    `target_share_<mode>`, `diversity_feature_<mode>` (with `real` for real images)."""
    logs: dict[str, float] = {}
    for mode, per_domain in fids.items():
        logs[f"{prefix}fid_{mode}"] = sum(per_domain.values()) / len(per_domain)
        logs |= {f"{prefix}fid_{mode}_{domain_names[d]}": value for d, value in per_domain.items()}
    logs |= {f"{prefix}target_share_{mode}": value for mode, value in shares.items()}
    logs |= {f"{prefix}diversity_feature_{mode}": value for mode, value in diversity.items()}
    return logs

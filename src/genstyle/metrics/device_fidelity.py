"""KID and precision/recall computed in torch where the features are (a GPU during training).

The same computations as `genstyle.metrics.fidelity` (torch-fidelity's), with the same random
KID subsets (numpy's RandomState with the same seed, drawn in the same order) and the same k-NN
radii rule, so on the CPU the numbers agree with torch-fidelity's to float rounding
(tests/metrics/test_device_fidelity.py). KID's kernel sums are accumulated in float64: the
estimate is a small difference of large sums. Distances for precision/recall stay float32, the
dtype of the cached reference radii they are compared with. FID's matrix square root stays on
the CPU (scipy), as before: its statistics are one small (D, D) matrix.
"""

from __future__ import annotations

import numpy as np
import torch

KID_SUBSETS_PER_CHUNK = 10  # (chunk, m, m) float64 kernel matrices held at once


def kid_subset_indices(n_fake: int, n_real: int, subsets: int, size: int, seed: int) -> tuple[torch.Tensor, torch.Tensor]:
    """`(subsets, size)` row indices into each set, drawn exactly as torch-fidelity draws them."""
    rng = np.random.RandomState(seed)
    fake, real = [], []
    for _ in range(subsets):
        fake.append(rng.choice(n_fake, size, replace=False))
        real.append(rng.choice(n_real, size, replace=False))
    return torch.from_numpy(np.stack(fake)), torch.from_numpy(np.stack(real))


def polynomial_kernel(x: torch.Tensor, y: torch.Tensor, degree: int, coef0: float) -> torch.Tensor:
    """`(S, m, D) x (S, m, D) -> (S, m, m)`: (x . y / D + coef0) ** degree, torch-fidelity's kernel."""
    return (x @ y.mT / x.shape[-1] + coef0) ** degree


def kid_on_device(
    features_fake: torch.Tensor, features_real: torch.Tensor, subsets: int, size: int, degree: int, coef0: float, seed: int
) -> tuple[float, float]:
    """(mean, std) of the unbiased MMD^2 over `subsets` random subsets of `size` rows of each set,
    computed on the device of `features_fake`."""
    device = features_fake.device
    fake = features_fake.detach().to(device, torch.float64)
    real = features_real.detach().to(device, torch.float64)
    index_fake, index_real = kid_subset_indices(len(fake), len(real), subsets, size, seed)
    index_fake, index_real = index_fake.to(device), index_real.to(device)
    m = size
    mmds = []
    for start in range(0, subsets, KID_SUBSETS_PER_CHUNK):
        x = fake[index_fake[start : start + KID_SUBSETS_PER_CHUNK]]  # (S, m, D)
        y = real[index_real[start : start + KID_SUBSETS_PER_CHUNK]]
        k_xx, k_yy = polynomial_kernel(x, x, degree, coef0), polynomial_kernel(y, y, degree, coef0)
        k_xy = polynomial_kernel(x, y, degree, coef0)
        off_xx = k_xx.sum((1, 2)) - k_xx.diagonal(dim1=1, dim2=2).sum(1)
        off_yy = k_yy.sum((1, 2)) - k_yy.diagonal(dim1=1, dim2=2).sum(1)
        mmds.append((off_xx + off_yy) / (m * (m - 1)) - 2 * k_xy.sum((1, 2)) / (m * m))
    values = torch.cat(mmds)
    return float(values.mean()), float(values.std(unbiased=False))  # np.std: population std


def knn_radii_on_device(features: torch.Tensor, k: int, batch_size: int) -> torch.Tensor:
    """Distance of each row to its k-th nearest neighbour in its own set, `(N,)`, on its device."""
    features = features.float()
    return torch.cat([torch.cdist(chunk, features).kthvalue(k + 1, dim=1).values for chunk in features.split(batch_size)])


def precision_recall_on_device(
    features_fake: torch.Tensor, features_real: torch.Tensor, k: int, batch_size: int, real_radii: torch.Tensor | None = None
) -> tuple[float, float]:
    """Improved precision/recall (k-NN balls), as `fidelity.precision_recall`, on the device of
    `features_fake`; `real_radii` (cached on the CPU) are moved there."""
    device = features_fake.device
    fake, real = features_fake.detach().float(), features_real.detach().to(device, torch.float32)
    fake_radii = knn_radii_on_device(fake, k, batch_size)
    real_radii = knn_radii_on_device(real, k, batch_size) if real_radii is None else real_radii.to(device, torch.float32)
    recall, covered = [], torch.zeros(len(fake), dtype=torch.bool, device=device)
    for chunk, radii in zip(real.split(batch_size), real_radii.split(batch_size), strict=True):
        dist = torch.cdist(chunk, fake)  # (chunk, N_fake), read both ways
        recall.append((dist <= fake_radii).any(dim=1))
        covered |= (dist <= radii[:, None]).any(dim=0)
    return float(covered.float().mean()), float(torch.cat(recall).float().mean())

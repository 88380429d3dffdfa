"""A Gaussian-mixture prior fitted to a VAE's posterior means after training (ex-post density
estimation, Ghosh et al. 2020): sampling from it instead of N(0, I) avoids the holes of the
aggregate posterior, where the decoder makes blurry or mixed images.

The mixture is fitted with scikit-learn's `GaussianMixture` (EM, full covariances, fixed
`random_state`, so the same codes always give the same mixture, and the global torch RNG is not
touched). Its parameters are buffers, so a checkpoint carries the fitted prior.
"""

from __future__ import annotations

import math

import torch
from torch import nn

from genstyle.errors import GenstyleError, require


class GaussianMixturePrior(nn.Module):
    def __init__(self, latent_dim: int, components: int = 10, seed: int = 0) -> None:
        super().__init__()
        require(isinstance(components, int) and components >= 1, f"model.gmm.components={components} must be an integer >= 1.")
        self.components, self.seed = components, seed
        self.register_buffer("weights", torch.full((components,), 1.0 / components))  # (K,)
        self.register_buffer("means", torch.zeros(components, latent_dim))  # (K, D)
        self.register_buffer("scale_tril", torch.eye(latent_dim).repeat(components, 1, 1))  # (K, D, D) Cholesky factors
        self.register_buffer("fitted", torch.zeros((), dtype=torch.bool))

    @torch.no_grad()
    def fit(self, codes: torch.Tensor) -> None:
        """Fit to `codes` `(N, latent_dim)` (posterior means of training images)."""
        from sklearn.mixture import GaussianMixture

        require(
            codes.ndim == 2 and codes.shape[1] == self.means.shape[1] and len(codes) >= self.components,
            f"The GMM prior needs at least {self.components} codes of dimension {self.means.shape[1]}, "
            f"got shape {tuple(codes.shape)}.",
        )
        require(bool(torch.isfinite(codes).all()), "The posterior means contain NaN or infinite values; the GMM prior cannot be fitted.")
        mixture = GaussianMixture(
            n_components=self.components, covariance_type="full", reg_covar=1e-5, max_iter=200, random_state=self.seed
        ).fit(codes.detach().double().cpu().numpy())
        self.weights.copy_(torch.from_numpy(mixture.weights_).to(self.weights))
        self.means.copy_(torch.from_numpy(mixture.means_).to(self.means))
        self.scale_tril.copy_(torch.linalg.cholesky(torch.from_numpy(mixture.covariances_)).to(self.scale_tril))
        self.fitted.fill_(True)

    def _check_fitted(self) -> None:
        if not bool(self.fitted):
            raise GenstyleError(
                "This VAE has model.prior=gmm but its mixture has not been fitted yet (it is fitted to the training "
                "codes at each validation and at the end of training); train the model first, or use model.prior=standard."
            )

    def sample(self, n: int, generator: torch.Generator | None = None) -> torch.Tensor:
        """`(n, latent_dim)` codes; repeatable with `generator` (drawn on CPU, then moved)."""
        self._check_fitted()
        component = torch.multinomial(self.weights.float().cpu(), n, replacement=True, generator=generator)  # (n,)
        eps = torch.randn(n, self.means.shape[1], 1, generator=generator)  # (n, D, 1)
        device = self.means.device
        component, eps = component.to(device), eps.to(device)
        return self.means[component] + (self.scale_tril[component] @ eps).squeeze(-1)

    def log_prob(self, z: torch.Tensor) -> torch.Tensor:
        """log p(z) under the mixture, for codes `(..., latent_dim)` -> `(...)`."""
        self._check_fitted()
        dim = z.shape[-1]
        diff = z.unsqueeze(-2) - self.means  # (..., K, D)
        solved = torch.linalg.solve_triangular(self.scale_tril, diff.unsqueeze(-1), upper=False).squeeze(-1)  # (..., K, D)
        log_det = self.scale_tril.diagonal(dim1=-2, dim2=-1).log().sum(-1)  # (K,)
        log_normal = -0.5 * solved.pow(2).sum(-1) - log_det - 0.5 * dim * math.log(2 * math.pi)  # (..., K)
        return torch.logsumexp(log_normal + self.weights.log(), dim=-1)

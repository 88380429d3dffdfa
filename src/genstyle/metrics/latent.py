"""VAE latent diagnostics: the ELBO's KL term, active units and posterior collapse.

Active units follow Burda et al. (2016): dimension u is active when Var_x(E_q(z|x)[z_u]) > 0.01,
i.e. its posterior mean moves with the input. A VAE whose posterior ignores the input (KL near 0,
no active unit) has collapsed: its decoder generates without using the latent code.
"""

from __future__ import annotations

import torch

from genstyle.errors import GenstyleError
from genstyle.modes import evaluating
from genstyle.pixels import to_model_range

ACTIVE_THRESHOLD = 0.01


@torch.no_grad()
def vae_latent_metrics(
    model: torch.nn.Module,
    images: torch.Tensor,
    labels: torch.Tensor | None = None,
    batch_size: int = 500,
    threshold: float = ACTIVE_THRESHOLD,
) -> dict[str, float]:
    """`{'kl', 'active_units', 'latent_dim'}` over uint8 `images` `(N, C, H, W)`, through the
    model's public `forward_loss` (kl per image, posterior means)."""
    if not hasattr(model, "forward_loss"):
        raise GenstyleError(f"{type(model).__name__} has no forward_loss; latent metrics apply to VAEs only.")
    if len(images) < 2:
        raise GenstyleError(f"Active units need the posterior means of at least 2 images, got {len(images)}.")
    means, kl_sum = [], 0.0
    with evaluating(model):
        for start in range(0, len(images), batch_size):
            batch = {"image": to_model_range(images[start : start + batch_size]).to(model.device)}
            if labels is not None:
                batch["label"] = labels[start : start + batch_size].to(model.device)
            out = model.forward_loss(batch)
            means.append(out["posterior_mean"].double().cpu())
            kl_sum += float(out["kl"]) * len(batch["image"])
    mean = torch.cat(means)  # (N, latent_dim)
    variance = mean.var(dim=0)  # across data, per latent dimension
    return {
        "kl": kl_sum / len(images),
        "active_units": float((variance > threshold).sum()),
        "latent_dim": float(mean.shape[1]),
    }


def collapse_warning(metrics: dict[str, float], min_active_fraction: float) -> str | None:
    """A message when fewer than `min_active_fraction` of the latent dimensions are active."""
    active, dim = int(metrics["active_units"]), int(metrics["latent_dim"])
    if active >= min_active_fraction * dim and active > 0:
        return None
    return (
        f"Posterior collapse: only {active} of {dim} latent dimensions are active (posterior-mean variance > "
        f"{ACTIVE_THRESHOLD}), mean KL {metrics['kl']:.3g} nats. The decoder is ignoring the latent code; try KL "
        "warm-up (model.kl_warmup_steps), a smaller model.beta or a weaker decoder."
    )

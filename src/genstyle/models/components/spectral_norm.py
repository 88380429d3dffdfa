"""Spectral normalisation of a discriminator (Miyato et al. 2018), as an option for any network."""

from __future__ import annotations

from torch import nn
from torch.nn.utils.parametrizations import spectral_norm

NORMALISED = (nn.Conv1d, nn.Conv2d, nn.Conv3d, nn.ConvTranspose2d, nn.Linear)


def apply_spectral_norm(network: nn.Module) -> nn.Module:
    """Wrap the weight of every convolution and linear layer of `network` in
    `torch.nn.utils.parametrizations.spectral_norm` (one power iteration per training forward;
    its `u`/`v` vectors are buffers, so checkpoints carry them). Returns `network`, changed in
    place. Embeddings (e.g. a projection discriminator's class embedding) are left as they are."""
    for module in list(network.modules()):
        if isinstance(module, NORMALISED) and not is_spectral_normalised(module):
            spectral_norm(module)
    return network


def is_spectral_normalised(module: nn.Module) -> bool:
    parametrizations = getattr(module, "parametrizations", None)
    return parametrizations is not None and "weight" in parametrizations

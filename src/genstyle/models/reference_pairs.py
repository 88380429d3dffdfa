"""Exemplar models sample by stylizing pairs of real images they keep (adain, munit)."""

from __future__ import annotations

import torch

from genstyle.errors import GenstyleError, require
from genstyle.pixels import to_model_range, to_uint8


class ReferencePairs:
    """Mixin for a `GenerativeModule` with `stylize(content, style)`: keeps the first
    `reference_size` real training images it sees (uint8 buffers, so they are in the checkpoint
    and small) and draws samples as stylizations of random pairs of different ones."""

    def init_reference(self, reference_size: int) -> None:
        self.register_buffer("reference", torch.zeros(reference_size, *self.image_shape, dtype=torch.uint8))
        self.register_buffer("reference_count", torch.zeros((), dtype=torch.long))

    def remember(self, x: torch.Tensor) -> None:
        """Keep images of a training batch until the reference is full."""
        if getattr(self, "_reference_full", False):
            return  # reading reference_count back from the device every step would stall it
        count, size = int(self.reference_count), len(self.reference)
        self._reference_full = count + len(x) >= size
        if count < size:
            take = x[: size - count].detach()
            self.reference[count : count + len(take)] = to_uint8(take).to(self.reference.device)
            self.reference_count += len(take)

    def on_load_checkpoint(self, checkpoint: dict) -> None:
        super().on_load_checkpoint(checkpoint)
        self._reference_full = False  # the loaded reference_count decides again

    def draw(self, n: int, labels: torch.Tensor | None, generator: torch.Generator | None) -> torch.Tensor:
        """Stylize `n` random (content, style) pairs of different images from the reference batch
        of real training images stored in the model (the first `reference_size` it trained on)."""
        require(labels is None, f"{self.family} is not class-conditional; sample() takes no labels.")
        count = int(self.reference_count)
        if count < 2:
            raise GenstyleError(
                f"This {self.family} model has not seen training images yet, so it has no reference images to sample "
                "from; train it first."
            )
        content_idx = torch.randint(count, (n,), generator=generator)
        style_idx = (content_idx + torch.randint(1, count, (n,), generator=generator)) % count  # never the same image
        reference = to_model_range(self.reference[:count].cpu())
        return self.stylize(reference[content_idx], reference[style_idx])

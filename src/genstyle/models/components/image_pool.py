"""History of generated images for the discriminators (Shrivastava et al. 2017, used by CycleGAN):
D sees a mix of current and older fakes, which damps the oscillation between G and D."""

from __future__ import annotations

import torch

from genstyle.errors import require


class ImagePool:
    """Holds up to `size` past fakes. `query(images)` returns a batch of the same shape: while
    the pool fills, the new images themselves; afterwards each position is, with probability 1/2,
    the new image, or else a random stored image which the new one replaces. `size=0` disables it.
    Randomness comes from `generator` (or the global RNG, seeded by `seed_everything`)."""

    def __init__(self, size: int = 50, generator: torch.Generator | None = None) -> None:
        require(isinstance(size, int) and size >= 0, f"model.pool_size={size} must be an integer >= 0.")
        self.size, self.generator = size, generator
        self.images: list[torch.Tensor] = []

    def __len__(self) -> int:
        return len(self.images)

    def state_dict(self) -> dict[str, torch.Tensor]:
        """The stored fakes as one tensor `(k, C, H, W)` (`k` may be 0), for checkpoints: a resumed
        run must show D the same history the uninterrupted run would."""
        return {"images": torch.stack(self.images).cpu() if self.images else torch.empty(0)}

    def load_state_dict(self, state: dict[str, torch.Tensor], device: torch.device | str = "cpu") -> None:
        self.images = [image.to(device) for image in state["images"]]

    @torch.no_grad()
    def query(self, images: torch.Tensor) -> torch.Tensor:
        if self.size == 0:
            return images
        out = []
        for image in images.detach():
            if len(self.images) < self.size:
                self.images.append(image.clone())
                out.append(image)
            elif torch.rand((), generator=self.generator).item() < 0.5:
                k = int(torch.randint(len(self.images), (), generator=self.generator))
                out.append(self.images[k])
                self.images[k] = image.clone()
            else:
                out.append(image)
        return torch.stack(out)

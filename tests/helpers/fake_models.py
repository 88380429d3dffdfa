"""Stand-in models for testing the metrics' wiring: their samples are known real images, so
the right answer of each metric is known."""

from __future__ import annotations

import torch


class RealImagesOfTheClass:
    """A stand-in class-conditional model that returns real training images: of the class asked
    for (`honest`) or of any class (a model that ignores its label). Draws come from `generator`,
    so samples are a pure function of the seed, as labelled_samples promises."""

    is_conditional = True
    num_classes = 10
    device = torch.device("cpu")

    def __init__(self, images: torch.Tensor, labels: torch.Tensor, honest: bool = True) -> None:
        self.images, self.labels, self.honest = images, labels, honest
        self.by_class = [torch.nonzero(labels == c).flatten() for c in range(10)]
        self.drawn: list[int] = []  # the pool index of every image returned, in order
        self.batches: list[int] = []

    def sample(self, n: int, labels: torch.Tensor | None = None, generator: torch.Generator | None = None) -> torch.Tensor:
        self.batches.append(n)
        if self.honest and labels is not None:
            pools = [self.by_class[int(c)] for c in labels]
            index = torch.stack([pool[torch.randint(len(pool), (1,), generator=generator)[0]] for pool in pools])
        else:
            index = torch.randint(len(self.images), (n,), generator=generator)
        self.drawn += index.tolist()
        return self.images[index].float() / 127.5 - 1

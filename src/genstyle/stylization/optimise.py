"""The optimisation reference for style transfer (Gatys, Ecker & Bethge, CVPR 2016) with the
project's Fashion-MNIST classifier as the feature network.

The result image itself is optimised: starting from the content image, `steps` Adam steps on the
pixels minimise

    content_weight * MSE(stage3(x), stage3(content))
  + style_weight * sum over stages 1, 2 of MSE(Gram(stage_i(x)), Gram(stage_i(style)))

with the classifier frozen in eval mode (batch norm uses its running statistics, so every image
of a batch is optimised independently of the others and many pairs can be done at once). Pixels
are clamped to [-1, 1] after every step. Starting from the content image, not from noise, keeps
the silhouette with far fewer steps. No randomness: the same inputs give the same result.
"""

from __future__ import annotations

import torch

from genstyle.classifier.fashion_classifier import FashionClassifier
from genstyle.errors import require
from genstyle.style_ops import check_style_count, gram_matrix

STEPS = 150
LEARNING_RATE = 0.03
STYLE_WEIGHT = 10.0
CONTENT_WEIGHT = 1.0


def per_image_mse(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """Mean squared error of each image `(B, ...)` -> `(B,)`: summed over the batch, every image's
    gradient is the one it would get alone."""
    return (a - b).pow(2).flatten(1).mean(dim=1)


def optimise_style(
    content: torch.Tensor,
    style: torch.Tensor,
    classifier: FashionClassifier,
    steps: int = STEPS,
    style_weight: float = STYLE_WEIGHT,
    content_weight: float = CONTENT_WEIGHT,
    lr: float = LEARNING_RATE,
    init: torch.Tensor | None = None,
) -> torch.Tensor:
    """`content` `(B, 1, 28, 28)` and `style` `(B or 1, 1, 28, 28)` in [-1, 1] -> `(B, 1, 28, 28)`
    in [-1, 1]: the content image optimised towards the style image's Gram statistics. `init`
    (same shape as `content`) starts the pixels elsewhere, e.g. at a feed-forward model's result
    (refinement); the content term still compares with `content`."""
    require(content.ndim == 4 and tuple(content.shape[1:]) == (1, 28, 28), f"content has shape {tuple(content.shape)}; the optimisation reference takes (B, 1, 28, 28) Fashion-MNIST-sized images.")
    require(style.ndim == 4 and tuple(style.shape[1:]) == (1, 28, 28), f"style has shape {tuple(style.shape)}; the optimisation reference takes (B, 1, 28, 28) Fashion-MNIST-sized images.")
    check_style_count(len(content), len(style))
    require(init is None or tuple(init.shape) == tuple(content.shape), f"init has shape {tuple(init.shape) if init is not None else None}; it must be the content's {tuple(content.shape)}.")
    require(steps >= 0 and style_weight >= 0 and content_weight >= 0 and lr > 0, "steps, style_weight and content_weight must be >= 0 and lr > 0.")
    was_training = classifier.training
    classifier.eval()
    device = next(classifier.parameters()).device
    content, style = content.to(device).float(), style.to(device).float().expand(len(content), -1, -1, -1)
    with torch.no_grad():
        style_grams = [gram_matrix(f) for f in classifier.stage_outputs(style, 2)]
        content_target = classifier.stage_outputs(content, 3)[2]
    x = (content if init is None else init.to(device).float()).clone().requires_grad_(True)
    optimiser = torch.optim.Adam([x], lr=lr)
    with torch.enable_grad():
        for _ in range(steps):
            features = classifier.stage_outputs(x, 3)
            loss = content_weight * per_image_mse(features[2], content_target)
            for maps, target in zip(features[:2], style_grams, strict=True):
                loss = loss + style_weight * per_image_mse(gram_matrix(maps), target)
            optimiser.zero_grad(set_to_none=True)
            loss.sum().backward()
            optimiser.step()
            with torch.no_grad():
                x.clamp_(-1, 1)
    classifier.train(was_training)
    return x.detach()


def optimisation_stylizer(classifier: FashionClassifier, steps: int = STEPS, style_weight: float = STYLE_WEIGHT, lr: float = LEARNING_RATE):
    """The reference as a benchmark stylizer `(content, style, content_labels, style_labels) -> results`."""

    def stylize(content: torch.Tensor, style: torch.Tensor, content_labels=None, style_labels=None) -> torch.Tensor:
        return optimise_style(content, style, classifier, steps=steps, style_weight=style_weight, lr=lr)

    # Its loss is computed in `classifier`: scoring it in those features is refused or flagged
    # (genstyle.metrics.own_features), as for a model's `loss_feature_networks`.
    stylize.loss_feature_networks = loss_networks(classifier)
    return stylize


def refining_stylizer(start, classifier: FashionClassifier, steps: int, style_weight: float, lr: float = LEARNING_RATE):
    """A benchmark stylizer that runs `start` (another stylizer, e.g. adain's) and then `steps`
    optimisation steps from its result: the feed-forward result refined per image."""

    def stylize(content: torch.Tensor, style: torch.Tensor, content_labels=None, style_labels=None) -> torch.Tensor:
        first = start(content, style, content_labels, style_labels)
        return optimise_style(content, style, classifier, steps=steps, style_weight=style_weight, lr=lr, init=first)

    stylize.loss_feature_networks = tuple(dict.fromkeys((*getattr(start, "loss_feature_networks", ()), *loss_networks(classifier))))
    return stylize


def loss_networks(classifier: torch.nn.Module) -> tuple[str, ...]:
    """The weights hash of the loss network (the loaders attach `weights_sha256`); none for a
    network built in memory, which no metric loads."""
    sha = getattr(classifier, "weights_sha256", None)
    return (sha,) if sha else ()

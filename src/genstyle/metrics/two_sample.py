"""Classifier two-sample test (Lopez-Paz & Oquab, 2017): can a fresh classifier tell a model's
samples from real images?

A judge that has never seen the model is trained to separate generated images from real
*training* images, then scored on images it has not seen: held-out samples and real *test*
images, in equal numbers. Its accuracy reads directly: 0.5 = indistinguishable, 1.0 = trivially
separable. Under the null hypothesis (same distribution) the number of correct calls on the n
held-out images is Binomial(n, 1/2), which gives the exact one-sided p-value and, with the Wilson
interval, the uncertainty of the accuracy.

Two judges: `cnn` (a small CNN trained from scratch; the stronger judge, any image size) and
`linear` (logistic regression on a Fashion-MNIST network's features, by default the independent
network's 128, which no model trains against; 28x28 grayscale only, blind to whatever those
features ignore).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import torch

from genstyle.classifier.fashion_classifier import FashionClassifier
from genstyle.errors import require
from genstyle.metrics.binomial import p_at_least, wilson_interval
from genstyle.metrics.features import default_network, extract_features
from genstyle.metrics.judge_net import (
    JudgeRecipe,
    as_model_range,
    predict,
    train_cnn,
    training_allowed,
)

JUDGES = ("cnn", "linear")
LINEAR_STEPS = 200  # full-batch L-BFGS iterations of the linear probe
LINEAR_L2 = 1e-3


@dataclass
class TwoSampleResult:
    """The judge's held-out accuracy with its binomial uncertainty, and how it was produced."""

    accuracy: float
    ci95: tuple[float, float]
    p_value: float  # one-sided: P(accuracy this high | the two sets come from one distribution)
    correct: int
    total: int
    generated_accuracy: float  # share of held-out samples called generated
    real_accuracy: float  # share of held-out real images called real
    protocol: dict = field(default_factory=dict)

    def metrics(self, prefix: str = "c2st") -> dict[str, float]:
        """Flat numbers for loggers and eval.json: `<prefix>_acc`, `_acc_low`, `_acc_high`, `_p`."""
        return {
            f"{prefix}_acc": self.accuracy,
            f"{prefix}_acc_low": self.ci95[0],
            f"{prefix}_acc_high": self.ci95[1],
            f"{prefix}_p": self.p_value,
        }

    def as_dict(self) -> dict:
        return {
            "accuracy": self.accuracy, "ci95": list(self.ci95), "p_value": self.p_value, "correct": self.correct,
            "total": self.total, "generated_accuracy": self.generated_accuracy, "real_accuracy": self.real_accuracy,
            "protocol": self.protocol,
        }


def _subset(images: torch.Tensor, n: int, generator: torch.Generator) -> torch.Tensor:
    return images[torch.randperm(len(images), generator=generator)[:n]]


def split_sets(
    generated: torch.Tensor, real_train: torch.Tensor, real_test: torch.Tensor, held_out: float, seed: int
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
    """(gen_train, real_train, gen_test, real_test), balanced: each pair has equal sizes, so
    chance is exactly 0.5. Samples are split by `held_out`; real sets are seeded subsets."""
    require(0 < held_out < 1, f"held_out={held_out} must be strictly between 0 and 1 (the share of samples kept for scoring).")
    generator = torch.Generator().manual_seed(seed)
    generated = _subset(generated, len(generated), generator)
    n_test_gen = int(round(len(generated) * held_out))
    gen_test, gen_train = generated[:n_test_gen], generated[n_test_gen:]
    n_train = min(len(gen_train), len(real_train))
    n_test = min(len(gen_test), len(real_test))
    require(
        n_train >= 2 and n_test >= 2,
        f"The two-sample test needs at least 2 images per set for training and for scoring; got {len(generated)} "
        f"samples ({len(gen_train)} to train, {len(gen_test)} held out), {len(real_train)} real training and "
        f"{len(real_test)} real test images. Give more samples.",
    )
    return (_subset(gen_train, n_train, generator), _subset(real_train, n_train, generator),
            _subset(gen_test, n_test, generator), _subset(real_test, n_test, generator))


def _linear_probe(train_x: torch.Tensor, train_y: torch.Tensor, test_x: torch.Tensor, seed: int,
                  classifier: FashionClassifier | None) -> torch.Tensor:
    """Logistic regression on standardised classifier features; returns test predictions."""
    train_f = extract_features(train_x, model=classifier)["features"]
    test_f = extract_features(test_x, model=classifier)["features"]
    with training_allowed():
        train_f, test_f, train_y = train_f.clone(), test_f.clone(), train_y.clone()
        mean, std = train_f.mean(0), train_f.std(0).clamp_min(1e-6)
        train_f, test_f = (train_f - mean) / std, (test_f - mean) / std
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(seed)
            probe = torch.nn.Linear(train_f.shape[1], 2).double()
        optimizer = torch.optim.LBFGS(probe.parameters(), max_iter=LINEAR_STEPS, line_search_fn="strong_wolfe")

        def closure() -> torch.Tensor:
            optimizer.zero_grad()
            loss = torch.nn.functional.cross_entropy(probe(train_f), train_y) + LINEAR_L2 * probe.weight.pow(2).sum()
            loss.backward()
            return loss

        optimizer.step(closure)
        with torch.no_grad():
            return probe(test_f).argmax(1)


def two_sample_test(
    generated: torch.Tensor,
    real_train: torch.Tensor,
    real_test: torch.Tensor,
    judge: str = "cnn",
    seed: int = 0,
    held_out: float = 0.5,
    recipe: JudgeRecipe | None = None,
    classifier: FashionClassifier | None = None,
    network: str = "fmnist-independent",
) -> TwoSampleResult:
    """Train a fresh `judge` on generated vs real training images; score it on held-out samples
    and real test images. Images are uint8 `[0, 255]` or float `[-1, 1]`, `(N, C, H, W)`. The
    linear judge reads the features of `network` (`fmnist-independent` or `fmnist-classifier`),
    or of `classifier` when one is given."""
    require(judge in JUDGES, f"judge={judge!r} is not a two-sample judge; use one of {', '.join(JUDGES)}.")
    source = network if classifier is None else f"the given {type(classifier).__name__}"
    if judge == "linear" and classifier is None:
        classifier = default_network(network)
    recipe = recipe or JudgeRecipe()
    generated = as_model_range(generated, "generated images")
    real_train = as_model_range(real_train, "real training images")
    real_test = as_model_range(real_test, "real test images")
    shapes = {tuple(x.shape[1:]) for x in (generated, real_train, real_test)}
    require(len(shapes) == 1, f"The generated and real images differ in shape ({', '.join(map(str, sorted(shapes)))}); the judge compares images of one shape.")
    gen_train, ref_train, gen_test, ref_test = split_sets(generated, real_train, real_test, held_out, seed)
    train_x = torch.cat([ref_train, gen_train])
    train_y = torch.cat([torch.zeros(len(ref_train)), torch.ones(len(gen_train))]).long()  # 1 = generated
    test_x = torch.cat([ref_test, gen_test])
    test_y = torch.cat([torch.zeros(len(ref_test)), torch.ones(len(gen_test))]).long()
    if judge == "cnn":
        predictions = predict(train_cnn(train_x, train_y, 2, recipe, seed), test_x)
    else:
        predictions = _linear_probe(train_x, train_y, test_x, seed, classifier)
    hits = predictions == test_y
    correct, total = int(hits.sum()), len(test_y)
    protocol = {
        "test": "classifier two-sample test (Lopez-Paz & Oquab 2017)",
        "judge": judge,
        "seed": int(seed),
        "held_out": float(held_out),
        "train_generated": len(gen_train), "train_real": len(ref_train),
        "test_generated": len(gen_test), "test_real": len(ref_test),
        "image_shape": list(generated.shape[1:]),
        **({"recipe": recipe.as_dict()} if judge == "cnn" else {
            "features": f"{source} features ({classifier.feature_dim}-d)", "features_sha256": getattr(classifier, "weights_sha256", None),
            "l2": LINEAR_L2, "lbfgs_steps": LINEAR_STEPS}),
    }
    return TwoSampleResult(
        accuracy=correct / total,
        ci95=wilson_interval(correct, total),
        p_value=p_at_least(correct, total, 0.5),
        correct=correct,
        total=total,
        generated_accuracy=float(hits[test_y == 1].float().mean()),
        real_accuracy=float(hits[test_y == 0].float().mean()),
        protocol=protocol,
    )

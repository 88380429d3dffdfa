"""Classification accuracy score (CAS, Ravuri & Vinyals 2019) for class-conditional models.

A classifier is trained only on generated, labelled samples (images drawn for the label they
carry) and tested on the real test split. It is high only when samples of each class look like
that class *and* cover its variety; compare it with the same recipe trained on real training
images (`cas` of real data), the ceiling the model can reach.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import torch

from genstyle.errors import require
from genstyle.metrics.binomial import wilson_interval
from genstyle.metrics.judge_net import JudgeRecipe, as_model_range, predict, train_cnn


@dataclass
class CasResult:
    accuracy: float
    ci95: tuple[float, float]
    correct: int
    total: int
    per_class: list[float]  # real test accuracy of each class (nan where the class has no test images)
    protocol: dict = field(default_factory=dict)

    def metrics(self, prefix: str = "cas") -> dict[str, float]:
        return {prefix: self.accuracy, f"{prefix}_low": self.ci95[0], f"{prefix}_high": self.ci95[1]}

    def as_dict(self) -> dict:
        return {"accuracy": self.accuracy, "ci95": list(self.ci95), "correct": self.correct, "total": self.total,
                "per_class": self.per_class, "protocol": self.protocol}


def classification_accuracy_score(
    images: torch.Tensor,
    labels: torch.Tensor,
    real_test: torch.Tensor,
    real_test_labels: torch.Tensor,
    num_classes: int,
    seed: int = 0,
    recipe: JudgeRecipe | None = None,
) -> CasResult:
    """Train a fresh classifier on `(images, labels)` (generated, labelled by the class they were
    drawn for) and return its accuracy on the real `(real_test, real_test_labels)`."""
    recipe = recipe or JudgeRecipe()
    images = as_model_range(images, "generated images")
    real_test = as_model_range(real_test, "real test images")
    labels, real_test_labels = labels.long().cpu(), real_test_labels.long().cpu()
    require(len(images) == len(labels) and len(images) > 0, f"CAS needs one label per generated image; got {len(images)} images and {len(labels)} labels.")
    require(len(real_test) == len(real_test_labels) and len(real_test) > 0, "CAS needs the real test images with their labels.")
    require(tuple(images.shape[1:]) == tuple(real_test.shape[1:]), f"Generated images {tuple(images.shape[1:])} and real test images {tuple(real_test.shape[1:])} differ in shape.")
    for name, y in (("labels", labels), ("real test labels", real_test_labels)):
        require(int(y.min()) >= 0 and int(y.max()) < num_classes, f"CAS: {name} must lie in 0..{num_classes - 1}.")
    network = train_cnn(images, labels, num_classes, recipe, seed)
    hits = predict(network, real_test) == real_test_labels
    correct, total = int(hits.sum()), len(hits)
    per_class = [float(hits[real_test_labels == c].float().mean()) if bool((real_test_labels == c).any()) else float("nan")
                 for c in range(num_classes)]
    protocol = {
        "test": "classification accuracy score (Ravuri & Vinyals 2019)",
        "seed": int(seed), "train_generated": len(images), "test_real": total, "num_classes": int(num_classes),
        "recipe": recipe.as_dict(),
    }
    return CasResult(correct / total, wilson_interval(correct, total), correct, total, per_class, protocol)


@torch.no_grad()
def labelled_samples(model, n: int, seed: int, batch_size: int) -> tuple[torch.Tensor, torch.Tensor]:
    """`n` samples of a class-conditional `model` with the labels they were drawn for, classes
    balanced (`i % num_classes`) so CAS weighs every class alike; a pure function of (weights, seed)."""
    require(bool(model.is_conditional), "CAS needs a class-conditional model (one that samples for a given label).")
    labels = torch.arange(n) % int(model.num_classes)
    chunks = []
    for index, chunk in enumerate(labels.split(batch_size)):
        generator = torch.Generator().manual_seed(seed * 1_000_003 + index)
        chunks.append(model.sample(len(chunk), labels=chunk.to(model.device), generator=generator).float().cpu())
    return torch.cat(chunks), labels

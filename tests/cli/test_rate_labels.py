"""rate.py's style pages hand conditional models the test split's true classes of each content and
style image (rate.py has no content_labels= to ask the user for), and exemplar models none."""

from __future__ import annotations

import torch

from genstyle.cli.rate import stylize_all


class Recorder:
    device = torch.device("cpu")

    def __init__(self, stylize_labels: tuple[str, ...]) -> None:
        self.stylize_labels, self.calls = stylize_labels, []

    def stylize(self, content, style, **labels):
        self.calls.append({k: v.tolist() for k, v in labels.items()})
        return content


def test_conditional_models_get_each_pairs_true_classes():
    content, style = torch.zeros(5, 1, 4, 4), torch.zeros(5, 1, 4, 4)
    labels = {"content_labels": torch.tensor([0, 1, 2, 3, 4]), "style_labels": torch.tensor([9, 8, 7, 6, 5])}
    conditional, exemplar, style_only = Recorder(("content_labels", "style_labels")), Recorder(()), Recorder(("style_labels",))
    for model in (conditional, exemplar, style_only):
        assert stylize_all(model, content, style, 2, labels).shape == (5, 1, 4, 4)
    assert conditional.calls == [{"content_labels": [0, 1], "style_labels": [9, 8]}, {"content_labels": [2, 3], "style_labels": [7, 6]},
                                 {"content_labels": [4], "style_labels": [5]}]
    assert exemplar.calls == [{}, {}, {}]
    assert style_only.calls == [{"style_labels": [9, 8]}, {"style_labels": [7, 6]}, {"style_labels": [5]}]

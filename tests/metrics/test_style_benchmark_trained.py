"""A trained adain checkpoint, scored in the independent network (which nothing trains against),
sits between the trivial references: style distance below copy content's, source dependence above
copy style's, and moving alpha towards 0 moves it towards copy content."""

from __future__ import annotations

import pytest
import torch
from hydra.core.global_hydra import GlobalHydra

from genstyle.checkpoints import load_model
from genstyle.classifier.independent import load_independent
from genstyle.cli.train import train
from genstyle.data.sources import load_fashion_mnist
from genstyle.metrics import style_benchmark as sb
from tests.conftest import compose_train

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def trained(tmp_path_factory, fmnist_root):
    """About 60 decoder steps on 2,000 training images (tens of seconds on two CPU threads)."""
    run = tmp_path_factory.mktemp("adain_trained") / "run"
    steps = ["data.train_subset=2000", "trainer.limit_train_batches=1.0", "callbacks.evaluation=null"]
    train(compose_train([f"data.root={fmnist_root}", "model=adain", *steps], run))
    GlobalHydra.instance().clear()
    model, _ = load_model(run / "checkpoints" / "last.ckpt")
    return model


def test_a_trained_checkpoint_sits_between_the_copies_in_the_independent_network(trained, fmnist_root):
    torch.set_num_threads(2)
    network = load_independent()
    data = load_fashion_mnist("test", root=str(fmnist_root), download=False)
    pairs = sb.prepare_pairs(data.images[:2000], data.labels[:2000], network, num_pairs=200, seed=0)
    stylize = lambda c, s, cl, sl: trained.stylize(c, s)  # noqa: E731
    rows = {name: sb.benchmark(f, pairs, network)[0] for name, f in
            (("model", stylize), ("copy content", sb.copy_content), ("copy style", sb.copy_style))}  # fmt: skip
    model = rows["model"]
    # A minute of training moves little texture in these features (Gram 0.935 on 200 pairs), but some.
    assert model["gram_dist"] < rows["copy content"]["gram_dist"] - 0.02
    assert model["style_dist"] < rows["copy content"]["style_dist"] - 0.05
    assert model["source_dependence"] > rows["copy style"]["source_dependence"] + 0.2
    assert model["content_class"] > rows["copy style"]["content_class"] + 0.3
    weak = sb.benchmark(lambda c, s, cl, sl: trained.stylize(c, s, alpha=0.25), pairs, network)[0]
    assert weak["gram_dist"] > model["gram_dist"] and weak["source_dependence"] > model["source_dependence"]

"""evaluate.py's CAS (cas_on_reference) with stand-in conditional models whose answer is known:
real images of the asked class score a real classifier's accuracy, a model that ignores its label
scores chance."""

from __future__ import annotations

import pytest
from omegaconf import OmegaConf

from genstyle.cli.evaluate import Reference, cas_on_reference
from genstyle.data.sources import load_fashion_mnist
from tests.helpers.fake_models import RealImagesOfTheClass


@pytest.mark.parametrize(("honest", "low", "high"), [(True, 0.6, 1.0), (False, 0.0, 0.2)], ids=["asked_class", "any_class"])
def test_cas_on_the_reference_split(fmnist_root, tmp_path, one_thread, honest, low, high):
    train = load_fashion_mnist("train", str(fmnist_root), None, False)
    model = RealImagesOfTheClass(train.images[:3000], train.labels[:3000], honest=honest)
    cfg = OmegaConf.create({"data_root": str(fmnist_root), "paths": {"data_dir": str(tmp_path)}, "num_samples": 600, "seed": 0,
                            "batch_size": 200})
    result = cas_on_reference(cfg, model, Reference("dataset", "fashion_mnist", "test"), 1, 28)
    assert result.total == 10000 and result.protocol["train_generated"] == 600
    assert low < result.accuracy < high, result.accuracy

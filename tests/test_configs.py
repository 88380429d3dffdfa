"""Every model config composes with every data config it is meant for, and builds."""

from __future__ import annotations

from pathlib import Path

import hydra
import pytest
import torch
from hydra import compose, initialize_config_dir
from hydra.core.global_hydra import GlobalHydra
from omegaconf import open_dict

from genstyle.cli.common import CONFIG_DIR
from genstyle.renames import MODEL_CONFIGS

CONF = Path(CONFIG_DIR)
MODELS = sorted(p.stem for p in (CONF / "model").glob("*.yaml") if p.stem not in MODEL_CONFIGS)  # old names: tests/test_renames.py
TRANSLATION_MODELS = {"cyclegan"}
GRAY_28_ONLY = {"adain"}  # the AdaIN model on the classifier's 1x28x28 features
UNPAIRED_DATA = {"fashion_unpaired", "unpaired_folder"}
SINGLE_DOMAIN_DATA = sorted(p.stem for p in (CONF / "data").glob("*.yaml") if p.stem not in UNPAIRED_DATA)
PAIRS = [
    (model, data)
    for model in MODELS
    for data in (sorted(UNPAIRED_DATA) if model in TRANSLATION_MODELS else SINGLE_DOMAIN_DATA)
]


def compose_pair(model: str, data: str, tmp_path: Path):
    GlobalHydra.instance().clear()
    overrides = [f"model={model}", f"data={data}", f"data.root={tmp_path}", "logger=none"]
    if data in ("image_folder", "unpaired_folder"):
        overrides += ["data.num_classes=10"] if model in ("cgan", "cvae", "stargan_v2") else []
    with initialize_config_dir(config_dir=CONFIG_DIR, version_base="1.3"):
        cfg = compose("train", overrides=overrides)
    with open_dict(cfg):
        cfg.paths = {"root_dir": str(tmp_path), "data_dir": str(tmp_path), "log_dir": str(tmp_path), "output_dir": str(tmp_path)}
    return cfg


def test_every_model_has_pairs():
    assert {"vae", "dcgan"} <= set(MODELS)
    assert len(PAIRS) >= 2 * len(MODELS)


@pytest.mark.parametrize(("model", "data"), PAIRS)
def test_model_builds_for_data(model, data, tmp_path):
    cfg = compose_pair(model, data, tmp_path)
    if model in GRAY_28_ONLY and (cfg.data.channels, cfg.data.image_size) != (1, 28):
        # Its frozen encoder is the Fashion-MNIST classifier: other data must be refused by name.
        with pytest.raises(Exception, match="model=munit"):
            hydra.utils.instantiate(cfg.model)
        return
    module = hydra.utils.instantiate(cfg.model)
    datamodule = hydra.utils.instantiate(cfg.data)
    assert module.image_shape == (cfg.data.channels, cfg.data.image_size, cfg.data.image_size)
    assert datamodule.batch_size == cfg.data.batch_size
    real = torch.rand(3, *module.image_shape, generator=torch.Generator().manual_seed(1)) * 2 - 1
    if hasattr(module, "domain_names"):  # multi-domain models translate to any of their domains
        for target in (0, module.num_classes - 1):
            out = module.translate(real[:1], target)
            assert out.shape == real[:1].shape and out.min() >= -1 and out.max() <= 1
        module.remember(real, torch.arange(3) % module.num_classes)  # sample() translates held real images
        images = module.sample(5, generator=torch.Generator().manual_seed(0))
        assert images.shape == (5, *module.image_shape) and images.min() >= -1 and images.max() <= 1
        return
    if hasattr(module, "translate"):  # translation models sample by translating images they hold
        for target in ("a", "b"):
            out = module.translate(real[:1], target)  # one image: unpaired_folder is 128 px by default
            assert out.shape == real[:1].shape and out.min() >= -1 and out.max() <= 1
        return
    if hasattr(module, "remember"):  # adain and munit sample pairs of the training images it keeps
        module.remember(real)
    if getattr(module, "gmm", None) is not None:  # the VAE's default mixture prior is fitted after training
        module.fit_prior(torch.randn(64, module.latent_dim, generator=torch.Generator().manual_seed(2)))
    labels = torch.arange(5) % module.num_classes if module.is_conditional else None
    images = module.sample(5, labels=labels, generator=torch.Generator().manual_seed(0))
    assert images.shape == (5, *module.image_shape)
    assert images.min() >= -1 and images.max() <= 1
    if module.is_conditional:  # labels drawn from the stored label prior when none are given
        assert module.sample(5).shape == (5, *module.image_shape)


def test_image_size_the_architecture_cannot_produce_is_named(tmp_path):
    from genstyle.errors import GenstyleError

    cfg = compose_pair("dcgan", "fashion_mnist", tmp_path)
    with open_dict(cfg):
        cfg.data.image_size = 30
    with pytest.raises(Exception) as err:
        hydra.utils.instantiate(cfg.model)
    cause = err.value
    while cause is not None and not isinstance(cause, GenstyleError):
        cause = cause.__cause__
    assert cause is not None and "data.image_size=30" in str(cause)

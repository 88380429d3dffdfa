"""data.on_device: the same batches, in the same (seed, epoch) order, wherever the data lives."""

from __future__ import annotations

import pytest
import torch

from genstyle.data import ImageDataModule
from genstyle.data.device import choose_data_device
from genstyle.errors import GenstyleError


def batches(dm: ImageDataModule, epoch: int) -> list[dict[str, torch.Tensor]]:
    loader = dm.train_dataloader()
    loader.sampler.set_epoch(epoch)
    return list(loader)


@pytest.mark.parametrize("dataset", ["fashion_mnist", "fashion_unpaired"])
def test_on_device_batches_equal_the_host_path(fmnist_root, dataset):
    extra = {"domain_a": "sneaker", "domain_b": "ankle_boot"} if dataset == "fashion_unpaired" else {}
    kwargs = dict(dataset=dataset, root=str(fmnist_root), download=False, batch_size=32, val_size=64, train_subset=200, seed=3, **extra)
    host, device = ImageDataModule(**kwargs, on_device=False), ImageDataModule(**kwargs, on_device=True)
    for dm in (host, device):
        dm.setup("fit")
    for epoch in (0, 1):
        a, b = batches(host, epoch), batches(device, epoch)
        assert len(a) == len(b) > 1
        for x, y in zip(a, b, strict=True):
            assert x.keys() == y.keys()
            for key in x:
                assert torch.equal(x[key], y[key]), (epoch, key)
    # the device path really yields index tensors (the host path, lists)
    first = next(iter(device.train_dataloader().sampler))
    assert torch.is_tensor(first if dataset == "fashion_mnist" else first[0])
    assert batches(host, 0)[0]["image"].dtype == torch.float32


def test_resume_skips_the_same_batches_on_device(fmnist_root):
    dm = ImageDataModule(root=str(fmnist_root), download=False, batch_size=32, val_size=64, train_subset=200, on_device=True)
    dm.setup("fit")
    full = batches(dm, 2)
    loader = dm.train_dataloader()
    loader.load_state_dict({"epoch": 2, "batches_done": 3})
    loader.sampler.set_epoch(2)
    resumed = list(loader)
    assert [b["image"] for b in resumed] and all(torch.equal(x["image"], y["image"]) for x, y in zip(full[3:], resumed, strict=True))


def test_auto_keeps_the_cpu_path_and_true_refuses_workers():
    cpu = torch.device("cpu")
    assert choose_data_device("auto", cpu, 47_000_000, 0) is None  # on a CPU, today's path
    assert choose_data_device(False, cpu, 1, 0) is None
    assert choose_data_device(True, cpu, 1, 0) == cpu
    with pytest.raises(GenstyleError, match="num_workers=0"):
        choose_data_device(True, cpu, 1, 2)
    with pytest.raises(GenstyleError, match="data.on_device='gpu' is not known"):
        ImageDataModule(on_device="gpu")

"""Background change: the mean change where the content image is black, measured exactly on a
synthetic smear beside a real garment, and blind to the garment itself and its edge."""

from __future__ import annotations

import pytest
import torch

from genstyle.data.sources import load_fashion_mnist
from genstyle.metrics.background import background_change, background_mask


@pytest.fixture(scope="module")
def trousers(fmnist_root):
    data = load_fashion_mnist("test", root=str(fmnist_root), download=False)
    index = torch.nonzero(data.labels == 1).flatten()[:8]  # trousers: black on both sides of the legs
    return data.images[index].float() / 127.5 - 1


def test_a_smear_beside_the_garment_is_measured_exactly(trousers):
    assert background_change(trousers.clone(), trousers) == 0.0
    mask = background_mask(trousers)
    smear = torch.zeros_like(trousers)
    smear[:, :, 20:26, 0:3] = 1.2  # a bright smear in the lower left corner, off every garment
    assert bool(mask[:, :, 20:26, 0:3].all()), "the smear must lie on background"
    expected = 1.2 * 18 * len(trousers) / int(mask.sum())
    assert background_change(trousers + smear, trousers) == pytest.approx(expected, rel=1e-6)


def test_changes_on_the_garment_or_its_edge_do_not_count(trousers):
    garment = trousers > -0.9
    darker = torch.where(garment, trousers - 0.5, trousers)
    assert background_change(darker, trousers) == 0.0
    # A one-pixel blur of the silhouette (on a pure black background) only touches pixels next
    # to the garment.
    clean = torch.where(garment, trousers, torch.full_like(trousers, -1.0))
    blurred = torch.nn.functional.avg_pool2d(clean, 3, stride=1, padding=1, count_include_pad=False)
    assert background_change(blurred, clean) == 0.0
    assert background_change(blurred, clean, margin=0) > 0.0


def test_copying_another_image_changes_the_background(trousers):
    other = torch.roll(trousers, 1, dims=0).flip(-1).transpose(-1, -2)  # a garment elsewhere
    assert background_change(other, trousers) > 0.05

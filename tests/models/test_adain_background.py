"""model=adain's background term: mean |result - content| over the content's background pixels."""

from __future__ import annotations

import hydra
import pytest
import torch

from genstyle.metrics.background import background_change
from genstyle.models.adain import background_l1

OFF = ["model=adain", "callbacks.evaluation=null"]


def garment(n: int = 2) -> torch.Tensor:
    x = torch.full((n, 1, 28, 28), -1.0)
    x[:, :, 8:20, 10:18] = 0.6  # a bright block on a black background
    return x


def test_background_l1_counts_only_background_pixels_away_from_the_garment():
    content = garment()
    assert background_l1(content, content) == 0
    on_garment = content.clone()
    on_garment[:, :, 7:21, 9:19] += 0.5  # the garment and the one-pixel ring around it
    assert background_l1(on_garment, content) == 0
    result = content + 0.5  # every pixel brighter by 0.5
    assert torch.isclose(background_l1(result, content), torch.tensor(0.5))
    corner = content.clone()
    corner[:, :, :2, :2] = 1.0  # 4 of the background pixels turned white (change 2)
    n_background = 28 * 28 - 14 * 10
    assert torch.isclose(background_l1(corner, content), torch.tensor(2.0 * 4 / n_background))
    # the same number the benchmark reports
    noisy = content + 0.3 * torch.randn_like(content)
    assert background_l1(noisy, content).item() == pytest.approx(background_change(noisy, content), rel=1e-5)
    # no background at all: 0, not NaN
    assert background_l1(torch.zeros(1, 1, 28, 28), torch.ones(1, 1, 28, 28)) == 0


def test_background_weight_adds_the_term_to_the_loss(make_cfg):
    torch.manual_seed(0)
    plain = hydra.utils.instantiate(make_cfg(*OFF, "model.background_weight=0").model)
    weighted = hydra.utils.instantiate(make_cfg(*OFF, "model.background_weight=3").model)
    weighted.decoder.load_state_dict(plain.decoder.state_dict())
    x = garment(4) + 0.05 * torch.rand(4, 1, 28, 28)
    x[0] = x[0].flip(-1)  # the images differ: each borrows another's style
    terms, _ = plain.losses(x)
    terms_w, _ = weighted.losses(x)
    assert terms["background"] > 0
    assert torch.isclose(weighted.weighted(terms_w) - plain.weighted(terms), 3 * terms["background"], rtol=1e-4)


def test_a_negative_background_weight_is_refused(make_cfg):
    with pytest.raises(Exception, match="background_weight"):
        hydra.utils.instantiate(make_cfg(*OFF, "model.background_weight=-1").model)

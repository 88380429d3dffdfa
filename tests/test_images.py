"""Image grids: `label_axes` names a grid's rows and columns in strips beside it, leaving its cells
where they were."""

from __future__ import annotations

import torch

from genstyle.images import LABEL_STRIP, grid_image, label_axes


def test_label_axes_adds_a_text_strip_above_and_left_of_the_unchanged_grid():
    grid = grid_image(torch.rand(6, 1, 28, 28, generator=torch.Generator().manual_seed(0)) * 2 - 1, nrow=3)
    labelled = label_axes(grid, top="content ->", left="style ->")
    channels, height, width = grid.shape
    assert labelled.shape == (channels, height + LABEL_STRIP, width + LABEL_STRIP) and labelled.dtype == torch.uint8
    assert torch.equal(labelled[:, LABEL_STRIP:, LABEL_STRIP:], grid)
    top, left = labelled[:, :LABEL_STRIP, LABEL_STRIP:], labelled[:, LABEL_STRIP:, :LABEL_STRIP]
    assert (top < 128).sum() > 20 and (left < 128).sum() > 20  # dark text on the white strips
    assert (labelled[:, :LABEL_STRIP, :LABEL_STRIP] == 255).all()  # the corner stays blank
    # the left label reads downwards: its text starts at the top, beside the grid's first row
    assert (left < 128).any(dim=2).any(dim=0).nonzero().min() < 10
    assert torch.equal(labelled, label_axes(grid, top="content ->", left="style ->"))  # deterministic
    assert not torch.equal(top, label_axes(grid, top="style ->", left="content ->")[:, :LABEL_STRIP, LABEL_STRIP:])

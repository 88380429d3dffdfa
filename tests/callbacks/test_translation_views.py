"""The style x content grid of exemplar models says which axis is which: "content ->" above the
top row of content images, "style ->" down the left column of style images, each cell content j
in style i."""

from __future__ import annotations

from types import SimpleNamespace

import torch

from genstyle.callbacks.translation_views import stylize_grid
from genstyle.images import LABEL_STRIP, label_axes
from genstyle.pixels import to_uint8

CELL = 30  # 28 px images, make_grid pads 2 px


def mixing_stylizer() -> SimpleNamespace:
    """stylize(content, style) = their mean: each cell tells which content and which style made it."""
    return SimpleNamespace(device=torch.device("cpu"), stylize=lambda content, style: (content + style) / 2)


def cell(grid: torch.Tensor, row: int, col: int) -> torch.Tensor:
    y, x = LABEL_STRIP + 2 + CELL * row, LABEL_STRIP + 2 + CELL * col
    return grid[0, y : y + 28, x : x + 28]


def test_style_content_grid_names_its_axes_and_keeps_its_cells_in_place():
    gen = torch.Generator().manual_seed(0)
    content, style = torch.rand(3, 1, 28, 28, generator=gen) * 2 - 1, torch.rand(2, 1, 28, 28, generator=gen) * 2 - 1
    grid = stylize_grid(mixing_stylizer(), content, style)
    assert grid.shape == (3, LABEL_STRIP + 3 * CELL + 2, LABEL_STRIP + 4 * CELL + 2)  # (1 + 2 styles) x (1 + 3 contents) cells
    assert torch.equal(grid, label_axes(grid[:, LABEL_STRIP:, LABEL_STRIP:], top="content ->", left="style ->"))
    assert (cell(grid, 0, 0) == 255).all()  # the blank corner
    for j in range(3):
        assert torch.equal(cell(grid, 0, j + 1), to_uint8(content[j])[0])  # top row: the contents
    for i in range(2):
        assert torch.equal(cell(grid, i + 1, 0), to_uint8(style[i])[0])  # left column: the styles
        for j in range(3):
            assert torch.equal(cell(grid, i + 1, j + 1), to_uint8((content[j] + style[i]) / 2)[0])

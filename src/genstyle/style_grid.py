"""The style x content grid: every style applied to every content image, with the inputs as
headers, for any model that offers `stylize(content, style)`."""

from __future__ import annotations

import torch

from genstyle.images import grid_image


@torch.no_grad()
def style_content_grid(model, content: torch.Tensor, style: torch.Tensor) -> torch.Tensor:
    """uint8 `(C, H', W')` grid of `(1 + len(style))` rows by `(1 + len(content))` columns.

    The top row holds the content images and the left column the style images (the corner is
    blank); cell (i, j) is `model.stylize(content[j], style[i])`, so rows share a style and
    columns share a content."""
    k = len(content)
    device = model.device
    rows = [torch.cat([torch.full_like(content[:1], 1.0), content.cpu()])]  # white corner
    for s in style:
        result = model.stylize(content.to(device), s[None].to(device).expand(k, -1, -1, -1))
        rows.append(torch.cat([s[None].cpu(), result.cpu()]))
    return grid_image(torch.cat(rows), nrow=k + 1)

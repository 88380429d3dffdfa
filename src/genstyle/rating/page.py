"""Write the rating page: one HTML file with every image embedded as a data URI, no server and
no network. The page's script (assets/rating.js) shows the pairs, keeps votes in the browser's
localStorage and saves votes.json (format: `genstyle.rating.votes`)."""

from __future__ import annotations

import base64
import hashlib
import html
import io
import json
from pathlib import Path

import torch
from PIL import Image

from genstyle.errors import require
from genstyle.files import write_text_atomic
from genstyle.rating.plan import TASKS, Entity, Pair
from genstyle.rating.votes import VOTES_FORMAT, VOTES_VERSION

ASSETS = Path(__file__).resolve().parent / "assets"


def png_data_uri(image: torch.Tensor) -> str:
    """uint8 `(C, H, W)` with C in 1, 3 -> `data:image/png;base64,...`."""
    require(image.dtype == torch.uint8 and image.ndim == 3 and image.shape[0] in (1, 3), f"expected a uint8 (1|3, H, W) image, got {image.dtype} {tuple(image.shape)}.")
    array = image.permute(1, 2, 0).squeeze(-1).cpu().numpy()
    buffer = io.BytesIO()
    Image.fromarray(array).save(buffer, format="PNG", optimize=True)
    return "data:image/png;base64," + base64.b64encode(buffer.getvalue()).decode("ascii")


def page_data(
    entities: list[Entity],
    pairs: list[Pair],
    images: dict[str, torch.Tensor],
    task: str,
    seed: int,
    context: list[tuple[torch.Tensor, torch.Tensor]] | None = None,
) -> dict:
    """Everything the page script needs. `images[hidden_id]` is uint8 `(N, C, H, W)`;
    `context[item]` the (content, style) images a style pair was made from."""
    require(task in TASKS, f"unknown rating task {task!r}; one of {', '.join(TASKS)}.")
    used = sorted({p.item for p in pairs})
    uris = {hid: {str(k): png_data_uri(images[hid][k]) for k in used} for hid in images}
    key = {e.hidden_id: {"label": e.label, "source": e.source, "kind": e.kind, "order": i} for i, e in enumerate(entities)}
    data = {
        "format": "genstyle-rating-page",
        "votes_format": VOTES_FORMAT,
        "votes_version": VOTES_VERSION,
        "task": task,
        "question": TASKS[task],
        "seed": int(seed),
        "pairs": [p.as_dict() for p in pairs],
        "images": uris,
        "context": None if context is None else {str(k): [png_data_uri(context[k][0]), png_data_uri(context[k][1])] for k in used},
        # Encoded so that the identities are not in plain sight of a rater glancing at the source;
        # the saved votes decode it to un-blind themselves.
        "key": base64.b64encode(json.dumps(key, sort_keys=True).encode()).decode("ascii"),
    }
    data["page_id"] = hashlib.sha256(json.dumps(data, sort_keys=True).encode()).hexdigest()
    return data


def render(data: dict, title: str) -> str:
    template = (ASSETS / "rating.html").read_text(encoding="utf-8")
    script = (ASSETS / "rating.js").read_text(encoding="utf-8")
    # `</` inside the JSON could close the script element early; JSON allows escaping it.
    payload = json.dumps(data, sort_keys=True).replace("</", "<\\/")
    return (template.replace("{{TITLE}}", html.escape(title)).replace("{{DATA}}", payload).replace("{{SCRIPT}}", script))


def write_page(data: dict, title: str, out: Path) -> Path:
    """Write atomically: an interrupted run leaves no half page behind."""
    return write_text_atomic(out, render(data, title))

"""decode_image, the one decoder of users' images (stylize.py, evaluate.py, image folders): every
image decoded as its format says or refused, each conversion counted as a note."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from genstyle.data.sources import conversion_notes, decode_image, load_image_folder
from genstyle.errors import GenstyleError


def test_transparent_areas_become_the_black_background(tmp_path):
    rgba = np.zeros((8, 8, 4), np.uint8)
    rgba[..., :3] = 200  # light gray everywhere, but only the centre is opaque
    rgba[2:6, 2:6, 3] = 255
    Image.fromarray(rgba).save(tmp_path / "a.png")
    notes: Counter[str] = Counter()
    out = decode_image(tmp_path / "a.png", 1, 8, notes)[0]
    assert out[2:6, 2:6].eq(200).all() and out[0].eq(0).all() and out[:, 0].eq(0).all()
    assert list(notes) == ["transparent areas composited on black (the data's background)"]
    # an opaque RGBA file is not "converted"
    rgba[..., 3] = 255
    Image.fromarray(rgba).save(tmp_path / "opaque.png")
    notes.clear()
    assert decode_image(tmp_path / "opaque.png", 3, 8, notes).eq(200).all() and not notes


def test_sixteen_bit_is_scaled_not_clipped(tmp_path):
    values = np.array([[0, 257 * 64], [257 * 128, 65535]], np.uint16)
    Image.fromarray(values).save(tmp_path / "g16.png")
    notes: Counter[str] = Counter()
    out = decode_image(tmp_path / "g16.png", 1, 2, notes)[0]
    assert out.tolist() == [[0, 64], [128, 255]]
    assert list(notes) == ["16-bit, scaled to 8 bits"]


def test_exif_orientation_is_applied(tmp_path):
    array = np.zeros((4, 4), np.uint8)
    array[0, 3] = 255  # top right
    img = Image.fromarray(array)
    exif = img.getexif()
    exif[0x0112] = 6  # the camera was turned: display rotated 90 degrees clockwise
    img.save(tmp_path / "photo.jpg", exif=exif, quality=100, subsampling=0)
    notes: Counter[str] = Counter()
    out = decode_image(tmp_path / "photo.jpg", 1, 4, notes)[0]
    assert out[3, 3] > 200 and out[0, 3] < 50  # top right turned clockwise -> bottom right
    assert list(notes) == ["turned upright as their EXIF orientation says"]


def test_non_square_is_padded_not_squashed(tmp_path):
    Image.fromarray(np.full((4, 8), 255, np.uint8)).save(tmp_path / "wide.png")  # 8 wide, 4 high
    notes: Counter[str] = Counter()
    out = decode_image(tmp_path / "wide.png", 1, 8, notes)[0]
    assert out[2:6].eq(255).all() and out[:2].eq(0).all() and out[6:].eq(0).all()
    assert list(notes) == ["not square, padded with black to a centred square (not stretched)"]


def test_animated_image_is_refused(tmp_path):
    frames = [Image.fromarray(np.full((4, 4), v, np.uint8)) for v in (0, 255)]
    frames[0].save(tmp_path / "anim.gif", save_all=True, append_images=frames[1:])
    with pytest.raises(GenstyleError, match=r"anim\.gif is an animated image \(2 frames\); give a still image"):
        decode_image(tmp_path / "anim.gif", 1, 4)


def test_a_folder_reports_each_kind_of_conversion_once(tmp_path, caplog):
    for i in range(3):
        rgba = np.zeros((6, 6, 4), np.uint8)
        rgba[..., 3] = 255 * (i > 0)
        Image.fromarray(rgba).save(tmp_path / f"{i}.png")
    with caplog.at_level("WARNING", logger="genstyle.data"):
        load_image_folder(tmp_path, channels=1, image_size=6)
    assert [r.getMessage() for r in caplog.records] == [f"{tmp_path}: 1 image transparent areas composited on black (the data's background)."]
    assert conversion_notes(Counter({"x": 2}), "w") == ["w: 2 images x."]


def test_single_image_conversions_are_logged(tmp_path: Path, caplog):
    Image.fromarray(np.full((2, 4), 9, np.uint8)).save(tmp_path / "w.png")
    with caplog.at_level("WARNING", logger="genstyle.data"):
        decode_image(tmp_path / "w.png", 1, 4)
    assert "w.png: not square, padded" in caplog.text

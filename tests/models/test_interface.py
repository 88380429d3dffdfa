"""One interface in GenerativeModule: `stylize(content, style, *, content_labels=None,
style_labels=None)` and `translate(x, target)` mean the same in every family that offers them,
every input goes through the one shared check (models/base.py), and callers ask capabilities
(`stylize_labels`, `stylize_options`, `has_prior_choice`, ...) instead of reading signatures or
family names."""

from __future__ import annotations

import re
from pathlib import Path

import hydra
import pytest
import torch

from genstyle.errors import GenstyleError
from tests.conftest import compose_train

SRC = Path(__file__).resolve().parents[2] / "src" / "genstyle"
# family -> (the labels its stylize uses, extra overrides)
STYLIZERS = {
    "adain": ((), []),
    "munit": ((), []),
    "cvae": (("content_labels", "style_labels"), []),
    "cgan": (("content_labels", "style_labels"), ["model.inversion_steps=2"]),
    "stargan_v2": (("style_labels",), []),
}


def build(tmp_path, name: str, *overrides: str):
    torch.manual_seed(0)
    cfg = compose_train([f"model={name}", "data.root=/data", *overrides], tmp_path / name)
    return hydra.utils.instantiate(cfg.model)


def images(n: int, seed: int) -> torch.Tensor:
    return torch.rand(n, 1, 28, 28, generator=torch.Generator().manual_seed(seed)) * 2 - 1


@pytest.mark.parametrize("name", sorted(STYLIZERS))
def test_every_stylizer_shares_the_signature_and_the_input_check(tmp_path, name):
    uses, overrides = STYLIZERS[name]
    model = build(tmp_path, name, *overrides)
    assert model.can_stylize and model.stylize_labels == uses
    content, style = images(3, 1), images(1, 2)
    labels = {key: torch.tensor([1, 2, 3])[: 3 if key == "content_labels" else 1] for key in uses}
    out = model.stylize(content, style, **labels)  # labels are keyword-only and optional in name
    assert out.shape == content.shape and out.min() >= -1 and out.max() <= 1
    with pytest.raises(TypeError):
        model.stylize(content, style, torch.tensor([1, 2, 3]))  # never positional
    for key in {"content_labels", "style_labels"} - set(uses):
        with pytest.raises(GenstyleError, match=f"{key} were given, but this {name} model stylizes without"):
            model.stylize(content, style, **labels, **{key: torch.tensor([0])})
    with pytest.raises(GenstyleError, match="style has 2 images for 3 content images; give 1 or 3"):
        model.stylize(content, images(2, 3), **labels)
    with pytest.raises(GenstyleError, match=r"content has values in \[-3"):
        model.stylize(content * 3, style, **labels)
    with pytest.raises(GenstyleError, match=r"style must be a \(B, 1, 28, 28\) tensor"):
        model.stylize(content, torch.zeros(1, 1, 14, 14), **labels)
    with pytest.raises(GenstyleError, match="NaN"):
        model.stylize(content, style * float("nan"), **labels)
    one_infinite = content.clone()
    one_infinite[1, 0, 5, 5] = float("inf")  # the rest in range: named as infinite, not as out of range
    with pytest.raises(GenstyleError, match="content contains NaN or infinite values"):
        model.stylize(one_infinite, style, **labels)


def test_translate_target_is_the_domain_to_translate_into(tmp_path):
    cyclegan = build(tmp_path, "cyclegan", "data=fashion_unpaired")
    x = images(2, 4)
    with torch.no_grad():
        assert torch.equal(cyclegan.translate(x, "b"), cyclegan.gen_a2b.eval()(x))  # into domain b: A -> B
        assert torch.equal(cyclegan.translate(x, "a"), cyclegan.gen_b2a.eval()(x))
    stargan = build(tmp_path, "stargan_v2")
    z = torch.randn(2, stargan.latent_dim, generator=torch.Generator().manual_seed(0))
    into_3 = stargan.translate(x, 3, z=z)
    assert torch.equal(into_3, stargan.render(x, stargan.style_codes(z, torch.tensor([3, 3]))))  # into domain (class) 3
    assert not torch.equal(into_3, stargan.translate(x, 4, z=z))
    with pytest.raises(TypeError):
        stargan.translate(x, 3, z)  # its extra options are keyword-only
    with pytest.raises(GenstyleError, match="target=10 is not a domain index"):
        stargan.translate(x, 10)


def test_capabilities_answer_what_callers_used_to_read_from_names(tmp_path):
    assert build(tmp_path, "vae").has_prior_choice and build(tmp_path, "cvae").has_prior_choice
    assert not build(tmp_path, "dcgan").has_prior_choice
    assert build(tmp_path, "munit").stylize_options == ()  # adain names its alpha there


def test_no_caller_reads_a_signature_or_a_family_name():
    offenders = []
    for folder in ("cli", "callbacks", "metrics"):
        for path in sorted((SRC / folder).rglob("*.py")):
            for number, line in enumerate(path.read_text().splitlines(), 1):
                if re.search(r"inspect\.signature\(|\bfamily\s*==|==\s*['\"]?\w*['\"]?\s*\.family\b", line):
                    offenders.append(f"{path.relative_to(SRC)}:{number}: {line.strip()}")
    assert offenders == []

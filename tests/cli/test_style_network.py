"""The style benchmark scores in the independent network by default, records the network with
every number, and refuses a stylizer in the network its losses use unless asked (then flags it)."""

from __future__ import annotations

import json

import pytest

from genstyle.classifier import fashion_classifier, independent
from genstyle.cli import style_benchmark as cli
from genstyle.errors import GenstyleError
from genstyle.metrics import style_benchmark as sb
from tests.helpers.forked_cli import run_cli_forked as run_cli


def own_loss_stylizer(content, style, content_labels, style_labels):
    return style.clone()


def test_run_entries_refuses_a_stylizer_in_its_loss_network_and_flags_it_when_allowed(fmnist_root):
    own_loss_stylizer.loss_feature_networks = (fashion_classifier.weights_sha256(),)
    entries = [cli.Entry("copy content (reference)", sb.copy_content), cli.Entry("trained on the classifier", own_loss_stylizer)]
    run = lambda **kw: cli.run_entries(entries, 8, 0, str(fmnist_root), log=lambda line: None, **kw)  # noqa: E731

    payload = run()  # default: the independent network, nothing to refuse
    assert payload["protocol"]["network"] == "fmnist-independent"
    assert payload["protocol"]["network_sha256"] == independent.SHIPPED_SHA256
    assert not any(r.get("own_features") for r in payload["rows"])

    with pytest.raises(GenstyleError, match=r"trained on the classifier.*own loss.*allow_own_features"):
        run(network="fmnist-classifier")
    flagged = run(network="fmnist-classifier", allow_own_features=True)
    rows = {r["name"]: r for r in flagged["rows"]}
    assert rows["trained on the classifier [scored in its own loss network]"]["own_features"] is True
    assert "own_features" not in rows["copy content (reference)"]
    assert flagged["protocol"]["network_sha256"] == fashion_classifier.weights_sha256()
    # The two networks give different numbers for the same images (FID, Gram distance).
    plain, other = payload["rows"][1], flagged["rows"][1]
    assert plain["fid"] != pytest.approx(other["fid"]) and plain["gram_dist"] == pytest.approx(0.0)


def test_evaluate_task_style_refuses_adain_in_its_encoders_features(adain_ckpt, tmp_path, fmnist_root):
    base = ["evaluate.py", f"ckpt_path={adain_ckpt}", "task=style", "style_pairs=8", f"data_root={fmnist_root}"]
    refused = run_cli(*base, "metrics.judge_extractor=fmnist-classifier", f"out={tmp_path / 'a.json'}", env={"OMP_NUM_THREADS": "1"})
    assert refused.returncode == 2 and "own loss" in refused.stderr and "metrics.allow_own_features=true" in refused.stderr
    assert not (tmp_path / "a.json").exists()
    allowed = run_cli(*base, f"out={tmp_path / 'b.json'}", env={"OMP_NUM_THREADS": "1"})
    assert allowed.returncode == 0, allowed.stderr
    payload = json.loads((tmp_path / "b.json").read_text())
    assert payload["protocol"]["network"] == "fmnist-independent" and not payload["rows"][0].get("own_features")

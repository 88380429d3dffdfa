"""Inception-V3 weights for RGB evaluation: fetched into torch hub's folder when missing (as
torch-fidelity does), and the offline message only when that download fails. The download is
stubbed both ways; nothing touches the network."""

from __future__ import annotations

import urllib.error
from pathlib import Path

import pytest
import torch

from genstyle.errors import GenstyleError
from genstyle.metrics import backends


@pytest.fixture
def hub(tmp_path, monkeypatch) -> Path:
    monkeypatch.setattr(torch.hub, "_hub_dir", str(tmp_path / "hub"))
    return tmp_path / "hub" / "checkpoints" / backends.INCEPTION_FILE


def test_missing_weights_are_downloaded_to_torch_hub(hub, monkeypatch):
    calls = []

    def fake_download(url: str, dst: str, **kwargs) -> None:
        calls.append((url, dst))
        torch.save({"Mixed_7c.branch_pool.conv.weight": torch.zeros(1)}, dst)

    monkeypatch.setattr(torch.hub, "download_url_to_file", fake_download)
    assert backends.inception_weights_path(None) == hub
    assert calls == [(backends.INCEPTION_URL, str(hub))]
    assert backends.inception_weights_path(None) == hub and len(calls) == 1  # present now: no second download


def test_failed_download_gives_the_offline_message(hub, monkeypatch):
    def no_network(url: str, dst: str, **kwargs) -> None:
        Path(dst).write_bytes(b"partial")  # whatever a broken transfer leaves is removed
        raise urllib.error.URLError("[Errno -3] Temporary failure in name resolution")

    monkeypatch.setattr(torch.hub, "download_url_to_file", no_network)
    with pytest.raises(GenstyleError) as err:
        backends.inception_weights_path(None)
    message = str(err.value)
    assert f"Inception-V3 weights are not at {hub} and downloading them failed (URLError" in message
    assert "Temporary failure in name resolution" in message and "metrics.inception_weights=" in message
    assert "cannot be downloaded" not in message
    assert not hub.exists()


def test_given_weights_are_never_downloaded(tmp_path, monkeypatch):
    monkeypatch.setattr(torch.hub, "download_url_to_file", lambda *a, **k: pytest.fail("downloaded"))
    with pytest.raises(GenstyleError, match=r"metrics\.inception_weights=.*missing\.pth does not exist"):
        backends.inception_weights_path(tmp_path / "missing.pth")

"""Both evaluation networks read their weights file through classifier/weights_file.py: a missing,
malicious, corrupt, foreign or newer file is a GenstyleError that names the network and says how to
get a good file, and the file's hash is its sha256."""

from __future__ import annotations

import hashlib
import re
from pathlib import Path

import pytest
import torch

from genstyle.classifier import fashion_classifier, independent
from genstyle.errors import GenstyleError

NETWORKS = [
    pytest.param(fashion_classifier, id="fashion_classifier"),
    pytest.param(independent, id="independent"),
]


class Payload:
    """Unpickling this writes `marker`: only an unsafe loader would run it."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self):
        return (exec, (f"open({str(self.marker)!r}, 'w').write('code ran')",))


@pytest.mark.parametrize("network", NETWORKS)
def test_missing_file_names_the_shipped_one_and_the_training_command(network, tmp_path):
    with pytest.raises(GenstyleError, match=rf"^{network.WHAT} .*absent.pt do not exist.*{re.escape(network.TRAIN_COMMAND)}"):
        network.read_checkpoint(tmp_path / "absent.pt")


@pytest.mark.parametrize("network", NETWORKS)
def test_a_folder_is_called_a_folder_not_missing(network, tmp_path):
    with pytest.raises(GenstyleError, match=rf"^{network.WHAT} {re.escape(str(tmp_path))} is a folder, not a weights file\. Give the weights file itself"):
        network.read_checkpoint(tmp_path)


@pytest.mark.parametrize("network", NETWORKS)
def test_a_file_that_would_run_code_is_refused_without_running_it(network, tmp_path):
    marker = tmp_path / "ran"
    path = tmp_path / "evil.pt"
    torch.save({"format_version": network.FORMAT_VERSION, "state_dict": {}, "x": Payload(marker)}, path)
    with pytest.raises(GenstyleError, match=f"Refusing to load {network.WHAT.lower()}"):
        network.read_checkpoint(path)
    assert not marker.exists()


@pytest.mark.parametrize("network", NETWORKS)
@pytest.mark.parametrize(("content", "message"), [
    (b"PK\x03\x04 not really a zip", "are unreadable"),
    ([1, 2, 3], "not a genstyle weights file"),
    ({"format_version": 99, "state_dict": {}}, "format_version=99; this code reads version 1"),
])  # fmt: skip
def test_corrupt_foreign_or_newer_files_are_user_errors(network, tmp_path, content, message):
    path = tmp_path / "weights.pt"
    if isinstance(content, bytes):
        path.write_bytes(content)
    else:
        torch.save(content, path)
    with pytest.raises(GenstyleError, match=rf"^{network.WHAT} .*{re.escape(message)}.*{re.escape(network.TRAIN_COMMAND)}"):
        network.read_checkpoint(path)


@pytest.mark.parametrize("network", NETWORKS)
def test_a_good_file_loads_and_its_hash_is_its_sha256(network, tmp_path):
    path = tmp_path / "weights.pt"
    torch.save({"format_version": network.FORMAT_VERSION, "state_dict": {"w": torch.ones(2)}}, path)
    assert torch.equal(network.read_checkpoint(path)["state_dict"]["w"], torch.ones(2))
    assert network.weights_sha256(path) == hashlib.sha256(path.read_bytes()).hexdigest()

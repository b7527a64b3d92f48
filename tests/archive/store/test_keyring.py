from __future__ import annotations

import stat
from pathlib import Path

import pytest

from archive.kit.errors import ConfigurationError
from archive.store.keyring import Keyring


def test_generated_keyring_is_private_and_reloads(tmp_path: Path) -> None:
    path = tmp_path / "keys" / "keyring.json"
    ring = Keyring.load_or_create(path)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    again = Keyring.load_or_create(path)
    assert again.keys == ring.keys and again.index_key == ring.index_key and again.active == ring.active


def test_add_key_keeps_old_keys(tmp_path: Path) -> None:
    ring = Keyring.generate(tmp_path / "k.json")
    first = ring.active
    second = ring.add_key()
    assert second != first and set(ring.keys) == {first, second} and ring.active == second


@pytest.mark.parametrize(
    "content", ["not json", '{"active": "k9", "keys": {"k1": "AAAA"}, "index_key": "AAAA"}', "{}"]
)
def test_malformed_keyring_is_refused(tmp_path: Path, content: str) -> None:
    path = tmp_path / "k.json"
    path.write_text(content)
    with pytest.raises(ConfigurationError):
        Keyring.load(path)


def test_unknown_key_id_is_a_configuration_error() -> None:
    with pytest.raises(ConfigurationError):
        Keyring.generate().kek("nope")

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


def _load_or_create(path: str, start: object, out: object) -> None:
    start.wait()  # type: ignore[attr-defined]
    ring = Keyring.load_or_create(Path(path))
    out.put((ring.active, ring.keys[ring.active], ring.index_key))  # type: ignore[attr-defined]


def test_processes_creating_the_keyring_at_once_agree_on_one(tmp_path: Path) -> None:
    """Eight processes meeting a fresh data directory together (the importer's workers did): one keyring
    wins, every process uses it, and no temporary file is left behind."""
    import multiprocessing

    ctx = multiprocessing.get_context("fork")
    path = tmp_path / "data" / "keyring.json"
    for _ in range(5):
        path.unlink(missing_ok=True)
        start, out = ctx.Barrier(8), ctx.Queue()
        procs = [ctx.Process(target=_load_or_create, args=(str(path), start, out)) for _ in range(8)]
        for p in procs:
            p.start()
        got = {out.get(timeout=30) for _ in procs}
        for p in procs:
            p.join(timeout=30)
            assert p.exitcode == 0
        on_disk = Keyring.load(path)
        assert got == {(on_disk.active, on_disk.keys[on_disk.active], on_disk.index_key)}
        assert sorted(x.name for x in path.parent.iterdir()) == ["keyring.json"]

"""Key-encryption keys (KEKs) and the blind-index key, by key id.

File format (JSON, 0600): {"active": "k2", "keys": {"k1": b64, "k2": b64}, "index_key": b64}.
The embedded profile generates one on first use; production requires an existing file. The index key is
never rotated in place: changing it means `chatvault reindex`."""

from __future__ import annotations

import base64
import errno
import json
import os
import secrets
from dataclasses import dataclass, field
from pathlib import Path

from archive.kit.errors import ConfigurationError


def _b64(raw: bytes) -> str:
    return base64.b64encode(raw).decode()


@dataclass
class Keyring:
    active: str
    keys: dict[str, bytes]
    index_key: bytes
    path: Path | None = field(default=None, compare=False)

    def kek(self, key_id: str) -> bytes:
        try:
            return self.keys[key_id]
        except KeyError:
            raise ConfigurationError(f"key id {key_id!r} is not in the keyring") from None

    @property
    def active_kek(self) -> bytes:
        return self.kek(self.active)

    @classmethod
    def generate(cls, path: Path | None = None) -> Keyring:
        return cls(
            active="k1", keys={"k1": secrets.token_bytes(32)}, index_key=secrets.token_bytes(32), path=path
        )

    def add_key(self) -> str:
        """Add a fresh KEK and make it active; old keys stay so existing wrapped keys still open."""
        n = 1 + max((int(k[1:]) for k in self.keys if k[1:].isdigit()), default=0)
        key_id = f"k{n}"
        self.keys[key_id] = secrets.token_bytes(32)
        self.active = key_id
        return key_id

    def to_json(self) -> str:
        return json.dumps(
            {
                "active": self.active,
                "keys": {k: _b64(v) for k, v in sorted(self.keys.items())},
                "index_key": _b64(self.index_key),
            },
            indent=2,
        )

    def save(self, path: Path | None = None) -> None:
        target = path or self.path
        if target is None:
            raise ConfigurationError("keyring has no path to save to")
        tmp = self._write_temp(target)
        try:
            os.replace(tmp, target)
        finally:
            tmp.unlink(missing_ok=True)
        os.chmod(target, 0o600)
        self.path = target

    def _write_temp(self, target: Path) -> Path:
        """The keyring in a private (0600), fsynced temporary file of its own beside `target`."""
        target.parent.mkdir(parents=True, exist_ok=True)
        tmp = target.with_name(f".{target.name}.{os.getpid()}.{secrets.token_hex(4)}.tmp")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as fh:
            fh.write(self.to_json())
            fh.flush()
            os.fsync(fh.fileno())
        return tmp

    @classmethod
    def load(cls, path: Path) -> Keyring:
        try:
            data = json.loads(path.read_text())
            keys = {k: base64.b64decode(v) for k, v in data["keys"].items()}
            ring = cls(
                active=data["active"], keys=keys, index_key=base64.b64decode(data["index_key"]), path=path
            )
        except (OSError, ValueError, KeyError, TypeError) as exc:
            raise ConfigurationError(
                f"keyring {path} is unreadable or malformed: {type(exc).__name__}"
            ) from None
        if (
            ring.active not in ring.keys
            or any(len(k) != 32 for k in ring.keys.values())
            or len(ring.index_key) != 32
        ):
            raise ConfigurationError(
                f"keyring {path} is malformed: keys must be 32 bytes and active must exist"
            )
        return ring

    @classmethod
    def load_or_create(cls, path: Path) -> Keyring:
        """The keyring at `path`, generated on first use. Two processes starting at once agree on one
        keyring: each writes its own to a private temporary file and hard-links it into place, which fails
        if the other got there first; the loser loads the winner's (a keyring replaced after records were
        sealed with it would lose them)."""
        if path.exists():
            return cls.load(path)
        ring = cls.generate(path)
        tmp = ring._write_temp(path)
        try:
            try:
                os.link(tmp, path)
            except FileExistsError:
                return cls.load(path)
            except OSError as exc:  # a filesystem without hard links: plain rename, last writer wins
                if exc.errno not in (errno.EPERM, errno.ENOTSUP, errno.EOPNOTSUPP, errno.EXDEV):
                    raise
                os.replace(tmp, path)
        finally:
            tmp.unlink(missing_ok=True)
        return ring

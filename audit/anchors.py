"""Anchors of the access log outside the database.

The hash chain alone shows an edited, deleted or reordered entry, but not that the newest entries were cut
off, nor a chain that someone with write access to the database edited and then hashed again from the edit
onwards (the hash is unkeyed, so anyone can). An anchor is the chain's head at one moment (the entry's id
and hash), MACed with a key derived from the keyring, which the database does not hold, and written to the
blob store: under object lock (WORM, COMPLIANCE retention) when the MinIO bucket has it, so that it can be
neither deleted nor replaced before its retention date. `verify_chain` given the anchors then also finds a
log that ends before an anchored entry and an anchored entry whose hash is no longer the anchored one.

What an anchor cannot show: changes to the entries written after the newest anchor (`jobs` and the server
write one every `audit_anchor_minutes`), and, without object lock, anchors removed by someone who can
delete blobs as well as edit the database."""

from __future__ import annotations

import hashlib
import hmac
from dataclasses import dataclass
from datetime import datetime

import orjson
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from sqlalchemy import select
from sqlalchemy.orm import Session

from archive.kit.timeutil import utcnow
from archive.store.blobs import BlobStore
from archive.store.models import AccessAudit

PREFIX = "audit-anchors/"
_INFO = b"chatvault access-log anchor v1"


@dataclass(frozen=True)
class Anchor:
    entry_id: int
    hash: str
    at: datetime
    key: str  # where it is stored in the blob store


@dataclass(frozen=True)
class AnchorProblem:
    key: str
    problem: str


def anchor_key(secret: bytes) -> bytes:
    """The MAC key of anchors, derived from a keyring secret (HKDF-SHA256, its own `info`, so it is
    independent of the secret's other uses)."""
    return HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=_INFO).derive(secret)


def _blob_key(entry_id: int) -> str:
    return f"{PREFIX}{entry_id:020d}.json"  # zero-padded: the keys sort by entry


def _mac(key: bytes, entry_id: int, entry_hash: str, at: str) -> str:
    return hmac.new(key, f"{entry_id}\n{entry_hash}\n{at}".encode(), hashlib.sha256).hexdigest()


def write_anchor(session: Session, blobs: BlobStore, key: bytes) -> Anchor | None:
    """Anchor the log's newest committed entry. None when the log is empty or that entry is anchored
    already (nothing was logged since the last anchor)."""
    head = session.execute(
        select(AccessAudit.id, AccessAudit.hash).order_by(AccessAudit.id.desc()).limit(1)
    ).first()
    if head is None:
        return None
    entry_id, entry_hash = int(head[0]), str(head[1])
    blob_key = _blob_key(entry_id)
    if blobs.exists(blob_key):
        return None
    at = utcnow()
    stamp = at.isoformat()
    body = {"v": 1, "entry_id": entry_id, "hash": entry_hash, "at": stamp}
    body["mac"] = _mac(key, entry_id, entry_hash, stamp)
    blobs.put(blob_key, orjson.dumps(body, option=orjson.OPT_SORT_KEYS))
    return Anchor(entry_id, entry_hash, at, blob_key)


def read_anchors(blobs: BlobStore, key: bytes) -> tuple[list[Anchor], list[AnchorProblem]]:
    """Every stored anchor whose MAC is right, oldest entry first, and every stored object under the
    anchors' prefix that is not one (unreadable, altered, or MACed with another key). In an object-lock
    bucket this reads every version, so an anchor hidden by a delete marker or overwritten still counts."""
    good: dict[tuple[int, str], Anchor] = {}
    bad: list[AnchorProblem] = []
    for blob_key, data in blobs.versions(PREFIX):
        try:
            body = orjson.loads(data)
            entry_id, entry_hash, stamp, mac = body["entry_id"], body["hash"], body["at"], body["mac"]
            if not (type(entry_id) is int and all(isinstance(v, str) for v in (entry_hash, stamp, mac))):
                raise TypeError
            at = datetime.fromisoformat(stamp)
        except (orjson.JSONDecodeError, KeyError, TypeError, ValueError):
            bad.append(AnchorProblem(blob_key, "not a readable anchor"))
            continue
        if not hmac.compare_digest(mac, _mac(key, entry_id, entry_hash, stamp)):
            bad.append(
                AnchorProblem(blob_key, "its MAC does not match: altered, or made without the keyring")
            )
        elif blob_key != _blob_key(entry_id):
            bad.append(AnchorProblem(blob_key, f"stored under another entry's name (it anchors {entry_id})"))
        else:
            good.setdefault((entry_id, entry_hash), Anchor(entry_id, entry_hash, at, blob_key))
    return sorted(good.values(), key=lambda a: a.entry_id), bad


__all__ = ["PREFIX", "Anchor", "AnchorProblem", "anchor_key", "read_anchors", "write_anchor"]

"""Blob stores behind one interface (local directory | MinIO) and the segment writer.

Many small objects are slow in any object store, so records are appended to segment objects (one per
ingest batch); each record inside is separately encrypted, so one can be shredded alone by deleting its
wrapped key. The database holds (segment key, offset, length) per record."""

from __future__ import annotations

import contextlib
import hashlib
import io
import os
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Protocol

from archive.kit.errors import ConfigurationError, NotFound, ServiceUnavailable
from archive.kit.ids import new_id
from archive.kit.settings import Settings
from archive.kit.timeutil import utcnow

_KEY = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._/-]{0,250}$")


def check_key(key: str) -> str:
    if not _KEY.match(key) or ".." in key or "//" in key:
        raise ValueError(f"invalid blob key {key!r}")
    return key


class BlobStore(Protocol):
    name: str

    def ensure_ready(self) -> None: ...
    def put(self, key: str, data: bytes, *, retain_until: datetime | None = None) -> None: ...
    def get(self, key: str, offset: int = 0, length: int | None = None) -> bytes: ...
    def delete(self, key: str) -> None: ...
    def exists(self, key: str) -> bool: ...
    def keys(self, prefix: str = "") -> Iterator[str]: ...
    def versions(self, prefix: str) -> Iterator[tuple[str, bytes]]: ...
    def ping(self) -> bool: ...


class LocalBlobStore:
    """Blobs as files under one directory; writes are atomic (temp file, fsync, rename)."""

    name = "local"

    def __init__(self, root: Path) -> None:
        self.root = root

    def _path(self, key: str) -> Path:
        return self.root / check_key(key)

    def ensure_ready(self) -> None:
        self.root.mkdir(parents=True, exist_ok=True, mode=0o700)

    def put(self, key: str, data: bytes, *, retain_until: datetime | None = None) -> None:
        path = self._path(key)
        path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        tmp = path.with_name(path.name + f".{os.getpid()}.tmp")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)

    def get(self, key: str, offset: int = 0, length: int | None = None) -> bytes:
        try:
            with self._path(key).open("rb") as fh:
                fh.seek(offset)
                return fh.read() if length is None else fh.read(length)
        except FileNotFoundError:
            raise NotFound(f"blob {key} does not exist") from None

    def delete(self, key: str) -> None:
        self._path(key).unlink(missing_ok=True)

    def exists(self, key: str) -> bool:
        return self._path(key).is_file()

    def keys(self, prefix: str = "") -> Iterator[str]:
        folder = prefix.rpartition("/")[0]  # walk only the prefix's folder, not every segment
        base = self._path(folder) if folder else self.root
        if not base.is_dir():
            return
        for path in sorted(base.rglob("*")):
            if path.is_file() and not path.name.endswith(".tmp"):
                key = path.relative_to(self.root).as_posix()
                if key.startswith(prefix):
                    yield key

    def versions(self, prefix: str) -> Iterator[tuple[str, bytes]]:
        """Every blob under `prefix` with its content (a directory keeps one version of each)."""
        for key in self.keys(prefix):
            with contextlib.suppress(NotFound):  # deleted meanwhile
                yield key, self.get(key)

    def ping(self) -> bool:
        return self.root.is_dir() and os.access(self.root, os.W_OK)


class MinioBlobStore:
    """Blobs as objects in one MinIO/S3 bucket; optional object lock (WORM, COMPLIANCE retention)."""

    name = "minio"

    def __init__(
        self,
        endpoint: str,
        access_key: str,
        secret_key: str,
        bucket: str,
        *,
        secure: bool = False,
        object_lock: bool = False,
        retention_days: int = 0,
    ) -> None:
        import urllib3
        from minio import Minio

        http = urllib3.PoolManager(
            timeout=urllib3.Timeout(connect=5, read=60),
            retries=urllib3.Retry(total=2, backoff_factor=0.2, status_forcelist=[500, 502, 503, 504]),
            maxsize=10,
        )
        self.client = Minio(
            endpoint, access_key=access_key, secret_key=secret_key, secure=secure, http_client=http
        )
        self.bucket = bucket
        self.object_lock = object_lock
        self.retention_days = retention_days

    def ensure_ready(self) -> None:
        try:
            if not self.client.bucket_exists(self.bucket):
                self.client.make_bucket(self.bucket, object_lock=self.object_lock)
        except Exception as exc:
            raise ServiceUnavailable(
                f"MinIO bucket {self.bucket} unavailable: {type(exc).__name__}"
            ) from None

    def put(self, key: str, data: bytes, *, retain_until: datetime | None = None) -> None:
        from minio.commonconfig import COMPLIANCE
        from minio.retention import Retention

        retention = None
        if self.object_lock:
            until = retain_until or (utcnow() + timedelta(days=self.retention_days or 1))
            retention = Retention(COMPLIANCE, until)
        self.client.put_object(self.bucket, check_key(key), io.BytesIO(data), len(data), retention=retention)

    def get(self, key: str, offset: int = 0, length: int | None = None) -> bytes:
        from minio.error import S3Error

        try:
            resp = self.client.get_object(self.bucket, check_key(key), offset=offset, length=length or 0)
        except S3Error as exc:
            if exc.code in {"NoSuchKey", "NoSuchObject"}:
                raise NotFound(f"blob {key} does not exist") from None
            raise
        try:
            return resp.read()
        finally:
            resp.close()
            resp.release_conn()

    def delete(self, key: str) -> None:
        self.client.remove_object(self.bucket, check_key(key))

    def exists(self, key: str) -> bool:
        from minio.error import S3Error

        try:
            self.client.stat_object(self.bucket, check_key(key))
            return True
        except S3Error:
            return False

    def keys(self, prefix: str = "") -> Iterator[str]:
        for obj in self.client.list_objects(self.bucket, prefix=prefix, recursive=True):
            if obj.object_name:
                yield obj.object_name

    def versions(self, prefix: str) -> Iterator[tuple[str, bytes]]:
        """Every stored version of every object under `prefix` with its content: in a versioned (object
        lock) bucket also those replaced by a later write or hidden by a delete marker, which a listing of
        the current objects does not show."""
        for obj in self.client.list_objects(self.bucket, prefix=prefix, recursive=True, include_version=True):
            if not obj.object_name or obj.is_delete_marker:
                continue
            resp = self.client.get_object(self.bucket, obj.object_name, version_id=obj.version_id)
            try:
                yield obj.object_name, resp.read()
            finally:
                resp.close()
                resp.release_conn()

    def ping(self) -> bool:
        try:
            self.client.bucket_exists(self.bucket)
            return True
        except Exception:
            return False


def make_blob_store(settings: Settings) -> BlobStore:
    if settings.blob_backend == "local":
        return LocalBlobStore(settings.blob_path)
    if settings.blob_backend == "minio":
        return MinioBlobStore(
            settings.minio_endpoint,
            settings.minio_access_key,
            settings.minio_secret_key,
            settings.minio_bucket,
            secure=settings.minio_secure,
            object_lock=settings.minio_object_lock,
            retention_days=settings.minio_retention_days,
        )
    raise ConfigurationError(f"unknown blob backend {settings.blob_backend}")


@dataclass(frozen=True, slots=True)
class BlobRef:
    key: str
    offset: int
    length: int


@dataclass
class SegmentWriter:
    """Collects sealed records for one batch and writes them as a single segment object."""

    store: BlobStore
    prefix: str = "segments"
    key: str = ""
    _buf: bytearray = field(default_factory=bytearray)
    count: int = 0

    def __post_init__(self) -> None:
        if not self.key:
            now = utcnow()
            self.key = f"{self.prefix}/{now:%Y/%m/%d}/{new_id()}.seg"

    def append(self, blob: bytes) -> BlobRef:
        ref = BlobRef(self.key, len(self._buf), len(blob))
        self._buf += blob
        self.count += 1
        return ref

    @property
    def size(self) -> int:
        return len(self._buf)

    def sha256(self) -> str:
        return hashlib.sha256(self._buf).hexdigest()

    def flush(self, retain_until: datetime | None = None) -> None:
        if self.count:
            self.store.put(self.key, bytes(self._buf), retain_until=retain_until)

"""One Settings object (env prefix CHATVAULT_). Embedded defaults need no configuration; the production
profile refuses to start with default secrets or a missing keyring."""

from __future__ import annotations

import os
from functools import lru_cache
from pathlib import Path
from typing import Literal

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

from archive.kit.errors import ConfigurationError

DEFAULT_JWT_SECRET = "chatvault-embedded-default-secret-change-me"  # noqa: S105 - sentinel, refused in production
DEFAULT_MINIO_SECRET = "minioadmin"  # noqa: S105 - sentinel, refused in production


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="CHATVAULT_", env_file=None, extra="ignore")

    profile: Literal["embedded", "production"] = "embedded"
    data_dir: Path = Field(default_factory=lambda: Path.home() / ".local" / "share" / "chatvault")

    database_url: str = ""  # empty: SQLite file in data_dir
    blob_backend: Literal["local", "minio"] = "local"
    blob_dir: Path | None = None  # empty: data_dir/blobs
    search_backend: Literal["sql", "opensearch"] = "sql"

    keyring_path: Path | None = None  # empty: data_dir/keyring.json (generated, 0600) in embedded mode

    minio_endpoint: str = "127.0.0.1:9000"
    minio_access_key: str = "minioadmin"
    minio_secret_key: str = DEFAULT_MINIO_SECRET
    minio_bucket: str = "chatvault"
    minio_secure: bool = False
    minio_object_lock: bool = False
    minio_retention_days: int = 365 * 3

    opensearch_url: str = "http://127.0.0.1:9200"
    opensearch_index: str = "chatvault-messages"
    opensearch_user: str = ""
    opensearch_password: str = ""
    # How soon indexed messages become searchable. OpenSearch's default (1s) makes a segment per second
    # during an import and spends more CPU merging them than indexing: 359 -> 151 us of OpenSearch CPU
    # per document at 5s, measured on paced 500-document bulks (see BENCHMARKS.md).
    opensearch_refresh_interval: str = Field(default="5s", pattern=r"^([1-9][0-9]*(ms|s|m)|-1)$")

    jwt_secret: str = DEFAULT_JWT_SECRET
    token_ttl_minutes: int = 30

    bind_host: str = "127.0.0.1"
    bind_port: int = 8000

    # Lines per batch (one transaction, one segment). 1000 rather than 500: per-batch costs (queries,
    # commit, the WAL pages every index touches) spread over twice the messages. 2000 was faster still
    # but took the import of a 1 GB file to 289 MB PSS (1000: 265 MB; target 300). OpenSearch gets
    # pushes of at least 2000 documents whatever this is (archive.ingest.pipeline.PUSH_DOCS).
    ingest_batch_size: int = Field(default=1000, ge=1, le=100_000)
    # Lines per transaction of a file import: its batches share a transaction until they hold at least this
    # many lines (the checkpoint commits with them, so a crash loses at most these, read again by the
    # rerun). The default commits every batch. Larger transactions cut SQLite's commit work (a replay of
    # a 100 k-message import, committing every 4000 lines: 68.5 → 58.0 µs a message once, 61.5 → 66.2
    # another time) but measured no faster end to end: three alternated runs of 20 k messages, 1000 vs
    # 4000 lines, ratio to jieba.lcut 0.87 / 0.86×, 0.80 / 0.83× (more batches in flight), 0.90 / 0.88×.
    ingest_commit_lines: int = Field(default=1000, ge=1, le=1_000_000)
    # Processes that decode, parse, seal, scan and blind-index batches while the importer writes the
    # previous ones (archive/ingest/prepare.py); 0 does it all in the importing process; unset: one less
    # than the CPUs, at most 2, none on a single CPU (see ingest_worker_count).
    ingest_workers: int | None = Field(default=None, ge=0, le=64)
    ingest_max_line_bytes: int = 1_048_576
    ingest_max_json_depth: int = 32
    segment_max_records: int = 2000

    index_batch_size: int = 500

    notify_webhook_url: str = ""  # alert notifications (tier 2 supervisor, tier 3 compliance)
    smtp_host: str = ""
    smtp_port: int = 25
    smtp_from: str = "chatvault@localhost"
    smtp_to: str = "compliance@localhost"
    review_sample_rate: float = 0.02  # share of unflagged conversations sampled into the review queue
    # The server anchors the access log's head in the blob store this often (audit.anchors); `jobs` and
    # `audit anchor` anchor on each run. 0: the server does not.
    audit_anchor_minutes: int = Field(default=15, ge=0, le=7 * 24 * 60)

    @property
    def sqlalchemy_url(self) -> str:
        if self.database_url:
            return self.database_url
        return f"sqlite:///{self.data_dir / 'chatvault.db'}"

    @property
    def ingest_worker_count(self) -> int:
        if self.ingest_workers is not None:
            return self.ingest_workers
        # The writing process is the bottleneck (≈ 220 µs per message against a worker's ≈ 160): one
        # worker keeps up with it, a second only helps when scanning is heavier than usual. Measured on 2
        # cores: 1 and 2 workers import at the same rate, 2 cost 45 MB more.
        cpus = os.cpu_count() or 1
        return 0 if cpus < 2 else min(cpus - 1, 2)

    @property
    def blob_path(self) -> Path:
        return self.blob_dir or (self.data_dir / "blobs")

    @property
    def keyring_file(self) -> Path:
        return self.keyring_path or (self.data_dir / "keyring.json")

    def check(self) -> None:
        """Refuse unsafe production configurations before anything touches data."""
        if self.profile != "production":
            return
        problems: list[str] = []
        if self.jwt_secret == DEFAULT_JWT_SECRET or len(self.jwt_secret) < 32:
            problems.append("CHATVAULT_JWT_SECRET is the default or shorter than 32 characters")
        if self.blob_backend == "minio" and self.minio_secret_key == DEFAULT_MINIO_SECRET:
            problems.append("CHATVAULT_MINIO_SECRET_KEY is the default")
        if not self.database_url or self.database_url.startswith("sqlite"):
            problems.append("CHATVAULT_DATABASE_URL must point at PostgreSQL in production")
        if self.keyring_path is None or not self.keyring_path.exists():
            problems.append("CHATVAULT_KEYRING_PATH must name an existing keyring file in production")
        if problems:
            raise ConfigurationError("refusing to start: " + "; ".join(problems))


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    return Settings()

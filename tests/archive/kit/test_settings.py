"""Embedded defaults need nothing; production refuses default secrets and a missing keyring."""

from __future__ import annotations

from pathlib import Path

import pytest

from archive.kit.errors import ConfigurationError
from archive.kit.settings import DEFAULT_JWT_SECRET, Settings
from archive.runtime import Runtime
from archive.store.keyring import Keyring


def test_embedded_defaults_work_without_configuration(tmp_path: Path) -> None:
    s = Settings(data_dir=tmp_path)
    s.check()
    assert (
        s.sqlalchemy_url.startswith("sqlite:///") and s.blob_backend == "local" and s.search_backend == "sql"
    )
    rt = Runtime.from_settings(s)
    assert rt.keyring.path == tmp_path / "keyring.json"
    assert (tmp_path / "keyring.json").stat().st_mode & 0o777 == 0o600


def _prod(tmp_path: Path, **over: object) -> Settings:
    ring = tmp_path / "k.json"
    Keyring.generate(ring).save()
    base: dict[str, object] = {
        "profile": "production",
        "database_url": "postgresql+psycopg://u:p@db/chatvault",
        "blob_backend": "minio",
        "minio_secret_key": "a-real-secret-value",
        "jwt_secret": "x" * 40,
        "keyring_path": ring,
    }
    return Settings(**{**base, **over})  # type: ignore[arg-type]


def test_production_accepts_real_secrets(tmp_path: Path) -> None:
    _prod(tmp_path).check()


@pytest.mark.parametrize(
    ("over", "needle"),
    [
        ({"jwt_secret": DEFAULT_JWT_SECRET}, "JWT"),
        ({"jwt_secret": "short"}, "JWT"),
        ({"minio_secret_key": "minioadmin"}, "MINIO"),
        ({"database_url": ""}, "DATABASE_URL"),
        ({"database_url": "sqlite:///x.db"}, "DATABASE_URL"),
        ({"keyring_path": Path("/nonexistent/keyring.json")}, "KEYRING"),
    ],
)
def test_production_refuses_defaults(tmp_path: Path, over: dict[str, object], needle: str) -> None:
    with pytest.raises(ConfigurationError) as err:
        Runtime.from_settings(_prod(tmp_path, **over))
    assert needle in err.value.detail


def test_settings_from_environment(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("CHATVAULT_DATA_DIR", str(tmp_path))
    monkeypatch.setenv("CHATVAULT_SEARCH_BACKEND", "opensearch")
    s = Settings()
    assert s.data_dir == tmp_path and s.search_backend == "opensearch"


@pytest.mark.parametrize(("cpus", "expected"), [(None, 0), (1, 0), (2, 1), (3, 2), (16, 2)])
def test_ingest_workers_default_to_one_less_than_the_cpus_up_to_two(
    monkeypatch: pytest.MonkeyPatch, cpus: int | None, expected: int
) -> None:
    monkeypatch.setattr("archive.kit.settings.os.cpu_count", lambda: cpus)
    assert Settings().ingest_worker_count == expected
    assert Settings(ingest_workers=1).ingest_worker_count == 1
    assert Settings(ingest_workers=0).ingest_worker_count == 0


@pytest.mark.parametrize("value", ["soon", "0s", "5", "1h", ""])
def test_refresh_interval_must_be_an_opensearch_time(value: str) -> None:
    from pydantic import ValidationError

    with pytest.raises(ValidationError):
        Settings(opensearch_refresh_interval=value)
    assert Settings(opensearch_refresh_interval="30s").opensearch_refresh_interval == "30s"

"""Imports every domain's models so Base.metadata is complete (Alembic, tests)."""

from archive.ingest import models as ingest_models
from archive.risk import models as risk_models
from archive.search import models as search_models
from archive.store import models as core_models

__all__ = ["core_models", "ingest_models", "risk_models", "search_models"]

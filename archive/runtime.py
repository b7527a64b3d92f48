"""The composition root: builds the configured engine, keyring, blob store, search backend and analyser
once from Settings. api/ and the jobs hold one Runtime; services receive the pieces they need."""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cached_property
from typing import TYPE_CHECKING

from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session, sessionmaker

from archive.kit.errors import ConfigurationError
from archive.kit.settings import Settings
from archive.store.blobs import BlobStore, make_blob_store
from archive.store.crypto import Envelope
from archive.store.db import make_engine, make_sessionmaker
from archive.store.keyring import Keyring

if TYPE_CHECKING:
    from archive.risk.analyzer import Analyzer
    from archive.search.backend import SearchBackend
    from archive.search.blind import BlindIndex


@dataclass
class Runtime:
    settings: Settings
    _keyring: Keyring | None = field(default=None, repr=False)
    lexicon_id: int = 0

    @classmethod
    def from_settings(cls, settings: Settings) -> Runtime:
        settings.check()
        if settings.profile == "embedded":
            settings.data_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
        return cls(settings)

    @cached_property
    def keyring(self) -> Keyring:
        if self._keyring is not None:
            return self._keyring
        path = self.settings.keyring_file
        if self.settings.profile == "production":
            if not path.exists():
                raise ConfigurationError(f"keyring {path} is missing")
            return Keyring.load(path)
        return Keyring.load_or_create(path)

    @cached_property
    def envelope(self) -> Envelope:
        return Envelope(self.keyring)

    @cached_property
    def audit_anchor_key(self) -> bytes:
        """The MAC key of the access log's anchors (audit.anchors), derived from the keyring."""
        from audit.anchors import anchor_key

        return anchor_key(self.keyring.index_key)

    @cached_property
    def engine(self) -> Engine:
        return make_engine(self.settings.sqlalchemy_url)

    @cached_property
    def sessions(self) -> sessionmaker[Session]:
        return make_sessionmaker(self.engine)

    @cached_property
    def blobs(self) -> BlobStore:
        store = make_blob_store(self.settings)
        store.ensure_ready()
        return store

    @cached_property
    def blind(self) -> BlindIndex:
        from archive.search.blind import BlindIndex

        return BlindIndex(self.keyring.index_key)

    @cached_property
    def search(self) -> SearchBackend:
        from archive.search.backend import make_backend

        return make_backend(self.settings, self.engine)

    @cached_property
    def analyzer(self) -> Analyzer:
        """The analyser over the active lexicon; `refresh_lexicon` hot-swaps it when an admin changes it."""
        from archive.risk.analyzer import Analyzer
        from archive.risk.service import active_lexicon

        with self.sessions() as session:
            self.lexicon_id, lex = active_lexicon(session)
        return Analyzer(lex)

    def refresh_lexicon(self) -> None:
        from archive.risk.service import refresh_analyzer

        analyzer = self.analyzer
        with self.sessions() as session:
            self.lexicon_id = refresh_analyzer(session, analyzer, self.lexicon_id)

    def close(self) -> None:
        if "engine" in self.__dict__:
            self.engine.dispose()

"""Per-application services (settings, database, object store, upload limits) and the per-request database session."""

from __future__ import annotations

from dataclasses import dataclass, field

from flask import Flask, current_app, g
from sqlalchemy.orm import Session

from archive.db import Database
from archive.replication import open_archive_store
from archive.store import ObjectStore
from ocr.limits import Limits
from search.engines import open_engine
from search.model import Engine
from sijill.health import HealthCache
from sijill.settings import Settings

EXTENSION_KEY = "sijill"


@dataclass
class Runtime:
    settings: Settings
    db: Database
    _store: ObjectStore | None = field(default=None, init=False, repr=False)
    _store_url: str | None = field(default=None, init=False, repr=False)
    _search: Engine | None = field(default=None, init=False, repr=False)
    _search_url: str | None = field(default=None, init=False, repr=False)
    _health: HealthCache | None = field(default=None, init=False, repr=False)

    @property
    def store(self) -> ObjectStore:
        """The object store of ``settings.storage_url``, opened on first use (opening contacts nothing).

        Reopened if the settings were replaced with another storage URL (tests and the health check do that).
        """
        if self._store is None or self._store_url != self.settings.storage_url:
            self._store = open_archive_store(self.settings.storage_url, self.settings.replica_url, self.db)
            self._store_url = self.settings.storage_url
        return self._store

    @property
    def search(self) -> Engine:
        """The search engine of ``settings.search_url``, opened on first use and again if the URL changes."""
        if self._search is None or self._search_url != self.settings.search_url:
            self._search = open_engine(self.settings.search_url)
            self._search_url = self.settings.search_url
        return self._search

    @property
    def health(self) -> HealthCache:
        """This process's cached health report (``/healthz``), made on first use."""
        if self._health is None:
            from sijill.health import report, run_checks

            self._health = HealthCache(lambda: report(run_checks(self.settings, self.db)))
        return self._health

    @property
    def limits(self) -> Limits:
        """What one uploaded file may cost, from the settings (the request as a whole is capped by Flask)."""
        return Limits(max_bytes=self.settings.max_upload_bytes)


def install(app: Flask, runtime: Runtime) -> None:
    app.extensions[EXTENSION_KEY] = runtime

    @app.teardown_appcontext
    def close_session(_exc: BaseException | None) -> None:
        session: Session | None = g.pop("db_session", None)
        if session is not None:
            session.rollback()
            session.close()


def runtime() -> Runtime:
    value: Runtime = current_app.extensions[EXTENSION_KEY]
    return value


def db_session() -> Session:
    """The request's session; views commit explicitly, anything uncommitted is rolled back at teardown."""
    if "db_session" not in g:
        g.db_session = runtime().db.sessions()
    session: Session = g.db_session
    return session

"""Per-application services (settings, database) and the per-request database session."""

from __future__ import annotations

from dataclasses import dataclass

from flask import Flask, current_app, g
from sqlalchemy.orm import Session

from archive.db import Database
from sijill.settings import Settings

EXTENSION_KEY = "sijill"


@dataclass
class Runtime:
    settings: Settings
    db: Database


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

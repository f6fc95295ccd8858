"""Alembic environment: the URL comes from ``archive.migrate.alembic_config``, never from an ini file."""

from __future__ import annotations

from alembic import context

from archive.db import make_engine
from archive.models import Base

config = context.config
target_metadata = Base.metadata


def run_migrations() -> None:
    url = config.attributes["database_url"]
    if context.is_offline_mode():
        context.configure(url=url, target_metadata=target_metadata, literal_binds=True, render_as_batch=True)
        with context.begin_transaction():
            context.run_migrations()
        return
    engine = make_engine(url)
    try:
        with engine.connect() as connection:
            context.configure(
                connection=connection,
                target_metadata=target_metadata,
                render_as_batch=connection.dialect.name == "sqlite",
                compare_type=True,
            )
            with context.begin_transaction():
                context.run_migrations()
    finally:
        engine.dispose()


run_migrations()

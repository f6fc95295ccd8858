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
            sqlite = connection.dialect.name == "sqlite"
            if sqlite:
                # A batch "ALTER" on SQLite copies the table and drops the old one; with foreign keys enforced that
                # DROP fails as soon as any row references the table (an archive with data, not an empty test one).
                # The pragma is a no-op inside a transaction, hence the commit before Alembic's own.
                connection.exec_driver_sql("PRAGMA foreign_keys=OFF")
                connection.commit()
            context.configure(
                connection=connection,
                target_metadata=target_metadata,
                render_as_batch=connection.dialect.name == "sqlite",
                compare_type=True,
            )
            with context.begin_transaction():
                context.run_migrations()
            if sqlite:
                broken = connection.exec_driver_sql("PRAGMA foreign_key_check").fetchall()
                connection.exec_driver_sql("PRAGMA foreign_keys=ON")
                connection.commit()
                if broken:
                    raise RuntimeError(f"The migration left rows whose foreign keys point nowhere: {broken[:5]}")
    finally:
        engine.dispose()


run_migrations()

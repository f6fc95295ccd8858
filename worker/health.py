"""Broker reachability for ``/healthz`` and ``sijill check``: a real round trip, bounded to a few seconds."""

from __future__ import annotations

import time
from urllib.parse import urlsplit, urlunsplit

from kombu import Connection
from sqlalchemy import text

from sijill.settings import Settings
from worker.celery_app import broker_transport_options, celery_broker_url


class BrokerUnavailable(RuntimeError):
    """The message broker could not be reached; the message is one sentence for the operator."""


def check_broker(settings: Settings, timeout: float = 3.0) -> str:
    """Connect to the broker and return a short detail string, or raise :class:`BrokerUnavailable`.

    kombu's ``ensure_connection`` alone is not enough: for the SQLAlchemy transport it opens nothing, so the
    check also runs a trivial query there.
    """
    started = time.monotonic()
    options = broker_transport_options(settings)
    if "socket_connect_timeout" in options:  # Redis: also bound replies, or a silent server hangs the check
        options.update(socket_connect_timeout=timeout, socket_timeout=timeout)
    if "connect_args" in options and "connect_timeout" in options["connect_args"]:
        options["connect_args"] = {**options["connect_args"], "connect_timeout": max(1, round(timeout))}
    conn = Connection(celery_broker_url(settings), connect_timeout=timeout, transport_options=options)
    safe_url = masked_url(settings.broker_url)
    try:
        conn.ensure_connection(max_retries=1, interval_start=0, interval_step=0, timeout=timeout)
        if type(conn.transport).__module__.startswith("kombu.transport.sqlalchemy"):
            _ping_sqlalchemy(conn)
        driver = conn.transport.driver_name
    except Exception as exc:  # any failure means "unreachable"; the cause goes in the message
        reason = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise BrokerUnavailable(f"The message broker at {safe_url} is unreachable: {reason}") from exc
    finally:
        conn.release()
    return f"{driver} broker at {safe_url} reachable in {(time.monotonic() - started) * 1000:.0f} ms"


def masked_url(url: str) -> str:
    """The URL with any password replaced by ``***``, safe for health pages and logs."""
    parts = urlsplit(url)
    if parts.password is None:
        return url
    netloc = parts.netloc.rsplit("@", 1)[1]
    user = parts.username or ""
    return urlunsplit(parts._replace(netloc=f"{user}:***@{netloc}"))


def _ping_sqlalchemy(conn: Connection) -> None:
    """Run ``SELECT 1`` through the transport's own engine (which creates kombu's tables on first use)."""
    channel = conn.default_channel
    session = channel.session  # type: ignore[attr-defined]
    try:
        session.execute(text("SELECT 1"))
    finally:
        session.close()

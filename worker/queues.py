"""How many messages wait in each of Sijill's queues, on any broker (for ``/metrics``)."""

from __future__ import annotations

from kombu import Connection

from sijill.settings import Settings
from worker.celery_app import DEFAULT_QUEUE, OCR_QUEUE, broker_transport_options, celery_broker_url

QUEUES = (OCR_QUEUE, DEFAULT_QUEUE)


def queue_depths(settings: Settings, timeout: float = 2.0) -> dict[str, int]:
    """Messages waiting per queue (kombu's passive declare: Redis list length, SQL rows, ...); a queue nobody
    declared yet counts 0. Raises on an unreachable broker."""
    options = broker_transport_options(settings)
    conn = Connection(celery_broker_url(settings), connect_timeout=timeout, transport_options=options)
    try:
        conn.ensure_connection(max_retries=1, interval_start=0, interval_step=0, timeout=timeout)
        channel = conn.default_channel
        depths: dict[str, int] = {}
        for name in QUEUES:
            try:
                depths[name] = int(channel.queue_declare(queue=name, passive=True).message_count)
            except Exception:  # not declared yet
                depths[name] = 0
        return depths
    finally:
        conn.release()

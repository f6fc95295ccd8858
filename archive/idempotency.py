"""How long the API's idempotency keys are kept (the rows ``web.api.idempotency`` writes), and their pruning.

A client retries a lost answer within seconds or minutes; a portal with an offline queue within days. Keys are kept
:data:`KEEP` and then removed by the daily beat task ``api.prune_idempotency_keys``; a retry after that is judged
afresh, like a request without a key.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import delete
from sqlalchemy.orm import Session

from archive.models import IdempotencyKey, utcnow

KEEP = timedelta(days=30)


def prune_idempotency_keys(session: Session, *, now: datetime | None = None) -> int:
    """Delete the keys older than :data:`KEEP`; returns how many. The caller commits."""
    cutoff = (now or utcnow()) - KEEP
    result = session.execute(delete(IdempotencyKey).where(IdempotencyKey.created_at < cutoff)
                             .execution_options(synchronize_session=False))
    return int(result.rowcount or 0)  # type: ignore[attr-defined]

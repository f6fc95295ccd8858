"""Record what a signed-in person looked at or changed, in the request's transaction.

Views call :func:`audit` after their access checks pass and before they commit (or with ``commit=True`` when the
view writes nothing else), so a refused request leaves no event and an allowed one always does.
"""

from __future__ import annotations

from typing import Any

from archive.audit import record_event
from web.permissions import current_principal
from web.runtime import db_session


def audit(action: str, subject: str, *, commit: bool = False, **details: Any) -> None:
    principal = current_principal()
    session = db_session()
    record_event(session, actor=principal.username if principal is not None else None, action=action,
                 subject=subject, details=details)
    if commit:
        session.commit()

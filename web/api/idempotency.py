"""``Idempotency-Key`` on the API's POSTs that create or decide: a retried request returns the first answer.

A client that lost the response to ``POST /api/v1/applications`` or to a decision does not know whether it was
done; it sends the same request again with the same ``Idempotency-Key`` header and gets the first request's status
and body (with ``Idempotent-Replayed: true``), and nothing new is created or decided.

How it holds (see ``docs/ARCHITECTURE.md``, "Idempotency"):

* The key is stored per user (``idempotency_keys``: user, key, a fingerprint of the request, and once done the
  response's status, body and ``Location``) in the *same database transaction* as the change. The claim row is the
  request's first write; the view records its response on it just before the commit (:func:`respond`). So a crash
  between the commit and the response leaves the answer to replay, and a crash before the commit leaves neither the
  change nor the key, so the retry simply runs.
* Concurrent duplicates never both run: the second one's insert of the same (user, key) waits on the first's
  uncommitted row (PostgreSQL's unique index; SQLite's single writer lock), then fails once the first commits and
  replays its answer; if the first was refused and rolled back, the second runs as if it were the first.
* Only successful answers are stored. A refusal (4xx) or an error writes nothing, key included, so a retry is
  judged again on the file as it then stands, which is what a client fixing its input needs.
* The same key with a different request (method, path, form fields, files' SHA-256, JSON body; secrets such as a
  PKCS#12 passphrase are left out of the fingerprint) is refused with 422 ``idempotency_key_reused``.
"""

from __future__ import annotations

import functools
import hashlib
import json
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TypeVar

from flask import Response, g, request
from marshmallow import Schema
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from archive.models import IdempotencyKey, utcnow
from web.errors import ExplainedError
from web.permissions import current_principal
from web.runtime import db_session

F = TypeVar("F", bound=Callable[..., Any])

HEADER = "Idempotency-Key"
REPLAYED_HEADER = "Idempotent-Replayed"
KEY_PATTERN = re.compile(r"[\x21-\x7e]{1,255}")
"""Visible ASCII, 1 to 255 characters (a UUID is the usual choice)."""
SECRET_FIELDS = frozenset({"passphrase", "password", "pin"})
"""Form fields left out of the fingerprint, so no hash of a secret is kept."""

BAD_KEY = ("مفتاح عدم التكرار (⁦Idempotency-Key⁩) غير صالح: من 1 إلى 255 حرفًا لاتينيًا مرئيًا.",
           "The Idempotency-Key header must be 1 to 255 visible ASCII characters.")
KEY_REUSED = ("استُخدم مفتاح عدم التكرار هذا من قبل لطلب مختلف؛ استخدم مفتاحًا جديدًا لكل طلب جديد.",
              "This Idempotency-Key was already used for a different request; use a new key for each new request.")
IN_PROGRESS = ("طلب بالمفتاح نفسه قيد التنفيذ الآن؛ أعد المحاولة بعد لحظات.",
               "A request with the same Idempotency-Key is being processed; retry in a moment.")

PARAMETER: dict[str, Any] = {
    "name": HEADER,
    "in": "header",
    "required": False,
    "schema": {"type": "string", "minLength": 1, "maxLength": 255, "pattern": r"^[\x21-\x7e]+$"},
    "description": "Optional. A unique value per request (e.g. a UUID). A retry with the same key returns the "
                   "first request's status and body (header Idempotent-Replayed: true) and changes nothing; the "
                   "same key with a different request is refused with 422 idempotency_key_reused.",
}
RESPONSES: dict[int, str] = {
    400: "Bad input or a malformed Idempotency-Key; nothing was written",
    422: "The body failed validation, or the Idempotency-Key was used for a different request",
}


@dataclass
class Claim:
    row: IdempotencyKey


def idempotent(view: F) -> F:
    """Honour ``Idempotency-Key`` on this view (put it under ``@requires``; the view answers with :func:`respond`)."""

    @functools.wraps(view)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        raw = request.headers.get(HEADER)
        if raw is None:
            return view(*args, **kwargs)
        key = raw.strip()
        if not KEY_PATTERN.fullmatch(key):
            raise ExplainedError(400, *BAD_KEY, "bad_idempotency_key")
        principal = current_principal()
        assert principal is not None  # @requires ran first
        replay, claim = _claim(db_session(), principal.id, key, fingerprint())
        if replay is not None:
            return replay
        g.idempotency_claim = claim
        try:
            return view(*args, **kwargs)
        finally:
            g.pop("idempotency_claim", None)

    return wrapper  # type: ignore[return-value]


def remember(schema: type[Schema] | Schema, body: Any, status: int = 200,
             headers: dict[str, str] | None = None) -> Response:
    """Serialise ``body`` with ``schema`` and record it on the request's key (if any), in the caller's transaction,
    which the caller then commits; returns the response to send."""
    text = json.dumps((schema() if isinstance(schema, type) else schema).dump(body), ensure_ascii=False)
    headers = dict(headers or {})
    claim: Claim | None = g.get("idempotency_claim")
    if claim is not None:
        claim.row.status_code = status
        claim.row.response_body = text
        claim.row.response_headers = {k: v for k, v in headers.items() if k == "Location"}
        claim.row.completed_at = utcnow()
    return Response(text, status=status, headers=headers, mimetype="application/json")


def respond(
    session: Session, schema: type[Schema] | Schema, body: Any, status: int = 200, headers: dict[str, str] | None = None
) -> Response:
    """:func:`remember`, then commit: the views' one way to finish a successful change, so the answer a retry will
    get is written in the change's own transaction."""
    response = remember(schema, body, status, headers)
    session.commit()
    return response


def fingerprint() -> str:
    """SHA-256 over what makes this request this request: method, path, and the body as parsed (multipart boundaries
    and field order do not matter; each file counts by its name, field and SHA-256)."""
    digest = hashlib.sha256()

    def add(*parts: str) -> None:
        for part in parts:
            data = part.encode("utf-8", "surrogatepass")
            digest.update(len(data).to_bytes(8, "big"))
            digest.update(data)

    add(request.method, request.path)
    if request.mimetype in ("multipart/form-data", "application/x-www-form-urlencoded"):
        for name, value in sorted(request.form.items(multi=True)):
            add("form", name, "" if name in SECRET_FIELDS else value)
        files = sorted(request.files.items(multi=True), key=lambda item: (item[0], item[1].filename or ""))
        for name, storage in files:
            add("file", name, storage.filename or "", _file_digest(storage.stream))
    else:
        data = request.get_data(cache=True)
        try:
            canonical = json.dumps(json.loads(data), sort_keys=True, ensure_ascii=False) if data else ""
            add("json", canonical)
        except ValueError:
            add("raw", hashlib.sha256(data).hexdigest())
    return digest.hexdigest()


def _file_digest(stream: Any) -> str:
    digest = hashlib.sha256()
    position = stream.tell()
    for chunk in iter(lambda: stream.read(1024 * 1024), b""):
        digest.update(chunk)
    stream.seek(position)
    return digest.hexdigest()


def _find(session: Session, user_id: int, key: str) -> IdempotencyKey | None:
    return session.scalar(select(IdempotencyKey).where(IdempotencyKey.user_id == user_id, IdempotencyKey.key == key))


def _claim(session: Session, user_id: int, key: str, print_: str) -> tuple[Response | None, Claim | None]:
    """Replay the stored answer, or insert the claim row as this transaction's first write."""
    existing = _find(session, user_id, key)
    if existing is None:
        row = IdempotencyKey(user_id=user_id, key=key, fingerprint=print_, method=request.method,
                             path=request.path[:500], created_at=utcnow())
        session.add(row)
        try:
            session.flush()  # waits here while a concurrent duplicate's transaction holds the same key
            return None, Claim(row)
        except IntegrityError:
            session.rollback()
            existing = _find(session, user_id, key)
            if existing is None:
                raise ExplainedError(409, *IN_PROGRESS, "idempotency_in_progress") from None
    session.rollback()
    return _replay(existing, print_), None


def _replay(row: IdempotencyKey, print_: str) -> Response:
    if row.fingerprint != print_:
        raise ExplainedError(422, *KEY_REUSED, "idempotency_key_reused")
    if row.status_code is None or row.response_body is None:
        raise ExplainedError(409, *IN_PROGRESS, "idempotency_in_progress")
    headers = {**(row.response_headers or {}), REPLAYED_HEADER: "true"}
    return Response(row.response_body, status=row.status_code, headers=headers, mimetype="application/json")


def document(operation: dict[str, Any] | None = None) -> dict[str, Any]:
    """OpenAPI additions for an idempotent operation (``@blp.doc(**document())``)."""
    return {"parameters": [PARAMETER], **(operation or {})}

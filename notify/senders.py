"""Senders chosen by URL: where an SMS or an e-mail goes, and what came back.

=====================================  ===================================================================
URL                                    sender
=====================================  ===================================================================
``log://``                             writes the message to the ``sijill.notify`` log (development)
``smtp://[user:pass@]host:port``       SMTP (``?from=sijill@example.gov.eg``, ``?starttls=1``)
``smtps://[user:pass@]host:port``      SMTP over TLS from the first byte
``http(s)://[token@]gateway/path``     an HTTP SMS gateway: ``POST`` JSON ``{"to", "text", "sender"}``,
                                       ``Authorization: Bearer <token>`` when the URL carries one
=====================================  ===================================================================

Each :meth:`Sender.send` returns a :class:`SendResult` instead of raising for delivery problems, so the caller can
record every attempt. ``permanent`` marks a refusal no retry can fix (SMTP 5xx for the recipient, HTTP 4xx other than
408/429); everything else (connection refused, timeouts, 4xx SMTP, HTTP 5xx) is worth another try.
"""

from __future__ import annotations

import json
import logging
import smtplib
import ssl
import urllib.error
import urllib.request
from dataclasses import dataclass
from email.headerregistry import Address
from email.message import EmailMessage
from email.utils import make_msgid
from typing import Protocol
from urllib.parse import parse_qs, unquote, urlsplit

log = logging.getLogger("sijill.notify")

EMAIL_SCHEMES = ("log", "smtp", "smtps")
SMS_SCHEMES = ("log", "http", "https")
DEFAULT_FROM = "sijill@localhost"
SMS_SENDER_NAME = "Sijill"
TIMEOUT = 20.0


@dataclass(frozen=True)
class Outgoing:
    """What to send: one message to one recipient."""

    channel: str
    recipient: str
    subject: str | None
    body: str
    reference: str
    """A stable id (``sijill-notification-<id>``): the e-mail's Message-ID seed, the gateway's client reference."""


@dataclass(frozen=True)
class SendResult:
    ok: bool
    detail: str
    permanent: bool = False
    provider_id: str | None = None


class Sender(Protocol):
    name: str

    def send(self, message: Outgoing) -> SendResult: ...


class LogSender:
    """Development: the message goes to the log and counts as sent."""

    name = "log"

    def send(self, message: Outgoing) -> SendResult:
        log.info("notification %s to %s via %s: %s%s", message.reference, message.recipient, message.channel,
                 f"[{message.subject}] " if message.subject else "", message.body)
        return SendResult(ok=True, detail="logged", provider_id=message.reference)


class SmtpSender:
    """E-mail through an SMTP server (smtplib); a new connection per message, which suits a trickle of mail."""

    name = "smtp"

    def __init__(self, url: str) -> None:
        parts = urlsplit(url)
        query = parse_qs(parts.query)
        self.host = parts.hostname or "localhost"
        self.tls = parts.scheme == "smtps"
        self.port = parts.port or (465 if self.tls else 25)
        self.starttls = query.get("starttls", ["0"])[0] in ("1", "true", "yes")
        self.username = unquote(parts.username) if parts.username else None
        self.password = unquote(parts.password) if parts.password else None
        self.sender = query.get("from", [DEFAULT_FROM])[0]

    def send(self, message: Outgoing) -> SendResult:
        mail = EmailMessage()
        mail["From"] = Address("سجل - مراكز خدمات المواطنين", addr_spec=self.sender)
        mail["To"] = message.recipient
        mail["Subject"] = message.subject or "سجل"
        mail["Message-ID"] = make_msgid(idstring=message.reference, domain=self.sender.rpartition("@")[2] or None)
        mail["Content-Language"] = "ar"
        mail.set_content(message.body, charset="utf-8")
        try:
            client: smtplib.SMTP
            if self.tls:
                client = smtplib.SMTP_SSL(self.host, self.port, timeout=TIMEOUT, context=ssl.create_default_context())
            else:
                client = smtplib.SMTP(self.host, self.port, timeout=TIMEOUT)
            with client:
                if self.starttls:
                    client.starttls(context=ssl.create_default_context())
                if self.username:
                    client.login(self.username, self.password or "")
                refused = client.send_message(mail)
        except smtplib.SMTPRecipientsRefused as exc:
            code, text = next(iter(exc.recipients.values()))
            return SendResult(ok=False, detail=f"recipient refused: {code} {_text(text)}", permanent=code >= 500)
        except smtplib.SMTPResponseException as exc:
            return SendResult(ok=False, detail=f"SMTP {exc.smtp_code} {_text(exc.smtp_error)}",
                              permanent=exc.smtp_code >= 500)
        except (OSError, smtplib.SMTPException) as exc:
            return SendResult(ok=False, detail=f"{type(exc).__name__}: {exc}")
        if refused:
            return SendResult(ok=False, detail=f"refused: {refused}", permanent=True)
        return SendResult(ok=True, detail=f"accepted by {self.host}:{self.port}", provider_id=str(mail["Message-ID"]))


class HttpSmsSender:
    """An SMS gateway reached over HTTP(S): JSON in, 2xx (with an optional ``id``) out."""

    name = "http"

    def __init__(self, url: str) -> None:
        parts = urlsplit(url)
        self.token = unquote(parts.username) if parts.username else None
        netloc = parts.hostname or ""
        if parts.port:
            netloc += f":{parts.port}"
        self.endpoint = f"{parts.scheme}://{netloc}{parts.path or '/'}" + (f"?{parts.query}" if parts.query else "")

    def send(self, message: Outgoing) -> SendResult:
        payload = {"to": international(message.recipient), "text": message.body, "sender": SMS_SENDER_NAME,
                   "reference": message.reference}
        request = urllib.request.Request(  # noqa: S310 - the scheme is checked by settings (http or https only)
            self.endpoint, data=json.dumps(payload, ensure_ascii=False).encode("utf-8"), method="POST",
            headers={"Content-Type": "application/json; charset=utf-8", "Accept": "application/json"},
        )
        if self.token:
            request.add_header("Authorization", f"Bearer {self.token}")
        try:
            with urllib.request.urlopen(request, timeout=TIMEOUT) as response:  # noqa: S310
                raw = response.read(64 * 1024)
                status = response.status
        except urllib.error.HTTPError as exc:
            body = exc.read(2000).decode("utf-8", "replace")
            permanent = 400 <= exc.code < 500 and exc.code not in (408, 429)
            return SendResult(ok=False, detail=f"HTTP {exc.code}: {body}", permanent=permanent)
        except (OSError, ValueError) as exc:
            return SendResult(ok=False, detail=f"{type(exc).__name__}: {exc}")
        provider_id = None
        try:
            answer = json.loads(raw or b"{}")
            if isinstance(answer, dict) and answer.get("id") is not None:
                provider_id = str(answer["id"])[:200]
        except ValueError:
            pass
        return SendResult(ok=True, detail=f"HTTP {status}", provider_id=provider_id)


def international(mobile: str) -> str:
    """``01012345678`` → ``+201012345678`` (the stored form is the national 11 digits)."""
    digits = "".join(ch for ch in mobile if ch.isdigit())
    if digits.startswith("0") and len(digits) == 11:
        return "+20" + digits[1:]
    return "+" + digits if not mobile.startswith("+") else mobile


def email_sender(url: str) -> Sender:
    scheme = urlsplit(url).scheme.lower()
    if scheme == "log":
        return LogSender()
    if scheme in ("smtp", "smtps"):
        return SmtpSender(url)
    raise ValueError(f"No e-mail sender for {url!r}; use one of {', '.join(s + '://' for s in EMAIL_SCHEMES)}.")


def sms_sender(url: str) -> Sender:
    scheme = urlsplit(url).scheme.lower()
    if scheme == "log":
        return LogSender()
    if scheme in ("http", "https"):
        return HttpSmsSender(url)
    raise ValueError(f"No SMS sender for {url!r}; use one of {', '.join(s + '://' for s in SMS_SCHEMES)}.")


def _text(value: bytes | str) -> str:
    return value.decode("utf-8", "replace") if isinstance(value, bytes) else str(value)

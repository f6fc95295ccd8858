"""``sijill-sign``: the desk agent that signs permits with the official's PKCS#11 token; the key never leaves it.

The official logs in to the API (username and password, or an API token), sees the permits waiting for their
signature with a summary of each, can save or open any permit's PDF to read it, chooses some or all, and types the
token PIN once. The agent then opens one token session, sends the token's certificate to have each permit prepared
(:mod:`workflow.deferred` on the server), signs each prepared set of signed attributes on the token and uploads only
the signature values. One line per permit shows progress, and a summary ends the run.

Usage (``python -m signing.agent`` is the same)::

    sijill-sign --server https://sijill.example.gov.eg --username m.hassan --module /usr/lib/libeTPkcs11.so \\
        --token-label "Mona Token" --key-label sign list
    sijill-sign ... open SOH01-2026-000123-7            # save the permit PDF and open it with the desktop viewer
    sijill-sign ... sign --all                          # or: sign SOH01-2026-000123-7 SOH01-2026-000124-5

``--pin-stdin`` (and ``--password-stdin``) read the secrets from standard input, one per line (password first), for
scripted use and tests; otherwise they are asked for without echo. Exit status: 0 all signed, 1 some refused, 2 could
not start (login, token, PIN, server).

Why this design: the private key stays on the device, the PIN is typed only into the official's own machine, and the
server checks every value it receives against the registered certificate before embedding it, so a compromised or
buggy agent can at worst fail to sign, never sign something else under the permit's name.

Each prepare and complete request carries a fresh ``Idempotency-Key``; when the connection fails before the answer
arrives (the server may have done the work), the agent sends the same request again with the same key, up to
``RETRIES`` times, and gets the first answer: nothing is prepared or signed twice.
"""

from __future__ import annotations

import argparse
import base64
import getpass
import json
import subprocess
import sys
import time
import urllib.error
import urllib.request
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TextIO

from signing.errors import SigningRefused
from signing.signers import Pkcs11Credential, open_signer, sign_raw

__all__ = ["AgentError", "DeskClient", "main"]

TIMEOUT_S = 120.0
RETRIES = 2
"""Resends of a prepare or complete request (same Idempotency-Key) after a failed connection."""
BATCH = 10
"""Permits prepared and completed per request: short requests, and progress shown as each batch completes."""
"""Permits per prepare / complete request: bounded requests, one PIN entry for any number of batches."""


class AgentError(Exception):
    """Something that stops the run before or between batches: a sentence in Arabic and English."""

    def __init__(self, message_ar: str, message_en: str) -> None:
        super().__init__(message_en)
        self.message_ar = message_ar
        self.message_en = message_en


@dataclass
class DeskClient:
    """The few API calls the agent makes (JSON over HTTP with a bearer token)."""

    server: str
    token: str = ""

    def login(self, username: str, password: str) -> None:
        body = self._call("POST", "/api/v1/auth/token",
                          {"username": username, "password": password, "name": "sijill-sign"}, auth=False)
        self.token = str(body["token"])

    def queue(self) -> list[dict[str, Any]]:
        return list(self._call("GET", "/api/v1/signing/queue")["items"])

    def permit_pdf(self, tracking: str) -> bytes:
        return self._raw("GET", f"/api/v1/signing/queue/{tracking}/permit.pdf")

    def prepare(self, certificate_der: bytes, tracking_numbers: Sequence[str]) -> dict[str, Any]:
        return self._call("POST", "/api/v1/signing/prepare", {
            "certificate": base64.b64encode(certificate_der).decode("ascii"),
            "tracking_numbers": list(tracking_numbers),
        }, key=str(uuid.uuid4()))

    def complete(self, signatures: Sequence[tuple[int, bytes]]) -> dict[str, Any]:
        return self._call("POST", "/api/v1/signing/complete", {
            "signatures": [{"prepared_id": pid, "signature": base64.b64encode(value).decode("ascii")}
                           for pid, value in signatures],
        }, key=str(uuid.uuid4()))

    # --- HTTP ---

    def _call(self, method: str, path: str, payload: dict[str, Any] | None = None, *,
              auth: bool = True, key: str | None = None) -> dict[str, Any]:
        data = self._raw(method, path, payload, auth=auth, key=key)
        result: dict[str, Any] = json.loads(data)
        return result

    def _raw(self, method: str, path: str, payload: dict[str, Any] | None = None, *, auth: bool = True,
             key: str | None = None) -> bytes:
        """One request; with an idempotency ``key``, resent with the same key after a failed connection."""
        attempts = 1 + (RETRIES if key is not None else 0)
        for attempt in range(1, attempts + 1):
            try:
                return self._once(method, path, payload, auth=auth, key=key)
            except _ConnectionLost as exc:
                if attempt == attempts:
                    raise AgentError(f"تعذر الاتصال بالخادم {self.server}.",
                                     f"Cannot reach the server {self.server}: {exc.reason}") from None
                time.sleep(0.5 * attempt)
        raise AssertionError("unreachable")  # pragma: no cover

    def _once(self, method: str, path: str, payload: dict[str, Any] | None, *, auth: bool,
              key: str | None) -> bytes:
        headers = {"Accept": "application/json"}
        body = None
        if payload is not None:
            body = json.dumps(payload).encode("utf-8")
            headers["Content-Type"] = "application/json"
        if auth:
            headers["Authorization"] = f"Bearer {self.token}"
        if key is not None:
            headers["Idempotency-Key"] = key
        url = self.server.rstrip("/") + path
        if not url.startswith(("http://", "https://")):
            raise AgentError("عنوان الخادم يجب أن يبدأ بـ ⁦https://⁩.",
                             f"The server address must start with http(s)://, not {url}")
        request = urllib.request.Request(url, data=body, headers=headers, method=method)  # noqa: S310 - checked above
        try:
            with urllib.request.urlopen(request, timeout=TIMEOUT_S) as response:  # noqa: S310 - checked above
                return bytes(response.read())
        except urllib.error.HTTPError as exc:
            raise _http_error(exc) from None
        except (urllib.error.URLError, OSError) as exc:
            raise _ConnectionLost(str(exc)) from None


class _ConnectionLost(Exception):
    """The request or its answer was lost on the network (the server may or may not have acted on it)."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


def _http_error(exc: urllib.error.HTTPError) -> AgentError:
    try:
        body = json.loads(exc.read() or b"{}")
    except ValueError:
        body = {}
    if exc.code == 401:
        return AgentError("اسم المستخدم أو كلمة المرور أو رمز الدخول غير صحيح.",
                          "The username, password or API token is not accepted.")
    if exc.code == 403:
        return AgentError("هذا الحساب لا يملك صلاحية التوقيع.", "This account may not sign.")
    return AgentError(str(body.get("error_ar") or f"رفض الخادم الطلب ({exc.code})."),
                      str(body.get("error") or f"The server refused the request ({exc.code})."))


# --- the run ----------------------------------------------------------------------------------------------------


def _say(out: TextIO, message_ar: str, message_en: str) -> None:
    print(f"{message_ar}\n  {message_en}", file=out, flush=True)


def _read_secret(prompt: str, from_stdin: bool) -> str:
    if from_stdin:
        line = sys.stdin.readline()
        return line.rstrip("\r\n")
    return getpass.getpass(prompt)


def list_queue(client: DeskClient, out: TextIO) -> list[dict[str, Any]]:
    items = client.queue()
    if not items:
        _say(out, "لا توجد تراخيص في انتظار توقيعك.", "No permits are waiting for your signature.")
    for item in items:
        late = " (متأخر / overdue)" if item.get("overdue") else ""
        print(f"{item['tracking_number']}  {item.get('permit_number') or '-'}  {item['service_name_ar']} / "
              f"{item['service_name_en']}  {item['applicant_name']}  {item['step_title_ar']} "
              f"({item['position']}/{item['of']}){late}", file=out, flush=True)
    return items


def open_permit(client: DeskClient, tracking: str, output: Path | None, view: bool, out: TextIO) -> Path:
    path = output or Path.cwd() / f"permit-{tracking}.pdf"
    path.write_bytes(client.permit_pdf(tracking))
    _say(out, f"حُفظ الترخيص في {path}", f"Saved the permit to {path}")
    if view:
        subprocess.Popen(["xdg-open", str(path)], stdout=subprocess.DEVNULL,
                         stderr=subprocess.DEVNULL)
    return path


def sign_batch(client: DeskClient, credential: Pkcs11Credential, chosen: Sequence[str], out: TextIO) -> int:
    """Sign ``chosen`` permits with one token session (one PIN); returns how many were refused."""
    total = len(chosen)
    done = refused = 0
    with open_signer(credential) as token:  # the PIN is checked here, before anything is prepared
        certificate = token.certificate.dump()
        for start in range(0, total, BATCH):
            batch = list(chosen[start:start + BATCH])
            prepared = client.prepare(certificate, batch)
            for item in prepared["refused"]:
                refused += 1
                _report_refusal(out, item, done + refused, total)
            values: list[tuple[int, bytes]] = []
            names: dict[int, str] = {}
            for item in prepared["prepared"]:
                try:
                    value = sign_raw(token, base64.b64decode(item["to_sign"]), item["digest_algorithm"])
                except SigningRefused as exc:  # the token went away halfway: say what is already signed
                    raise AgentError(f"{exc.message_ar} وُقّع {done} من {total} قبل ذلك.",
                                     f"{exc.message_en} {done} of {total} were signed before that.") from None
                values.append((int(item["prepared_id"]), value))
                names[int(item["prepared_id"])] = item["tracking_number"]
            if not values:
                continue
            result = client.complete(values)
            for item in result["signed"]:
                done += 1
                issued = " — صدر الترخيص / issued" if item["permit_status"] == "issued" else ""
                print(f"[{done + refused}/{total}] ✓ {item['tracking_number']}  {item['permit_number']}{issued}",
                      file=out, flush=True)
            for item in result["refused"]:
                refused += 1
                item.setdefault("tracking_number", names.get(int(item.get("prepared_id") or 0)))
                _report_refusal(out, item, done + refused, total)
    _say(out, f"وُقّع {done} من {total}، ورُفض {refused}.", f"Signed {done} of {total}; {refused} refused.")
    return refused


def _report_refusal(out: TextIO, item: dict[str, Any], position: int, total: int) -> None:
    print(f"[{position}/{total}] ✗ {item.get('tracking_number') or item.get('prepared_id')}: "
          f"{item.get('error_ar')} / {item.get('error')} [{item.get('code')}]", file=out, flush=True)


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="sijill-sign", description="Sign permits with your PKCS#11 token.")
    parser.add_argument("--server", required=True, help="Sijill's address, e.g. https://sijill.example.gov.eg")
    who = parser.add_mutually_exclusive_group(required=True)
    who.add_argument("--username", help="your Sijill user name (the password is asked for)")
    who.add_argument("--api-token", help="an API token instead of a password")
    parser.add_argument("--password-stdin", action="store_true", help="read the password from standard input")
    parser.add_argument("--module", required=True, help="the token's PKCS#11 library")
    parser.add_argument("--token-label", required=True, help="the token's label")
    parser.add_argument("--key-label", help="label of the signing key on the token")
    parser.add_argument("--key-id", help="id (hex) of the signing key on the token")
    parser.add_argument("--pin-stdin", action="store_true", help="read the PIN from standard input")
    commands = parser.add_subparsers(dest="command", required=True)
    commands.add_parser("list", help="the permits waiting for your signature")
    opener = commands.add_parser("open", help="save a permit's PDF and open it")
    opener.add_argument("tracking")
    opener.add_argument("--output", type=Path)
    opener.add_argument("--no-view", action="store_true", help="only save it")
    signer = commands.add_parser("sign", help="sign chosen permits (one PIN for all)")
    signer.add_argument("--all", action="store_true", help="every permit in your queue")
    signer.add_argument("tracking", nargs="*")
    return parser


def main(argv: Sequence[str] | None = None, out: TextIO | None = None) -> int:
    out = out or sys.stdout
    args = _parser().parse_args(argv)
    if args.key_label is None and args.key_id is None:
        _say(out, "حدد مفتاح التوقيع على الشريحة (--key-label أو --key-id).",
             "Name the signing key on the token (--key-label or --key-id).")
        return 2
    client = DeskClient(args.server, args.api_token or "")
    try:
        if args.username:
            client.login(args.username, _read_secret("كلمة المرور / Password: ", args.password_stdin))
        if args.command == "list":
            list_queue(client, out)
            return 0
        if args.command == "open":
            open_permit(client, args.tracking, args.output, not args.no_view, out)
            return 0
        queue = client.queue()
        waiting = [item["tracking_number"] for item in queue]
        chosen = waiting if args.all else list(dict.fromkeys(args.tracking))
        if not chosen:
            _say(out, "لم تختر أي ترخيص (اكتب أرقام الطلبات أو --all).",
                 "No permit chosen (give tracking numbers or --all).")
            return 2
        unknown = [t for t in chosen if t not in waiting]
        if unknown:
            _say(out, f"ليست في قائمة انتظار توقيعك: {' '.join(unknown)}",
                 f"Not in your signing queue: {' '.join(unknown)}")
            return 2
        for item in queue:
            if item["tracking_number"] in chosen:
                print(f"• {item['tracking_number']}  {item['service_name_ar']}  {item['applicant_name']}", file=out)
        pin = _read_secret("الرقم السري للشريحة / Token PIN: ", args.pin_stdin)
        credential = Pkcs11Credential(
            module_path=args.module, token_label=args.token_label, pin=pin, key_label=args.key_label,
            key_id=bytes.fromhex(args.key_id) if args.key_id else None,
        )
        refused = sign_batch(client, credential, chosen, out)
    except SigningRefused as exc:
        _say(out, f"{exc.message_ar} لم يُوقَّع شيء.", f"{exc.message_en} Nothing was signed.")
        return 2
    except AgentError as exc:
        _say(out, exc.message_ar, exc.message_en)
        return 2
    return 1 if refused else 0


if __name__ == "__main__":  # pragma: no cover - python -m signing.agent
    raise SystemExit(main())

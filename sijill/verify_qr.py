"""``sijill verify-qr``: check a permit's sealed QR payload offline and say the verdict in Arabic and English.

Inputs: the QR's text (or an image of it, decoded with ``zbarimg``), and the key set: a file saved from
``/.well-known/sijill-keys.json`` (offline) or that URL (fetched once, bounded in size and time). With ``--pdf`` the
file (or its first revision: the permit as rendered, before its QR and signatures) is compared with the SHA-256 the
payload seals, when it seals one (see ``signing/sealed_payload.py`` for what a payload does and does not prove).
With ``--revocations`` the signed revocation list saved from ``/.well-known/sijill-revocations``
(``signing/revocations.py``) says whether the permit was revoked as of the list's date; a list that is not sealed by
one of the keys is refused (could not check), an outdated one is used with a warning. Exit status: 0 genuine, 1 not
genuine, 2 could not check, 3 genuine seal but the permit is revoked.
"""

from __future__ import annotations

import subprocess
import urllib.request
from dataclasses import dataclass
from datetime import UTC, date, datetime
from pathlib import Path

from signing.revocations import MAX_LIST_BYTES, RevocationList, verify_revocations
from signing.sealed_payload import PayloadError, SealedFacts, bound_part, keys_from_jwk_set, verify

GENUINE, NOT_GENUINE, CANNOT_CHECK, REVOKED = 0, 1, 2, 3
MAX_KEYS_BYTES = 65_536
FETCH_TIMEOUT_S = 10
ZBAR_TIMEOUT_S = 30

REASONS: dict[str, tuple[str, str]] = {
    "bad_signature": ("الختم لا يطابق البيانات: البيانات معدلة أو مزورة.",
                      "The seal does not match the facts: they were altered or forged."),
    "unknown_key": ("الختم من مفتاح ليس من مفاتيح المركز المعروفة.",
                    "The seal was made with a key that is not one of the centre's known keys."),
    "malformed": ("الرمز تالف أو ليس رمز تحقق من سجل.", "The code is damaged or not a Sijill verification code."),
    "too_large": ("الرمز أطول من أن يكون رمز تحقق من سجل.", "The code is too long to be a Sijill verification code."),
    "no_payload": ("لا يحمل الرمز بيانات مختومة للتحقق دون اتصال.",
                   "The code carries no sealed payload for offline checking."),
    "pdf_mismatch": ("الملف ليس النسخة الصادرة من الترخيص المختوم.",
                     "The file is not the issued copy of the sealed permit."),
}


class CannotCheck(Exception):
    """The check could not be made (no QR in the image, keys unreadable); exit status 2."""


@dataclass(frozen=True)
class Outcome:
    status: int
    lines: list[str]


def read_qr_image(path: Path) -> str:
    """The text of the first QR code in the image at ``path`` (``zbarimg``)."""
    try:
        done = subprocess.run(["zbarimg", "--raw", "-q", "-Sdisable", "-Sqrcode.enable", str(path)],
                              capture_output=True, timeout=ZBAR_TIMEOUT_S, check=False)
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise CannotCheck(f"zbarimg could not read {path}: {exc}") from None
    text = done.stdout.decode("utf-8", "replace").strip().splitlines()
    if done.returncode != 0 or not text:
        raise CannotCheck(f"No QR code was found in {path}. / لم يعثر على رمز QR في الصورة.")
    return text[0]


def load_keys(source: str) -> dict[bytes, object]:
    """kid → public key from a JWK set file or an ``https://``/``http://`` URL."""
    try:
        if source.startswith(("https://", "http://")):
            with urllib.request.urlopen(source, timeout=FETCH_TIMEOUT_S) as response:  # noqa: S310 (scheme checked)
                data = response.read(MAX_KEYS_BYTES + 1)
        else:
            data = Path(source).read_bytes()[: MAX_KEYS_BYTES + 1]
    except (OSError, ValueError) as exc:
        raise CannotCheck(f"The key set {source} cannot be read: {exc}. / تعذرت قراءة مفاتيح التحقق.") from None
    if len(data) > MAX_KEYS_BYTES:
        raise CannotCheck(f"The key set {source} is too large. / ملف المفاتيح أكبر من المسموح.")
    try:
        return dict(keys_from_jwk_set(data))
    except PayloadError as exc:
        raise CannotCheck(f"{exc} / ملف المفاتيح غير صالح.") from None


def load_revocations(path: Path, keys: dict[bytes, object]) -> RevocationList:
    """The revocation list in ``path`` (raw COSE_Sign1 bytes as the server sends them), if one of ``keys`` sealed it."""
    try:
        with path.open("rb") as handle:
            data = handle.read(MAX_LIST_BYTES + 1)
    except OSError as exc:
        raise CannotCheck(f"The revocation list {path} cannot be read: {exc}. / تعذرت قراءة قائمة الإلغاء.") from None
    try:
        return verify_revocations(data, keys)  # type: ignore[arg-type]
    except PayloadError as exc:
        raise CannotCheck(f"The revocation list {path} is refused: {exc} / قائمة الإلغاء مرفوضة: ليست قائمة صحيحة "
                          "مختومة من المركز.") from None


def check(text: str, keys: dict[bytes, object], *, pdf: bytes | None = None, today: date | None = None,
          revocations: RevocationList | None = None, now: datetime | None = None) -> Outcome:
    """The verdict on ``text`` as printed lines and an exit status."""
    try:
        facts = verify(text, keys)  # type: ignore[arg-type]
    except PayloadError as exc:
        ar, en = REASONS.get(exc.reason, REASONS["malformed"])
        return Outcome(NOT_GENUINE, ["✗ غير صحيح — NOT GENUINE", ar, en])
    lines = _fact_lines(facts)
    if pdf is not None:
        if facts.pdf_sha256 is None:
            lines.append("لا يختم هذا الرمز بصمة ملف؛ لم تتم مقارنة الملف. / This code seals no file hash; the file "
                         "was not compared.")
        elif (part := bound_part(pdf, facts.pdf_sha256)) is None:
            ar, en = REASONS["pdf_mismatch"]
            return Outcome(NOT_GENUINE, ["✗ غير صحيح — NOT GENUINE", ar, en, *lines])
        elif part == "file":
            lines.append("الملف هو النسخة الصادرة المختومة. / The file is the sealed issued copy.")
        else:
            lines.append("يبدأ الملف بالترخيص كما أعده المركز وختمه (نسخته الأولى)؛ ما أضيف بعدها (رمز QR والتوقيعات "
                         "والأختام الزمنية) يُتحقق منه في صفحة التحقق أو لوحة التوقيعات في قارئ PDF. / The file starts "
                         "with the permit exactly as the centre rendered and sealed it (its first revision); what was "
                         "added after it (the QR, the signatures, the timestamps) is checked on the online page or in "
                         "a PDF reader's signature panel.")
    if revocations is not None:
        revoked_at = revocations.revoked_at(facts.permit_number)
        listed = revocations.issued_on.isoformat()
        if revoked_at is not None:
            return Outcome(REVOKED, [
                "✗ ملغى — REVOKED",
                f"ألغي هذا الترخيص في {revoked_at.date().isoformat()} (بحسب قائمة الإلغاء بتاريخ {listed}). / "
                f"This permit was revoked on {revoked_at.date().isoformat()} (per the revocation list of {listed}).",
                *lines])
    verdict = ["✓ ختم صحيح من المركز — GENUINE: sealed by the centre"]
    if facts.expired(today or date.today()):
        verdict.append("انتهت مدة الترخيص. / The permit's term has ended.")
    if revocations is None:
        verdict.append("للتأكد من أن الترخيص لم يُلغَ افتح صفحة التحقق عبر الإنترنت. / "
                       "Whether it was revoked since can only be seen on the online page.")
    elif revocations.outdated(now or datetime.now(UTC)):
        verdict.append(f"قائمة الإلغاء بتاريخ {listed} قديمة (موعد تحديثها {revocations.next_update.date()}): "
                       "غياب الترخيص عنها لا يثبت أنه لم يُلغَ؛ نزّل قائمة أحدث. / "
                       f"The revocation list of {listed} is outdated (next update was due "
                       f"{revocations.next_update.date()}): a permit missing from it is not known to be unrevoked; "
                       "download a newer list.")
    else:
        verdict.append(f"لم يكن الترخيص ملغى حتى {listed} بحسب قائمة الإلغاء. / "
                       f"Not revoked as of {listed}, per the revocation list.")
    return Outcome(GENUINE, verdict + lines)


def _fact_lines(facts: SealedFacts) -> list[str]:
    return [
        f"رقم الترخيص / Permit number: {facts.permit_number}",
        f"صاحب الترخيص / Holder: {facts.holder}",
        f"الخدمة / Service: {facts.service_ar}",
        f"تاريخ الإصدار / Issued: {facts.issued_on.isoformat()}",
        f"تاريخ الانتهاء / Expires: {facts.expires_on.isoformat() if facts.expires_on else 'غير محدد / none'}",
        f"مفتاح الختم / Key id: {facts.kid}",
    ]

"""Uploaded files on their way in: spooled to a temporary file under a byte cap, hashed, then inspected.

A scan can be hundreds of megabytes, so nothing here holds a whole file in memory: the stream is copied in chunks to
a temporary file, hashed on the way, and the copy stops as soon as the cap is passed. ``ocr.inputs.inspect`` then
decides from the file on disk whether it is a page-bearing PDF, JPEG, PNG or TIFF within the limits, and how many
pages it has, before anything reaches the archive.
"""

from __future__ import annotations

import hashlib
import re
import tempfile
import unicodedata
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from ocr.errors import InputRejected
from ocr.inputs import SourceInfo, inspect
from ocr.limits import Limits

CHUNK_SIZE = 1024 * 1024
FILENAME_MAX = 255
DEFAULT_FILENAME = "document"
_SUFFIX_RE = re.compile(r"\.[a-z0-9]{1,8}")


class Readable(Protocol):
    """A binary stream: an open file, ``io.BytesIO``, werkzeug's ``FileStorage.stream``…"""

    def read(self, size: int = ..., /) -> bytes: ...


@dataclass(frozen=True)
class Upload:
    """One file handed in at intake: which required document it is, its name as uploaded, and its bytes."""

    requirement: str
    """A ``required_documents`` code of the service, or ``OTHER``."""
    filename: str
    stream: Readable


@dataclass(frozen=True)
class SpooledUpload:
    """An upload copied to disk and accepted by ``ocr.inputs.inspect``."""

    requirement: str
    filename: str
    """Sanitised name, safe to store and show."""
    path: Path
    size_bytes: int
    sha256: str
    info: SourceInfo


class UploadRejected(ValueError):
    def __init__(self, code: str, message_ar: str, message_en: str) -> None:
        super().__init__(message_en)
        self.code = code
        self.message_ar = message_ar
        self.message_en = message_en


def sanitise_filename(name: str) -> str:
    """The last path component, NFC, without control or bidi-override characters, at most 255 characters.

    Keeps the citizen's (often Arabic) name readable on screens and in the archive while making it useless for
    path tricks (``../``, ``C:\\``) and for right-to-left override spoofing (``fdp.exe`` shown as ``exe.pdf``).
    """
    text = unicodedata.normalize("NFC", name or "").replace("\\", "/").rsplit("/", 1)[-1]
    text = "".join(" " if ch.isspace() else ch for ch in text if ch.isspace() or unicodedata.category(ch)[0] != "C")
    text = " ".join(text.split()).strip(" .")
    if not text:
        return DEFAULT_FILENAME
    if len(text) > FILENAME_MAX:
        stem, dot, ext = text.rpartition(".")
        if dot and stem and len(ext) <= 16:
            text = stem[: FILENAME_MAX - len(ext) - 1].rstrip(" .") + "." + ext
        else:
            text = text[:FILENAME_MAX]
    return text


def spool(upload: Upload, directory: Path, limits: Limits) -> SpooledUpload:
    """Copy ``upload`` into ``directory`` (at most ``limits.max_bytes``), hash it and inspect it.

    Raises :class:`UploadRejected` for a file over the cap or one ``ocr.inputs.inspect`` refuses. The temporary file
    belongs to ``directory``; the caller removes the directory.
    """
    filename = sanitise_filename(upload.filename)
    suffix = Path(filename).suffix.lower()
    fd, name = tempfile.mkstemp(prefix="upload-", suffix=suffix if _SUFFIX_RE.fullmatch(suffix) else "", dir=directory)
    path = Path(name)
    digest = hashlib.sha256()
    size = 0
    with open(fd, "wb") as sink:
        while True:
            chunk = upload.stream.read(CHUNK_SIZE)
            if not chunk:
                break
            size += len(chunk)
            if size > limits.max_bytes:
                path.unlink(missing_ok=True)
                limit_mb = limits.max_bytes / (1024 * 1024)
                raise UploadRejected(
                    "too_large",
                    f"الملف أكبر من الحد المسموح ({limit_mb:g} ميجابايت).",
                    f"The file is larger than the allowed {limit_mb:g} MB.",
                )
            digest.update(chunk)
            sink.write(chunk)
    try:
        info = inspect(path, limits)
    except InputRejected as exc:
        path.unlink(missing_ok=True)
        raise UploadRejected(exc.code, exc.message_ar, exc.message_en) from exc
    if info.page_count < 1:
        path.unlink(missing_ok=True)
        raise UploadRejected(
            "empty_file",
            "الملف لا يحتوي على أي صفحة.",
            "The file contains no page.",
        )
    return SpooledUpload(
        requirement=upload.requirement,
        filename=filename,
        path=path,
        size_bytes=size,
        sha256=digest.hexdigest(),
        info=info,
    )

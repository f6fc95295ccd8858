"""What the installed ``tesseract`` command knows: its models, and the directory it loads them from.

The pages are read in this process (``ocr.engine``, tesserocr); the command is asked, once per process, which models
are installed and where, so that the engine uses exactly the traineddata the system's Tesseract uses (Debian's
``tesseract-ocr-ara``, ``-eng``, ``-script-arab``). Whenever the command itself runs, it runs with
``OMP_THREAD_LIMIT=1`` (unset, its OpenMP threads oversubscribe the two cores and a page takes ~3x longer).
"""

from __future__ import annotations

import os
import re
import subprocess
from functools import lru_cache

TESSERACT = "tesseract"
"""The executable, found on PATH (Debian package ``tesseract-ocr``)."""

DEFAULT_TESSDATA = "/usr/share/tesseract-ocr/5/tessdata/"
"""Where Debian 12's Tesseract 5 keeps its models: used only when the command cannot be asked."""


def tesseract_environment() -> dict[str, str]:
    """The process environment for Tesseract: ours, with OpenMP pinned to one thread."""
    return {**os.environ, "OMP_THREAD_LIMIT": "1"}


@lru_cache(maxsize=1)
def _list_langs() -> list[str]:
    """``tesseract --list-langs``, line by line; empty if Tesseract is missing."""
    try:
        completed = subprocess.run(
            [TESSERACT, "--list-langs"], capture_output=True, timeout=30, env=tesseract_environment(), check=False
        )
    except (FileNotFoundError, subprocess.TimeoutExpired):
        return []
    return completed.stdout.decode("utf-8", "replace").splitlines()


def installed_languages() -> frozenset[str]:
    """The traineddata Tesseract can load (``ara``, ``eng``, ``osd`` ...); empty if Tesseract is missing."""
    return frozenset(line.strip() for line in _list_langs()[1:] if line.strip())


def tessdata_dir() -> str:
    """The directory the ``tesseract`` command loads its models from (it names it on the first line of
    ``--list-langs``, honouring ``TESSDATA_PREFIX``), ending with a slash as Tesseract's API wants it."""
    found = re.search(r'"([^"]+)"', _list_langs()[0]) if _list_langs() else None
    directory = found.group(1) if found else os.environ.get("TESSDATA_PREFIX") or DEFAULT_TESSDATA
    return directory if directory.endswith("/") else directory + "/"

"""Run the ``tesseract`` command once, the way this deployment needs it.

One place knows how Tesseract is called: ``OMP_THREAD_LIMIT=1`` always (unset, its OpenMP threads oversubscribe the
two cores and a page takes ~3x longer; throughput comes from one worker process per core instead), a hard timeout,
and several renderers (``txt``, ``tsv``, ``pdf``) in the same run so that recognition happens once per page.

The command line is used rather than pytesseract's helpers because those run one process per output format.
"""

from __future__ import annotations

import os
import subprocess
import tempfile
from collections.abc import Mapping, Sequence
from functools import lru_cache
from pathlib import Path

from PIL import Image

from ocr.errors import OcrFailed

TESSERACT = "tesseract"
"""The executable, found on PATH (Debian package ``tesseract-ocr``)."""

_EXTENSIONS = {"txt": "txt", "tsv": "tsv", "pdf": "pdf", "hocr": "hocr"}


def tesseract_environment() -> dict[str, str]:
    """The process environment for Tesseract: ours, with OpenMP pinned to one thread."""
    return {**os.environ, "OMP_THREAD_LIMIT": "1"}


def run_tesseract(
    image: Image.Image,
    renderers: Sequence[str],
    *,
    lang: str,
    psm: int,
    dpi: int,
    timeout: float,
    variables: Mapping[str, str] | None = None,
    image_format: str = "PNG",
    jpeg_quality: int = 75,
) -> dict[str, bytes]:
    """Recognise ``image`` once and return each renderer's output file, keyed by renderer name.

    ``image_format`` is what Tesseract reads: "PNG" is lossless; "JPEG" matters for the ``pdf`` renderer, which
    embeds a JPEG input file as it is (no re-encoding) but stores any other input losslessly and therefore large.
    """
    unknown = [name for name in renderers if name not in _EXTENSIONS]
    if unknown or not renderers:
        raise ValueError(f"unsupported Tesseract renderers: {unknown or renderers}")
    with tempfile.TemporaryDirectory(prefix="sijill-ocr-") as tmp:
        source = Path(tmp) / ("page.jpg" if image_format == "JPEG" else "page.png")
        if image_format == "JPEG":
            image.save(source, "JPEG", quality=jpeg_quality, optimize=True, dpi=(dpi, dpi))
        else:
            image.save(source, "PNG", compress_level=1, dpi=(dpi, dpi))
        base = Path(tmp) / "out"
        command = [TESSERACT, str(source), str(base), "-l", lang, "--psm", str(psm), "--dpi", str(dpi)]
        for name, value in (variables or {}).items():
            command += ["-c", f"{name}={value}"]
        command += list(renderers)
        try:
            completed = subprocess.run(
                command, capture_output=True, timeout=timeout, env=tesseract_environment(), check=False
            )
        except FileNotFoundError as exc:
            raise OcrFailed(f"{TESSERACT} is not installed or not on PATH") from exc
        except subprocess.TimeoutExpired as exc:  # subprocess.run has already killed it
            raise OcrFailed(f"Tesseract took longer than {timeout:g} s and was stopped") from exc
        stderr = completed.stderr.decode("utf-8", "replace")
        if completed.returncode != 0:
            raise OcrFailed(
                f"Tesseract failed with exit code {completed.returncode}: {stderr.strip()[-500:]}",
                returncode=completed.returncode,
                stderr=stderr,
            )
        outputs: dict[str, bytes] = {}
        for name in renderers:
            produced = base.with_name(f"out.{_EXTENSIONS[name]}")
            if not produced.exists():
                raise OcrFailed(f"Tesseract wrote no {name} output: {stderr.strip()[-500:]}", stderr=stderr)
            outputs[name] = produced.read_bytes()
        return outputs


@lru_cache(maxsize=1)
def installed_languages() -> frozenset[str]:
    """The traineddata Tesseract can load (``ara``, ``eng``, ``osd`` ...); empty if Tesseract is missing."""
    try:
        completed = subprocess.run(
            [TESSERACT, "--list-langs"], capture_output=True, timeout=30, env=tesseract_environment(), check=False
        )
    except (FileNotFoundError, subprocess.TimeoutExpired):
        return frozenset()
    lines = completed.stdout.decode("utf-8", "replace").splitlines()
    return frozenset(line.strip() for line in lines[1:] if line.strip())

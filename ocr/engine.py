"""Tesseract inside this process (tesserocr): one engine per model per thread, loaded once, reused for every page.

Why not the ``tesseract`` command any more: a page cost three process starts (the first reading, then ``eng`` and
``Arabic`` over the doubtful lines), each loading its model, encoding and decoding an image file and writing renderer
files. Measured on clean A5 pages: the command took 0.288 CPU s a page, the same recognition in-process 0.247 s, and
loading ``ara`` in-process is 0.007 s (lazy) the first time only. The pipeline now reads its page, its doubtful lines
and its orientation candidates without starting a process.

Rules this module keeps, as the command did:

- ``OMP_THREAD_LIMIT=1``: set in this process's environment before the library is loaded (OpenMP reads it once, when
  it starts); unset, OpenMP threads oversubscribe the two cores (throughput comes from one worker process per core).
- A hard time bound: ``Recognize`` is given a deadline; a page that runs past it raises ``OcrFailed``, as a killed
  process did, and the engine is cleared for the next page.
- Celery's prefork workers: an engine belongs to the process (and thread) that made it; a forked child makes its own
  the first time it reads (engines are keyed by process id), so nothing of Tesseract is shared across a fork.
- The system's traineddata (Debian ``tesseract-ocr-ara`` and friends), found where the ``tesseract`` command finds it,
  so the models in use are the ones ``tesseract --list-langs`` shows.
"""

from __future__ import annotations

import os

os.environ["OMP_THREAD_LIMIT"] = "1"  # before tesserocr loads libtesseract (and with it OpenMP, if built with it)

import threading  # everything below is imported after the line above
from collections.abc import Mapping
from dataclasses import dataclass

import tesserocr
from PIL import Image

from ocr.errors import OcrFailed
from ocr.tesseract import tessdata_dir

TSV_HEADER = "level\tpage_num\tblock_num\tpar_num\tline_num\tword_num\tleft\ttop\twidth\theight\tconf\ttext\n"
"""``GetTSVText`` returns the rows only; the command's ``tsv`` renderer wrote this header first."""


@dataclass(frozen=True)
class EngineOutput:
    text: str
    """Tesseract's plain text (what the ``txt`` renderer wrote)."""
    tsv: str
    """Tesseract's TSV with its header (what the ``tsv`` renderer wrote): one row per page, block, paragraph, line
    and word, boxes in the pixels of the whole image even when only a rectangle was read."""


class _Engines(threading.local):
    """This thread's engines, keyed by model, layout mode and variables; dropped after a fork."""

    def __init__(self) -> None:
        self.pid = os.getpid()
        self.apis: dict[tuple[str, int, tuple[tuple[str, str], ...]], tesserocr.PyTessBaseAPI] = {}


_ENGINES = _Engines()


def _engine(lang: str, psm: int, variables: Mapping[str, str]) -> tesserocr.PyTessBaseAPI:
    if _ENGINES.pid != os.getpid():  # a forked child: the parent's engines are not ours to use
        _ENGINES.apis, _ENGINES.pid = {}, os.getpid()
    key = (lang, psm, tuple(sorted(variables.items())))
    api = _ENGINES.apis.get(key)
    if api is None:
        try:
            api = tesserocr.PyTessBaseAPI(path=tessdata_dir(), lang=lang, psm=psm, variables=dict(variables))
        except RuntimeError as exc:
            raise OcrFailed(f"Tesseract could not load the model {lang!r} from {tessdata_dir()}: {exc}") from exc
        _ENGINES.apis[key] = api
    return api


def read(
    image: Image.Image,
    *,
    lang: str,
    psm: int,
    dpi: int,
    timeout: float,
    variables: Mapping[str, str] | None = None,
) -> EngineOutput:
    """Recognise ``image`` once with the model ``lang`` and return its text and TSV.

    Raises ``OcrFailed`` when the model cannot be loaded, or when recognition fails or runs past ``timeout`` seconds.
    """
    api = _engine(lang, psm, variables or {})
    try:
        api.SetImage(image if image.mode in ("L", "RGB") else image.convert("L"))
        api.SetSourceResolution(dpi)
        if not api.Recognize(timeout=max(1, round(timeout * 1000))):
            raise OcrFailed(f"Tesseract took longer than {timeout:g} s and was stopped, or could not read the page")
        text = api.GetUTF8Text() or ""
        tsv = api.GetTSVText(0) or ""
    finally:
        api.Clear()
    return EngineOutput(text=text, tsv=TSV_HEADER + tsv)


def forget_engines() -> None:
    """Drop this thread's engines (their memory: ~30-80 MB a model); the next reading loads its model again."""
    _ENGINES.apis = {}

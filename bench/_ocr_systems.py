"""The three OCR systems the benchmarks compare on the same page, each timed the same way.

- **pipeline**: ``ocr.pipeline.process_page`` (clean-up on, or off), in this process;
- **anchor**: exactly ``tesseract page.png - -l ara --psm 6`` with ``OMP_THREAD_LIMIT=1`` (the issue's anchor);
- **OCRmyPDF**: ``ocrmypdf -l ara --rotate-pages --deskew --clean --jobs 1`` with a text sidecar, the peer a user
  would pick instead (its other clean-up, ``--clean-final``, ``--remove-background``, is the same unpaper or gone in
  v17), with a plain PDF out (the default PDF/A conversion runs Ghostscript, which our pipeline has no counterpart
  of, and cost ~2/3 of its time here); defaults otherwise (Tesseract's automatic layout).

The machine is shared, so each run reports wall seconds AND CPU seconds (this process plus every child it waited
for: Tesseract, unpaper, Ghostscript). CPU seconds hardly move with other people's load; wall seconds do.
"""

from __future__ import annotations

import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

ANCHOR = ["tesseract", "{page}", "-", "-l", "ara", "--psm", "6"]
ANCHOR_NAME = "tesseract -l ara --psm 6 (OMP_THREAD_LIMIT=1)"
OCRMYPDF_OPTIONS = ["-l", "ara", "--rotate-pages", "--deskew", "--clean", "--output-type", "pdf", "--jobs", "1"]
OCRMYPDF_NAME = "ocrmypdf -l ara --rotate-pages --deskew --clean --output-type pdf"
SYSTEMS = ("pipeline", "anchor", "ocrmypdf")


@dataclass
class Read:
    text: str
    wall: float
    cpu: float
    """Seconds of CPU: this process and the children it waited for."""
    stages: dict[str, float] = field(default_factory=dict)
    """The pipeline's own seconds per stage (``PageResult.timings``), to show where its time went; empty for the
    others."""


def environment() -> dict[str, str]:
    return {**os.environ, "OMP_THREAD_LIMIT": "1"}


def _cpu() -> float:
    own, children = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + children.ru_utime + children.ru_stime


def timed(work: Callable[[], str]) -> Read:
    cpu, wall = _cpu(), time.perf_counter()
    text = work()
    return Read(text, time.perf_counter() - wall, _cpu() - cpu)


def anchor(page: Path) -> Read:
    command = [part.format(page=page) for part in ANCHOR]
    return timed(lambda: subprocess.run(command, capture_output=True, check=True, env=environment()).stdout.decode())


def ocrmypdf_available() -> bool:
    return shutil.which("ocrmypdf") is not None or Path(sys.executable).with_name("ocrmypdf").exists()


def ocrmypdf(page: Path) -> Read:
    executable = shutil.which("ocrmypdf") or str(Path(sys.executable).with_name("ocrmypdf"))

    def work() -> str:
        with tempfile.TemporaryDirectory(prefix="ocrmypdf-") as tmp:
            sidecar, out = Path(tmp) / "text.txt", Path(tmp) / "out.pdf"
            # A photo declares no resolution; OCRmyPDF refuses such an image without --image-dpi.
            command = [executable, *OCRMYPDF_OPTIONS, "--image-dpi", "300", "--sidecar", str(sidecar), str(page),
                       str(out)]
            subprocess.run(command, capture_output=True, check=True, env=environment())
            return sidecar.read_text(encoding="utf-8")

    return timed(work)


def pipeline(page: Path, cleanup: bool = True) -> Read:
    from ocr.cleanup import CleanupOptions
    from ocr.pipeline import process_page
    from ocr.proofread import load

    load()  # the word list, once per process as the models are (a worker keeps both): not counted
    options = CleanupOptions() if cleanup else CleanupOptions.none()
    stages: dict[str, float] = {}

    def work() -> str:
        result = process_page(page, 0, options=options)
        stages.update(result.timings)
        return result.text

    read = timed(work)
    read.stages = stages
    return read


def run(system: str, page: Path) -> Read:
    if system == "anchor":
        return anchor(page)
    if system == "ocrmypdf":
        return ocrmypdf(page)
    if system == "pipeline":
        return pipeline(page)
    if system == "pipeline-off":
        return pipeline(page, cleanup=False)
    raise ValueError(system)

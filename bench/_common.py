"""Shared by the benchmark scripts: the machine they ran on and Markdown tables."""

from __future__ import annotations

import datetime as dt
import os
import platform
import shlex
import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def _cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown CPU"


def _memory_gib() -> float:
    try:
        return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30
    except (ValueError, OSError, AttributeError):
        return float("nan")


def tesseract_version() -> str:
    try:
        out = subprocess.run(["tesseract", "--version"], capture_output=True, text=True, timeout=30, check=False)
    except (FileNotFoundError, subprocess.TimeoutExpired):
        return "not installed"
    first = (out.stdout or out.stderr).splitlines()
    return first[0].strip() if first else "unknown"


def _library_tesseract() -> str:
    """The libtesseract the pipeline loads (tesserocr's wheel bundles its own build)."""
    try:
        import tesserocr
    except ImportError:
        return "no tesserocr"
    return f"{tesserocr.tesseract_version().splitlines()[0]} (tesserocr {tesserocr.__version__})"


def machine_lines() -> list[str]:
    """A few Markdown bullet lines: date, machine, software, and the command that produced the numbers."""
    import cv2
    import numpy
    import PIL

    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    command = "OMP_THREAD_LIMIT=1 .venv/bin/python " + shlex.join([os.path.relpath(sys.argv[0], ROOT), *sys.argv[1:]])
    return [
        f"- Date: {dt.date.today().isoformat()}",
        f"- Machine: {cores} cores ({_cpu_model()}), {_memory_gib():.0f} GiB RAM, {platform.system()} "
        f"{platform.release()}, Python {platform.python_version()}",
        f"- Software: the anchor and OCRmyPDF run the {tesseract_version()} command; the pipeline runs "
        f"{_library_tesseract()} in-process (ara, --psm 6, OMP_THREAD_LIMIT=1; second look eng + Arabic script "
        f"model; the same traineddata files), OpenCV {cv2.__version__}, NumPy {numpy.__version__}, "
        f"Pillow {PIL.__version__}",
        f"- Command: `{command}`",
        f"- Load average when the numbers were printed (1/5/15 min): {load_average()} "
        "(each busy process of the benchmark itself adds ~1; more than that is other work on the cores)",
    ]


def load_average() -> str:
    try:
        return " / ".join(f"{v:.2f}" for v in os.getloadavg())
    except OSError:
        return "unknown"


def table(header: Sequence[str], rows: Sequence[Sequence[object]], align: str | None = None) -> str:
    """A Markdown table; ``align`` is one letter per column, "l" or "r" (default: first left, the rest right)."""
    align = align or "l" + "r" * (len(header) - 1)
    marks = ["---" if a == "l" else "--:" for a in align]
    lines = ["| " + " | ".join(str(h) for h in header) + " |", "| " + " | ".join(marks) + " |"]
    lines += ["| " + " | ".join(str(c) for c in row) + " |" for row in rows]
    return "\n".join(lines)


def pct(value: float) -> str:
    return f"{100 * value:.1f} %"

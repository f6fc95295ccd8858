#!/usr/bin/env python3
"""OCR speed: the whole pipeline against the bare `tesseract` command, throughput, and a worker's peak memory.

1. Per page, on the SAME synthetic A4 pages in one run: `ocr.pipeline.process_page` with clean-up on and off, the
   anchor, exactly `tesseract page.png - -l ara --psm 6` (OMP_THREAD_LIMIT=1), and OCRmyPDF
   (`ocrmypdf -l ara --rotate-pages --deskew --clean --output-type pdf`, bench/_ocr_systems.py). Wall and CPU
   seconds; the ratio pipeline / anchor is the number to watch (CPU seconds hardly move with other people's load
   on a shared machine; wall seconds do).
2. Throughput in pages per minute with 1 and 2 workers, two ways: real Celery workers (``celery worker``, prefork
   pool with --concurrency 1 and 2, a private redis-server as broker) reading pages registered through intake and
   sent as ``ocr.page`` tasks, timed until the database shows every page done (bench/_celery_ocr.py); and, for
   comparison, process_page alone in a ProcessPoolExecutor (no broker, database or store).
3. Peak memory of one worker process reading a 50-page PDF page by page (process_page(pdf, i) for each i), sampled
   exactly for the worker (Linux VmHWM: Tesseract and its models run inside it) and by sampling with psutil for any
   child processes.

    .venv/bin/python bench/ocr_speed.py
    .venv/bin/python bench/ocr_speed.py --pages 4 --throughput-pages 8 --pdf-pages 10     # quick look
    .venv/bin/python bench/ocr_speed.py --sections celery --throughput-pages 16            # Celery workers only
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Sequence
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import _ocr_systems as systems
from _common import load_average, machine_lines, table

from ocr_evaluation.synthetic import arabic_fonts, corpus

RECIPES = ("clean", "skew", "noise", "border")  # what a centre's flatbed scanner gives


def tesseract_env() -> dict[str, str]:
    return {**os.environ, "OMP_THREAD_LIMIT": "1"}


def bare_tesseract(path: Path) -> float:
    return systems.anchor(path).wall


def pipeline(path: Path, index: int = 0, cleanup: bool = True) -> float:
    from ocr.cleanup import CleanupOptions
    from ocr.pipeline import process_page

    options = CleanupOptions() if cleanup else CleanupOptions.none()
    start = time.perf_counter()
    process_page(path, index, options=options)
    return time.perf_counter() - start


def _warm(_: int) -> int:
    import ocr.pipeline  # noqa: F401  (imports OpenCV, NumPy, Pillow once per worker)

    time.sleep(0.2)  # keep this worker busy so that the next warm-up job starts another one
    return os.getpid()


def _pipeline_job(path: str) -> float:
    return pipeline(Path(path))


def make_pages(directory: Path, n: int, seed: int) -> list[tuple[Path, str, str]]:
    """``n`` pages that mix fonts and recipes (page i: recipe i mod 4, font shifted every 4 pages)."""
    fonts = [f.path for f in arabic_fonts()]
    out = []
    for i in range(n):
        font = fonts[(i + i // len(RECIPES)) % len(fonts)]
        page = next(corpus(1, seed + i, degradations=(RECIPES[i % len(RECIPES)],), fonts=[font]))
        path = directory / f"page-{i:03d}.png"
        page.save(path)
        out.append((path, page.font, page.recipe))
    return out


def per_page(pages: list[tuple[Path, str, str]]) -> tuple[str, float]:
    kinds = ["anchor", "pipeline-off", "pipeline"] + (["ocrmypdf"] if systems.ocrmypdf_available() else [])
    systems.run("pipeline", pages[0][0])  # warm-up, not counted: imports, caches, model files in the page cache
    rows = []
    wall = dict.fromkeys(kinds, 0.0)
    cpu = dict.fromkeys(kinds, 0.0)
    ratios = []
    for i, (path, font, recipe) in enumerate(pages):
        order = kinds[i % len(kinds):] + kinds[:i % len(kinds)]  # rotate, so that load drift hits all alike
        reads = {kind: systems.run(kind, path) for kind in order}
        for kind, read in reads.items():
            wall[kind] += read.wall
            cpu[kind] += read.cpu
        ratios.append(reads["pipeline"].cpu / reads["anchor"].cpu)
        rows.append([i, font, recipe, *[f"{reads[k].wall:.2f} / {reads[k].cpu:.2f}" for k in kinds],
                     f"{reads['pipeline'].cpu / reads['anchor'].cpu:.2f}"])
    n = len(pages)
    rows.append(["**mean**", "", "", *[f"{wall[k] / n:.2f} / {cpu[k] / n:.2f}" for k in kinds],
                 f"**{cpu['pipeline'] / cpu['anchor']:.2f}**"])
    names = {"anchor": "anchor `tesseract -l ara --psm 6`", "pipeline-off": "pipeline, clean-up off",
             "pipeline": "pipeline, clean-up on", "ocrmypdf": "OCRmyPDF"}
    text = table(["page", "font", "degradation", *[f"{names[k]} (wall / CPU s)" for k in kinds],
                  "CPU ratio on / anchor"], rows, "lll" + "r" * (len(kinds) + 1))
    text += (f"\n\nPipeline (clean-up on) ÷ anchor, sums over the pages: CPU {cpu['pipeline'] / cpu['anchor']:.2f}, "
             f"wall {wall['pipeline'] / wall['anchor']:.2f} (median per page, CPU {statistics.median(ratios):.2f}); "
             f"clean-up off: CPU {cpu['pipeline-off'] / cpu['anchor']:.2f}")
    if "ocrmypdf" in kinds:
        text += f"; OCRmyPDF: CPU {cpu['ocrmypdf'] / cpu['anchor']:.2f}, wall {wall['ocrmypdf'] / wall['anchor']:.2f}"
    return text + ".", cpu["pipeline"] / cpu["anchor"]


def throughput(pages: list[tuple[Path, str, str]], n: int, workers: Sequence[int]) -> str:
    paths = [str(pages[i % len(pages)][0]) for i in range(n)]
    rows = []
    for k in workers:
        with ProcessPoolExecutor(max_workers=k) as pool:
            started = {f.result() for f in [pool.submit(_warm, j) for j in range(k)]}
            start = time.perf_counter()
            per_page_seconds = list(pool.map(_pipeline_job, paths))
            wall = time.perf_counter() - start
        rows.append([k, len(started), n, f"{wall:.1f}", f"{60 * n / wall:.1f}",
                     f"{statistics.fmean(per_page_seconds):.2f}"])
    return table(["worker processes", "warm workers", "pages", "wall (s)", "pages / min", "mean s / page in worker"],
                 rows)


def celery_table(pages: list[tuple[Path, str, str]], n: int, workers: Sequence[int]) -> str:
    from _celery_ocr import celery_throughput

    runs = celery_throughput([pages[i % len(pages)][0] for i in range(n)], workers)
    rows = [[r.concurrency, r.pages, r.done, r.failed, f"{r.wall:.1f}", f"{60 * r.done / r.wall:.1f}",
             f"{r.ocr_seconds:.2f}", f"{r.startup:.1f}"] for r in runs]
    return table(["worker concurrency (prefork)", "pages", "done", "failed", "wall (s)", "pages / min",
                  "mean process_page s / page", "worker start-up (s, not in wall)"], rows)


def _vm_hwm() -> int:
    """Peak RSS in bytes of this program since its exec (Linux VmHWM). Unlike ru_maxrss it does not inherit the
    parent's size at fork time, which would make a child of a big benchmark process look big."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) * 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024


def _child(pdf: Path, n: int) -> None:
    """The worker side of the memory test: read every page of the PDF, one at a time, report as JSON."""
    import psutil

    me = psutil.Process()
    rss: list[int] = []
    hwm: list[int] = []
    start = time.perf_counter()
    for i in range(n):
        pipeline(pdf, i)
        rss.append(me.memory_info().rss)
        hwm.append(_vm_hwm())
    print(json.dumps({"seconds": time.perf_counter() - start, "rss_after_page": rss, "hwm_after_page": hwm}))


def memory(directory: Path, n: int, seed: int) -> str:
    import psutil
    from PIL import Image

    fonts = [f.path for f in arabic_fonts()]
    images: list[Image.Image] = []
    labels: list[str] = []
    for page in corpus(n, seed + 1, degradations=RECIPES, fonts=fonts):
        images.append(page.image.convert("L"))
        labels.append(f"{page.font}, {page.recipe}")
    pdf = directory / "scan.pdf"
    images[0].save(pdf, save_all=True, append_images=images[1:], resolution=300.0)
    del images
    size_mb = pdf.stat().st_size / 1e6

    process = subprocess.Popen([sys.executable, __file__, "--child-pdf", str(pdf), "--pdf-pages", str(n)],
                               stdout=subprocess.PIPE, text=True, env=tesseract_env())
    peaks = {"tree": 0, "tesseract": 0}
    done = threading.Event()

    def sample() -> None:
        try:
            worker = psutil.Process(process.pid)
        except psutil.Error:
            return
        while not done.is_set():
            try:
                children = [c.memory_info().rss for c in worker.children(recursive=True)]
                total = worker.memory_info().rss + sum(children)
            except psutil.Error:
                children, total = [], 0
            peaks["tree"] = max(peaks["tree"], total)
            peaks["tesseract"] = max([peaks["tesseract"], *children])
            time.sleep(0.05)

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    out, _ = process.communicate()
    done.set()
    sampler.join()
    if process.returncode != 0:
        raise SystemExit(f"memory child failed with exit code {process.returncode}")
    report = json.loads(out.strip().splitlines()[-1])
    rss = [v / 2**20 for v in report["rss_after_page"]]
    hwm = report["hwm_after_page"]
    peak_page = hwm.index(hwm[-1])
    tenth = max(1, n // 10)
    mib = 2**20
    rows = [
        ["PDF", f"{n} pages, {size_mb:.1f} MB (Pillow, JPEG-coded 300-dpi grey A4 pages)"],
        ["time", f"{report['seconds']:.0f} s ({report['seconds'] / n:.2f} s a page)"],
        ["worker peak RSS (VmHWM)", f"{hwm[-1] / mib:.0f} MiB, reached on page {peak_page} ({labels[peak_page]}); "
                                    f"{hwm[0] / mib:.0f} MiB after page 0"],
        [f"worker RSS after the first {tenth} pages (mean)", f"{statistics.fmean(rss[:tenth]):.0f} MiB"],
        [f"worker RSS after the last {tenth} pages (mean)", f"{statistics.fmean(rss[-tenth:]):.0f} MiB"],
        # Tesseract runs inside the worker (ocr.engine): its models are in the worker's RSS; the only child left is
        # the one `tesseract --list-langs` a process asks which models are installed.
        ["child processes' peak RSS (sampled every 50 ms)", f"{peaks['tesseract'] / mib:.0f} MiB"],
        ["worker + children together, peak (sampled every 50 ms)", f"{peaks['tree'] / mib:.0f} MiB"],
    ]
    return table(["measure", "value"], rows, "lr")


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seed", type=int, default=2026)
    parser.add_argument("--pages", type=int, default=8, help="pages for pipeline vs tesseract (default 8)")
    parser.add_argument("--throughput-pages", type=int, default=16, help="pages per throughput run (default 16)")
    parser.add_argument("--workers", type=int, nargs="+", default=[1, 2])
    parser.add_argument("--pdf-pages", type=int, default=50, help="pages of the memory test's PDF (0: skip)")
    parser.add_argument("--sections", nargs="+", choices=["ratio", "celery", "throughput", "memory"],
                        default=["ratio", "celery", "throughput", "memory"])
    parser.add_argument("--child-pdf", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    os.environ["OMP_THREAD_LIMIT"] = "1"
    if args.child_pdf:
        _child(args.child_pdf, args.pdf_pages)
        return 0

    started = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="ocr-speed-") as tmp:
        directory = Path(tmp)
        needs_pages = bool({"ratio", "celery", "throughput"} & set(args.sections))
        pages = make_pages(directory, args.pages, args.seed) if needs_pages else []
        print("### OCR speed\n")
        print("\n".join(machine_lines()))
        if pages:
            print(f"- Pages: {len(pages)} synthetic A4 pages at 300 dpi (4 fonts, recipes {', '.join(RECIPES)}), "
                  f"seeds {args.seed}…{args.seed + len(pages) - 1}")
        print()
        if "ratio" in args.sections:
            print("#### Pipeline against the anchor and OCRmyPDF, same pages, one run\n")
            text, _ = per_page(pages)
            print(text, flush=True)
        if "celery" in args.sections:
            print("\n#### Throughput of real Celery workers (intake → ocr.page tasks → pages done in the database)\n")
            print(celery_table(pages, args.throughput_pages, args.workers), flush=True)
            print(f"\nLoad average after the Celery runs: {load_average()}")
        if "throughput" in args.sections:
            print("\n#### Throughput of process_page alone in a process pool (no broker, database or store)\n")
            print(throughput(pages, args.throughput_pages, args.workers), flush=True)
            print(f"\nLoad average after the process-pool runs: {load_average()}")
        if args.pdf_pages and "memory" in args.sections:
            print(f"\n#### Memory of one worker reading a {args.pdf_pages}-page PDF page by page\n")
            print(memory(directory, args.pdf_pages, args.seed), flush=True)
    print(f"\n(total run {time.perf_counter() - started:.0f} s)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

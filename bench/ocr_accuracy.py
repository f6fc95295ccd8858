#!/usr/bin/env python3
"""OCR accuracy on synthetic Arabic pages: character error rate per degradation and font, clean-up off and on.

Builds a corpus with `ocr.synthetic` (by default every available Arabic font x every degradation, clean included,
one full A4 page at 300 dpi each), runs `ocr.pipeline.process_page` on every page twice (`CleanupOptions.none()` and
`CleanupOptions()`), and prints Markdown: CER/WER per degradation, CER per font and degradation, lines found, and the
pipeline's per-step timings. Error rates are measured after `ocr.metrics.normalise_for_cer`.

    .venv/bin/python bench/ocr_accuracy.py                      # 4 fonts x 8 recipes = 32 pages
    .venv/bin/python bench/ocr_accuracy.py --recipes clean skew+noise --fonts "Noto Naskh Arabic" --seed 7
    .venv/bin/python bench/ocr_accuracy.py --json /tmp/ocr.json --save-pages /tmp/pages
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import time
from collections import defaultdict
from collections.abc import Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import asdict, dataclass, field
from pathlib import Path

from _common import machine_lines, pct, table

from ocr.metrics import cer, wer
from ocr.synthetic import A4, A5, DEFAULT_RECIPES, arabic_fonts, corpus


@dataclass
class Run:
    """One page through the pipeline once."""

    page: int
    font: str
    recipe: str
    cleanup: bool
    cer: float
    wer: float
    mean_confidence: float
    low_confidence: bool
    lines_found: int
    lines_expected: int
    seconds: float
    timings: dict[str, float] = field(default_factory=dict)
    rotation: float = 0.0
    skew_angle: float = 0.0
    params: dict[str, float] = field(default_factory=dict)


def run_page(job: tuple[int, str, str, str, dict[str, float], str, bool, str | None]) -> Run:
    """Run the pipeline on one saved page (in a worker process when --jobs > 1)."""
    index, path, font, recipe, params, truth, cleanup, save_dir = job
    from ocr.cleanup import CleanupOptions
    from ocr.pipeline import process_page

    options = CleanupOptions() if cleanup else CleanupOptions.none()
    start = time.perf_counter()
    result = process_page(Path(path), 0, options=options)
    seconds = time.perf_counter() - start
    if save_dir:
        suffix = "on" if cleanup else "off"
        (Path(save_dir) / f"page-{index:03d}-{suffix}.txt").write_text(result.text, encoding="utf-8")
    return Run(
        page=index, font=font, recipe=recipe, cleanup=cleanup,
        cer=cer(truth, result.text), wer=wer(truth, result.text),
        mean_confidence=float(result.mean_confidence), low_confidence=bool(result.low_confidence),
        lines_found=int(result.line_count), lines_expected=len(truth.splitlines()),
        seconds=seconds, timings={k: float(v) for k, v in result.timings.items()},
        rotation=float(result.rotation), skew_angle=float(result.skew_angle or 0.0), params=params,
    )


def mean(values: Sequence[float]) -> float:
    return statistics.fmean(values) if values else float("nan")


def report(runs: list[Run], recipes: Sequence[str], fonts: Sequence[str]) -> str:
    by_font: dict[tuple[str, str, bool], list[Run]] = defaultdict(list)
    for run in runs:
        by_font[run.recipe, run.font, run.cleanup].append(run)

    out: list[str] = []
    out.append("#### CER by degradation (mean over fonts; clean-up off → on)\n")
    rows = []
    for recipe in [*recipes, "all"]:
        off = [r for r in runs if not r.cleanup and recipe in ("all", r.recipe)]
        on = [r for r in runs if r.cleanup and recipe in ("all", r.recipe)]
        if not off:
            continue
        rows.append([
            f"**{recipe}**" if recipe == "all" else recipe, len(on),
            pct(mean([r.cer for r in off])), pct(mean([r.cer for r in on])),
            pct(mean([r.wer for r in off])), pct(mean([r.wer for r in on])),
            f"{sum(r.lines_found for r in on)}/{sum(r.lines_expected for r in on)}",
            f"{mean([r.mean_confidence for r in on]):.0f}",
            sum(r.low_confidence for r in on),
        ])
    out.append(table(["degradation", "pages", "CER off", "CER on", "WER off", "WER on", "lines found (on)",
                      "mean conf. (on)", "low-conf. pages (on)"], rows))

    out.append("\n\n#### CER by font and degradation (clean-up off → on)\n")
    rows = []
    for recipe in recipes:
        row: list[object] = [recipe]
        for font in fonts:
            raw, cleaned = by_font.get((recipe, font, False)), by_font.get((recipe, font, True))
            row.append(f"{pct(mean([r.cer for r in raw]))} → {pct(mean([r.cer for r in cleaned]))}"
                       if raw and cleaned else "–")
        rows.append(row)
    rows.append(["**mean**", *[
        f"{pct(mean([r.cer for r in runs if r.font == f and not r.cleanup]))} → "
        f"{pct(mean([r.cer for r in runs if r.font == f and r.cleanup]))}" for f in fonts
    ]])
    out.append(table(["degradation", *fonts], rows))

    out.append("\n\n#### Pipeline time per page, by step (ms; mean / max over all pages)\n")
    steps = sorted({k for r in runs for k in r.timings})
    rows = []
    for step in [*steps, "whole process_page (wall)"]:
        row = [step]
        for cleanup in (False, True):
            values = [1000 * (r.seconds if step.startswith("whole") else r.timings.get(step, 0.0))
                      for r in runs if r.cleanup == cleanup]
            row.append(f"{mean(values):.0f} / {max(values):.0f}" if values else "–")
        rows.append(row)
    out.append(table(["step", "clean-up off", "clean-up on"], rows))

    skewed = [(r.params["skew_angle"], r.skew_angle) for r in runs if r.cleanup and "skew_angle" in r.params]
    if skewed:
        # The generator rotates counter-clockwise by `angle`; the pipeline may report the correction or the skew.
        errors = [min(abs(found - angle), abs(found + angle)) for angle, found in skewed]
        out.append(f"\n\nSkew found by clean-up on the skewed pages: mean error {mean(errors):.2f}°, "
                   f"max {max(errors):.2f}° over {len(errors)} pages (skew 1.5–5°).")
    return "\n".join(out)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seed", type=int, default=2026)
    parser.add_argument("--recipes", nargs="+", default=list(DEFAULT_RECIPES),
                        help="degradation recipes, e.g. clean skew noise skew+noise (default: %(default)s)")
    parser.add_argument("--fonts", nargs="+", help="font families (default: every Arabic font found)")
    parser.add_argument("--pages", type=int, help="number of pages (default: fonts x recipes, each pair once)")
    parser.add_argument("--a5", action="store_true", help="A5 pages instead of A4 (faster)")
    parser.add_argument("--max-lines", type=int, help="at most this many text lines a page")
    parser.add_argument("--jobs", type=int, default=1, help="worker processes (default 1: cleanest timings)")
    parser.add_argument("--json", type=Path, help="also write every run as JSON here")
    parser.add_argument("--save-pages", type=Path, help="keep page images, truths and OCR texts in this directory")
    args = parser.parse_args(argv)
    os.environ["OMP_THREAD_LIMIT"] = "1"  # for every Tesseract run, workers included (shared TOOLCHAIN.md)

    available = arabic_fonts()
    chosen = [f for f in available if not args.fonts or f.name in args.fonts]
    if not chosen:
        parser.error(f"no such font; available: {[f.name for f in available]}")
    n_pages = args.pages or len(chosen) * len(args.recipes)

    started = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="ocr-accuracy-") as tmp:
        directory = args.save_pages or Path(tmp)
        directory.mkdir(parents=True, exist_ok=True)
        pages = list(corpus(n_pages, args.seed, degradations=args.recipes, fonts=[f.path for f in chosen],
                            size=A5 if args.a5 else A4, max_lines=args.max_lines))
        jobs = []
        for i, page in enumerate(pages):
            path = directory / f"page-{i:03d}.png"
            page.save(path)
            if args.save_pages:
                (directory / f"page-{i:03d}.truth.txt").write_text(page.truth, encoding="utf-8")
            for cleanup in (False, True):
                jobs.append((i, str(path), page.font, page.recipe, page.params, page.truth, cleanup,
                             str(args.save_pages) if args.save_pages else None))
        print(f"{len(pages)} pages generated in {time.perf_counter() - started:.0f} s; running the pipeline "
              f"{len(jobs)} times with {args.jobs} process(es)...", file=sys.stderr)
        if args.jobs > 1:
            with ProcessPoolExecutor(max_workers=args.jobs) as pool:
                runs = list(pool.map(run_page, jobs))
        else:
            runs = [run_page(job) for job in jobs]

    fonts = list(dict.fromkeys(p.font for p in pages))
    print("### OCR accuracy on synthetic pages\n")
    print("\n".join(machine_lines()))
    print(f"- Corpus: {len(pages)} pages ({'A5' if args.a5 else 'A4'}, 300 dpi, 14 pt, seed {args.seed}), "
          f"{len(fonts)} fonts × {len(args.recipes)} degradations; {sum(len(p.truth) for p in pages)} characters "
          f"of ground truth; run took {time.perf_counter() - started:.0f} s with {args.jobs} process(es)\n")
    print(report(runs, args.recipes, fonts))
    if args.json:
        args.json.write_text(json.dumps([asdict(r) for r in runs], ensure_ascii=False, indent=1), encoding="utf-8")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

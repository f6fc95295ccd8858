#!/usr/bin/env python3
"""Signing speed: our PAdES signing and validation against the `pyhanko` command line on the same permit-sized PDF.

What is measured, each on the SAME input file (an A4 Arabic permit page made with WeasyPrint, two empty signature
fields already added), the median of several runs:

1. Signing, B-B: `signing.pades.sign_pdf` with a PKCS#12 signer opened once (EC P-256 and RSA-2048 keys), the same
   including `open_signer` (loading the PKCS#12 file each time), and `pyhanko sign addsig --use-pades pkcs12`.
2. Signing, B-T: the same with an RFC 3161 timestamp from the local test TSA (certomancer, in-process, loopback), and
   `pyhanko sign addsig --timestamp-url`.
3. Signing, B-LT: ours with OCSP/CRL fetched from the local test PKI into the DSS (the CLI's `--with-validation-info`
   needs a configured validation context, so it is not compared).
4. Validation of one B-B signature with the trust root and no revocation check: `validate_pdf_signature` against
   `pyhanko sign validate --trust root --trust-replace --no-revocation-check`.
5. `pyhanko --version`: the command line's start-up cost alone.

Each pyhanko-cli operation is timed twice: as a command in a fresh process (what an operator pays) and "warm", through
pyhanko-cli's click entry point inside this process (its work alone, as a long-running web or worker process would pay
it). The ratios are ours / CLI: below 1 means ours is faster. Ours does more per signature than the CLI's default
(an 880 x 360 px Arabic stamp image instead of a short Latin text stamp).

    .venv/bin/python bench/sign.py                 # ~1 min
    .venv/bin/python bench/sign.py --runs 5 --cli-runs 2    # quick look
"""

from __future__ import annotations

import argparse
import datetime as dt
import io
import os
import platform
import shlex
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from _common import ROOT, _cpu_model, _memory_gib, load_average, table

sys.path.insert(0, str(ROOT))  # tests.fixtures.pki: the test PKI with its TSA and OCSP responder

from pyhanko.pdf_utils.reader import PdfFileReader
from pyhanko.sign.validation import validate_pdf_signature
from pyhanko_certvalidator import ValidationContext

from signing.pades import add_signature_fields, sign_pdf
from signing.signers import LoadedSigner, Pkcs12Credential, open_signer
from signing.slots import SignatureSlot
from signing.stamp import StampText, draw_stamp
from tests.fixtures.pki import TestPki, start_test_pki

PASSPHRASE = b"bench-passphrase"
STAMP = StampText("م. سامي فؤاد عبد الله", "رئيس الإدارة الهندسية", "Eng. Sami Fouad Abdallah", "Head of Engineering")
SLOTS = [SignatureSlot("engineering", 0, (320.0, 60.0, 540.0, 150.0)),
         SignatureSlot("council", 0, (56.0, 60.0, 276.0, 150.0))]
PYHANKO = str(Path(sys.executable).with_name("pyhanko"))

PERMIT_HTML = """<!doctype html><html lang="ar" dir="rtl"><head><meta charset="utf-8"><style>
@page { size: A4; margin: 18mm } body { font-family: 'Noto Naskh Arabic'; font-size: 12pt }
table { width: 100%; border-collapse: collapse } td, th { border: 1px solid #555; padding: 4px 8px }
h1 { text-align: center } .ltr { direction: ltr; unicode-bidi: isolate }
</style></head><body>
<h1>محافظة سوهاج — مركز خدمات المواطنين<br>ترخيص أعمال بناء</h1>
<table>
<tr><th>رقم الترخيص</th><td><span class="ltr">SOH01-BP-2026-000123</span></td></tr>
<tr><th>اسم المالك</th><td>أحمد محمود حسن عبد الرحيم</td></tr>
<tr><th>الرقم القومي</th><td><span class="ltr">2**********015</span></td></tr>
<tr><th>العنوان</th><td>قطعة رقم ١٢ — حي الكوثر — مدينة سوهاج</td></tr>
<tr><th>نوع الأعمال</th><td>إنشاء مبنى سكني من أربعة طوابق</td></tr>
<tr><th>المساحة</th><td>٣٢٠ مترا مربعا</td></tr>
<tr><th>تاريخ الإصدار</th><td><span class="ltr">2026-11-23</span></td></tr>
</table>
<h2>الاشتراطات</h2>
<ol>
<li>الالتزام بالرسومات الهندسية المعتمدة وعدم تجاوز الارتفاع المسموح به.</li>
<li>تنفيذ الأعمال تحت إشراف مهندس نقابي مسؤول طوال مدة التنفيذ.</li>
<li>وضع لافتة بالموقع تتضمن رقم الترخيص واسم المالك والمهندس المشرف.</li>
<li>عدم إشغال الطريق العام بمواد البناء أو المخلفات.</li>
<li>يسري هذا الترخيص لمدة سنة من تاريخ إصداره ويجدد وفقا للقانون.</li>
</ol>
<p>للتحقق من صحة هذا الترخيص: <span class="ltr">https://sijill.example.eg/v/Qm9vZ2xlLXRva2VuLTEyMw</span></p>
</body></html>"""


def median_ms(fn: Callable[[], object], runs: int, warmup: int = 1) -> float:
    for _ in range(warmup):
        fn()
    samples = []
    for _ in range(runs):
        start = time.perf_counter()
        fn()
        samples.append(time.perf_counter() - start)
    return 1000 * statistics.median(samples)


def run_cli(args: list[str]) -> None:
    """The `pyhanko` command in a fresh process, as an operator would run it."""
    result = subprocess.run([PYHANKO, *args], capture_output=True, timeout=300, check=False)
    if result.returncode != 0:
        raise RuntimeError(f"pyhanko {shlex.join(args)} failed: {result.stderr.decode(errors='replace')[-2000:]}")


def run_cli_warm(args: list[str]) -> None:
    """The same command through pyhanko-cli's click entry point in this (warm) process: its work without start-up."""
    import contextlib

    from pyhanko.cli import cli_root

    sink = io.StringIO()
    with contextlib.redirect_stdout(sink), contextlib.redirect_stderr(sink):
        try:
            cli_root.main(args=args, prog_name="pyhanko", standalone_mode=False)
        except SystemExit as exc:  # click exits 0 after some commands
            if exc.code not in (0, None):
                raise RuntimeError(f"pyhanko {shlex.join(args)} failed: {sink.getvalue()[-2000:]}") from None


def make_input(directory: Path) -> tuple[bytes, Path]:
    from weasyprint import HTML

    pdf = add_signature_fields(bytes(HTML(string=PERMIT_HTML).write_pdf()), SLOTS)
    path = directory / "permit.pdf"
    path.write_bytes(pdf)
    return pdf, path


def ours(pdf: bytes, signer: LoadedSigner, pki: TestPki, level: str) -> bytes:
    return sign_pdf(pdf, signer, field_name="engineering", stamp=STAMP, reason="اعتماد", location="سوهاج",
                    certify=True, timestamp_url=pki.tsa_url if level != "B-B" else None,
                    embed_validation_info=level == "B-LT",
                    validation_context=pki.validation_context() if level == "B-LT" else None)


def validate_ours(pdf: bytes, trust: ValidationContext | None = None, pki: TestPki | None = None) -> None:
    assert pki is not None
    reader = PdfFileReader(io.BytesIO(pdf))
    for sig in reader.embedded_regular_signatures:
        context = ValidationContext(trust_roots=pki.trust_roots, other_certs=[pki.cert("interm")],
                                    allow_fetching=False, revocation_mode="soft-fail")
        status = validate_pdf_signature(sig, context)
        if not status.bottom_line:
            raise RuntimeError(status.pretty_print_details())


def fmt(ms: float) -> str:
    return f"{ms:,.0f} ms" if ms >= 100 else f"{ms:.1f} ms"


def ratio(a: float, b: float) -> str:
    return f"{a / b:.2f}" if b > 0 else "n/a"


def machine() -> list[str]:
    from importlib.metadata import version

    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    command = ".venv/bin/python " + shlex.join([os.path.relpath(sys.argv[0], ROOT), *sys.argv[1:]])
    return [
        f"- Date: {dt.date.today().isoformat()}",
        f"- Machine: {cores} cores ({_cpu_model()}), {_memory_gib():.0f} GiB RAM, {platform.system()} "
        f"{platform.release()}, Python {platform.python_version()}",
        f"- Software: pyHanko {version('pyHanko')}, pyhanko-certvalidator {version('pyhanko-certvalidator')}, "
        f"pyhanko-cli {version('pyhanko-cli')}, certomancer {version('certomancer')} (test PKI served in-process on "
        f"loopback), Pillow {version('pillow')}",
        f"- Command: `{command}`",
        f"- Load average when the numbers were printed (1/5/15 min): {load_average()} "
        "(above ~0.3 other work shared the cores)",
    ]


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=15, help="runs per in-process measurement (median)")
    parser.add_argument("--cli-runs", type=int, default=5, help="runs per command-line measurement (median)")
    args = parser.parse_args(argv)

    with tempfile.TemporaryDirectory(prefix="bench-sign-") as tmp:
        work = Path(tmp)
        pki = start_test_pki(work / "pki")
        try:
            rows, notes = measure(pki, work, args.runs, args.cli_runs)
        finally:
            pki.close()
    print("\n".join(machine()))
    print()
    print(table(["operation", "ours", "pyhanko CLI (command)", "pyhanko CLI (warm)", "ours / command",
                 "ours / warm"], rows, align="lrrrrr"))
    print()
    print("\n".join(notes))


def measure(pki: TestPki, work: Path, runs: int, cli_runs: int) -> tuple[list[list[str]], list[str]]:
    pdf, pdf_path = make_input(work)
    ec_p12 = pki.pkcs12("engineering", PASSPHRASE, work)
    rsa_p12 = pki.pkcs12("council", PASSPHRASE, work)
    passfile = work / "pass.txt"
    passfile.write_bytes(PASSPHRASE)
    root_pem = work / "root.pem"
    from asn1crypto import pem

    root_pem.write_bytes(pem.armor("CERTIFICATE", pki.cert("root").dump()))
    out_path = work / "out.pdf"

    def sign_args(p12: Path, *extra: str) -> list[str]:
        return ["sign", "addsig", "--field", "engineering", "--certify", "--use-pades", *extra,
                "pkcs12", "--passfile", str(passfile), str(pdf_path), str(out_path), str(p12)]

    def cli(arguments: list[str]) -> tuple[float, float]:
        """(cold command, warm in-process) medians for one pyhanko-cli invocation."""
        return (median_ms(lambda: run_cli(arguments), cli_runs), median_ms(lambda: run_cli_warm(arguments), runs))

    def cli_sign(p12: Path, *extra: str) -> tuple[float, float]:
        return cli(sign_args(p12, *extra))

    startup = median_ms(lambda: run_cli(["--version"]), cli_runs)
    rows: list[list[str]] = []

    def row(name: str, our_ms: float, cli_ms: tuple[float, float] | None) -> None:
        if cli_ms is None:
            rows.append([name, fmt(our_ms), "—", "—", "—", "—"])
        else:
            cold, warm = cli_ms
            rows.append([name, fmt(our_ms), fmt(cold), fmt(warm), ratio(our_ms, cold), ratio(our_ms, warm)])

    stamp_ms = median_ms(lambda: draw_stamp(STAMP.name_ar, STAMP.title_ar, dt.datetime.now(dt.UTC),
                                            name_en=STAMP.name_en, title_en=STAMP.title_en), runs)
    with open_signer(Pkcs12Credential(ec_p12, PASSPHRASE)) as ec, open_signer(
            Pkcs12Credential(rsa_p12, PASSPHRASE)) as rsa_signer:
        for label, signer, p12 in [("EC P-256", ec, ec_p12), ("RSA-2048", rsa_signer, rsa_p12)]:
            our = median_ms(lambda s=signer: ours(pdf, s, pki, "B-B"), runs)  # type: ignore[misc]
            cli_ms = cli_sign(p12)
            row(f"sign B-B, PKCS#12 {label}, signer loaded once", our, cli_ms)

            def load_and_sign(p: Path = p12) -> None:
                with open_signer(Pkcs12Credential(p, PASSPHRASE)) as fresh:
                    ours(pdf, fresh, pki, "B-B")

            row(f"sign B-B, PKCS#12 {label}, loading the file each time", median_ms(load_and_sign, runs), cli_ms)
        our_bt = median_ms(lambda: ours(pdf, ec, pki, "B-T"), runs)
        cli_bt = cli_sign(ec_p12, "--timestamp-url", pki.tsa_url)
        row("sign B-T (local TSA), PKCS#12 EC, signer loaded once", our_bt, cli_bt)
        our_blt = median_ms(lambda: ours(pdf, ec, pki, "B-LT"), max(3, runs // 3))
        row("sign B-LT (local TSA, OCSP, CRL), PKCS#12 EC", our_blt, None)
        signed = ours(pdf, ec, pki, "B-B")

    signed_path = work / "signed.pdf"
    signed_path.write_bytes(signed)
    our_val = median_ms(lambda: validate_ours(signed, pki=pki), runs)
    cli_val = cli(["sign", "validate", "--trust", str(root_pem), "--trust-replace", "--other-certs",
                   str(_interm_pem(pki, work)), "--no-revocation-check", str(signed_path)])
    row("validate one B-B signature (trust root, no revocation)", our_val, cli_val)
    notes = [
        f"- `pyhanko --version` alone (interpreter start-up and imports): {fmt(startup)}. \"warm\" runs the same "
        "pyhanko-cli command through its click entry point inside this process, i.e. its work without start-up.",
        f"- Drawing our Arabic stamp (Pillow + raqm, 880 x 360 px) is part of every signature of ours: "
        f"{fmt(stamp_ms)}. The CLI draws its default Latin text stamp.",
        f"- Input: one A4 permit page, {len(pdf) / 1024:.0f} KiB with its two empty fields; a B-B signature adds "
        f"{(len(signed) - len(pdf)) / 1024:.0f} KiB (CMS reserve + stamp image).",
        f"- Medians of {runs} in-process runs (B-LT: {max(3, runs // 3)}) and {cli_runs} command runs, each "
        "after one warm-up run.",
    ]
    return rows, notes


def _interm_pem(pki: TestPki, work: Path) -> Path:
    from asn1crypto import pem

    path = work / "interm.pem"
    if not path.exists():
        path.write_bytes(pem.armor("CERTIFICATE", pki.cert("interm").dump()))
    return path


if __name__ == "__main__":
    main()

"""How long an official waits for a batch signed at the desk: the real `sijill-sign` against `sijill run`.

Starts the certomancer test PKI (TSA, OCSP, CRL on loopback), a SoftHSM2 token with the test signers' keys, and
`sijill run` with N permits waiting (tests/desk_world.py), then:

1. times the real agent process signing all N permits as the head of engineering (one PIN; B-LT signatures:
   OCSP fetched at preparation, signature timestamp at completion), and
2. signs the same N as the head of the city council in-process through the agent's own client, timing the three
   phases separately: prepare (server), sign the signed attributes on the token, complete (server).

Prints Markdown for docs/PERFORMANCE.md. Nothing is asserted.
"""

from __future__ import annotations

import argparse
import base64
import os
import platform
import sys
import tempfile
import time
from pathlib import Path

from _common import ROOT, _cpu_model, _memory_gib, load_average, table

sys.path.insert(0, str(ROOT))  # tests.desk_world and the test PKI
os.environ["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")]))  # subprocesses

from signing.agent import DeskClient
from signing.signers import open_signer, sign_raw
from tests.desk_world import agent, desk_server
from tests.fixtures.pki import start_test_pki
from tests.fixtures.softhsm import create_token


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--permits", type=int, default=50)
    args = parser.parse_args()
    n = args.permits

    with tempfile.TemporaryDirectory() as tmp_dir:
        tmp = Path(tmp_dir)
        (tmp / "pki").mkdir()
        pki = start_test_pki(tmp / "pki")
        try:
            token = create_token(tmp / "hsm", pki)
            setup = time.perf_counter()
            with desk_server(tmp / "desk", pki, n) as desk:
                setup = time.perf_counter() - setup
                started = time.perf_counter()
                run = agent(desk, token, "demo.signer", "engineering", "sign", "--all")
                agent_s = time.perf_counter() - started
                if run.returncode != 0:
                    raise SystemExit(run.stdout + run.stderr)

                client = DeskClient(desk.base, desk.tokens["demo.council"])
                t0 = time.perf_counter()
                with open_signer(token.credential("council")) as council:
                    opened = time.perf_counter() - t0
                    t0 = time.perf_counter()
                    prepared = client.prepare(council.certificate.dump(), desk.tracking)
                    prepare_s = time.perf_counter() - t0
                    t0 = time.perf_counter()
                    values = [(int(p["prepared_id"]), sign_raw(council, base64.b64decode(p["to_sign"])))
                              for p in prepared["prepared"]]
                    token_s = time.perf_counter() - t0
                t0 = time.perf_counter()
                done = client.complete(values)
                complete_s = time.perf_counter() - t0
                if prepared["refused"] or done["refused"]:
                    raise SystemExit(f"refused: {prepared['refused']} {done['refused']}")
        finally:
            pki.close()

    print("## Signing at the desk (sijill-sign)\n")
    print(f"- Machine: 2 cores ({_cpu_model()}), {_memory_gib():.0f} GiB RAM, {platform.system()} "
          f"{platform.release()}, Python {platform.python_version()}")
    print(f"- Command: `.venv/bin/python {Path(__file__).relative_to(ROOT)} --permits {n}`")
    print(f"- Setup (migrate, {n} applications registered and recommended, `sijill run` up): {setup:.1f} s")
    print(f"- Load average when printed (1/5/15 min): {load_average()}\n")
    rows = [
        ["agent process, head of engineering (EC P-256): list, PIN, prepare, sign, complete",
         f"{agent_s:.1f} s", f"{agent_s / n * 1000:.0f} ms"],
        ["council (RSA-2048) in-process: open token session + login", f"{opened * 1000:.0f} ms", "—"],
        ["prepare (server: layout, stamp, OCSP for B-LT, digest)", f"{prepare_s:.1f} s",
         f"{prepare_s / n * 1000:.0f} ms"],
        ["sign signed attributes on SoftHSM2", f"{token_s * 1000:.0f} ms", f"{token_s / n * 1000:.1f} ms"],
        ["complete (server: verify, TSA timestamp, embed, store, advance)", f"{complete_s:.1f} s",
         f"{complete_s / n * 1000:.0f} ms"],
    ]
    print(table(["operation", f"{n} permits", "per permit"], rows))


if __name__ == "__main__":
    main()

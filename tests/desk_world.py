"""A running Sijill for desk signing: `sijill run` with the test PKI's TSA/OCSP, officials holding the SoftHSM2 token's
certificates, and permits waiting at the head of engineering's signing step; plus the real agent as a subprocess.

Shared by tests/test_desk_signing.py and bench/desk_sign.py. The server gets no PKCS#11 module and no SoftHSM
configuration, and the DEMO PKI (which writes PKCS#12 files with keys) is not loaded.
"""

from __future__ import annotations

import io
import os
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from asn1crypto import pem
from PIL import Image
from sqlalchemy import select

from archive.db import Database
from archive.models import User
from archive.store import open_store
from intake.service import Upload, register_application
from ocr.limits import Limits
from sijill.demo import load_demo
from sijill.settings import Settings
from tests.fixtures.pki import TestPki
from tests.fixtures.softhsm import SoftHsmToken
from tests.sijill_process import run_sijill, serving, sijill_env
from workflow.routing import add_trust_root, decide, ensure_workflow, register_certificate

NAMES = ["سامية محمود حسن", "أحمد علي السيد", "منى فؤاد إبراهيم", "كريم عادل سالم"]


@dataclass
class Desk:
    base: str
    data_dir: Path
    env: dict[str, str]
    database: Database
    tracking: list[str]
    tokens: dict[str, str]


def _png() -> bytes:
    out = io.BytesIO()
    Image.new("L", (120, 160), 255).save(out, format="PNG")
    return out.getvalue()


@contextmanager
def desk_server(tmp: Path, pki: TestPki, count: int) -> Iterator[Desk]:
    """`sijill run` with ``count`` permits waiting for demo.signer (engineering) and demo.council after them."""
    tmp.mkdir(parents=True, exist_ok=True)
    data_dir = tmp / "data"
    chain = tmp / "issuing-cas.pem"
    chain.write_bytes(b"".join(pem.armor("CERTIFICATE", c.dump()) for c in pki.chain("engineering")))
    env = sijill_env(data_dir, tsa_url=pki.tsa_url, signing_ca_chain=str(chain), signing_revocation="require",
                     pkcs11_module="")
    env.pop("SOFTHSM2_CONF", None)  # the server has no token and no way to find one
    done = run_sijill(env, "db", "upgrade")
    assert done.returncode == 0, done.stderr

    settings = Settings.from_env(env)
    database = Database(settings.database_url)
    store = open_store(settings.storage_url)
    tracking: list[str] = []
    with database.session() as s:
        load_demo(s, data_dir)
        users = {u.username: u for u in s.scalars(select(User))}
        add_trust_root(s, "Sijill TEST Root CA", pki.cert("root").dump())
        register_certificate(s, users["demo.signer"], pki.cert("engineering").dump(), by=None)
        register_certificate(s, users["demo.council"], pki.cert("council").dump(), by=None)
        for i in range(count):
            result = register_application(
                s, store, centre_code="SOH-01", service_code="BUILD-PERMIT", applicant_name=NAMES[i % len(NAMES)],
                national_id="29001012601235", applicant_phone="01012345678",
                details={"plot_number": str(10 + i), "district": "الكوثر", "area_m2": "200"},
                uploads=[Upload(code, f"{code.lower()}.png", io.BytesIO(_png())) for code in BUILD_PERMIT_PAPERS],
                created_by=users["demo.clerk"], channel="window", incomplete_reason=None, limits=Limits(),
            )
            ensure_workflow(s, result.application)
            decide(s, result.application, users["demo.reviewer"], "recommend", reason="مطابق")
            tracking.append(result.application.tracking_number)
    tokens = {}
    for name in ("demo.signer", "demo.council"):
        done = run_sijill(env, "users", "token", name)
        assert done.returncode == 0, done.stderr
        tokens[name] = done.stdout.strip()
    with serving(env, "--no-worker", log=tmp / "run.log") as base:
        yield Desk(base=base, data_dir=data_dir, env=env, database=database, tracking=tracking, tokens=tokens)
    database.dispose()


BUILD_PERMIT_PAPERS = ("ID_COPY", "OWNERSHIP", "SURVEY", "DRAWINGS", "ENGINEER_CERT")
"""Every required document of BUILD-PERMIT: a file is signed only when it is complete."""


def agent(desk: Desk, softhsm: SoftHsmToken, user: str, key: str, *args: str,
          pin: str | None = None) -> subprocess.CompletedProcess[str]:
    """The real `sijill-sign` (python -m signing.agent), with the token's PIN on stdin."""
    command = [sys.executable, "-m", "signing.agent", "--server", desk.base, "--api-token", desk.tokens[user],
               "--module", softhsm.module_path, "--token-label", softhsm.token_label, "--key-label", key,
               "--pin-stdin", *args]
    env = {**os.environ, "SOFTHSM2_CONF": str(softhsm.conf_path)}
    return subprocess.run(command, input=f"{softhsm.pin if pin is None else pin}\n", env=env, capture_output=True,
                          text=True, timeout=600, check=False)



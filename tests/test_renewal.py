"""B-LTA renewal: issued permits get a document timestamp, and a new one before the TSA certificate ends.

The job's clock is moved (``now``) to just inside the renewal window before the test TSA's certificate expires; the
timestamps themselves come from the live certomancer TSA on loopback.
"""

from __future__ import annotations

import io
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from PIL import Image
from pyhanko.pdf_utils.reader import PdfFileReader
from pyhanko.sign.validation import validate_pdf_signature

from archive.db import Database
from archive.models import Centre, Permit, PermitStatus
from archive.roles import Role
from archive.store import ObjectStore, open_store
from archive.users import create_user
from intake.catalogue import load_catalogue, sync_catalogue
from intake.service import Upload, register_application
from ocr.limits import Limits
from signing.pades import signature_levels
from signing.renewal import newest_timestamp_expiry, renew_timestamps, timestamp_due
from tests.fixtures.pki import TestPki
from tests.fixtures.softhsm import SoftHsmToken
from tests.test_signing import make_pdf, sign_both

WINDOW = timedelta(days=90)


def png() -> bytes:
    out = io.BytesIO()
    Image.new("L", (120, 160), 255).save(out, format="PNG")
    return out.getvalue()


@pytest.fixture
def permit_world(database: Database, tmp_path: Path, pki: TestPki, softhsm: SoftHsmToken,
                 ) -> tuple[ObjectStore, dict[str, str]]:
    store = open_store((tmp_path / "objects").as_uri())
    signed = sign_both(make_pdf(), pki, softhsm, tmp_path).final
    keys = {"issued": store.put(signed), "draft": store.put(signed)}
    with database.session() as s:
        s.add(Centre(code="SOH-01", name_ar="مركز سوهاج", name_en="Sohag", governorate_code="26"))
        s.flush()
        sync_catalogue(s, load_catalogue())
        clerk = create_user(s, "clerk", "long enough pw", {Role.CLERK}, "موظف", "SOH-01")
        for i, status in enumerate((PermitStatus.ISSUED, PermitStatus.DRAFT)):
            app = register_application(
                s, store, centre_code="SOH-01", service_code="BUILD-PERMIT", applicant_name="سامية محمود حسن",
                national_id="29001012601235", applicant_phone="01012345678",
                details={"plot_number": str(i), "district": "الكوثر", "area_m2": "200"},
                uploads=[Upload("ID_COPY", "id.png", io.BytesIO(png()))], created_by=clerk, channel="window",
                incomplete_reason="لاحقا", limits=Limits(),
            ).application
            s.add(Permit(application_id=app.id, permit_number=f"P-{status.value}", token_sha256=f"{i:064d}",
                         status=status.value, facts={}, draft_pdf_sha256=keys[status.value],
                         current_pdf_sha256=keys[status.value]))
    return store, keys


def current(database: Database, store: ObjectStore, number: str) -> bytes:
    with database.session() as s:
        permit = s.query(Permit).filter_by(permit_number=number).one()
        return store.get_bytes(permit.current_pdf_sha256)


def test_issued_permits_become_b_lta_and_are_renewed_when_the_clock_nears_the_tsa_expiry(
    database: Database, permit_world: tuple[ObjectStore, dict[str, str]], pki: TestPki
) -> None:
    store, keys = permit_world
    tsa_end = pki.cert("tsa").not_valid_after

    def renew(now: datetime) -> list[str]:
        report = renew_timestamps(database, store, timestamp_url=pki.tsa_url,
                                  validation_context=lambda: pki.validation_context(), window=WINDOW, now=now)
        assert report.failed == {}
        return report.renewed

    before = current(database, store, "P-issued")
    assert newest_timestamp_expiry(before) == (False, tsa_end)
    assert set(signature_levels(before).values()) == {"B-LT"}

    today = datetime.now(UTC)
    assert renew(today) == ["P-issued"]  # the first document timestamp; the draft is left alone
    first = current(database, store, "P-issued")
    assert set(signature_levels(first).values()) == {"B-LTA"}
    assert len(PdfFileReader(io.BytesIO(first)).embedded_timestamp_signatures) == 1
    assert current(database, store, "P-draft") == store.get_bytes(keys["draft"])

    assert renew(today) == []  # far from expiry: nothing to do
    assert renew(tsa_end - WINDOW - timedelta(days=1)) == []  # one day before the window opens
    assert not timestamp_due(first, window=WINDOW, now=tsa_end - WINDOW - timedelta(days=1))

    assert renew(tsa_end - WINDOW + timedelta(days=1)) == ["P-issued"]  # inside the window: renewed
    second = current(database, store, "P-issued")
    reader = PdfFileReader(io.BytesIO(second))
    assert len(reader.embedded_timestamp_signatures) == 2
    assert second.startswith(first)  # an incremental update: everything signed before is untouched
    for sig in reader.embedded_regular_signatures:
        status = validate_pdf_signature(sig, pki.validation_context())
        assert status.bottom_line, status.pretty_print_details()
    assert set(signature_levels(second).values()) == {"B-LTA"}

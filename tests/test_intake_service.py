"""Registering applications: validation of every field, file checks, the write order and what a crash leaves."""

from __future__ import annotations

import io
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from PIL import Image, ImageDraw
from sqlalchemy import func, select
from sqlalchemy.orm import Session

import intake.service as service_module
from archive.db import Database
from archive.models import (
    Application,
    Centre,
    Document,
    Page,
    Service,
    TrackingCounter,
    User,
)
from archive.roles import Role
from archive.store import ObjectStore, open_store
from archive.sweeper import referenced_keys, sweep_unreferenced
from archive.users import create_user
from intake.catalogue import load_catalogue, sync_catalogue
from intake.errors import IntakeInvalid
from intake.service import ChecklistItem, RegisteredApplication, Upload, checklist, register_application
from intake.tracking import format_tracking, parse_tracking
from intake.uploads import sanitise_filename
from ocr.limits import Limits

NOW = datetime(2026, 11, 24, 9, 30, tzinfo=UTC)
LIMITS = Limits()
NATIONAL_ID = "٢٩٠٠١٠١٢٦٠١٢٣٤"  # typed with Arabic-Indic digits
PROPERTY = {"plot_number": "١٢/ب", "street": "شارع الجمهورية", "district": "الكوثر", "area_m2": "٢٥٠٫٥"}


# --- files --------------------------------------------------------------------------------------------------------


def page_image(label: str = "صفحة", size: tuple[int, int] = (240, 340)) -> Image.Image:
    image = Image.new("L", size, 255)
    ImageDraw.Draw(image).rectangle((20, 20, size[0] - 20, 60), outline=0, width=3)
    ImageDraw.Draw(image).text((30, 80), label.encode("ascii", "replace").decode(), fill=0)
    return image


def png_bytes(label: str = "png") -> bytes:
    out = io.BytesIO()
    page_image(label).save(out, format="PNG")
    return out.getvalue()


def jpeg_bytes() -> bytes:
    out = io.BytesIO()
    page_image("jpeg").convert("RGB").save(out, format="JPEG", quality=80)
    return out.getvalue()


def tiff_bytes(pages: int) -> bytes:
    out = io.BytesIO()
    frames = [page_image(f"tiff {i}") for i in range(pages)]
    frames[0].save(out, format="TIFF", save_all=True, append_images=frames[1:], compression="tiff_deflate")
    return out.getvalue()


def pdf_bytes(pages: int) -> bytes:
    out = io.BytesIO()
    frames = [page_image(f"pdf {i}").convert("RGB") for i in range(pages)]
    frames[0].save(out, format="PDF", save_all=True, append_images=frames[1:], resolution=72)
    return out.getvalue()


def upload(requirement: str, filename: str, data: bytes) -> Upload:
    return Upload(requirement, filename, io.BytesIO(data))


def complete_permit_uploads() -> list[Upload]:
    """Every required document of BUILD-PERMIT, in every accepted format, plus one extra document."""
    return [
        upload("ID_COPY", "بطاقة.png", png_bytes("id")),
        upload("OWNERSHIP", "ownership.pdf", pdf_bytes(2)),
        upload("SURVEY", "survey.tif", tiff_bytes(3)),
        upload("DRAWINGS", "drawings.jpg", jpeg_bytes()),
        upload("ENGINEER_CERT", "cert.pdf", pdf_bytes(1)),
        upload("OTHER", "letter.png", png_bytes("other")),
    ]


# --- fixtures -----------------------------------------------------------------------------------------------------


@dataclass
class World:
    database: Database
    store: ObjectStore
    clerk_id: int
    other_clerk_id: int
    roaming_clerk_id: int
    auditor_id: int
    tmp: Path

    def user(self, session: Session, user_id: int) -> User:
        user = session.get(User, user_id)
        assert user is not None
        return user


@pytest.fixture
def world(database: Database, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[World]:
    spool_dir = tmp_path / "spool"
    spool_dir.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(spool_dir))  # so the test can see every temporary file
    monkeypatch.setattr("archive.users.hash_password", lambda password: "not-a-hash")  # argon2 is slow, unused here
    with database.session() as s:
        s.add_all(
            [
                Centre(code="SOH-01", name_ar="مركز خدمات المواطنين بسوهاج", name_en="Sohag", governorate_code="26"),
                Centre(code="QEN-01", name_ar="مركز خدمات المواطنين بقنا", name_en="Qena", governorate_code="27"),
                Centre(code="OLD-01", name_ar="مركز مغلق", name_en="Closed", governorate_code="26", active=False),
            ]
        )
        s.flush()
        sync_catalogue(s, load_catalogue())
        retired = s.scalar(select(Service).where(Service.code == "ADVERT-LICENCE"))
        assert retired is not None
        retired.active = False
        clerk = create_user(s, "clerk.soh", "long enough pw", {Role.CLERK}, "موظف سوهاج", "SOH-01")
        other = create_user(s, "clerk.qen", "long enough pw", {Role.CLERK}, "موظف قنا", "QEN-01")
        roaming = create_user(s, "clerk.any", "long enough pw", {Role.CLERK}, "موظف متنقل")
        auditor = create_user(s, "auditor.x", "long enough pw", {Role.AUDITOR}, "مراجع")
    yield World(
        database=database,
        store=open_store((tmp_path / "objects").as_uri()),
        clerk_id=clerk.id,
        other_clerk_id=other.id,
        roaming_clerk_id=roaming.id,
        auditor_id=auditor.id,
        tmp=spool_dir,
    )


def register(world: World, session: Session, **overrides: Any) -> RegisteredApplication:
    arguments: dict[str, Any] = {
        "centre_code": "SOH-01",
        "service_code": "BUILD-PERMIT",
        "applicant_name": "  محمد   أحمد علي  ",
        "national_id": NATIONAL_ID,
        "applicant_phone": "٠١٠ ١٢٣٤ ٥٦٧٨",
        "details": PROPERTY,
        "uploads": complete_permit_uploads(),
        "created_by": world.user(session, world.clerk_id),
        "channel": "window",
        "incomplete_reason": None,
        "limits": LIMITS,
        "now": NOW,
    }
    arguments.update(overrides)
    if callable(arguments["created_by"]):
        arguments["created_by"] = arguments["created_by"](session)
    return register_application(session, world.store, **arguments)


def refused(world: World, **overrides: Any) -> IntakeInvalid:
    with world.database.session() as s, pytest.raises(IntakeInvalid) as info:
        register(world, s, **overrides)
    return info.value


def assert_nothing_written(world: World) -> None:
    with world.database.session() as s:
        for model in (Application, Document, Page, TrackingCounter):
            assert s.scalar(select(func.count()).select_from(model)) == 0, model.__name__
    assert list(world.store.list()) == []
    assert list(world.tmp.iterdir()) == []


# --- the happy path -----------------------------------------------------------------------------------------------


def test_valid_application_is_recorded_with_documents_pages_and_originals(world: World) -> None:
    uploads = complete_permit_uploads()
    originals = [u.stream.getvalue() for u in uploads]  # type: ignore[attr-defined]
    with world.database.session() as s:
        result = register(world, s, uploads=uploads)
        application_id = result.application.id
        page_ids = result.page_ids
        tracking = result.tracking_number
    assert list(world.tmp.iterdir()) == []  # temporary files removed

    parsed = parse_tracking(tracking)
    assert parsed is not None and (parsed.centre, parsed.year, parsed.sequence) == ("SOH01", 2026, 1)
    with world.database.session() as s:
        app = s.get(Application, application_id)
        assert app is not None
        assert app.tracking_number == tracking
        assert (app.centre.code, app.service.code) == ("SOH-01", "BUILD-PERMIT")
        assert app.service_code == "BUILD-PERMIT" and app.catalogue_version == load_catalogue().version
        assert app.applicant_name == "محمد أحمد علي"
        assert app.national_id == "29001012601234"
        assert app.applicant_phone == "01012345678"
        assert app.details == {
            "plot_number": "12/ب",
            "street": "شارع الجمهورية",
            "district": "الكوثر",
            "area_m2": 250.5,
        }
        assert app.status == "received"
        assert app.missing_documents == [] and app.incomplete_reason is None
        assert app.channel == "window" and app.created_by_id == world.clerk_id
        created = app.created_at if app.created_at.tzinfo else app.created_at.replace(tzinfo=UTC)
        due = app.due_at if app.due_at.tzinfo else app.due_at.replace(tzinfo=UTC)
        assert created == NOW and due == NOW + timedelta(days=30)

        docs = app.documents
        assert [d.requirement for d in docs] == ["ID_COPY", "OWNERSHIP", "SURVEY", "DRAWINGS", "ENGINEER_CERT", "OTHER"]
        pdf, png = "application/pdf", "image/png"
        assert [d.media_type for d in docs] == [png, pdf, "image/tiff", "image/jpeg", pdf, png]
        assert [d.page_count for d in docs] == [1, 2, 3, 1, 1, 1]
        assert docs[0].filename == "بطاقة.png"
        for doc, data in zip(docs, originals, strict=True):
            assert doc.size_bytes == len(data)
            assert doc.ocr_status == "pending" and doc.searchable_pdf_sha256 is None
            assert world.store.get_bytes(doc.sha256) == data
            assert [p.index for p in doc.pages] == list(range(doc.page_count))
            assert all(p.status == "pending" and p.attempts == 0 and p.text is None for p in doc.pages)
        assert page_ids == [p.id for d in docs for p in d.pages]
        assert len(page_ids) == 9
        assert set(world.store.list()) == {d.sha256 for d in docs} == referenced_keys(s)


def test_numbers_follow_each_other_and_the_catalogue_duration(world: World) -> None:
    with world.database.session() as s:
        first = register(world, s).tracking_number
    with world.database.session() as s:
        second = register(
            world,
            s,
            service_code="VALIDITY",
            uploads=[upload("ID_COPY", "id.png", png_bytes())],
            incomplete_reason="المواطن سيحضر باقي المستندات",
        )
        assert second.application.due_at == NOW + timedelta(days=7)
    assert [parse_tracking(n).sequence for n in (first, second.tracking_number)] == [1, 2]  # type: ignore[union-attr]


def test_duplicate_file_is_stored_once(world: World) -> None:
    same = png_bytes("same")
    uploads = [upload("ID_COPY", "a.png", same), upload("OTHER", "b.png", same)]
    with world.database.session() as s:
        result = register(world, s, uploads=uploads, incomplete_reason="الباقي لاحقًا")
        keys = [d.sha256 for d in result.application.documents]
    assert keys[0] == keys[1]
    assert list(world.store.list()) == [keys[0]]


def test_import_channel_without_a_user_and_a_roaming_clerk(world: World) -> None:
    with world.database.session() as s:
        assert register(world, s, created_by=None, channel="import").application.created_by_id is None
    with world.database.session() as s:
        roaming = world.user(s, world.roaming_clerk_id)
        assert register(world, s, created_by=roaming, centre_code="qen-01").application.centre.code == "QEN-01"


def test_requirement_codes_are_matched_loosely(world: World) -> None:
    uploads = [upload(" id_copy ", "id.png", png_bytes()), upload("other", "x.png", png_bytes("x"))]
    with world.database.session() as s:
        app = register(world, s, service_code="validity", uploads=uploads, incomplete_reason="لاحقًا").application
        assert [d.requirement for d in app.documents] == ["ID_COPY", "OTHER"]
        assert app.missing_documents == ["OWNERSHIP", "SITE_PLAN"]


def test_service_without_property_needs_no_details(world: World) -> None:
    with world.database.session() as s:
        service = s.scalar(select(Service).where(Service.code == "ADVERT-LICENCE"))
        assert service is not None
        service.active = True
    with world.database.session() as s:
        uploads = [upload("ID_COPY", "id.png", png_bytes()), upload("SIGN_DESIGN", "sign.pdf", pdf_bytes(1))]
        result = register(world, s, service_code="ADVERT-LICENCE", details={}, uploads=uploads)
        assert result.application.details == {}


# --- field validation ---------------------------------------------------------------------------------------------


def test_every_field_error_is_reported_at_once(world: World) -> None:
    error = refused(
        world,
        applicant_name="Ahmed",
        national_id="19001012601234",
        applicant_phone="0131234567",
        details={"street": "x" * 500, "area_m2": "-3", "colour": "blue"},
        channel="fax",
        uploads=[upload("PASSPORT", "p.png", png_bytes())],
    )
    assert error.codes == {
        "applicant_name": "full_name_required",
        "national_id": "bad_century",
        "applicant_phone": "invalid_phone",
        "details.colour": "unknown_field",
        "details.plot_number": "required",
        "details.street": "too_long",
        "details.district": "required",
        "details.area_m2": "invalid_area",
        "channel": "unknown_channel",
        "uploads[0]": "unknown_requirement",
        "incomplete_reason": "reason_required",
    }
    assert set(error.errors) == set(error.codes)
    for arabic, english in error.errors.values():
        assert arabic and english and arabic != english
    assert_nothing_written(world)


@pytest.mark.parametrize(
    ("overrides", "field", "code"),
    [
        ({"national_id": "2900101260123"}, "national_id", "wrong_length"),
        ({"national_id": "29001019901234"}, "national_id", "unknown_governorate"),
        ({"national_id": "32612010100011"}, "national_id", "future_birth"),
        ({"national_id": ""}, "national_id", "empty"),
        ({"applicant_name": ""}, "applicant_name", "required"),
        ({"applicant_name": "محمد 3 علي"}, "applicant_name", "invalid_characters"),
        ({"applicant_name": "م" * 120 + " " + "ع" * 100}, "applicant_name", "too_long"),
        ({"applicant_phone": ""}, "applicant_phone", "required"),
        ({"applicant_phone": "01312345678"}, "applicant_phone", "invalid_phone"),
        ({"applicant_phone": "0101234567"}, "applicant_phone", "invalid_phone"),
        ({"applicant_phone": "0225551234"}, "applicant_phone", "invalid_phone"),  # a Cairo landline
        ({"service_code": "PASSPORT"}, "service_code", "unknown_service"),
        ({"service_code": "ADVERT-LICENCE"}, "service_code", "inactive_service"),
        ({"centre_code": "ALX-09"}, "centre_code", "unknown_centre"),
        ({"centre_code": "OLD-01"}, "centre_code", "inactive_centre"),
        ({"centre_code": "QEN-01"}, "centre_code", "wrong_centre"),
        ({"created_by": lambda s: s.scalar(select(User).where(User.username == "auditor.x"))}, "created_by",
         "not_allowed"),
        ({"details": {"district": "الكوثر", "area_m2": 100}}, "details.plot_number", "required"),
        ({"details": {**PROPERTY, "area_m2": "1,250"}}, "details.area_m2", "invalid_area"),
        ({"details": {**PROPERTY, "area_m2": True}}, "details.area_m2", "invalid_area"),
        ({"details": {**PROPERTY, "area_m2": 0}}, "details.area_m2", "invalid_area"),
        ({"details": ["not", "a", "mapping"]}, "details", "invalid"),
        ({"incomplete_reason": "س" * 2001, "uploads": []}, "incomplete_reason", "too_long"),
    ],
)
def test_single_field_errors(world: World, overrides: dict[str, Any], field: str, code: str) -> None:
    """Each bad value alone: exactly its own field is reported."""
    error = refused(world, **overrides)
    assert error.codes == {field: code}
    assert_nothing_written(world)


@pytest.mark.parametrize("phone", ["01012345678", "+20 101 234 5678", "00201012345678", "٠١١-٢٣٤٥-٦٧٨٩", "01512345678"])
def test_mobile_numbers_accepted(world: World, phone: str) -> None:
    with world.database.session() as s:
        stored = register(world, s, applicant_phone=phone).application.applicant_phone
    assert len(stored) == 11 and stored.startswith("01") and stored.isascii()


# --- files --------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("data", "code"),
    [
        (b"MZ\x90\x00 this is not a scan", "unsupported_type"),
        (b"", "empty_file"),
        (b"%PDF-1.7\n1 0 obj\n<<>>\nendobj\ntrailer\n<<>>\n%%EOF", "corrupt_file"),
    ],
)
def test_bad_file_stores_nothing(world: World, data: bytes, code: str) -> None:
    uploads = complete_permit_uploads()
    uploads[2] = upload("SURVEY", "survey.tif", data)
    error = refused(world, uploads=uploads)
    assert error.codes == {"uploads[2]": code}
    arabic, english = error.errors["uploads[2]"]
    assert arabic and english
    assert_nothing_written(world)


def test_truncated_png_is_refused(world: World) -> None:
    data = png_bytes()
    error = refused(world, uploads=[upload("ID_COPY", "id.png", data[: len(data) // 2])], incomplete_reason="سبب")
    assert error.codes == {"uploads[0]": "corrupt_file"}
    assert_nothing_written(world)


class EndlessStream:
    """A client that keeps sending: the service must stop reading at the cap, not buffer the whole thing."""

    def __init__(self) -> None:
        self.read_bytes = 0

    def read(self, size: int = -1, /) -> bytes:
        assert 0 < size <= 4 * 1024 * 1024, "reads must be bounded chunks"
        self.read_bytes += size
        return b"\0" * size


def test_upload_over_the_cap_is_cut_off(world: World) -> None:
    stream = EndlessStream()
    limits = Limits(max_bytes=3 * 1024 * 1024)
    error = refused(world, uploads=[Upload("ID_COPY", "huge.tif", stream)], limits=limits, incomplete_reason="س")
    assert error.codes == {"uploads[0]": "too_large"}
    assert "3 MB" in error.errors["uploads[0]"][1]
    assert stream.read_bytes <= limits.max_bytes + 1024 * 1024
    assert_nothing_written(world)


def test_file_exactly_at_the_cap_is_accepted(world: World) -> None:
    data = png_bytes()
    with world.database.session() as s:
        result = register(
            world,
            s,
            uploads=[upload("ID_COPY", "id.png", data)],
            limits=Limits(max_bytes=len(data)),
            incomplete_reason="الباقي لاحقًا",
        )
        assert result.application.documents[0].size_bytes == len(data)


def test_filenames_are_sanitised(world: World) -> None:
    with world.database.session() as s:
        hostile = "..\\..\\C:\\tmp/\u202egnp.exe\x00"  # path tricks, a right-to-left override, a NUL
        result = register(world, s, uploads=[upload("ID_COPY", hostile, png_bytes())], incomplete_reason="لاحقًا")
        assert result.application.documents[0].filename == "gnp.exe"
    assert sanitise_filename("") == "document"
    assert sanitise_filename("../.hidden") == "hidden"
    long_name = "ا" * 300 + ".pdf"
    assert len(sanitise_filename(long_name)) == 255 and sanitise_filename(long_name).endswith(".pdf")


# --- missing documents --------------------------------------------------------------------------------------------


def test_missing_documents_without_reason_are_refused(world: World) -> None:
    uploads = [u for u in complete_permit_uploads() if u.requirement not in ("SURVEY", "DRAWINGS")]
    error = refused(world, uploads=uploads)
    assert error.codes == {"incomplete_reason": "reason_required"}
    arabic, english = error.errors["incomplete_reason"]
    assert "الرفع المساحي" in arabic and "Survey plan" in english
    assert_nothing_written(world)


def test_missing_documents_with_reason_are_recorded(world: World) -> None:
    uploads = [u for u in complete_permit_uploads() if u.requirement not in ("SURVEY", "DRAWINGS")]
    with world.database.session() as s:
        app = register(world, s, uploads=uploads, incomplete_reason="  الرسومات عند المهندس  ").application
        assert app.missing_documents == ["SURVEY", "DRAWINGS"]
        assert app.incomplete_reason == "الرسومات عند المهندس"


def test_no_upload_needs_a_reason(world: World) -> None:
    error = refused(world, uploads=[])
    assert error.codes == {"uploads": "no_documents"}
    with world.database.session() as s:
        result = register(world, s, uploads=[], incomplete_reason="المستندات ستُرسل بالبريد")
        assert result.page_ids == []
        assert result.application.missing_documents == ["ID_COPY", "OWNERSHIP", "SURVEY", "DRAWINGS", "ENGINEER_CERT"]


def test_reason_is_dropped_when_nothing_is_missing(world: World) -> None:
    with world.database.session() as s:
        assert register(world, s, incomplete_reason="لا شيء").application.incomplete_reason is None


def test_checklist(world: World) -> None:
    with world.database.session() as s:
        service = s.scalar(select(Service).where(Service.code == "VALIDITY"))
        assert service is not None
        items = checklist(service, {"ID_COPY": 2, "OTHER": 5, "SITE_PLAN": 0})
    assert items == [
        ChecklistItem("ID_COPY", "صورة بطاقة الرقم القومي", "Copy of national ID card", 2),
        ChecklistItem("OWNERSHIP", "مستند الملكية", "Proof of ownership", 0),
        ChecklistItem("SITE_PLAN", "كروكي الموقع", "Site sketch", 0),
    ]
    assert [i.missing for i in items] == [False, True, True]


# --- write order and crashes --------------------------------------------------------------------------------------


def test_crash_after_the_blobs_leaves_only_unreferenced_blobs(world: World, monkeypatch: pytest.MonkeyPatch) -> None:
    def database_gone(*_args: object, **_kwargs: object) -> str:
        raise ConnectionError("the database went away")

    monkeypatch.setattr(service_module, "allocate", database_gone)
    with pytest.raises(ConnectionError), world.database.session() as s:
        register(world, s)
    monkeypatch.undo()

    blobs = set(world.store.list())
    assert len(blobs) == 6
    assert list(world.tmp.iterdir()) == []
    with world.database.session() as s:
        assert s.scalar(select(func.count()).select_from(Application)) == 0
        assert s.scalar(select(func.count()).select_from(Document)) == 0
        assert referenced_keys(s).isdisjoint(blobs)
        early = sweep_unreferenced(s, world.store, timedelta(hours=24), now=datetime.now(UTC) + timedelta(hours=1))
        assert early.deleted == [] and early.kept_recent == 6
        late = sweep_unreferenced(s, world.store, timedelta(hours=24), now=datetime.now(UTC) + timedelta(days=2))
        assert sorted(late.deleted) == sorted(blobs)
    assert list(world.store.list()) == []


def test_crash_inside_the_transaction_leaves_no_rows(world: World) -> None:
    """The insert fails after the counter moved (a clashing tracking number): everything is rolled back."""
    with world.database.session() as s:
        existing = register(world, s, uploads=[upload("ID_COPY", "id.png", png_bytes())], incomplete_reason="س")
        existing.application.tracking_number = format_tracking("SOH-01", 2026, 2)  # the next number to be allocated
    with pytest.raises(Exception) as info, world.database.session() as s:
        register(world, s)
    assert "unique" in str(info.value).lower() or "duplicate" in str(info.value).lower()
    with world.database.session() as s:
        assert s.scalar(select(func.count()).select_from(Application)) == 1
        assert s.scalar(select(func.count()).select_from(Document)) == 1
        assert s.scalar(select(TrackingCounter.last_value)) == 1
    assert list(world.tmp.iterdir()) == []


def test_store_failure_writes_no_rows(world: World, monkeypatch: pytest.MonkeyPatch) -> None:
    calls = []

    def failing_put(data: object) -> str:
        calls.append(data)
        raise OSError("disk full")

    monkeypatch.setattr(world.store, "put", failing_put)
    with pytest.raises(OSError), world.database.session() as s:
        register(world, s)
    assert len(calls) == 1
    with world.database.session() as s:
        assert s.scalar(select(func.count()).select_from(Application)) == 0
        assert s.scalar(select(func.count()).select_from(TrackingCounter)) == 0
    assert list(world.tmp.iterdir()) == []


def test_invalid_application_never_touches_the_store(world: World, monkeypatch: pytest.MonkeyPatch) -> None:
    def no_put(data: object) -> str:
        raise AssertionError("put before validation finished")

    monkeypatch.setattr(world.store, "put", no_put)
    uploads = complete_permit_uploads()
    uploads[-1] = upload("OTHER", "bad.bin", b"garbage")
    error = refused(world, uploads=uploads, national_id="123")
    assert set(error.codes) == {"national_id", "uploads[5]"}

"""Database models: the system of record's tables.

Schema changes go through Alembic migrations in ``archive/migrations``; nothing in a production path calls
``create_all``. A test checks that the migrations and these models agree on SQLite and PostgreSQL.
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    Date,
    DateTime,
    Float,
    ForeignKey,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Text,
    UniqueConstraint,
    event,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, Mapper, mapped_column, relationship

from archive.roles import Permission, Role, permissions_for

NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


def utcnow() -> datetime:
    return datetime.now(UTC)


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)


class Centre(Base):
    """A citizen service centre (مركز خدمات المواطنين) in a governorate."""

    __tablename__ = "centres"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    code: Mapped[str] = mapped_column(String(16), unique=True)
    name_ar: Mapped[str] = mapped_column(String(200))
    name_en: Mapped[str] = mapped_column(String(200))
    governorate_code: Mapped[str] = mapped_column(String(2))
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class Service(Base):
    """One entry of the service catalogue; ``definition`` holds documents, chain and departments as data."""

    __tablename__ = "services"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    code: Mapped[str] = mapped_column(String(32), unique=True)
    name_ar: Mapped[str] = mapped_column(String(200))
    name_en: Mapped[str] = mapped_column(String(200))
    legal_days: Mapped[int] = mapped_column(Integer)
    fee_piastres: Mapped[int] = mapped_column(Integer, default=0)
    catalogue_version: Mapped[str] = mapped_column(String(32))
    definition: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow, onupdate=utcnow)


class User(Base):
    """A member of staff. Citizens have no accounts."""

    __tablename__ = "users"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    username: Mapped[str] = mapped_column(String(64), unique=True)
    full_name: Mapped[str] = mapped_column(String(200))
    password_hash: Mapped[str] = mapped_column(String(255))
    centre_id: Mapped[int | None] = mapped_column(ForeignKey("centres.id"), nullable=True)
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    locale: Mapped[str | None] = mapped_column(String(8), nullable=True)
    email: Mapped[str | None] = mapped_column(String(254), nullable=True)
    """Where the official's due-date reminders go (``workflow.reminders``); none means the inbox only."""
    department: Mapped[str | None] = mapped_column(String(32), nullable=True)
    """The department the official works in (engineering, council, licensing, finance, state_property, …), matched
    against the department of a signing-chain step; staff without one (clerks, auditors) get no department work."""
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    last_login_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)

    centre: Mapped[Centre | None] = relationship(lazy="joined")
    role_rows: Mapped[list[UserRole]] = relationship(
        back_populates="user", cascade="all, delete-orphan", lazy="selectin"
    )

    @property
    def roles(self) -> frozenset[Role]:
        return frozenset(Role(r.role) for r in self.role_rows)

    @property
    def permissions(self) -> frozenset[Permission]:
        return permissions_for(self.roles)

    def can(self, permission: Permission) -> bool:
        return self.active and permission in self.permissions


class UserRole(Base):
    __tablename__ = "user_roles"

    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), primary_key=True)
    role: Mapped[str] = mapped_column(String(16), primary_key=True)

    user: Mapped[User] = relationship(back_populates="role_rows")


class ApiToken(Base):
    """A bearer token for the JSON API; only its SHA-256 is stored, the token itself is shown once."""

    __tablename__ = "api_tokens"
    __table_args__ = (UniqueConstraint("token_hash"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    name: Mapped[str] = mapped_column(String(100))
    token_hash: Mapped[str] = mapped_column(String(64))
    prefix: Mapped[str] = mapped_column(String(12))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    expires_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    last_used_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    revoked_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    note: Mapped[str | None] = mapped_column(Text, nullable=True)

    user: Mapped[User] = relationship(lazy="joined")


class ApplicationStatus(StrEnum):
    """Where an application stands (see workflow.routing for the flow).

    received → in_review → awaiting_signature → issued; approved when a chain ends without a signing step;
    rejected (final) and returned (back at the window for completion, then in_review again) from any open step.
    """

    RECEIVED = "received"
    IN_REVIEW = "in_review"
    AWAITING_SIGNATURE = "awaiting_signature"
    RETURNED = "returned"
    APPROVED = "approved"
    REJECTED = "rejected"
    ISSUED = "issued"


class Channel(StrEnum):
    """How an application reached us: at the one-stop window, through the JSON API, or by a bulk import."""

    WINDOW = "window"
    API = "api"
    IMPORT = "import"


class OcrStatus(StrEnum):
    """Progress of OCR for a page, and (summarised) for a document."""

    PENDING = "pending"
    RUNNING = "running"
    DONE = "done"
    FAILED = "failed"


class TrackingCounter(Base):
    """The last tracking sequence handed out per centre and year; incremented under a row lock."""

    __tablename__ = "tracking_counters"

    centre_id: Mapped[int] = mapped_column(ForeignKey("centres.id"), primary_key=True)
    year: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    last_value: Mapped[int] = mapped_column(Integer, default=0)


class Application(Base):
    """One citizen's request (طلب) as taken in at a centre, with snapshots of what the catalogue said then."""

    __tablename__ = "applications"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    tracking_number: Mapped[str] = mapped_column(String(32), unique=True)
    centre_id: Mapped[int] = mapped_column(ForeignKey("centres.id"), index=True)
    service_id: Mapped[int] = mapped_column(ForeignKey("services.id"), index=True)
    service_code: Mapped[str] = mapped_column(String(32))
    """Snapshot: the service's code when the application was taken in."""
    catalogue_version: Mapped[str] = mapped_column(String(32))
    """Snapshot: the catalogue version whose required documents and durations applied."""
    applicant_name: Mapped[str] = mapped_column(String(200))
    national_id: Mapped[str] = mapped_column(String(14), index=True)
    """Fourteen ASCII digits (normalised)."""
    applicant_phone: Mapped[str] = mapped_column(String(16))
    """Egyptian mobile number, normalised to 11 ASCII digits (01XXXXXXXXX)."""
    applicant_email: Mapped[str | None] = mapped_column(String(254), nullable=True)
    """Optional e-mail address for notifications (lower-cased domain); SMS go to ``applicant_phone``."""
    access_code_sha256: Mapped[str | None] = mapped_column(String(64), nullable=True)
    """SHA-256 of the access code printed on the receipt, the secret of the status inquiry (``intake.inquiry``);
    None until a receipt is printed."""
    details: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    """Property and other service-specific facts: plot_number, street, district, area_m2, notes."""
    status: Mapped[str] = mapped_column(String(32), default=ApplicationStatus.RECEIVED.value, index=True)
    incomplete_reason: Mapped[str | None] = mapped_column(Text, nullable=True)
    """Why the clerk accepted the file although required documents are missing."""
    missing_documents: Mapped[list[str]] = mapped_column(JSON, default=list)
    """Requirement codes of the catalogue with no document uploaded at intake."""
    channel: Mapped[str] = mapped_column(String(16))
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"), nullable=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    due_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    """created_at plus the service's legal duration in days: the governance deadline."""
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow, onupdate=utcnow, index=True)
    """Moved on every change to the application or anything it owns (see ``archive.manifest``); indexed for the
    search index's lag check, which reads the recent changes."""
    manifest_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True, index=True)
    """The ``updated_at`` its newest manifest in the archive describes; behind ``updated_at`` means one is due."""
    override_codes: Mapped[list[str] | None] = mapped_column(JSON, nullable=True)
    """Required documents a head of department let the file go on without (``workflow.routing.override_missing``)."""
    override_reason: Mapped[str | None] = mapped_column(Text, nullable=True)
    override_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"), nullable=True)
    override_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)

    centre: Mapped[Centre] = relationship(lazy="joined")
    service: Mapped[Service] = relationship(lazy="joined")
    created_by: Mapped[User | None] = relationship(foreign_keys=[created_by_id])
    override_by: Mapped[User | None] = relationship(foreign_keys=[override_by_id])
    documents: Mapped[list[Document]] = relationship(
        back_populates="application", cascade="all, delete-orphan", order_by="Document.id"
    )
    steps: Mapped[list[WorkflowStep]] = relationship(
        back_populates="application", cascade="all, delete-orphan", order_by="WorkflowStep.position"
    )


class Document(Base):
    """One uploaded file (a scan or PDF) of an application; the original lives in the object store."""

    __tablename__ = "documents"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    application_id: Mapped[int] = mapped_column(ForeignKey("applications.id"), index=True)
    requirement: Mapped[str] = mapped_column(String(64))
    """A required_documents code of the service, or ``OTHER``."""
    filename: Mapped[str] = mapped_column(String(255))
    media_type: Mapped[str] = mapped_column(String(100))
    sha256: Mapped[str] = mapped_column(String(64), index=True)
    """Object-store key of the original as uploaded."""
    size_bytes: Mapped[int] = mapped_column(BigInteger)
    page_count: Mapped[int] = mapped_column(Integer)
    ocr_status: Mapped[str] = mapped_column(String(16), default=OcrStatus.PENDING.value)
    searchable_pdf_sha256: Mapped[str | None] = mapped_column(String(64), nullable=True)
    """Object-store key of the whole searchable PDF, once every page is done."""
    id_check: Mapped[str | None] = mapped_column(String(12), nullable=True)
    """For the ID card's checklist item, once read: match, mismatch or unreadable (``intake.id_card``)."""
    id_digits: Mapped[str | None] = mapped_column(String(32), nullable=True)
    """The digits read off the ID card: the typed ID on a match, the other national ID on a mismatch, and on an
    unreadable card what was read (any length, possibly nothing) to show beside the scan."""
    signature_check: Mapped[str | None] = mapped_column(String(16), nullable=True, index=True)
    """For a PDF, once its signatures were validated in the background (``signing.attachments``): ``none`` (no
    signature), ``too_large``, or the overall indication (TOTAL_PASSED, INDETERMINATE, TOTAL_FAILED); None before."""
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    version: Mapped[int] = mapped_column(Integer, default=1, server_default="1")
    """1 for a file taken in at intake; a later scan of a requirement already present is the next version."""
    supersedes_id: Mapped[int | None] = mapped_column(ForeignKey("documents.id"), nullable=True)
    """The newest earlier document of the same requirement this scan replaces (it stays in the archive)."""
    added_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"), nullable=True)
    """Who added the scan after registration (None for the files of the registration itself)."""

    application: Mapped[Application] = relationship(back_populates="documents")
    added_by: Mapped[User | None] = relationship(foreign_keys=[added_by_id])
    pages: Mapped[list[Page]] = relationship(
        back_populates="document", cascade="all, delete-orphan", order_by="Page.index"
    )


class Page(Base):
    """One page of a document: the unit of OCR work, with its results and the store keys of what it produced."""

    __tablename__ = "pages"
    __table_args__ = (UniqueConstraint("document_id", "index"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    document_id: Mapped[int] = mapped_column(ForeignKey("documents.id"))
    index: Mapped[int] = mapped_column(Integer)
    """0-based position in the document."""
    status: Mapped[str] = mapped_column(String(16), default=OcrStatus.PENDING.value)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    error: Mapped[str | None] = mapped_column(Text, nullable=True)
    text: Mapped[str | None] = mapped_column(Text, nullable=True)
    mean_confidence: Mapped[float | None] = mapped_column(Float, nullable=True)
    line_count: Mapped[int | None] = mapped_column(Integer, nullable=True)
    is_blank: Mapped[bool] = mapped_column(Boolean, default=False)
    low_confidence: Mapped[bool] = mapped_column(Boolean, default=False)
    rotation: Mapped[int | None] = mapped_column(Integer, nullable=True)
    """Degrees the page was turned (0, 90, 180, 270) before reading."""
    skew_angle: Mapped[float | None] = mapped_column(Float, nullable=True)
    timings: Mapped[dict[str, Any] | None] = mapped_column(JSON, nullable=True)
    pdf_sha256: Mapped[str | None] = mapped_column(String(64), nullable=True)
    """Object-store key of the one-page searchable PDF."""
    preview_sha256: Mapped[str | None] = mapped_column(String(64), nullable=True)
    """Object-store key of the preview JPEG."""
    words_sha256: Mapped[str | None] = mapped_column(String(64), nullable=True)
    """Object-store key of the word boxes (JSON)."""
    number_readings: Mapped[list[dict[str, Any]] | None] = mapped_column(JSON, nullable=True)
    """ID card pages only: each number line read again by digit shape (``ocr.digit_shapes``) as
    ``{"digits", "margin", "script"}``, the second opinion ``intake.id_card`` weighs; None for other pages."""
    started_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    finished_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True, index=True)
    lease_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True, index=True)
    """Last sign of life of whoever holds the page: the worker reading it renews it every few seconds; a message
    sent by the recovery sets it too. A page whose lease lapsed has nobody (see :mod:`intake.recovery`)."""

    document: Mapped[Document] = relationship(back_populates="pages")


class DocumentSignature(Base):
    """One signature found in an uploaded PDF (an engineer's signed drawings, a signed contract) and its verdict,
    from the same validator as permits (``signing.validate``); the original bytes are never touched."""

    __tablename__ = "document_signatures"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    document_id: Mapped[int] = mapped_column(ForeignKey("documents.id"), index=True)
    field_name: Mapped[str] = mapped_column(String(200))
    signer_name: Mapped[str] = mapped_column(String(300))
    signing_time: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    """The time the signer claims (not proven)."""
    timestamp_time: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    """The time a trusted timestamp proves."""
    level: Mapped[str] = mapped_column(String(8))
    indication: Mapped[str] = mapped_column(String(16))
    sub_indication: Mapped[str | None] = mapped_column(String(64), nullable=True)
    reasons_ar: Mapped[list[str]] = mapped_column(JSON, default=list)
    reasons_en: Mapped[list[str]] = mapped_column(JSON, default=list)
    validated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)

    document: Mapped[Document] = relationship()


class ImportRecord(Base):
    """A scanner folder imported by ``sijill import``: its fingerprint makes the import happen exactly once."""

    __tablename__ = "intake_imports"

    fingerprint: Mapped[str] = mapped_column(String(64), primary_key=True)
    """SHA-256 over the folder's manifest and its files' digests."""
    application_id: Mapped[int] = mapped_column(ForeignKey("applications.id"), index=True)
    source: Mapped[str] = mapped_column(String(255))
    """The folder's name, for operators."""
    imported_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)

    application: Mapped[Application] = relationship()


# --- routing, signing and permits (workflow.routing writes these) ---------------------------------------------------


class StepStatus(StrEnum):
    """Where one step of an application's workflow stands."""

    WAITING = "waiting"
    ACTIVE = "active"
    DONE = "done"
    RETURNED = "returned"
    CANCELLED = "cancelled"


class StepDecision(StrEnum):
    RECOMMEND = "recommend"
    APPROVE = "approve"
    SIGN = "sign"
    REJECT = "reject"
    RETURN = "return"


class PermitStatus(StrEnum):
    DRAFT = "draft"
    ISSUED = "issued"
    REVOKED = "revoked"
    EXPIRED = "expired"


class WorkflowStep(Base):
    """One step of an application's signing chain, copied from the catalogue when the workflow is opened.

    The copy is a snapshot: a later change to the catalogue does not reroute files already under way.
    """

    __tablename__ = "workflow_steps"
    __table_args__ = (UniqueConstraint("application_id", "position"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    application_id: Mapped[int] = mapped_column(ForeignKey("applications.id"))
    position: Mapped[int] = mapped_column(Integer)
    """0-based place in the chain."""
    step: Mapped[str] = mapped_column(String(64))
    """The catalogue's step code: recommend, approve_department, approve_council, …"""
    role: Mapped[str] = mapped_column(String(16))
    department: Mapped[str] = mapped_column(String(32))
    title_ar: Mapped[str] = mapped_column(String(200))
    title_en: Mapped[str] = mapped_column(String(200))
    signs: Mapped[bool] = mapped_column(Boolean)
    """Signer steps add a PAdES signature to the permit; reviewer steps record a recommendation."""
    status: Mapped[str] = mapped_column(String(16), default=StepStatus.WAITING.value, index=True)
    assignee_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"), nullable=True)
    """A named official the step was reassigned to; None means anyone holding the role in the department."""
    decided_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"), nullable=True)
    decided_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True, index=True)
    decision: Mapped[str | None] = mapped_column(String(16), nullable=True)
    reason: Mapped[str | None] = mapped_column(Text, nullable=True)
    activated_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    legal_days: Mapped[int | None] = mapped_column(Integer, nullable=True)
    """Snapshot of the catalogue's duration for this step in calendar days (like ``services.legal_days``); None when
    the catalogue gives the step none."""
    due_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True, index=True)
    """The step's legal due date, set each time the file reaches the step: ``activated_at`` plus ``legal_days``, or
    the application's ``due_at`` when the step has no duration of its own. Reminders and the inbox use it; None while
    the step is waiting (``workflow.routing.step_due``)."""
    certificate_fingerprint: Mapped[str | None] = mapped_column(String(64), nullable=True)
    """SHA-256 of the certificate a signing step was signed with."""
    signed_pdf_sha256: Mapped[str | None] = mapped_column(String(64), nullable=True)
    """Object-store key of the permit revision this signature produced."""

    application: Mapped[Application] = relationship(back_populates="steps")
    assignee: Mapped[User | None] = relationship(foreign_keys=[assignee_id])
    decided_by: Mapped[User | None] = relationship(foreign_keys=[decided_by_id])


class Transition(Base):
    """One change in an application's life: who (None for the system), when, from what to what, and why.

    Append-only: the ORM refuses to update or delete a row once it is written.
    """

    __tablename__ = "transitions"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    application_id: Mapped[int] = mapped_column(ForeignKey("applications.id"), index=True)
    at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    actor_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"), nullable=True)
    from_status: Mapped[str] = mapped_column(String(32))
    to_status: Mapped[str] = mapped_column(String(32))
    step_position: Mapped[int | None] = mapped_column(Integer, nullable=True)
    action: Mapped[str] = mapped_column(String(16))
    """open, recommend, approve, sign, reject, return, resubmit, reassign, issue, revoke."""
    reason: Mapped[str | None] = mapped_column(Text, nullable=True)

    application: Mapped[Application] = relationship()
    actor: Mapped[User | None] = relationship()


class AppendOnlyViolation(RuntimeError):
    """Code tried to change or delete an audit row."""


@event.listens_for(Transition, "before_update")
@event.listens_for(Transition, "before_delete")
def _transitions_are_append_only(_mapper: Mapper[Any], _connection: Any, target: Transition) -> None:
    raise AppendOnlyViolation(f"Transition {target.id} is part of the audit trail and cannot be changed or deleted.")


class CompletionProblem(StrEnum):
    """Why a checklist item was named when a file was returned for completion."""

    MISSING = "missing"
    UNREADABLE = "unreadable"


class CompletionItem(Base):
    """A paper the official who returned a file asked the citizen for (``workflow.routing.decide`` with items).

    Answered by a scan added at the window (``document_id``, set by ``intake.service.add_documents``) or, at
    resubmission, by the clerk's recorded reason (``answer_reason``); closed when the file is resubmitted.
    """

    __tablename__ = "completion_items"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    application_id: Mapped[int] = mapped_column(ForeignKey("applications.id"), index=True)
    transition_id: Mapped[int] = mapped_column(ForeignKey("transitions.id"))
    """The ``return`` transition that asked for it."""
    code: Mapped[str] = mapped_column(String(64))
    """A required-document code of the service."""
    problem: Mapped[str] = mapped_column(String(16))
    """``missing`` or ``unreadable`` (:class:`CompletionProblem`)."""
    document_id: Mapped[int | None] = mapped_column(ForeignKey("documents.id"), nullable=True)
    answer_reason: Mapped[str | None] = mapped_column(Text, nullable=True)
    """Why the file was resubmitted without this paper (the window's words)."""
    closed_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    """When the file was resubmitted; open items (None) are what the window must still collect."""

    document: Mapped[Document | None] = relationship()


class OfficialCertificate(Base):
    """A signing certificate an administrator registered for an official; signatures with any other are refused."""

    __tablename__ = "official_certificates"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    fingerprint: Mapped[str] = mapped_column(String(64), unique=True)
    """Lowercase hex SHA-256 of the DER certificate."""
    certificate_der: Mapped[bytes] = mapped_column(LargeBinary)
    subject: Mapped[str] = mapped_column(String(500))
    not_after: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    label: Mapped[str] = mapped_column(String(100))
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    registered_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    registered_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"), nullable=True)

    user: Mapped[User] = relationship(foreign_keys=[user_id])


class TrustRoot(Base):
    """A root certificate authority signatures must chain to (configuration, set by administrators)."""

    __tablename__ = "trust_roots"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    certificate_der: Mapped[bytes] = mapped_column(LargeBinary)
    fingerprint: Mapped[str] = mapped_column(String(64), unique=True)
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    added_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class Permit(Base):
    """The permit (ترخيص) an application ends in: a PDF signed in turn by the chain's officials.

    Only the SHA-256 of the QR verification token is kept; the token itself is printed on the permit only.
    """

    __tablename__ = "permits"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    application_id: Mapped[int] = mapped_column(ForeignKey("applications.id"), unique=True)
    permit_number: Mapped[str] = mapped_column(String(40), unique=True)
    token_sha256: Mapped[str] = mapped_column(String(64), unique=True)
    status: Mapped[str] = mapped_column(String(16), default=PermitStatus.DRAFT.value, index=True)
    facts: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    """Snapshot of what was rendered (applicant with masked ID, property, service, officials' titles)."""
    draft_pdf_sha256: Mapped[str] = mapped_column(String(64))
    """Object-store key of the unsigned PDF with its empty signature fields."""
    current_pdf_sha256: Mapped[str] = mapped_column(String(64))
    """Object-store key of the latest revision (the draft until the first signature)."""
    album_sha256: Mapped[str | None] = mapped_column(String(64), nullable=True)
    """The archived revision whose revision album (:mod:`signing.revision_album`) the worker has stored. Different
    from ``current_pdf_sha256`` while the current one's is still to be built: the worker's recovery job
    (:mod:`signing.album_backlog`) finds those with one query, so no web request ever builds an album."""
    issued_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    expires_on: Mapped[date | None] = mapped_column(Date, nullable=True)
    revoked_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    revoked_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"), nullable=True)
    revocation_reason: Mapped[str | None] = mapped_column(Text, nullable=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)

    application: Mapped[Application] = relationship()
    revoked_by: Mapped[User | None] = relationship()


class AuditEvent(Base):
    """One event of the tamper-evident audit trail: who did what to which record, chained by SHA-256.

    ``seq`` counts from 1 with no gaps, ``prev_hash`` is the previous event's ``hash`` and ``hash`` covers every
    other column, so an edited, inserted or deleted row breaks the chain where it happened. Append-only.
    """

    __tablename__ = "audit_events"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    seq: Mapped[int] = mapped_column(BigInteger, unique=True)
    at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    actor: Mapped[str | None] = mapped_column(String(64), nullable=True, index=True)
    """The username, or None for the system (workers, scheduled jobs)."""
    action: Mapped[str] = mapped_column(String(48), index=True)
    subject: Mapped[str] = mapped_column(String(120), index=True)
    """What the event is about, as ``kind:key`` (``application:SOH01-2026-000123-K``, ``user:mona``)."""
    details: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    prev_hash: Mapped[str] = mapped_column(String(64))
    hash: Mapped[str] = mapped_column(String(64), unique=True)


class AuditHead(Base):
    """The chain's head: one row with the last sequence number and hash.

    Appending updates this row first, so concurrent appenders queue on its row lock (PostgreSQL) or the write lock
    (SQLite) instead of forking the chain; it also lets verification notice events deleted from the tail.
    """

    __tablename__ = "audit_head"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    seq: Mapped[int] = mapped_column(BigInteger, default=0)
    hash: Mapped[str] = mapped_column(String(64))


@event.listens_for(AuditEvent, "before_update")
@event.listens_for(AuditEvent, "before_delete")
def _audit_events_are_append_only(_mapper: Mapper[Any], _connection: Any, target: AuditEvent) -> None:
    raise AppendOnlyViolation(f"Audit event {target.seq} cannot be changed or deleted.")


class StoredObject(Base):
    """The ledger of every object in the primary store: when it was first seen, replicated and last checked.

    Fed when an object is written (best effort) and by a periodic listing of the store (complete), so the
    replication and fixity jobs work from a table instead of listing the store on every run.
    """

    __tablename__ = "stored_objects"

    key: Mapped[str] = mapped_column(String(64), primary_key=True)
    size: Mapped[int] = mapped_column(BigInteger)
    first_seen: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    replicated_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True, index=True)
    checked_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True, index=True)
    check_result: Mapped[str | None] = mapped_column(String(16), nullable=True)
    """``ok``, ``repaired`` or ``unrepairable`` (see :class:`FixityCheck`)."""
    retained_until: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True, index=True)
    """End of the object-lock retention set on this record (an original or signed permit); None if not held."""
    retention_mode: Mapped[str | None] = mapped_column(String(16), nullable=True)
    """``governance`` or ``compliance`` (see :mod:`archive.retention`)."""


class FixityCheck(Base):
    """One re-hash of one object (by the fixity job or a read that failed its hash check) and what it found."""

    __tablename__ = "fixity_checks"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    key: Mapped[str] = mapped_column(String(64), index=True)
    at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    source: Mapped[str] = mapped_column(String(16))
    """``fixity`` (the scheduled job) or ``read`` (a read that failed its check and was served from the replica)."""
    result: Mapped[str] = mapped_column(String(16))
    detail: Mapped[str] = mapped_column(Text, default="")


class PreparedSignature(Base):
    """A permit revision laid out for one official's signature, waiting for the value their token makes.

    The desk agent (``sijill-sign``) signs ``signed_attributes`` on the token; the server checks the value against
    ``certificate``, that the stored prepared document still hashes to ``prepared_pdf_sha256`` and that the permit is
    still at ``base_pdf_sha256``, then embeds it. One row per step at most: preparing again replaces the row, and the
    old prepared PDF, no longer referenced, is left to the sweeper. The row is deleted when the step is signed.
    """

    __tablename__ = "prepared_signatures"
    # Ids are never reused (SQLite would reuse a deleted maximum): an agent holding the id of a replaced preparation
    # must be told it is gone, not have its value checked against the newer one.
    __table_args__ = ({"sqlite_autoincrement": True},)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    step_id: Mapped[int] = mapped_column(ForeignKey("workflow_steps.id"), unique=True)
    permit_id: Mapped[int] = mapped_column(ForeignKey("permits.id"), index=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    certificate_id: Mapped[int] = mapped_column(ForeignKey("official_certificates.id"))
    base_pdf_sha256: Mapped[str] = mapped_column(String(64))
    """The permit revision it was prepared from (``Permit.current_pdf_sha256`` then)."""
    prepared_pdf_sha256: Mapped[str] = mapped_column(String(64))
    """Object-store key of the prepared document (signature placeholder still empty)."""
    document_digest: Mapped[bytes] = mapped_column(LargeBinary)
    reserved_start: Mapped[int] = mapped_column(Integer)
    reserved_end: Mapped[int] = mapped_column(Integer)
    signed_attributes: Mapped[bytes] = mapped_column(LargeBinary)
    """DER of the CMS signed attributes: exactly the bytes the token signs."""
    digest_algorithm: Mapped[str] = mapped_column(String(16))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), index=True)

    step: Mapped[WorkflowStep] = relationship()
    permit: Mapped[Permit] = relationship()
    certificate: Mapped[OfficialCertificate] = relationship()


# --- notifications (notify.outbox writes these in the state change's transaction) ----------------------------------


class NotificationStatus(StrEnum):
    PENDING = "pending"
    """Waiting for its first or next attempt (``next_attempt_at``)."""
    SENDING = "sending"
    """Claimed by a worker; reclaimed when the claim is older than the delivery's lease (a worker died)."""
    SENT = "sent"
    FAILED = "failed"
    """Gave up: refused for good by the sender, or out of attempts."""


class Notification(Base):
    """One message to a citizen (SMS or e-mail) about a change of their application: the outbox.

    Written in the same database transaction as the change it reports, so a rolled-back change leaves no message and
    a committed one always has its message; workers send it later and record every attempt.
    """

    __tablename__ = "notifications"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    application_id: Mapped[int] = mapped_column(ForeignKey("applications.id"), index=True)
    event: Mapped[str] = mapped_column(String(32))
    """received, returned, approved, permit_ready, rejected."""
    channel: Mapped[str] = mapped_column(String(8))
    """sms or email."""
    recipient: Mapped[str] = mapped_column(String(254))
    subject: Mapped[str | None] = mapped_column(String(200), nullable=True)
    body: Mapped[str] = mapped_column(Text)
    status: Mapped[str] = mapped_column(String(16), default=NotificationStatus.PENDING.value, index=True)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow, index=True)
    claimed_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    last_error: Mapped[str | None] = mapped_column(Text, nullable=True)
    provider_id: Mapped[str | None] = mapped_column(String(200), nullable=True)
    """What the sender answered on success (SMTP queue id, gateway message id)."""
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    sent_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)

    application: Mapped[Application] = relationship()
    deliveries: Mapped[list[DeliveryAttempt]] = relationship(
        back_populates="notification", cascade="all, delete-orphan", order_by="DeliveryAttempt.id"
    )


class DeliveryAttempt(Base):
    """One try at sending a notification and what came of it (kept for every try, success or not)."""

    __tablename__ = "delivery_attempts"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    notification_id: Mapped[int] = mapped_column(ForeignKey("notifications.id"), index=True)
    at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    sender: Mapped[str] = mapped_column(String(16))
    """log, smtp, http."""
    ok: Mapped[bool] = mapped_column(Boolean)
    permanent: Mapped[bool] = mapped_column(Boolean, default=False)
    """A refusal no retry can fix (bad address, gateway said 4xx)."""
    detail: Mapped[str | None] = mapped_column(Text, nullable=True)

    notification: Mapped[Notification] = relationship(back_populates="deliveries")


# --- due-date reminders (workflow.reminders writes these) ----------------------------------------------------------


class StepReminder(Base):
    """A due-date reminder about one workflow step: at most one per step and threshold (the unique key says so).

    ``threshold`` is ``due_in_<n>d`` (the step's officials, n days before the legal due date) or ``overdue`` (the
    heads of the step's department, once the date has passed). The e-mails themselves are ``notifications`` rows
    written in the same transaction.
    """

    __tablename__ = "step_reminders"
    __table_args__ = (UniqueConstraint("step_id", "threshold"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    step_id: Mapped[int] = mapped_column(ForeignKey("workflow_steps.id"))
    threshold: Mapped[str] = mapped_column(String(16))
    due_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    """The legal due date the reminder was about."""
    sent_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    recipients: Mapped[list[str]] = mapped_column(JSON, default=list)
    """Usernames told (those with an e-mail address got one; everyone sees it in the inbox)."""

    step: Mapped[WorkflowStep] = relationship()


# --- the API's Idempotency-Key (web.api.idempotency writes these) -------------------------------------------------


class IdempotencyKey(Base):
    """One ``Idempotency-Key`` a user sent with a POST that creates or decides, and the answer it got.

    Inserted as the request's first write and completed with the response in the same transaction as the change,
    so a committed change always has its answer to replay and a rolled-back one leaves no key. Not archived in the
    manifests (a request record, not a record of the file).
    """

    __tablename__ = "idempotency_keys"
    __table_args__ = (UniqueConstraint("user_id", "key"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    key: Mapped[str] = mapped_column(String(255))
    fingerprint: Mapped[str] = mapped_column(String(64))
    """SHA-256 of the request (method, path, parsed body); the same key with another request is refused."""
    method: Mapped[str] = mapped_column(String(8))
    path: Mapped[str] = mapped_column(String(500))
    status_code: Mapped[int | None] = mapped_column(Integer, nullable=True)
    response_body: Mapped[str | None] = mapped_column(Text, nullable=True)
    response_headers: Mapped[dict[str, str] | None] = mapped_column(JSON, nullable=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow, index=True)
    completed_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)


# --- governance reports (archive.reports writes these) ---------------------------------------------------------------


class GovernanceReport(Base):
    """A monitoring report file (PDF, CSV or XLSX) for a month, quarter or year, kept in the object store."""

    __tablename__ = "governance_reports"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    kind: Mapped[str] = mapped_column(String(16))
    """monthly, quarterly, annual."""
    period_start: Mapped[date] = mapped_column(Date, index=True)
    period_end: Mapped[date] = mapped_column(Date)
    """Exclusive: the first day after the period."""
    file_format: Mapped[str] = mapped_column(String(8))
    """pdf, csv, xlsx."""
    sha256: Mapped[str] = mapped_column(String(64))
    """Object-store key of the file."""
    size_bytes: Mapped[int] = mapped_column(BigInteger)
    generated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    generated_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"), nullable=True)
    """None: the scheduled job."""

    generated_by: Mapped[User | None] = relationship()


class LegalHold(Base):
    """A legal hold on a whole case file (an investigation, a court order): while ``released_at`` is empty, every object
    of the application is held in the store (S3 object-lock legal hold) and retention may not be ended early.

    Placed and released by an auditor or an administrator, each with a reason; both acts are also audit events.
    """

    __tablename__ = "legal_holds"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    application_id: Mapped[int] = mapped_column(ForeignKey("applications.id"), index=True)
    reason: Mapped[str] = mapped_column(Text)
    placed_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    placed_by_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    released_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    released_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"), nullable=True)
    release_reason: Mapped[str | None] = mapped_column(Text, nullable=True)

    application: Mapped[Application] = relationship()
    placed_by: Mapped[User] = relationship(foreign_keys=[placed_by_id])
    released_by: Mapped[User | None] = relationship(foreign_keys=[released_by_id])


from archive import manifest as _manifest  # noqa: E402,F401 - registers the hook that moves Application.updated_at

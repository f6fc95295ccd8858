"""A DEMO year of history, so the dashboard, reports, inbox and search show real patterns on ``make run``.

:func:`seed_history` writes, once, into an archive with no applications yet: about 420 applications over the last
365 days across the DEMO centres of three governorates and every catalogue service, each with its workflow steps,
transitions, audit events and, where it ended in a permit, a permit row: issued on time, issued late, rejected with a
reason, returned for completion (some completed and issued, some still at the window), revoked, and still open
(some past their legal duration). Everything is marked DEMO: the applicants' names are invented, the national IDs are
structurally valid but random, and a history permit's PDF is one shared page
that says it is a DEMO placeholder, not a permit (the real signing flow is there to try on a new application).

It is fast because it builds rows in memory and inserts them in a few bulk statements (ORM ``add_all`` with one
flush per table), not through the services one request at a time; the audit events are appended in time order
through :func:`archive.audit.record_events` (one statement) so the hash chain is the real one. A fixed random seed
makes the world the same on every machine, and the clock is the caller's ``now``.
"""

from __future__ import annotations

import random
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from hashlib import sha256
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from archive.audit import record_events
from archive.models import (
    Application,
    ApplicationStatus,
    Centre,
    Permit,
    PermitStatus,
    Service,
    StepStatus,
    TrackingCounter,
    Transition,
    User,
    WorkflowStep,
)
from archive.roles import Role
from intake.national_id import GOVERNORATES, mask_national_id
from intake.tracking import format_tracking
from signing.permit import permit_number_for
from workflow.routing import step_due

APPLICATIONS = 420
DAYS = 365
SEED = 18

FIRST_NAMES = ("محمد", "أحمد", "محمود", "مصطفى", "علي", "حسن", "إبراهيم", "يوسف", "عمر", "خالد", "طارق", "سامي",
               "فاطمة", "مريم", "سامية", "هدى", "نادية", "منى", "أسماء", "رحاب", "إيمان", "سعاد", "عبير", "شيماء")
FAMILY_NAMES = ("عبد الله", "عبد الرحيم", "السيد", "حسانين", "الصعيدي", "عبد الحميد", "فرغلي", "القناوي", "الطهطاوي",
                "عبد الباسط", "أبو زيد", "الشريف", "عثمان", "عبد العال", "جاد الرب", "النجار")
DISTRICTS = ("حي الكوثر", "حي الزهراء", "الحي الغربي", "حي الشهيد", "المنشية", "السوق", "الجمهورية", "النيل")
RETURN_REASONS = ("الرفع المساحي غير معتمد من الجهة المختصة", "صورة مستند الملكية غير واضحة",
                  "تنقص شهادة الإشراف الهندسي", "المساحة المذكورة لا تطابق الرسومات")
REJECT_REASONS = ("الأرض داخل حرم طريق مخطط", "المبنى مخالف لقيود الارتفاع في المنطقة",
                  "النشاط غير مسموح به في هذا العقار")
REVOKE_REASONS = ("مخالفة شروط الترخيص أثناء التنفيذ", "ثبت تقديم مستند ملكية غير صحيح")
NOTES = {"recommend": "المستندات مطابقة والموقع سليم", "approve_department": "لا مانع من الناحية الهندسية",
         "approve_council": "يعتمد"}

# outcome -> share of the year's applications
OUTCOMES = (("issued_on_time", 46), ("issued_late", 14), ("rejected", 9), ("returned_open", 5),
            ("returned_then_issued", 6), ("revoked", 4), ("open_in_time", 10), ("open_overdue", 6))

PLACEHOLDER_PDF = (
    b"%PDF-1.4\n1 0 obj<</Type/Catalog/Pages 2 0 R>>endobj\n2 0 obj<</Type/Pages/Kids[3 0 R]/Count 1>>endobj\n"
    b"3 0 obj<</Type/Page/Parent 2 0 R/MediaBox[0 0 595 842]/Contents 4 0 R/Resources<</Font<</F1 5 0 R>>>>>>"
    b"endobj\n4 0 obj<</Length 86>>stream\nBT /F1 18 Tf 60 760 Td (Sijill DEMO history: placeholder, not a permit) Tj"
    b" ET\nendstream endobj\n5 0 obj<</Type/Font/Subtype/Type1/BaseFont/Helvetica>>endobj\ntrailer<</Root 1 0 R>>\n"
    b"%%EOF\n"
)


@dataclass
class HistoryResult:
    applications: int = 0
    permits: int = 0
    events: int = 0
    application_ids: list[int] | None = None


def seed_history(session: Session, now: datetime, *, placeholder_key: str, count: int = APPLICATIONS
                 ) -> HistoryResult:
    """Add the DEMO year once (an archive with applications already is left as it is); the caller commits."""
    if session.scalar(select(func.count()).select_from(Application)):
        return HistoryResult()
    rng = random.Random(SEED)
    centres = list(session.scalars(select(Centre).order_by(Centre.code)))
    services = list(session.scalars(select(Service).where(Service.active).order_by(Service.code)))
    users = {u.username: u for u in session.scalars(select(User))}
    clerk = users.get("demo.clerk")
    by_role = {Role.REVIEWER.value: [users[n] for n in ("demo.reviewer",) if n in users],
               "engineering": [users[n] for n in ("demo.signer",) if n in users],
               "council": [users[n] for n in ("demo.council",) if n in users]}
    if not centres or not services or clerk is None:
        return HistoryResult()
    weights = [3 if c.code.startswith("SOH") else 2 for c in centres]
    outcome_names = [name for name, _ in OUTCOMES]
    outcome_weights = [share for _, share in OUTCOMES]
    sequences: dict[tuple[int, int], int] = {}
    events: list[tuple[datetime, str | None, str, str, dict[str, Any]]] = []
    apps: list[tuple[Application, list[Transition], Permit | None]] = []
    for _ in range(count):
        centre = rng.choices(centres, weights)[0]
        service = rng.choice(services)
        outcome = rng.choices(outcome_names, outcome_weights)[0]
        legal = timedelta(days=service.legal_days)
        oldest = DAYS if not outcome.startswith("open") else service.legal_days * (3 if outcome == "open_overdue"
                                                                                     else 1)
        newest = {"open_overdue": service.legal_days + 1, "issued_late": service.legal_days * 2.2 + 3}.get(
            outcome, service.legal_days + 2)  # old enough for the file to have finished (or be late) by now
        if outcome == "open_in_time":
            oldest, newest = max(2, service.legal_days - 1), 1  # from yesterday back: "today" is the user's
        created = _working_time(rng, now - timedelta(days=rng.uniform(newest, max(oldest, newest + 1))))
        year = created.year
        seq = sequences[(centre.id, year)] = sequences.get((centre.id, year), 0) + 1
        tracking = format_tracking(centre.code, year, seq)
        app, transitions, permit, app_events = _one_application(
            rng, now, created, legal, centre, service, outcome, tracking, clerk, by_role, placeholder_key)
        apps.append((app, transitions, permit))
        events.extend(app_events)
    session.add_all([a for a, _, _ in apps])
    session.flush()
    for app, transitions, permit in apps:
        for t in transitions:
            t.application_id = app.id
        if permit is not None:
            permit.application_id = app.id
    session.add_all([t for _, ts, _ in apps for t in ts])
    session.add_all([p for _, _, p in apps if p is not None])
    for (centre_id, year), last in sequences.items():
        counter = session.get(TrackingCounter, (centre_id, year))
        if counter is None:
            session.add(TrackingCounter(centre_id=centre_id, year=year, last_value=last))
        else:
            counter.last_value = max(counter.last_value, last)
    session.flush()
    events.sort(key=lambda e: e[0])
    record_events(session, events)
    return HistoryResult(applications=len(apps), permits=sum(1 for _, _, p in apps if p is not None),
                         events=len(events), application_ids=[a.id for a, _, _ in apps])


def _working_time(rng: random.Random, moment: datetime) -> datetime:
    """Move ``moment`` into a centre's working hours (Sunday-Thursday, 08:00-14:00 Cairo, about UTC+2)."""
    day = moment
    while day.weekday() in (4, 5):  # Friday, Saturday
        day -= timedelta(days=1)
    return day.replace(hour=rng.randint(6, 11), minute=rng.randint(0, 59), second=rng.randint(0, 59), microsecond=0)


def _national_id(rng: random.Random, governorate: str) -> str:
    year = rng.randint(1955, 2003)
    century = "2" if year < 2000 else "3"
    serial = rng.randint(0, 999) * 10 + rng.randint(0, 9)
    return (f"{century}{year % 100:02d}{rng.randint(1, 12):02d}{rng.randint(1, 28):02d}{governorate}"
            f"{serial:04d}{rng.randint(1, 9)}")


def _one_application(
    rng: random.Random, now: datetime, created: datetime, legal: timedelta, centre: Centre, service: Service,
    outcome: str, tracking: str, clerk: User, officials: dict[str, list[User]], placeholder_key: str,
) -> tuple[Application, list[Transition], Permit | None, list[tuple[datetime, str | None, str, str, dict[str, Any]]]]:
    subject = f"application:{tracking}"
    chain = list((service.definition or {}).get("signing_chain", []))
    app = Application(
        tracking_number=tracking, centre=centre, centre_id=centre.id, service=service, service_id=service.id,
        service_code=service.code, catalogue_version=service.catalogue_version,
        applicant_name=f"{rng.choice(FIRST_NAMES)} {rng.choice(FIRST_NAMES)} {rng.choice(FAMILY_NAMES)}",
        national_id=_national_id(rng, centre.governorate_code), applicant_phone=f"01{rng.choice('0125')}"
        f"{rng.randint(0, 99_999_999):08d}", details={"plot_number": str(rng.randint(1, 480)),
                                                       "district": rng.choice(DISTRICTS),
                                                       "area_m2": rng.randint(80, 600)},
        status=ApplicationStatus.RECEIVED.value, missing_documents=[], channel="window", created_by_id=clerk.id,
        created_at=created, due_at=created + legal, updated_at=created,
    )
    events: list[tuple[datetime, str | None, str, str, dict[str, Any]]] = [
        (created, clerk.username, "application.register", subject,
         {"service": service.code, "centre": centre.code, "channel": "window"}),
        (created, None, "application.open", subject, {"from": "received", "to": "in_review", "step": 0}),
    ]
    transitions = [Transition(at=created, actor_id=None, from_status="received", to_status="in_review",
                              step_position=0, action="open")]
    steps = [WorkflowStep(position=i, step=str(s["step"]), role=str(s["role"]), department=str(s["department"]),
                          title_ar=str(s.get("title_ar") or s["step"]), title_en=str(s.get("title_en") or s["step"]),
                          signs=bool(s.get("signs", s["role"] == Role.SIGNER.value)),
                          legal_days=int(s["legal_days"]) if s.get("legal_days") else None,
                          status=StepStatus.WAITING.value) for i, s in enumerate(chain)]
    app.steps = steps
    status = ApplicationStatus.IN_REVIEW.value
    # How long the whole file takes: inside the legal duration, or beyond it for late ones.
    share = {"issued_late": rng.uniform(1.15, 2.2), "open_overdue": 5.0}.get(outcome, rng.uniform(0.25, 0.95))
    total = min(legal * share, (now - created) * 0.95)  # nothing happens after now
    moment = created
    stop_at = len(steps)
    if outcome == "rejected":
        stop_at = rng.randrange(len(steps))
    elif outcome == "returned_open":
        stop_at = rng.randrange(len(steps))
    elif outcome.startswith("open"):
        stop_at = rng.randrange(len(steps))

    def decide(step: WorkflowStep, decision: str, at: datetime, reason: str | None) -> None:
        nonlocal status
        pool = officials.get(step.role if step.role == Role.REVIEWER.value else step.department) or []
        who = pool[0] if pool else None
        before = status
        step.status = StepStatus.DONE.value if decision not in ("return",) else StepStatus.RETURNED.value
        step.decision, step.decided_at, step.reason = decision, at, reason
        step.decided_by_id = who.id if who else None
        if decision == "reject":
            status = ApplicationStatus.REJECTED.value
        elif decision == "return":
            status = ApplicationStatus.RETURNED.value
        elif step.position + 1 < len(steps):
            status = (ApplicationStatus.AWAITING_SIGNATURE.value if steps[step.position + 1].signs
                      else ApplicationStatus.IN_REVIEW.value)
        transitions.append(Transition(at=at, actor_id=who.id if who else None, from_status=before, to_status=status,
                                      step_position=step.position, action=decision, reason=reason))
        events.append((at, who.username if who else None, f"application.{decision}", subject,
                       {"from": before, "to": status, "step": step.position, "reason": reason}))

    position = 0
    if outcome == "returned_then_issued" and steps:
        moment += total / (len(steps) + 2)
        _reach(app, steps[0], created)
        decide(steps[0], "return", moment, rng.choice(RETURN_REASONS))
        moment += timedelta(days=rng.uniform(1, 4))
        before, status = status, ApplicationStatus.IN_REVIEW.value
        transitions.append(Transition(at=moment, actor_id=clerk.id, from_status=before, to_status=status,
                                      step_position=0, action="resubmit", reason="استُكملت المستندات"))
        events.append((moment, clerk.username, "application.resubmit", subject, {"from": before, "to": status}))
        steps[0].status = StepStatus.WAITING.value
        steps[0].decision = steps[0].decided_at = steps[0].decided_by_id = steps[0].reason = None
    for step in steps:
        _reach(app, step, moment)
        if position == stop_at:
            if outcome == "rejected":
                moment += total / (len(steps) + 1)
                decide(step, "reject", moment, rng.choice(REJECT_REASONS))
            elif outcome == "returned_open":
                moment += total / (len(steps) + 1)
                decide(step, "return", moment, rng.choice(RETURN_REASONS))
            else:
                step.status = StepStatus.ACTIVE.value
            break
        moment += total / len(steps)
        decide(step, "sign" if step.signs else "recommend", moment, NOTES.get(step.step))
        position += 1
    permit = None
    if position == len(steps) and steps:
        before, status = status, ApplicationStatus.ISSUED.value
        transitions.append(Transition(at=moment, actor_id=None, from_status=before, to_status=status,
                                      step_position=None, action="issue"))
        events.append((moment, None, "application.issue", subject, {"from": before, "to": status}))
        permit = Permit(permit_number=permit_number_for(tracking, service.code),
                        token_sha256=sha256(secrets.token_bytes(32)).hexdigest(), status=PermitStatus.ISSUED.value,
                        facts=_permit_facts(app, moment), draft_pdf_sha256=placeholder_key,
                        current_pdf_sha256=placeholder_key, issued_at=moment, created_at=moment,
                        expires_on=(moment + timedelta(days=365 * 3)).date())
        if outcome == "revoked":
            revoked = min(now - timedelta(hours=1), moment + timedelta(days=rng.uniform(5, 90)))
            reason = rng.choice(REVOKE_REASONS)
            councils = officials.get("council") or []
            council = councils[0] if councils else None
            permit.status, permit.revoked_at, permit.revocation_reason = PermitStatus.REVOKED.value, revoked, reason
            permit.revoked_by_id = council.id if council else None
            transitions.append(Transition(at=revoked, actor_id=permit.revoked_by_id, from_status=status,
                                          to_status=status, step_position=None, action="revoke", reason=reason))
            events.append((revoked, council.username if council else None, "application.revoke", subject,
                           {"reason": reason}))
    app.status = status
    app.updated_at = max([created, *(t.at for t in transitions)])
    return app, transitions, permit, events


def _reach(app: Application, step: WorkflowStep, at: datetime) -> None:
    """The file reaches ``step`` at ``at``: its legal due date is set as a live step's is (``workflow.routing``'s
    rule: the step's own ``legal_days`` from then, else the application's due date), so the inbox, the overdue
    figures and the dashboard read the DEMO year as they read live files instead of falling back to the
    application's date. A step the file never reached keeps none, as live."""
    step.activated_at = at
    step.due_at = step_due(app, step, at)


def _permit_facts(app: Application, issued: datetime) -> dict[str, Any]:
    """What the public verification page reads from a permit (``web.verify.model``), marked as DEMO history."""
    governorate = GOVERNORATES.get(app.centre.governorate_code, ("", ""))
    return {"demo_history": True, "permit_number": permit_number_for(app.tracking_number, app.service_code),
            "tracking_number": app.tracking_number, "service_code": app.service_code,
            "service_name_ar": app.service.name_ar, "service_name_en": app.service.name_en,
            "centre_name_ar": app.centre.name_ar, "centre_name_en": app.centre.name_en,
            "governorate": governorate[0], "governorate_en": governorate[1],
            "national_id_masked": mask_national_id(app.national_id), "issued_on": issued.date().isoformat(),
            "expires_on": (issued + timedelta(days=365 * 3)).date().isoformat()}

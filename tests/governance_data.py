"""A small seeded dataset with known governance answers (November 2026), worked out by hand in the comments.

Times are UTC; 12:00 UTC is 14:00 in Cairo, far from any day boundary. The period is November 2026 and "now" is
10 December 2026, so the as-of moment is the period's end: 1 December 00:00 Cairo = 30 November 22:00 UTC.

=====  =======  =======  =========================  ==============================  ===========  ==========
app    centre   service  received                   finished (first final status)   turnaround   on time?
=====  =======  =======  =========================  ==============================  ===========  ==========
1      SOH-01   BP (30)  Nov 2 12:00                Nov 12 12:00 (sign→approved)    10           yes
2      SOH-01   BP       Nov 3 12:00                Nov 23 00:00 (sign→approved)    19.5         yes
3      SOH-01   VAL (7)  Nov 4 12:00                Nov 14 12:00 (approve)          10           no (Nov 11)
4      SOH-02   VAL      Nov 5 12:00                Nov 9 12:00 (reject)            4            yes
5      SOH-02   BP       Nov 10 12:00               open (in_review), due Dec 10    –            not overdue
6      QEN-01   VAL      Nov 20 12:00               open (returned), due Nov 27     –            3 days late
7      QEN-01   BP       Oct 1 12:00                open, due Oct 31 12:00          –            30 days late
8      SOH-01   VAL      Oct 25 12:00               Nov 3 12:00 (sign→approved)     9            no (Nov 1)
9      SOH-01   BP       Nov 28 12:00               Dec 2 12:00 (outside)           –            open at as-of, due 28
10     QEN-01   VAL      Sep 1 12:00                Oct 1 12:00 (outside)           –            –
=====  =======  =======  =========================  ==============================  ===========  ==========

Governorates: SOH-01 and SOH-02 are in 26 (Sohag), QEN-01 in 27 (Qena).
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from archive.models import Application, Centre, Service, Transition, User, WorkflowStep

NOW = datetime(2026, 12, 10, 12, tzinfo=UTC)


def at(month: int, day: int, hour: int = 12) -> datetime:
    return datetime(2026, month, day, hour, tzinfo=UTC)


# Every figure for November 2026, unfiltered: (received, completed, on_time, overdue, median, p90)
EXPECTED_TOTAL = (7, 5, 3, 2, 10.0, 19.5)  # turnarounds 4, 9, 10, 10, 19.5: median 10, p90 rank ⌈4.5⌉ = 5 → 19.5
EXPECTED_GOVERNORATES = {
    "26": (6, 5, 3, 0, 10.0, 19.5),
    "27": (1, 0, 0, 2, None, None),
}
EXPECTED_CENTRES = {
    "QEN-01": (1, 0, 0, 2, None, None),
    "SOH-01": (4, 4, 2, 0, 10.0, 19.5),  # 9, 10, 10, 19.5: median 10, p90 rank ⌈3.6⌉ = 4 → 19.5
    "SOH-02": (2, 1, 1, 0, 4.0, 4.0),
}
EXPECTED_SERVICES = {
    "BP": (4, 2, 2, 1, 14.75, 19.5),  # 10, 19.5: median (10 + 19.5) / 2, p90 rank ⌈1.8⌉ = 2
    "VAL": (3, 3, 1, 1, 9.0, 10.0),  # 4, 9, 10
}
EXPECTED_OVERDUE = [("QEN-01", "BP", 30), ("QEN-01", "VAL", 3)]  # 30d10h and 3d10h late, most late first
# step: (decided, median, p90, mean)
EXPECTED_STEPS = {
    "approve_department": (2, 13.5, 19.0, 13.5),  # 8 and 19 days
    "recommend": (3, 2.0, 4.0, 6.5 / 3),  # 2, 0.5 and 4 days
}
# official: (decisions, by action, median step days)
EXPECTED_OFFICIALS = [
    ("gov.signer", 4, {"approve": 1, "sign": 3}, 13.5),
    ("gov.reviewer", 3, {"recommend": 2, "return": 1}, 1.25),
    ("gov.reviewer2", 1, {"reject": 1}, 4.0),
]


def seed(session: Session) -> dict[int, str]:
    """Insert the dataset; returns tracking numbers by app number (1-10)."""
    existing = {c.code: c for c in session.scalars(select(Centre))}  # the web tests' app fixture made two
    centres = {
        code: existing.get(code) or Centre(code=code, name_ar=name, name_en=code, governorate_code=gov)
        for code, name, gov in (("SOH-01", "مركز سوهاج", "26"), ("SOH-02", "مركز أخميم", "26"),
                                ("QEN-01", "مركز قنا", "27"))
    }
    assert [(c.code, c.governorate_code) for c in centres.values()] == [("SOH-01", "26"), ("SOH-02", "26"),
                                                                       ("QEN-01", "27")]
    services = {
        "BP": Service(code="BP", name_ar="ترخيص بناء", name_en="Building permit", legal_days=30,
                      catalogue_version="t1", definition={}),
        "VAL": Service(code="VAL", name_ar="بيان صلاحية", name_en="Validity statement", legal_days=7,
                       catalogue_version="t1", definition={}),
    }
    users = {
        name: User(username=name, full_name=full, password_hash="x")
        for name, full in (("gov.reviewer", "المراجع الأول"), ("gov.reviewer2", "المراجع الثاني"),
                           ("gov.signer", "رئيس الإدارة"))
    }
    session.add_all([*(c for c in centres.values() if c.id is None), *services.values(), *users.values()])
    session.flush()
    plan = {  # n: (centre, service, created, status)
        1: ("SOH-01", "BP", at(11, 2), "issued"),
        2: ("SOH-01", "BP", at(11, 3), "issued"),
        3: ("SOH-01", "VAL", at(11, 4), "approved"),
        4: ("SOH-02", "VAL", at(11, 5), "rejected"),
        5: ("SOH-02", "BP", at(11, 10), "in_review"),
        6: ("QEN-01", "VAL", at(11, 20), "returned"),
        7: ("QEN-01", "BP", at(10, 1), "in_review"),
        8: ("SOH-01", "VAL", at(10, 25), "issued"),
        9: ("SOH-01", "BP", at(11, 28), "issued"),
        10: ("QEN-01", "VAL", at(9, 1), "approved"),
    }
    apps: dict[int, Application] = {}
    for n, (centre, service, created, status) in plan.items():
        s = services[service]
        apps[n] = Application(
            tracking_number=f"T{n:02d}", centre=centres[centre], service=s, service_code=service,
            catalogue_version="t1", applicant_name="مواطن", national_id="29001012601234",
            applicant_phone="01012345678", details={}, status=status, channel="window", created_at=created,
            due_at=created + timedelta(days=s.legal_days), updated_at=created,
        )  # fmt: skip
    session.add_all(apps.values())
    session.flush()
    r, r2, sg = users["gov.reviewer"], users["gov.reviewer2"], users["gov.signer"]

    def t(n: int, when: datetime, actor: User | None, before: str, after: str, action: str) -> Transition:
        return Transition(application_id=apps[n].id, at=when, actor_id=actor.id if actor else None,
                          from_status=before, to_status=after, action=action)

    session.add_all([
        t(1, at(11, 2), None, "received", "received", "open"),
        t(1, at(11, 4), r, "received", "awaiting_signature", "recommend"),
        t(1, at(11, 12), sg, "awaiting_signature", "approved", "sign"),
        t(1, at(11, 12), None, "approved", "issued", "issue"),
        t(2, at(11, 4, 0), r, "received", "awaiting_signature", "recommend"),
        t(2, at(11, 23, 0), sg, "awaiting_signature", "approved", "sign"),
        t(2, at(11, 23, 0), None, "approved", "issued", "issue"),
        t(3, at(11, 14), sg, "in_review", "approved", "approve"),
        t(4, at(11, 9), r2, "received", "rejected", "reject"),
        t(6, at(11, 25), r, "in_review", "returned", "return"),
        t(8, at(11, 3), sg, "awaiting_signature", "approved", "sign"),
        t(8, at(11, 3), None, "approved", "issued", "issue"),
        t(9, at(12, 2), sg, "awaiting_signature", "approved", "sign"),
        t(9, at(12, 2), None, "approved", "issued", "issue"),
        t(10, at(10, 1), sg, "in_review", "approved", "approve"),
    ])  # fmt: skip

    def step(n: int, pos: int, code: str, role: str, by: User, start: datetime, end: datetime,
             decision: str) -> WorkflowStep:
        title = {"recommend": ("المهندس المراجع", "Reviewing engineer"),
                 "approve_department": ("رئيس الإدارة الهندسية", "Head of engineering")}[code]
        return WorkflowStep(application_id=apps[n].id, position=pos, step=code, role=role, department="engineering",
                            title_ar=title[0], title_en=title[1], signs=role == "signer", status="done",
                            decided_by_id=by.id, decided_at=end, decision=decision, activated_at=start)

    session.add_all([
        step(1, 0, "recommend", "reviewer", r, at(11, 2), at(11, 4), "recommend"),
        step(1, 1, "approve_department", "signer", sg, at(11, 4), at(11, 12), "sign"),
        step(2, 0, "recommend", "reviewer", r, at(11, 3), at(11, 4, 0), "recommend"),
        step(2, 1, "approve_department", "signer", sg, at(11, 4, 0), at(11, 23, 0), "sign"),
        step(4, 0, "recommend", "reviewer", r2, at(11, 5), at(11, 9), "reject"),
    ])  # fmt: skip
    session.flush()
    return {n: a.tracking_number for n, a in apps.items()}

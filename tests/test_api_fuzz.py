"""The published API against a hostile caller: schemathesis generates requests from ``/api/v1/openapi.json``.

Every operation is called with generated (valid and invalid) inputs, each request carrying the bearer token of one
of the roles or none, against the real app on a migrated database with one registered application. The run is
bounded (fixed seed, a fixed number of examples per operation, no shrinking) so it costs about a minute; each
failure is reported with its operation, role, status and a curl command that repeats it, all of them at once.

What must hold for every response: no status of 500 or more, and the response conforms to the published schema
(status code documented, content type, body schema, headers; a 405 names the allowed methods in ``Allow``).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import hypothesis
import pytest
import schemathesis
from flask import Flask
from hypothesis import strategies as st
from schemathesis.checks import not_a_server_error
from schemathesis.core.failures import FailureGroup
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)
from sqlalchemy import select

from archive.db import Database
from archive.models import User
from archive.users import issue_api_token
from tests.fixtures.app import ROLE_USERS
from web.forms_parsing import NAMELESS_PART

EXAMPLES_PER_OPERATION = 50
"""Generated cases per operation and generation mode (valid and invalid inputs): ~1,500 requests for 16 operations,
about a minute on two idle cores."""
SEED = 1717
CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
]


@dataclass
class Finding:
    operation: str
    role: str
    status: int
    message: str

    def __str__(self) -> str:
        lines = self.message.strip().splitlines()
        shown = "\n".join(lines[:40] + (["    ..."] if len(lines) > 40 else []))
        return f"=== {self.operation} as {self.role} -> {self.status}\n{shown}"


@pytest.fixture
def tokens(app: Flask, database: Database) -> dict[str, str]:
    """One bearer token per role (and the empty string for an anonymous caller)."""
    out = {"anonymous": ""}
    with database.session() as session:
        for role, username in ROLE_USERS.items():
            user = session.scalars(select(User).where(User.username == username)).one()
            out[role.value] = issue_api_token(session, user, "fuzz")
        session.commit()
    return out


def _operations(schema: schemathesis.BaseSchema) -> Iterator[schemathesis.APIOperation]:
    for result in schema.get_all_operations():
        yield result.ok()


def _fuzz(
    operation: schemathesis.APIOperation,
    mode: schemathesis.GenerationMode,
    tokens: dict[str, str],
    findings: list[Finding],
) -> int:
    """Send this operation's generated cases, each as one role; add each distinct failure once. Returns the count."""
    seen: set[str] = set()
    sent = 0

    @hypothesis.settings(
        max_examples=EXAMPLES_PER_OPERATION,
        deadline=None,
        database=None,
        phases=[hypothesis.Phase.explicit, hypothesis.Phase.generate],  # no shrinking: report, do not minimise
        suppress_health_check=list(hypothesis.HealthCheck),
    )
    @hypothesis.seed(SEED)
    @hypothesis.given(case=operation.as_strategy(generation_mode=mode), role=st.sampled_from(sorted(tokens)))
    def run(case: schemathesis.Case, role: str) -> None:
        nonlocal sent
        headers = {"Authorization": f"Bearer {tokens[role]}"} if tokens[role] else {}
        sent += 1
        response = case.call(headers=headers)
        try:
            case.validate_response(response, checks=CHECKS, headers=headers)
        except FailureGroup as group:
            for failure in group.exceptions:
                key = f"{failure.title}|{response.status_code}"
                if key not in seen:
                    seen.add(key)
                    findings.append(Finding(operation.label, role, response.status_code, str(group)))

    try:
        run()
    except hypothesis.errors.Unsatisfiable:
        pass  # nothing of this operation can be made invalid (no parameters, no body)
    return sent


@pytest.mark.postgres
@pytest.mark.parametrize("database_url", ["postgresql"], indirect=True)
def test_no_server_errors_and_every_response_as_published(app: Flask, tokens: dict[str, str]) -> None:
    """On PostgreSQL, the production database and the stricter one (a NUL byte in a text is an error there)."""
    schema = schemathesis.openapi.from_wsgi("/api/v1/openapi.json", app)
    findings: list[Finding] = []
    sent = 0
    for operation in _operations(schema):
        for mode in (schemathesis.GenerationMode.POSITIVE, schemathesis.GenerationMode.NEGATIVE):
            sent += _fuzz(operation, mode, tokens, findings)
    report = "\n\n".join(str(f) for f in findings)
    assert not findings, f"{len(findings)} distinct failures in {sent} requests:\n\n{report}"
    assert sent > 10 * EXAMPLES_PER_OPERATION  # the schema was read and its operations were really called


NAMELESS_PARTS = [
    b'form-data; name=""',
    b"form-data",
    b'form-data; filename="scan.pdf"',
    b"form-data; name",
]


@pytest.mark.parametrize("disposition", NAMELESS_PARTS)
@pytest.mark.parametrize("path", ["/api/v1/applications", "/applications/new"])
def test_a_multipart_part_without_a_name_is_a_clear_400(
    app: Flask, tokens: dict[str, str], disposition: bytes, path: str
) -> None:
    """The malformed part werkzeug files under the key None once crashed the intake views (AttributeError)."""
    body = (
        b"--B\r\nContent-Disposition: form-data; name=\"service_code\"\r\n\r\nBUILD-PERMIT\r\n"
        b"--B\r\nContent-Disposition: " + disposition + b"\r\n\r\n%PDF-1.4 nothing\r\n--B--\r\n"
    )
    headers = {"Authorization": f"Bearer {tokens['clerk']}", "Content-Type": "multipart/form-data; boundary=B"}
    response = app.test_client().post(path, data=body, headers=headers)
    assert response.status_code == 400, response.get_data(as_text=True)[:300]
    if path.startswith("/api/"):
        assert response.json is not None
        assert response.json["code"] == "nameless_form_field"
        assert response.json["error_ar"] == NAMELESS_PART[0]
    else:
        assert NAMELESS_PART[0] in response.get_data(as_text=True)


def test_a_wrong_method_is_a_405_naming_the_allowed_ones(app: Flask, tokens: dict[str, str]) -> None:
    client = app.test_client()
    headers = {"Authorization": f"Bearer {tokens['admin']}"}
    for path, method, allowed in [
        ("/api/v1/applications", "PUT", {"POST"}),
        ("/api/v1/me", "DELETE", {"GET"}),
        ("/api/v1/auth/token", "GET", {"POST"}),
        ("/login", "DELETE", {"GET", "POST"}),
    ]:
        response = client.open(path, method=method, headers=headers)
        assert response.status_code == 405, (path, method)
        assert allowed <= {m.strip() for m in response.headers["Allow"].split(",")}, (path, response.headers)

"""What intake raises when it refuses an application: every problem at once, in Arabic and English.

A clerk at the window fixes a form in one pass only if all problems are shown together, so validation collects
errors per field instead of stopping at the first one.
"""

from __future__ import annotations


class IntakeInvalid(ValueError):
    """The application cannot be registered; nothing was stored and no row was written.

    ``errors`` maps a field to ``(message_ar, message_en)``; ``codes`` maps the same fields to a stable code for
    programs and tests. Field names: ``centre_code``, ``service_code``, ``created_by``, ``channel``,
    ``national_id``, ``applicant_name``, ``applicant_phone``, ``details`` / ``details.<key>`` (e.g.
    ``details.plot_number``), ``uploads`` (none at all), ``uploads[<i>]`` (the i-th upload, 0-based, in the order
    given) and ``incomplete_reason`` (documents missing and no reason given).
    """

    def __init__(self, errors: dict[str, tuple[str, str]], codes: dict[str, str] | None = None) -> None:
        self.errors = dict(errors)
        self.codes = dict(codes or {})
        summary = "; ".join(f"{name}: {english}" for name, (_arabic, english) in self.errors.items())
        super().__init__(f"The application cannot be registered: {summary}")


class ErrorCollector:
    """Accumulates field errors; the first error recorded for a field wins."""

    def __init__(self) -> None:
        self.errors: dict[str, tuple[str, str]] = {}
        self.codes: dict[str, str] = {}

    def add(self, field: str, code: str, message_ar: str, message_en: str) -> None:
        if field not in self.errors:
            self.errors[field] = (message_ar, message_en)
            self.codes[field] = code

    def __contains__(self, field: str) -> bool:
        return field in self.errors

    def __bool__(self) -> bool:
        return bool(self.errors)

    def raise_if_any(self) -> None:
        if self.errors:
            raise IntakeInvalid(self.errors, self.codes)

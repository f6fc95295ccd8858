"""The tests' "now", taken afresh before every test (an autouse fixture in conftest), never when a module is imported.

Why: under pytest-xdist a module imported at the start may run its tests minutes later, and a NOW taken at import
could then lie before certificates made since, or on the other side of midnight from the app's own clock. Tests read
``clock.NOW`` when they run (never bind it in a default argument or a module constant).
"""

from __future__ import annotations

from datetime import UTC, datetime

NOW = datetime.now(UTC).replace(microsecond=0)


def reset() -> None:
    global NOW
    NOW = datetime.now(UTC).replace(microsecond=0)

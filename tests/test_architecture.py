"""The one-way dependency rules of docs/ARCHITECTURE.md, checked on the source itself."""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
OURS = {"sijill", "archive", "intake", "ocr", "ocr_evaluation", "signing", "search", "archive_search", "web", "worker",
        "notify", "governance", "workflow"}
FRAMEWORKS = {"flask", "flask_login", "flask_wtf", "flask_babel", "flask_smorest", "sqlalchemy", "alembic", "celery",
              "kombu"}

# package -> top-level names it must never import
FORBIDDEN: dict[str, set[str]] = {
    "ocr": (OURS - {"ocr"}) | FRAMEWORKS,
    # evaluation data (synthetic pages, error rates) is a library on top of ocr; ocr never imports it
    "ocr_evaluation": (OURS - {"ocr_evaluation", "ocr"}) | FRAMEWORKS,
    "search": (OURS - {"search"}) | FRAMEWORKS,
    "archive": {"intake", "signing", "web", "worker", "ocr", "search", "archive_search", "flask", "celery", "notify",
                "governance", "workflow"},
    "notify": {"intake", "signing", "web", "worker", "ocr", "search", "flask", "celery", "governance", "workflow"},
    "governance": {"signing", "notify", "web", "worker", "ocr", "search", "flask", "celery", "workflow"},
    # registration needs no search: the archive search (and the search library under it) sit beside intake
    "intake": {"web", "worker", "signing", "flask", "celery", "workflow", "search", "archive_search"},
    # the archive as searched: on archive and the search library, reusing intake's small rules (dates)
    "archive_search": {"web", "worker", "signing", "workflow", "notify", "governance", "ocr", "ocr_evaluation",
                       "flask", "celery"},
    # signatures and permits know nothing of the case file's workflow; the workflow uses them
    "signing": {"web", "worker", "flask", "celery", "workflow"},
    "workflow": {"web", "worker", "flask", "celery"},
    "worker": {"web", "flask"},
}


# Reading a SIJILL_* variable anywhere but sijill/settings.py (standard variables such as SSL_CERT_FILE are fine).
SIJILL_ENV_READ = re.compile(r"""(getenv\(|environ\.get\(|environ\[)\s*f?["']SIJILL_""")


def imports_of(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module)
    return names


def sources(package: str) -> list[Path]:
    return sorted((ROOT / package).rglob("*.py"))


@pytest.mark.parametrize("package", sorted(FORBIDDEN))
def test_dependency_direction(package: str) -> None:
    violations = []
    for path in sources(package):
        for name in imports_of(path):
            top = name.split(".")[0]
            if top in FORBIDDEN[package]:
                violations.append(f"{path.relative_to(ROOT)} imports {name}")
    assert violations == []


def test_archive_uses_only_the_settings_module_of_sijill() -> None:
    bad = [
        f"{p.relative_to(ROOT)} imports {n}"
        for p in sources("archive")
        for n in imports_of(p)
        if n.startswith("sijill") and n != "sijill.settings"
    ]
    assert bad == []


def test_only_settings_reads_configuration_from_the_environment() -> None:
    readers = []
    for package in OURS:
        for path in sources(package):
            if path == ROOT / "sijill" / "settings.py":
                continue
            if SIJILL_ENV_READ.search(path.read_text(encoding="utf-8")):
                readers.append(str(path.relative_to(ROOT)))
    assert readers == []


def test_the_layout_of_the_design_card_exists() -> None:
    for name in ["intake", "ocr", "ocr_evaluation", "signing", "archive", "search", "archive_search", "web", "worker",
                 "tests", "docs", "bench"]:
        assert (ROOT / name).is_dir(), name
    for name in ["docker-compose.yml", "pyproject.toml", "README.md", "Makefile", ".ci/run", "docs/ARCHITECTURE.md"]:
        assert (ROOT / name).is_file(), name

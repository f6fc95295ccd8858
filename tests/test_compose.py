"""docker-compose.yml, Dockerfile and .env.example checked statically (Docker cannot run here).

The SIJILL_* environment the containers get is interpolated the way ``docker compose`` does it and fed
to ``Settings.from_env``, so a typo in a URL, a wrong scheme or a host that is not a compose service
fails here rather than on the production host.
"""

from __future__ import annotations

import re
import tomllib
from collections.abc import Mapping
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
import yaml
from packaging.requirements import Requirement

from sijill.settings import Settings

ROOT = Path(__file__).resolve().parent.parent
COMPOSE_FILE = ROOT / "docker-compose.yml"
DOCKERFILE = ROOT / "Dockerfile"
ENV_EXAMPLE = ROOT / ".env.example"
SETTINGS_SOURCE = ROOT / "sijill" / "settings.py"
PYPROJECT = ROOT / "pyproject.toml"

INFRA = ("postgres", "redis", "minio", "elasticsearch")
APP_LONG_RUNNING = ("web", "worker", "beat")
APP = (*APP_LONG_RUNNING, "migrate")

#: Values for required ``${VAR:?…}`` placeholders that must be of a particular shape.
DUMMIES = {"SIJILL_BASE_URL": "https://sijill.example.gov.eg"}

_INTERPOLATION = re.compile(
    r"\$\$"  # escaped dollar
    r"|\$\{(?P<braced>[A-Za-z_][A-Za-z0-9_]*)(?:(?P<op>:?[-?])(?P<arg>[^}]*))?\}"
    r"|\$(?P<plain>[A-Za-z_][A-Za-z0-9_]*)"
)


def interpolate(value: str, env: Mapping[str, str], required: set[str] | None = None) -> str:
    """Compose-style ``$VAR``, ``${VAR}``, ``${VAR:-default}``, ``${VAR:?message}`` and ``$$``."""

    def replace(m: re.Match[str]) -> str:
        if m.group(0) == "$$":
            return "$"
        name = m.group("braced") or m.group("plain")
        op, arg = m.group("op"), m.group("arg")
        current = env.get(name)
        if op is not None and op.endswith("?"):
            if required is not None:
                required.add(name)
            if current is None or (op == ":?" and current == ""):
                return DUMMIES.get(name, f"dummy{name.lower().replace('_', '')}0123456789abcdef0123456789")
            return current
        if op is not None and op.endswith("-"):
            if current is None or (op == ":-" and current == ""):
                return arg or ""
            return current
        return current or ""

    return _INTERPOLATION.sub(replace, value)


def interpolate_tree(node: Any, env: Mapping[str, str], required: set[str] | None = None) -> Any:
    if isinstance(node, str):
        return interpolate(node, env, required)
    if isinstance(node, list):
        return [interpolate_tree(v, env, required) for v in node]
    if isinstance(node, dict):
        return {k: interpolate_tree(v, env, required) for k, v in node.items()}
    return node


def environment_of(service: Mapping[str, Any]) -> dict[str, str]:
    """A service's ``environment`` as a dict, whether written as a mapping or a list of ``K=V``."""
    env = service.get("environment") or {}
    if isinstance(env, list):
        return dict(item.split("=", 1) if "=" in item else (item, "") for item in env)
    return {str(k): "" if v is None else str(v) for k, v in env.items()}


def volume_sources(service: Mapping[str, Any]) -> list[str]:
    out = []
    for volume in service.get("volumes") or []:
        if isinstance(volume, str):
            out.append(volume.split(":", 1)[0])
        else:
            out.append(str(volume.get("source", "")))
    return out


def published_ports(service: Mapping[str, Any]) -> list[str]:
    """Container ports a service publishes on the host."""
    out = []
    for port in service.get("ports") or []:
        if isinstance(port, dict):
            out.append(str(port["target"]))
        else:
            out.append(str(port).rsplit(":", 1)[-1].split("/")[0])
    return out


@pytest.fixture(scope="module")
def raw_compose() -> dict[str, Any]:
    data = yaml.safe_load(COMPOSE_FILE.read_text(encoding="utf-8"))
    assert isinstance(data, dict)
    return data


@pytest.fixture(scope="module")
def compose(raw_compose: dict[str, Any]) -> dict[str, Any]:
    """The file as docker compose sees it with an empty .env: defaults applied, required values dummied."""
    result = interpolate_tree(raw_compose, {})
    assert isinstance(result, dict)
    return result


@pytest.fixture(scope="module")
def services(compose: dict[str, Any]) -> dict[str, Any]:
    return dict(compose["services"])


def test_interpolation_helper() -> None:
    env = {"A": "x", "E": ""}
    assert interpolate("$$A ${A} $A ${B:-d} ${E:-d} ${E-d} ${B-}", env) == "$A x x d d  "
    required: set[str] = set()
    assert interpolate("${A:?m}", env, required) == "x"
    assert interpolate("${E:?m}", env, required).startswith("dummy")
    assert required == {"A", "E"}


def test_every_needed_service_is_present(services: dict[str, Any]) -> None:
    missing = {*INFRA, *APP} - services.keys()
    assert not missing, f"docker-compose.yml lacks {sorted(missing)}"


@pytest.mark.parametrize("name", INFRA)
def test_infrastructure_has_healthcheck_and_named_volume(
    name: str, services: dict[str, Any], compose: dict[str, Any]
) -> None:
    service = services[name]
    test = service.get("healthcheck", {}).get("test")
    assert test and test != ["NONE"], f"{name} needs a healthcheck"
    named = set(compose.get("volumes") or {})
    sources = volume_sources(service)
    assert any(src in named for src in sources), f"{name} must keep its data in a named volume: {sources}"


def test_healthchecks_probe_the_right_thing(services: dict[str, Any]) -> None:
    def text(name: str) -> str:
        return " ".join(services[name]["healthcheck"]["test"])

    assert "pg_isready" in text("postgres")
    assert "redis-cli" in text("redis") and "ping" in text("redis")
    assert "/minio/health/live" in text("minio")
    assert "_cluster/health" in text("elasticsearch")
    assert "/healthz" in text("web") and ":5000" in text("web")


def test_infrastructure_configuration(services: dict[str, Any]) -> None:
    assert services["postgres"]["image"].split(":")[1].split(".")[0] == "16"
    redis = services["redis"]
    assert redis["image"].split(":")[1].split(".")[0] == "7"
    assert "--appendonly" in redis["command"] and "yes" in redis["command"]
    minio = services["minio"]
    command = minio["command"] if isinstance(minio["command"], list) else minio["command"].split()
    assert command[:2] == ["server", "/data"] and "--console-address" in command
    assert {"MINIO_ROOT_USER", "MINIO_ROOT_PASSWORD"} <= environment_of(minio).keys()
    es = environment_of(services["elasticsearch"])
    assert es["discovery.type"] == "single-node"
    assert es["xpack.security.enabled"] == "false"
    assert "-Xms" in es["ES_JAVA_OPTS"] and "-Xmx" in es["ES_JAVA_OPTS"]


def test_app_services_share_one_image_and_environment(raw_compose: dict[str, Any]) -> None:
    app = {name: raw_compose["services"][name] for name in APP}
    images = {s["image"] for s in app.values()}
    assert len(images) == 1, images
    for name, service in app.items():
        build = service.get("build")
        assert build is not None, f"{name} must be built from the repository"
        build = {"context": build} if isinstance(build, str) else build
        assert build["context"] == "." and build.get("dockerfile", "Dockerfile") == "Dockerfile"
    environments = [environment_of(s) for s in app.values()]
    assert all(env == environments[0] for env in environments), "web/worker/beat/migrate environments differ"


def test_app_commands(services: dict[str, Any]) -> None:
    def argv(name: str) -> list[str]:
        command = services[name]["command"]
        return command if isinstance(command, list) else command.split()

    web = argv("web")
    assert web[0] == "run" and "--no-worker" in web
    # production serves with gunicorn, one process per core (docs/PERFORMANCE.md), rate limits shared in Redis
    assert int(web[web.index("--workers") + 1].removeprefix("${WEB_WORKERS:-").rstrip("}")) > 1
    assert web[web.index("--host") + 1] == "0.0.0.0"  # noqa: S104 - inside the container
    assert web[web.index("--port") + 1] == "5000"
    worker = argv("worker")
    assert worker[0] == "worker" and worker[worker.index("--concurrency") + 1] == "2"
    assert argv("beat") == ["beat"]
    assert argv("migrate") == ["db", "upgrade"]


def test_app_waits_for_healthy_services_and_migrations(services: dict[str, Any]) -> None:
    for name in APP_LONG_RUNNING:
        depends = services[name].get("depends_on")
        assert isinstance(depends, dict), f"{name}: depends_on must use conditions"
        for infra in INFRA:
            assert depends.get(infra, {}).get("condition") == "service_healthy", f"{name} -> {infra}"
        assert depends.get("migrate", {}).get("condition") == "service_completed_successfully", name
    migrate = services["migrate"]["depends_on"]
    assert migrate["postgres"]["condition"] == "service_healthy"
    assert services["migrate"].get("restart", "no") == "no"
    if "minio-init" in services:
        assert services["minio-init"]["depends_on"]["minio"]["condition"] == "service_healthy"


@pytest.mark.parametrize("name", APP_LONG_RUNNING)
def test_app_environment_builds_production_settings(name: str, services: dict[str, Any]) -> None:
    env = environment_of(services[name])
    assert all(key.startswith("SIJILL_") for key in env), sorted(env)
    assert env["SIJILL_ENV"] == "production"
    assert env["SIJILL_DATA_DIR"] == "/var/lib/sijill"
    settings = Settings.from_env(env)
    assert settings.is_production
    hosts = {
        "database_url": ("postgresql", "postgres", 5432),
        "storage_url": ("s3", "minio", 9000),
        "search_url": ("http", "elasticsearch", 9200),
        "broker_url": ("redis", "redis", 6379),
        "result_backend": ("redis", "redis", 6379),
    }
    for field, (scheme, host, port) in hosts.items():
        url = urlsplit(getattr(settings, field))
        assert url.scheme == scheme, f"{field}: {url.geturl()}"
        assert url.hostname == host and url.port == port, f"{field}: {url.geturl()}"
        assert host in services, f"{field} points at {host}, which is not a compose service"
    assert urlsplit(settings.database_url).path == "/sijill"
    assert urlsplit(settings.broker_url).path != urlsplit(settings.result_backend).path
    storage = urlsplit(settings.storage_url)
    assert storage.username and storage.password
    bucket = storage.path.strip("/")
    assert bucket == "sijill"
    if "minio-init" in services:
        script = " ".join(str(part) for part in services["minio-init"]["command"])
        assert f"local/{bucket}" in script and "--with-lock" in script and "version enable" in script
    assert settings.secret_key.startswith("dummy") and len(settings.secret_key) >= 32


def test_database_password_matches_postgres(raw_compose: dict[str, Any]) -> None:
    db_url = environment_of(raw_compose["services"]["web"])["SIJILL_DATABASE_URL"]
    pg = environment_of(raw_compose["services"]["postgres"])
    marker = {"POSTGRES_PASSWORD": "pw-marker"}
    url = urlsplit(interpolate(db_url, marker))
    assert url.password == "pw-marker" == interpolate(pg["POSTGRES_PASSWORD"], marker)
    assert url.username == pg["POSTGRES_USER"] and url.path == "/" + pg["POSTGRES_DB"]


def test_secrets_are_required_not_defaulted(raw_compose: dict[str, Any]) -> None:
    env = environment_of(raw_compose["services"]["web"])
    for key in ("SIJILL_SECRET_KEY", "SIJILL_DATABASE_URL", "SIJILL_STORAGE_URL"):
        assert ":?" in env[key], f"{key} must use ${{VAR:?message}} so a missing secret stops compose"
    for key in ("POSTGRES_PASSWORD",):
        assert ":?" in environment_of(raw_compose["services"]["postgres"])[key]
    for key in ("MINIO_ROOT_USER", "MINIO_ROOT_PASSWORD"):
        assert ":?" in environment_of(raw_compose["services"]["minio"])[key]


def test_only_web_and_minio_s3_publish_ports(services: dict[str, Any]) -> None:
    publishing = {name: published_ports(s) for name, s in services.items() if s.get("ports")}
    assert publishing.get("web") == ["5000"]
    assert set(publishing) <= {"web", "minio"}, f"unexpected published ports: {publishing}"
    assert set(publishing.get("minio", [])) <= {"9000"}, "the MinIO console (9001) must never be published"
    for name, service in services.items():
        assert service.get("network_mode") != "host", f"{name} must not use host networking"


def _client_majors(requirement: Requirement) -> set[int]:
    """Major versions the requirement's specifier admits (probing a spread of versions)."""
    majors = set()
    for major in range(1, 40):
        probes = (f"{major}.{minor}.{patch}" for minor in range(0, 40) for patch in (0, 1, 9, 99))
        if any(requirement.specifier.contains(v, prereleases=True) for v in probes):
            majors.add(major)
    return majors


def test_elasticsearch_image_matches_client_pin(services: dict[str, Any]) -> None:
    image = services["elasticsearch"]["image"]
    tag = image.rsplit(":", 1)[1]
    assert re.fullmatch(r"\d+\.\d+\.\d+", tag), f"pin an exact Elasticsearch version, not {tag!r}"
    es_major = int(tag.split(".")[0])
    assert es_major == 9

    project = tomllib.loads(PYPROJECT.read_text(encoding="utf-8"))["project"]
    declared = list(project.get("dependencies", []))
    for extra in project.get("optional-dependencies", {}).values():
        declared.extend(extra)
    pins = [r for r in map(Requirement, declared) if r.name.lower().replace("_", "-") == "elasticsearch"]
    if not pins:
        pytest.skip("pyproject.toml has no elasticsearch client requirement yet")
    for requirement in pins:
        majors = _client_majors(requirement)
        assert majors == {es_major}, (
            f"pyproject.toml's {requirement} admits client majors {sorted(majors)}; "
            f"pin it to {es_major}.x to match {image}"
        )


def _settings_variables() -> set[str]:
    source = SETTINGS_SOURCE.read_text(encoding="utf-8")
    names = set(re.findall(r"""\bget\(\s*["']([A-Z][A-Z0-9_]*)["']\s*\)""", source))
    assert {"DATABASE_URL", "SECRET_KEY"} <= names, "could not find settings.py's get(...) calls"
    return {"SIJILL_" + name for name in names}


def test_env_example_mentions_every_setting() -> None:
    text = ENV_EXAMPLE.read_text(encoding="utf-8")
    missing = [
        name
        for name in sorted(_settings_variables())
        if not re.search(rf"^#?\s*{name}=", text, flags=re.MULTILINE)
    ]
    assert not missing, f".env.example does not show {missing}"


def test_env_example_covers_compose_placeholders(raw_compose: dict[str, Any]) -> None:
    """Every required ${VAR:?…} is an assignment in .env.example, so `cp .env.example .env` then
    filling in the blanks is enough, and the values that are filled in give valid settings."""
    required: set[str] = set()
    interpolate_tree(raw_compose, {}, required)
    assignments = dict(
        re.findall(r"^([A-Z][A-Z0-9_]*)=(.*)$", ENV_EXAMPLE.read_text(encoding="utf-8"), flags=re.MULTILINE)
    )
    missing = sorted(required - assignments.keys())
    assert not missing, f".env.example must assign {missing} (uncommented) for docker compose"

    # An operator fills in the blank required values; optional blanks (e.g. SIJILL_REPLICA_URL) stay blank.
    filled = {
        k: v or (f"filled{k.lower().replace('_', '')}0123456789abcdef0123456789" if k in required else "")
        for k, v in assignments.items()
    }
    env = {k: interpolate(v, filled) for k, v in environment_of(raw_compose["services"]["web"]).items()}
    settings = Settings.from_env(env)
    assert settings.base_url == assignments["SIJILL_BASE_URL"]
    assert settings.max_upload_mb == int(assignments["SIJILL_MAX_UPLOAD_MB"])
    assert settings.default_locale == assignments["SIJILL_DEFAULT_LOCALE"]


def test_env_example_leaves_secrets_blank() -> None:
    assignments = dict(
        re.findall(r"^([A-Z][A-Z0-9_]*)=(.*)$", ENV_EXAMPLE.read_text(encoding="utf-8"), flags=re.MULTILINE)
    )
    for key in ("POSTGRES_PASSWORD", "MINIO_ROOT_PASSWORD", "S3_SECRET_KEY", "SIJILL_SECRET_KEY"):
        assert assignments.get(key) == "", f"{key} must be blank in .env.example so compose refuses to start"


def test_dockerfile() -> None:
    text = DOCKERFILE.read_text(encoding="utf-8")
    assert re.search(r"^FROM python:3\.11-slim-bookworm\b", text, flags=re.MULTILINE)
    assert "--no-install-recommends" in text
    for package in (
        "tesseract-ocr", "tesseract-ocr-ara", "tesseract-ocr-eng", "fonts-noto-core", "fonts-hosny-amiri",
        "poppler-utils", "libpango-1.0-0", "libharfbuzz0b",
    ):
        assert re.search(rf"\s{re.escape(package)}(\s|$)", text), f"Dockerfile does not install {package}"
    users = re.findall(r"^USER\s+(\S+)", text, flags=re.MULTILINE)
    assert users and users[-1] not in ("root", "0"), "the image must run as a non-root user"
    assert "pip install" in text
    assert re.search(r'^ENTRYPOINT \["sijill"\]', text, flags=re.MULTILINE)
    ignored = (ROOT / ".dockerignore").read_text(encoding="utf-8").split()
    assert ".env" in ignored and ".git" in ignored and ".venv" in ignored

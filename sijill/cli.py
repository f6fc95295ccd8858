"""The ``sijill`` command: run the app and workers, migrate, manage users, load DEMO data.

Expected failures (bad settings, a database or object store that cannot be reached) end with one sentence on
stderr and exit status 2, never a traceback.
"""

from __future__ import annotations

import getpass
import os
import secrets
import signal
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import click

from archive.db import Database, DatabaseUnavailable
from archive.roles import parse_role
from archive.users import AccountError
from sijill.settings import Settings, SettingsError

# Errors that are the operator's to fix; anything else is a bug and keeps its traceback.
FRIENDLY_ERRORS: tuple[type[BaseException], ...] = (SettingsError, DatabaseUnavailable, AccountError)


def _friendly_errors() -> tuple[type[BaseException], ...]:
    from archive.sealing import SealingKeyError
    from archive.store import StoreError
    from intake.catalogue import CatalogueError
    from search.health import SearchUnavailable
    from search.model import SearchError
    from worker.health import BrokerUnavailable

    return (*FRIENDLY_ERRORS, StoreError, SealingKeyError, CatalogueError, SearchUnavailable, SearchError,
            BrokerUnavailable)


class SijillGroup(click.Group):
    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except _friendly_errors() as exc:
            click.echo(f"sijill: {exc}", err=True)
            ctx.exit(2)


def _settings(ctx: click.Context) -> Settings:
    if ctx.obj is None:
        ctx.obj = Settings.from_env()
    settings: Settings = ctx.obj
    return settings


@click.group(cls=SijillGroup)
@click.version_option(package_name="sijill")
def cli() -> None:
    """Sijill (سِجِلّ): records and e-signatures for citizen service centres."""


def preflight(settings: Settings) -> Database:
    """Fail fast, in one sentence, when the database or object store is unusable or the schema is behind."""
    from archive.migrate import is_up_to_date
    from archive.store import open_store

    db = Database(settings.database_url)
    db.check()
    if not is_up_to_date(settings.database_url):
        raise DatabaseUnavailable("The database schema is not up to date: run `sijill db upgrade` first.")
    open_store(settings.storage_url).health()
    return db


@cli.command()
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=5000, show_default=True, type=int)
@click.option("--workers", default=1, show_default=True, type=int,
              help="Web server processes: above 1, gunicorn (production: one per core, with Redis rate limits); "
                   "1 = waitress in one process.")
@click.option("--threads", default=8, show_default=True, type=int, help="Threads per web server process.")
@click.option("--worker/--no-worker", default=True, show_default=True, help="Also start a background worker.")
@click.option("--concurrency", default=max(1, os.cpu_count() or 1), show_default=True, type=int,
              help="Worker processes (OCR runs best with one per core).")
@click.pass_context
def run(ctx: click.Context, host: str, port: int, workers: int, threads: int, worker: bool,
        concurrency: int) -> None:
    """Serve the web app (waitress, or gunicorn with --workers N; by default also one worker) until interrupted."""
    from sijill.serve import serve
    from web import create_app
    from worker.run import settings_environ, worker_argv

    settings = _settings(ctx)
    preflight(settings).dispose()  # each server process opens its own connections after the fork
    child: subprocess.Popen[bytes] | None = None
    if worker:
        child = subprocess.Popen(
            worker_argv(settings, concurrency=concurrency, loglevel="INFO", queues=None, beat=True),
            env=settings_environ(settings),
            start_new_session=True,
            preexec_fn=_end_with_parent,
        )
        click.echo(f"worker started (pid {child.pid})")

    def stop(_signum: int, _frame: Any) -> None:
        raise SystemExit(0)

    signal.signal(signal.SIGTERM, stop)
    click.echo(f"Sijill is serving at http://{host}:{port}  (settings: {settings.env})")
    try:
        serve(lambda: create_app(settings), host=host, port=port, workers=workers,
              threads=threads)
    finally:
        if child is not None:
            _stop_child(child)


def _end_with_parent() -> None:
    """In the worker before exec: on Linux the kernel sends it SIGTERM (a warm shutdown; unfinished tasks go back
    to the queue) if ``sijill run`` dies without stopping it, even by SIGKILL, so no orphan worker is left."""
    if sys.platform.startswith("linux"):
        import ctypes

        pr_set_pdeathsig = 1
        ctypes.CDLL(None, use_errno=True).prctl(pr_set_pdeathsig, signal.SIGTERM)


def _stop_child(child: subprocess.Popen[bytes]) -> None:
    if child.poll() is not None:
        return
    os.killpg(child.pid, signal.SIGTERM)
    try:
        child.wait(timeout=15)
    except subprocess.TimeoutExpired:
        os.killpg(child.pid, signal.SIGKILL)
        child.wait()


@cli.command()
@click.option("--concurrency", "-c", default=max(1, os.cpu_count() or 1), show_default=True, type=int)
@click.option("--loglevel", default="INFO", show_default=True)
@click.option("--queue", "-Q", "queues", multiple=True, help="Only consume these queues.")
@click.pass_context
def worker(ctx: click.Context, concurrency: int, loglevel: str, queues: tuple[str, ...]) -> None:
    """Run a background worker (OCR, indexing, replication)."""
    from worker.run import run_worker

    settings = _settings(ctx)
    sys.exit(run_worker(settings, concurrency=concurrency, loglevel=loglevel, queues=list(queues) or None))


@cli.command()
@click.option("--loglevel", default="INFO", show_default=True)
@click.pass_context
def beat(ctx: click.Context, loglevel: str) -> None:
    """Run the scheduler for periodic jobs (fixity checks, reports, timestamp renewal)."""
    from worker.run import run_beat

    sys.exit(run_beat(_settings(ctx), loglevel=loglevel))


@cli.command()
@click.pass_context
def check(ctx: click.Context) -> None:
    """Check database, storage, search and broker; exit 1 if any is failing."""
    from sijill.health import run_checks

    settings = _settings(ctx)
    results = run_checks(settings, Database(settings.database_url))
    for result in results:
        mark = "ok  " if result.ok else "FAIL"
        click.echo(f"{mark} {result.name:<9} {result.detail} ({result.ms} ms)")
    if not all(r.ok for r in results):
        ctx.exit(1)


@cli.group()
def db() -> None:
    """Database schema migrations."""


@db.command("upgrade")
@click.option("--revision", default="head", show_default=True)
@click.pass_context
def db_upgrade(ctx: click.Context, revision: str) -> None:
    """Create or upgrade the database schema."""
    from archive.migrate import current_revision, upgrade

    settings = _settings(ctx)
    Database(settings.database_url).check()
    upgrade(settings.database_url, revision)
    click.echo(f"database at revision {current_revision(settings.database_url)}")


@db.command("current")
@click.pass_context
def db_current(ctx: click.Context) -> None:
    """Print the schema revision of the database and of the code."""
    from archive.migrate import current_revision, head_revision

    settings = _settings(ctx)
    Database(settings.database_url).check()
    click.echo(f"database: {current_revision(settings.database_url)}  code: {head_revision()}")


@cli.group()
def users() -> None:
    """Staff accounts."""


def _with_session(settings: Settings, action: Callable[[Any], Any]) -> Any:
    database = Database(settings.database_url)
    database.check()
    with database.session() as session:
        return action(session)


@users.command("create")
@click.argument("username")
@click.option("--role", "-r", "roles", multiple=True, required=True, help="clerk, reviewer, signer, ...")
@click.option("--name", "full_name", default="", help="Full name as shown in the UI and on signatures.")
@click.option("--centre", default=None, help="Centre code; omit for staff who serve every centre.")
@click.option("--password-stdin", is_flag=True, help="Read the password from standard input.")
@click.pass_context
def users_create(
    ctx: click.Context, username: str, roles: tuple[str, ...], full_name: str, centre: str | None,
    password_stdin: bool,
) -> None:
    """Create a staff account."""
    from archive.users import create_user

    settings = _settings(ctx)
    try:
        role_set = {parse_role(r) for r in roles}
    except ValueError as exc:
        raise AccountError(str(exc)) from None
    if password_stdin:
        password = sys.stdin.readline().rstrip("\n")
    elif sys.stdin.isatty():
        password = getpass.getpass("Password: ")
        if getpass.getpass("Repeat password: ") != password:
            raise AccountError("The two passwords differ.")
    else:
        raise AccountError("Give the password on a terminal or with --password-stdin.")
    _with_session(settings, lambda s: create_user(s, username, password, role_set, full_name, centre))
    click.echo(f"created {username.lower()} ({', '.join(sorted(role_set))})")


@users.command("email")
@click.argument("username")
@click.argument("address", default="")
@click.pass_context
def users_email(ctx: click.Context, username: str, address: str) -> None:
    """Set where an official's due-date reminders go (no ADDRESS: clear it; reminders then show in the inbox only)."""
    from archive.users import set_email
    from intake.fields import FieldInvalid, normalise_email

    try:
        email = normalise_email(address)
    except FieldInvalid as exc:
        raise AccountError(exc.message_en) from None
    _with_session(_settings(ctx), lambda s: set_email(s, username, email))
    click.echo(f"{username.lower()}: {email or 'no e-mail'}")


@users.command("token")
@click.argument("username")
@click.option("--name", default="cli", show_default=True)
@click.pass_context
def users_token(ctx: click.Context, username: str, name: str) -> None:
    """Issue an API token for a user and print it (shown once)."""
    from sqlalchemy import select

    from archive.models import User
    from archive.users import issue_api_token

    def issue(session: Any) -> str:
        user = session.scalar(select(User).where(User.username == username.lower()))
        if user is None:
            raise AccountError(f"There is no user named {username!r}.")
        return issue_api_token(session, user, name)

    click.echo(_with_session(_settings(ctx), issue))


@cli.command("import")
@click.argument("directory", type=click.Path(exists=True, file_okay=False, path_type=Path))
@click.option("--user", "username", default=None, help="Clerk account to record the applications under.")
@click.option("--watch", is_flag=True, help="Keep watching the folder (a network scanner's hot folder).")
@click.option("--interval", default=5.0, show_default=True, type=float, help="Seconds between polls with --watch.")
@click.pass_context
def import_command(ctx: click.Context, directory: Path, username: str | None, watch: bool, interval: float) -> None:
    """Register every application folder in DIRECTORY (see intake/importer.py for the layout)."""
    import time

    from archive.store import open_store
    from intake.importer import find_batches, import_batch, session_user, settled_batches
    from ocr.limits import Limits

    settings = _settings(ctx)
    database = preflight(settings)
    from worker.dispatch import queue_on_commit

    queue_on_commit(database.sessions, settings)  # imported applications get manifests and are indexed
    store = open_store(settings.storage_url)
    limits = Limits(max_bytes=settings.max_upload_bytes)
    with database.session() as session:
        clerk = session_user(session, username)
        if username and clerk is None:
            raise AccountError(f"There is no user named {username!r}.")
        if clerk is not None:
            session.expunge(clerk)

    def take(batches: list[Any]) -> dict[str, int]:
        counts: dict[str, int] = {}
        with click.progressbar(batches, label="importing", show_pos=True, file=sys.stderr) as bar:
            for batch in bar:
                outcome = import_batch(database, store, batch, limits=limits, clerk=clerk)
                counts[outcome.status] = counts.get(outcome.status, 0) + 1
                if outcome.status == "imported":
                    _open_workflow(database, outcome.tracking_number)
                _report_import(settings, outcome)
        return counts

    if not watch:
        counts = take(find_batches(directory))
        click.echo(", ".join(f"{n} {status}" for status, n in sorted(counts.items())) or "nothing to import")
        return
    click.echo(f"watching {directory} every {interval:g} s (Ctrl-C to stop)")
    seen: dict[Path, Any] = {}
    try:
        while True:
            ready = list(settled_batches(directory, seen))
            if ready:
                take(ready)
            time.sleep(interval)
    except KeyboardInterrupt:
        click.echo("stopped")


def _open_workflow(database: Database, tracking_number: str | None) -> None:
    """Open an imported application's workflow at once (the beat task ``routing.open_pending`` is the safety net)."""
    from sqlalchemy import select

    from archive.models import Application
    from workflow.routing import RoutingRefused, ensure_workflow

    try:
        with database.session() as session:
            application = session.scalar(select(Application).where(Application.tracking_number == tracking_number))
            if application is not None:
                ensure_workflow(session, application)
    except RoutingRefused:
        pass  # a service without a signing chain: nothing to route
    except Exception as exc:  # the beat task opens it later
        click.echo(f"  {tracking_number}: workflow not opened yet ({exc}); it will be opened later", err=True)


def _report_import(settings: Settings, outcome: Any) -> None:
    from worker.dispatch import enqueue_pages

    if outcome.status == "imported":
        try:
            enqueue_pages(settings, outcome.page_ids)
        except Exception as exc:  # any broker fault: the beat schedule re-enqueues stale pages
            click.echo(f"  {outcome.folder.name}: OCR not queued yet ({exc}); it will be retried", err=True)
        click.echo(f"  {outcome.folder.name}: {outcome.tracking_number}")
    elif outcome.status == "refused":
        click.echo(f"  {outcome.folder.name}: refused, see ERRORS.txt", err=True)
    elif outcome.status == "already_imported":
        click.echo(f"  {outcome.folder.name}: already imported as {outcome.tracking_number}")


@cli.command()
@click.pass_context
def reindex(ctx: click.Context) -> None:
    """Rebuild the search index from the database (searches keep answering from the old index until it is done)."""
    settings = _settings(ctx)
    database = preflight(settings)
    click.echo(f"{_reindex_search(settings, database)} applications indexed")


def _reindex_search(settings: Settings, database: Database) -> int:
    from archive_search.indexing import count_applications
    from archive_search.indexing import reindex as index_all
    from search.engines import open_engine

    engine = open_engine(settings.search_url)
    try:
        engine.setup()
        with database.session() as session:
            total = count_applications(session)
            with click.progressbar(length=total, label="indexing", show_pos=True, show_eta=True,
                                   file=sys.stderr) as bar:
                return index_all(session, engine, progress=bar.update)
    finally:
        engine.close()


@cli.group()
def catalogue() -> None:
    """The service catalogue (a versioned YAML file)."""


@catalogue.command("load")
@click.argument("path", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.pass_context
def catalogue_load(ctx: click.Context, path: Path) -> None:
    """Load a new edition of the catalogue; services it leaves out are deactivated."""
    from intake.catalogue import apply_catalogue, load_catalogue

    new = load_catalogue(path)
    change = _with_session(_settings(ctx), lambda s: apply_catalogue(s, new))
    click.echo(
        f"catalogue {change.version}: {change.created} added, {change.updated} changed, "
        f"{change.deactivated} deactivated"
    )


@catalogue.command("export")
@click.pass_context
def catalogue_export(ctx: click.Context) -> None:
    """Print the active catalogue as YAML, ready to edit and load again."""
    from intake.catalogue import export_catalogue

    click.echo(_with_session(_settings(ctx), export_catalogue), nl=False)


@cli.group()
def audit() -> None:
    """The tamper-evident audit trail."""


@audit.command("verify")
@click.option("--public-key", "public_key", type=click.Path(exists=True, dir_okay=False, path_type=Path),
              default=None, help="Check the checkpoints with this Ed25519 public key (PEM) instead of the one of "
                                 "SIJILL_SEALING_KEY_FILE: an auditor's own copy, which a swapped key cannot fool.")
@click.option("--database-only", is_flag=True, help="Walk the database chain alone (no archive, no checkpoints).")
@click.pass_context
def audit_verify(ctx: click.Context, public_key: Path | None, database_only: bool) -> None:
    """Check the audit trail against the archived segments and the sealed checkpoints; name every edited,
    re-chained, inserted, deleted or truncated event. Exit status 1 if anything is wrong."""
    from archive.audit_check import verify_audit
    from archive.sealing import SealingKeyError, VerifyingKey, load_sealing_key

    settings = _settings(ctx)
    database = preflight(settings)
    store = None if database_only else _archive_store(settings, database)
    if database_only:
        verifying = None
    elif public_key is not None:
        verifying = VerifyingKey.from_pem_file(public_key)
    else:
        try:
            verifying = load_sealing_key(settings.sealing_key_path, create=False).verifying
        except SealingKeyError as exc:
            click.echo(f"warning: {exc}", err=True)
            verifying = None
    with database.session() as session:
        verdict = verify_audit(session, store, verifying)
    newest = verdict.newest_trusted
    summary = (f"{verdict.events} events, head at {verdict.head_seq}; archived through event "
               f"{verdict.archived_through} in {verdict.segments} segments; {len(verdict.checkpoints)} checkpoints")
    if newest is not None:
        stamp = (f", time-stamped {newest.timestamp.time:%Y-%m-%d %H:%M:%S} UTC by {newest.timestamp.authority}"
                 if newest.timestamp is not None and newest.timestamp.time is not None else "")
        lock = (f", locked ({newest.retention.mode}) until {newest.retention.until:%Y-%m-%d}"
                if newest.retention is not None else ", not locked")
        summary += f", newest sealed at event {newest.seq} on {newest.sealed_at:%Y-%m-%d %H:%M:%S} UTC{stamp}{lock}"
        if verdict.head_seq > newest.seq:
            summary += f"; events {newest.seq + 1}–{verdict.head_seq} are not sealed yet"
    for warning in verdict.warnings:
        click.echo(f"warning: {warning}", err=True)
    if verdict.intact:
        click.echo(f"audit trail intact: {summary}")
        return
    click.echo(f"audit trail BROKEN ({summary}):", err=True)
    for item in verdict.findings:
        click.echo(f"  {item.kind:<11} {item.where}: {item.detail}", err=True)
    ctx.exit(1)


@audit.command("checkpoint")
@click.pass_context
def audit_checkpoint(ctx: click.Context) -> None:
    """Seal the chain's head now (the workers do it every 5 minutes): signed, time-stamped, under object lock."""
    from archive.checkpoints import CheckpointRefused, write_checkpoint
    from archive.sealing import load_sealing_key

    settings = _settings(ctx)
    database = preflight(settings)
    store = _archive_store(settings, database)
    key = load_sealing_key(settings.sealing_key_path)
    with database.session() as session:
        try:
            run = write_checkpoint(session, store, key, tsa_url=settings.tsa_url,
                                   lock_years=settings.audit_lock_years, lock_mode=settings.retention_mode)
        except CheckpointRefused as exc:
            raise click.ClickException(f"not sealed: {exc} Run `sijill audit verify`.") from None
    for note in run.notes:
        click.echo(f"note: {note}")
    if run.name:
        click.echo(f"sealed event {run.seq} as {run.name} ({'time-stamped' if run.timestamped else 'no timestamp'}, "
                   f"{'under object lock' if run.locked else 'NOT under object lock'})")


@audit.command("public-key")
@click.pass_context
def audit_public_key(ctx: click.Context) -> None:
    """Print the sealing key's public half (PEM), to keep with the auditors for `audit verify --public-key`."""
    from archive.sealing import load_sealing_key

    key = load_sealing_key(_settings(ctx).sealing_key_path)
    click.echo(key.verifying.public_pem, nl=False)


def _archive_store(settings: Settings, database: Database) -> Any:
    from archive.replication import open_archive_store

    return open_archive_store(settings.storage_url, settings.replica_url, database)


@cli.command()
@click.option("--reconcile/--no-reconcile", default=True, show_default=True,
              help="First note in the ledger every object of the primary store it lacks.")
@click.pass_context
def replicate(ctx: click.Context, reconcile: bool) -> None:
    """Copy every object not yet in the replica (SIJILL_REPLICA_URL) now, instead of waiting for the workers."""
    from archive.replication import reconcile_ledger, replicate_pending, replication_lag

    settings = _settings(ctx)
    if not settings.replica_url:
        raise click.UsageError("SIJILL_REPLICA_URL is not set: there is no replica to copy to.")
    database = preflight(settings)
    store = _archive_store(settings, database)
    with database.session() as session:
        if reconcile:
            click.echo(f"ledger: {reconcile_ledger(session, store.primary)} objects added from the store listing")
            session.commit()
        copied = failed = 0
        while True:
            run = replicate_pending(session, store.primary, store.replica)
            copied, failed = copied + run.copied, failed + run.failed
            if run.copied == 0:
                break
        lag = replication_lag(session)
    click.echo(f"replicated {copied} objects; {failed} could not be read; {lag.pending} still waiting")
    if failed:
        ctx.exit(1)


@cli.command("manifests")
@click.pass_context
def manifests_command(ctx: click.Context) -> None:
    """Write every due manifest and audit segment into the archive now (the workers do it every minute)."""
    from archive.manifest import write_due_manifests

    settings = _settings(ctx)
    database = preflight(settings)
    store = _archive_store(settings, database)
    total = 0
    with database.session() as session:
        while True:
            run = write_due_manifests(session, store)
            total += run.applications
            if run.applications == 0:
                break
    click.echo(f"manifests written for {total} applications")


@cli.command()
@click.option("--yes", is_flag=True, help="Do not ask for confirmation.")
@click.pass_context
def rebuild(ctx: click.Context, yes: bool) -> None:
    """Restore the database (empty and migrated) and the search index from the archive alone."""
    from archive.rebuild import RebuildRefused
    from archive.rebuild import rebuild as rebuild_database
    from intake.tracking import advance_counters

    settings = _settings(ctx)
    database = preflight(settings)
    store = _archive_store(settings, database)
    if not yes:
        click.confirm(f"Rebuild the database {database.url} from the archive at {store.url}?", abort=True)
    with database.session() as session:
        try:
            with click.progressbar(length=0, label="applications", show_pos=True) as bar:
                report = rebuild_database(session, store, progress=lambda n: bar.update(1))
        except RebuildRefused as exc:
            raise click.ClickException(str(exc)) from None
        advance_counters(session)
    indexed = _reindex_search(settings, database)
    click.echo(f"restored {report.applications} applications ({report.rows} rows), {report.audit_events} audit "
               f"events, {report.objects} objects in the ledger, {indexed} applications indexed for search; audit "
               f"chain {'intact' if report.chain_intact else 'BROKEN: run sijill audit verify'}")
    if not report.chain_intact:
        ctx.exit(1)


@cli.group()
def fixity() -> None:
    """Re-hash stored objects; repair from the other copy; report."""


@fixity.command("run")
@click.option("--batch", type=int, default=None, help="Objects to check (default SIJILL_FIXITY_BATCH).")
@click.pass_context
def fixity_run(ctx: click.Context, batch: int | None) -> None:
    """Check the objects checked longest ago; exit status 1 if any has no good copy left."""
    from archive.fixity import run_fixity
    from archive.replication import reconcile_ledger

    settings = _settings(ctx)
    database = preflight(settings)
    store = _archive_store(settings, database)
    with database.session() as session:
        reconcile_ledger(session, store.primary)
        session.commit()
        run = run_fixity(session, store.primary, store.replica, batch=batch or settings.fixity_batch)
    click.echo(f"checked {run.checked}; repaired {len(run.repaired)}; unrepairable {len(run.unrepairable)}")
    for key in run.repaired:
        click.echo(f"  repaired     {key}")
    for key in run.unrepairable:
        click.echo(f"  UNREPAIRABLE {key}", err=True)
    if run.unrepairable:
        ctx.exit(1)


@fixity.command("report")
@click.pass_context
def fixity_report_command(ctx: click.Context) -> None:
    """CSV on standard output: every stored object with its replication and last fixity check."""
    from archive.fixity import fixity_report

    settings = _settings(ctx)
    database = preflight(settings)
    with database.session() as session:
        for line in fixity_report(session):
            click.echo(line, nl=False)


@cli.group()
def retention() -> None:
    """Records held against deletion by S3 object lock (SIJILL_RETENTION_YEARS)."""


@retention.command("apply")
@click.pass_context
def retention_apply(ctx: click.Context) -> None:
    """Hold every original and signed permit not yet held, now (the workers do it every hour)."""
    from archive.retention import apply_retention

    settings = _settings(ctx)
    if not settings.retention_years:
        raise click.UsageError("SIJILL_RETENTION_YEARS is 0: records are not held by the store.")
    database = preflight(settings)
    store = _archive_store(settings, database)
    retained = 0
    missing: list[str] = []
    with database.session() as session:
        while True:
            run = apply_retention(session, store, years=settings.retention_years, mode=settings.retention_mode)
            retained += len(run.retained)
            missing += run.missing
            if not run.remaining or not run.retained:
                break
    click.echo(f"held {retained} records for {settings.retention_years} years ({settings.retention_mode})")
    for key in missing:
        click.echo(f"  MISSING {key}", err=True)
    if missing:
        ctx.exit(1)


@retention.command("show")
@click.argument("key")
@click.pass_context
def retention_show(ctx: click.Context, key: str) -> None:
    """The retention in force on one stored object."""
    settings = _settings(ctx)
    database = preflight(settings)
    held = _archive_store(settings, database).retention(key)
    click.echo("not held" if held is None else f"{held.mode} until {held.until.isoformat()}")


@retention.command("release")
@click.argument("key")
@click.option("--reason", required=True, help="Why the period ends early (written to the audit trail).")
@click.option("--user", "username", required=True, help="The administrator who decided it.")
@click.option("--admin-store-url", envvar="SIJILL_RETENTION_ADMIN_STORE_URL", default=None,
              help="The same bucket with S3 credentials allowed to bypass governance retention (the application's "
                   "own may not); default SIJILL_STORAGE_URL.")
@click.pass_context
def retention_release(ctx: click.Context, key: str, reason: str, username: str, admin_store_url: str | None) -> None:
    """End a governance retention period early: an administrator's act, written to the audit trail.

    Compliance periods cannot be shortened by anyone. The object is not deleted.
    """
    from archive.retention import ReleaseRefused, release
    from archive.store import open_store

    settings = _settings(ctx)
    database = preflight(settings)
    store = open_store(admin_store_url) if admin_store_url else _archive_store(settings, database)
    with database.session() as session:
        try:
            released = release(session, store, key, actor=username, reason=reason)
        except ReleaseRefused as exc:
            raise click.ClickException(str(exc)) from None
    click.echo(f"retention of {key} ends at {released.until.isoformat()}; recorded in the audit trail")


@cli.group()
def hold() -> None:
    """Legal holds on case files: nothing of a held file can be deleted or released by retention."""


def _hold_change(ctx: click.Context, tracking: str, username: str, reason: str, place: bool) -> None:
    from sqlalchemy import select

    from archive.legal_hold import HoldRefused, place_hold, release_hold
    from archive.models import Application, User

    settings = _settings(ctx)
    database = preflight(settings)
    store = _archive_store(settings, database)
    with database.session() as session:
        application = session.scalar(select(Application).where(Application.tracking_number == tracking.strip()))
        if application is None:
            raise click.ClickException(f"There is no application {tracking!r}.")
        user = session.scalar(select(User).where(User.username == username))
        if user is None:
            raise click.ClickException(f"There is no user {username!r}.")
        try:
            change = place_hold if place else release_hold
            run = change(session, store, application, user, reason)
        except HoldRefused as exc:
            session.rollback()
            raise click.ClickException(exc.message_en) from None
        session.commit()
    verb = "placed on" if place else "released from"
    click.echo(f"legal hold {verb} {application.tracking_number}: {run.held} objects and records "
               f"{'held' if place else 'freed'}" + (f", {run.kept} kept for another held file" if run.kept else "")
               + "; recorded in the audit trail")


@hold.command("place")
@click.argument("tracking")
@click.option("--reason", required=True, help="Why the file is frozen (written to the audit trail).")
@click.option("--user", "username", required=True, help="The auditor or administrator who decided it.")
@click.pass_context
def hold_place(ctx: click.Context, tracking: str, reason: str, username: str) -> None:
    """Place a legal hold on a case file: every object of it is held by the store until released."""
    _hold_change(ctx, tracking, username, reason, place=True)


@hold.command("release")
@click.argument("tracking")
@click.option("--reason", required=True, help="Why the hold ends (written to the audit trail).")
@click.option("--user", "username", required=True, help="The auditor or administrator who decided it.")
@click.pass_context
def hold_release(ctx: click.Context, tracking: str, reason: str, username: str) -> None:
    """Release a case file's legal hold (objects another held file shares stay held)."""
    _hold_change(ctx, tracking, username, reason, place=False)


@hold.command("list")
@click.pass_context
def hold_list(ctx: click.Context) -> None:
    """Every case file under a legal hold, with who placed it, when and why."""
    from archive.legal_hold import active_hold, held_applications

    database = preflight(_settings(ctx))
    with database.session() as session:
        for application in held_applications(session):
            active = active_hold(session, application.id)
            if active is not None:
                click.echo(f"{application.tracking_number}\t{active.placed_at:%Y-%m-%d %H:%M}\t"
                           f"{active.placed_by.username}\t{active.reason}")


@cli.command()
@click.option("--no-history", is_flag=True,
              help="Leave out the DEMO year of applications (for an empty archive, e.g. crash and import tests).")
@click.pass_context
def demo(ctx: click.Context, no_history: bool) -> None:
    """Load DEMO centres, the service catalogue, one user per role, a DEMO signing PKI and a DEMO year of history."""
    from sijill.demo import load_demo, open_demo_pki, register_demo_pki

    settings = _settings(ctx)
    result = _with_session(settings, lambda s: load_demo(s, settings.data_dir))
    click.echo(
        f"DEMO data: {result.centres_created} centres and {result.services_created} services added, "
        f"{result.services_updated} services updated."
    )
    pki_dir = settings.data_dir / "demo-pki"
    pki_password = _demo_pki_password(pki_dir)
    pki = open_demo_pki(pki_dir, pki_password)
    registered = _with_session(settings, lambda s: register_demo_pki(s, pki, pki_password))
    click.echo(f"DEMO signing PKI (not valid for real signatures): {pki_dir}")
    if registered:
        click.echo(f"DEMO root added as a trust root; {registered} DEMO signing certificates registered.")
    if result.new_passwords:
        click.echo("DEMO accounts (تجريبي) — passwords shown once, also kept in " + str(result.credentials_file))
        for username, password in result.new_passwords.items():
            click.echo(f"  {username:<15} {password}")
    else:
        click.echo(f"DEMO accounts already exist; their passwords are in {settings.data_dir / 'demo-credentials.txt'}")
    click.echo(f"DEMO PKCS#12 passphrase (for the officials' .p12 files in {pki_dir}): {pki_password.decode()}")
    if not no_history:
        _demo_history(settings)


def _demo_history(settings: Settings) -> None:
    """A DEMO year of applications (sijill.demo_world), once, then indexed for search."""
    from archive.models import utcnow
    from archive.store import open_store
    from archive_search.indexing import index_applications
    from search.engines import open_engine
    from sijill.demo_world import PLACEHOLDER_PDF, seed_history

    placeholder = open_store(settings.storage_url).put(PLACEHOLDER_PDF)
    database = Database(settings.database_url)
    with database.session() as session:
        history = seed_history(session, utcnow(), placeholder_key=placeholder)
    if not history.applications:
        click.echo("DEMO history: the archive already has applications; none added.")
        return
    engine = open_engine(settings.search_url)
    try:
        engine.setup()
        with database.session() as session:
            index_applications(session, engine, history.application_ids or [])
    finally:
        engine.close()
    click.echo(f"DEMO history: {history.applications} applications over the last year, {history.permits} permits, "
               f"{history.events} audit events (search index updated).")


@cli.group()
def reports() -> None:
    """Governance monitoring reports (PDF, CSV, XLSX kept in the archive)."""


@reports.command("generate")
@click.option("--kind", type=click.Choice(["monthly", "quarterly", "annual"]), required=True)
@click.option("--year", type=int, required=True)
@click.option("--number", type=int, default=1, show_default=True, help="Month (1-12) or quarter (1-4).")
@click.pass_context
def reports_generate(ctx: click.Context, kind: str, year: int, number: int) -> None:
    """Make one period's report files now (as the scheduled job would, but always a fresh set)."""
    from archive.store import open_store
    from governance.reports import filename, generate, period_for

    settings = _settings(ctx)
    try:
        period = period_for(kind, year, number)
    except ValueError as exc:
        raise click.UsageError(str(exc)) from None
    store = open_store(settings.storage_url)
    rows = _with_session(settings, lambda session: [
        (r.id, r.file_format, r.sha256) for r in generate(session, store, kind, period)])
    for report_id, file_format, key in rows:
        click.echo(f"{report_id}\t{filename(kind, period, file_format)}\t{key}")


def _demo_pki_password(pki_dir: Path) -> bytes:
    """The DEMO PKCS#12 password, generated once and kept beside the files (DEMO only)."""
    path = pki_dir / "password.txt"
    if path.exists():
        return path.read_bytes().strip()
    pki_dir.mkdir(parents=True, exist_ok=True)
    value = secrets.token_urlsafe(12).encode()
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as fh:
        fh.write(value)
    return value


def main() -> None:
    cli(prog_name="sijill")


if __name__ == "__main__":
    main()


@cli.command("verify-qr")
@click.argument("qr_text", required=False)
@click.option("--image", type=click.Path(exists=True, dir_okay=False, path_type=Path), default=None,
              help="A photo or scan of the permit's QR code (read with zbarimg) instead of QR_TEXT.")
@click.option("--keys", "keys_source", required=True,
              help="The key set: a file saved from /.well-known/sijill-keys.json, or that URL.")
@click.option("--pdf", type=click.Path(exists=True, dir_okay=False, path_type=Path), default=None,
              help="Compare this file with the PDF hash the payload seals (if it seals one).")
@click.option("--revocations", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="The signed revocation list saved from /.well-known/sijill-revocations.")
@click.pass_context
def verify_qr(ctx: click.Context, qr_text: str | None, image: Path | None, keys_source: str,
              pdf: Path | None, revocations: Path | None) -> None:
    """Check a permit's sealed QR payload offline. Exit 0 genuine, 1 not genuine, 2 could not check, 3 revoked."""
    from sijill.verify_qr import CANNOT_CHECK, CannotCheck, check, load_keys, load_revocations, read_qr_image

    try:
        if (qr_text is None) == (image is None):
            raise CannotCheck("Give either the QR text or --image. / أعط نص الرمز أو صورة له.")
        text = read_qr_image(image) if image is not None else str(qr_text)
        keys = load_keys(keys_source)
        revocation_list = load_revocations(revocations, keys) if revocations is not None else None
        outcome = check(text, keys, pdf=pdf.read_bytes() if pdf is not None else None, revocations=revocation_list)
    except CannotCheck as exc:
        click.echo(f"? تعذر التحقق — CANNOT CHECK: {exc}", err=True)
        ctx.exit(CANNOT_CHECK)
        return
    for line in outcome.lines:
        click.echo(line)
    ctx.exit(outcome.status)


@cli.command("offline-page")
@click.option("--out", "out", type=click.Path(dir_okay=False, path_type=Path), required=True,
              help="Where to write the HTML file.")
@click.pass_context
def offline_page(ctx: click.Context, out: Path) -> None:
    """Write the static offline verification page, with the public keys and a freshly signed revocation list."""
    from datetime import UTC, datetime

    from archive.sealing import SealingKeyError, load_sealing_key
    from signing.revocations import revoked_permits, seal_revocations
    from signing.sealed_payload import jwk_set
    from web.offline.page import render_offline_page

    settings = _settings(ctx)
    database = preflight(settings)
    try:
        key = load_sealing_key(settings.sealing_key_path, create=False)
    except SealingKeyError as exc:
        raise click.ClickException(str(exc)) from None
    now = datetime.now(UTC)
    with database.session() as session:
        revoked = revoked_permits(session)
    revocations = seal_revocations(key.private, revoked, issued_at=now)
    out.write_bytes(render_offline_page(jwk_set([key.private.public_key()]), revocations, made_at=now))
    click.echo(f"wrote {out}: 1 key, {len(revoked)} revoked permit(s), list dated {now.date().isoformat()}")

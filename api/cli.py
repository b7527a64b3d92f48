"""The `chatvault` command line (Typer). Thin: every command calls the same services as the API and runs
as the local operator identity, whose reads are audited like anyone else's."""

from __future__ import annotations

import os
import sys
import threading
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import orjson
import typer

from archive.kit.errors import ChatVaultError, InvalidInput
from archive.kit.settings import Settings, get_settings
from archive.runtime import Runtime
from archive.store.db import transaction
from audit.principal import operator

if TYPE_CHECKING:
    from audit.anchors import Anchor

app = typer.Typer(help="ChatVault: compliance archive for WeCom conversations.", no_args_is_help=True)
keys_app = typer.Typer(help="Key-encryption keys.", no_args_is_help=True)
app.add_typer(keys_app, name="keys")
directory_app = typer.Typer(help="Employees, departments and customers.", no_args_is_help=True)
app.add_typer(directory_app, name="directory")
media_app = typer.Typer(help="Media files referenced by messages.", no_args_is_help=True)
app.add_typer(media_app, name="media")
audit_app = typer.Typer(help="The hash-chained access-audit log.", no_args_is_help=True)
app.add_typer(audit_app, name="audit")
users_app = typer.Typer(help="User accounts.", no_args_is_help=True)
app.add_typer(users_app, name="users")
quarantine_app = typer.Typer(
    help="Rejected input kept (encrypted) for inspection and retry.", no_args_is_help=True
)
app.add_typer(quarantine_app, name="quarantine")

REPO = Path(__file__).resolve().parent.parent
SAMPLE = REPO / "examples" / "wecom" / "archive_sample.jsonl"


def _runtime(settings: Settings | None = None) -> Runtime:
    from archive.migrate import upgrade

    rt = Runtime.from_settings(settings or get_settings())
    upgrade(rt.engine)
    rt.search.ensure_ready() if rt.search.ping() else None
    return rt


def _fail(exc: ChatVaultError) -> None:
    typer.secho(f"error: {exc.detail}", fg=typer.colors.RED, err=True)
    raise typer.Exit(2)


def _bootstrap(rt: Runtime, reset: bool = False) -> tuple[str, str] | None:
    from audit.accounts import bootstrap_admin, reset_password

    with transaction(rt.sessions) as session:
        creds = bootstrap_admin(session)
        if creds is None and reset:
            creds = ("admin", reset_password(session, "admin", actor="local-operator"))
    return creds


def _print_login(creds: tuple[str, str] | None, rt: Runtime) -> None:
    url = f"http://{rt.settings.bind_host}:{rt.settings.bind_port}/"
    if creds:
        typer.secho("\n  ChatVault admin login (shown once, store it safely):", bold=True)
        typer.secho(
            f"    console:  {url}\n    username: {creds[0]}\n    password: {creds[1]}\n",
            fg=typer.colors.GREEN,
        )
    else:
        typer.echo(
            f"console: {url} (admin exists; `chatvault users reset-password admin` prints a new password)"
        )
    sys.stdout.flush()  # the server runs next: the login must be out even when stdout is a pipe


def _run_jobs(rt: Runtime) -> dict[str, int]:
    """One round of the background work: index catch-up and alert notifications (both from the outbox)."""
    from archive.risk.notify import deliver_pending
    from archive.search.indexer import drain

    indexed = drain(rt)
    delivered, failed = deliver_pending(rt.sessions, rt.settings)
    return {"indexed": indexed, "notified": delivered, "notify_failed": failed}


def _anchor(rt: Runtime) -> Anchor | None:
    """Anchor the access log's newest entry in the blob store (None: nothing logged since the last)."""
    from audit.anchors import write_anchor

    with rt.sessions() as session:
        return write_anchor(session, rt.blobs, rt.audit_anchor_key)


def _index_worker(rt: Runtime, stop: threading.Event) -> None:
    every = rt.settings.audit_anchor_minutes * 60
    next_anchor = time.monotonic() + every
    while not stop.wait(5.0):
        try:
            _run_jobs(rt)
            if every and time.monotonic() >= next_anchor:
                next_anchor = time.monotonic() + every
                _anchor(rt)
        except Exception as exc:  # keep serving; the outbox keeps the work, the next anchor comes later
            typer.echo(f"background jobs: {type(exc).__name__}", err=True)


def _serve(rt: Runtime) -> None:
    import uvicorn

    from api.app import create_app

    stop = threading.Event()
    worker = threading.Thread(target=_index_worker, args=(rt, stop), daemon=True)
    worker.start()
    try:
        uvicorn.run(
            create_app(rt), host=rt.settings.bind_host, port=rt.settings.bind_port, log_level="warning"
        )
    finally:
        stop.set()


@app.command()
def init() -> None:
    """Create or upgrade the schema and the bootstrap admin."""
    rt = _runtime()
    _print_login(_bootstrap(rt), rt)


@app.command()
def serve() -> None:
    """Serve the API and console."""
    try:
        rt = _runtime()
    except ChatVaultError as exc:
        _fail(exc)
    _print_login(_bootstrap(rt), rt)
    _serve(rt)


@app.command("import")
def import_cmd(
    file: Annotated[Path, typer.Argument(exists=True, dir_okay=False, readable=True)],
    fmt: Annotated[str, typer.Option("--format", help="wecom | generic")] = "wecom",
    as_json: Annotated[bool, typer.Option("--json", help="print the summary as one JSON object")] = False,
    restart: Annotated[bool, typer.Option(help="ignore the resume checkpoint of this file")] = False,
    media: Annotated[Path | None, typer.Option(help="directory of media files named by sdkfileid")] = None,
) -> None:
    """Import a JSON-lines file (streaming, idempotent by msgid, resumable)."""
    from rich.progress import BarColumn, DownloadColumn, Progress, TimeRemainingColumn

    from archive.ingest.pipeline import Importer

    try:
        rt = _runtime()
        size = file.stat().st_size
        with Progress(
            "[progress.description]{task.description}",
            BarColumn(),
            DownloadColumn(),
            TimeRemainingColumn(),
            disable=as_json or not sys.stderr.isatty(),
            console=None,
        ) as bar:
            task = bar.add_task(f"importing {file.name}", total=size)
            summary = Importer(rt).import_file(
                file,
                fmt=fmt,
                restart=restart,
                media_dir=media,
                progress=lambda pos: bar.update(task, completed=pos),
            )
    except ChatVaultError as exc:
        _fail(exc)
    data = summary.as_dict()
    if as_json:
        sys.stdout.write(orjson.dumps(data).decode() + "\n")
        return
    for key in ("lines", "imported", "duplicates", "recalled", "quarantined", "risk_flagged", "indexed"):
        typer.echo(f"{key:>14}: {data[key]}")
    if data["quarantined_by_reason"]:
        typer.echo(
            "   quarantined by reason: "
            + ", ".join(f"{k}={v}" for k, v in sorted(data["quarantined_by_reason"].items()))
        )
    typer.echo("   by msgtype: " + ", ".join(f"{k}={v}" for k, v in sorted(data["by_msgtype"].items())))
    if data["unknown_msgtypes"]:
        typer.secho(
            "   unknown msgtypes kept raw: " + ", ".join(data["unknown_msgtypes"]), fg=typer.colors.YELLOW
        )


@app.command("search")
def search_cmd(
    query: str,
    as_json: Annotated[bool, typer.Option("--json", help="one JSON object per hit")] = False,
    limit: Annotated[int, typer.Option(help="maximum hits; 0 for all")] = 50,
) -> None:
    """Search the archive (exact substring semantics over the blind index)."""
    from archive.search.service import search

    try:
        rt = _runtime()
        with transaction(rt.sessions) as session:
            page = search(session, rt, operator(), query, limit=limit)
    except ChatVaultError as exc:
        _fail(exc)
    for hit in page.hits:
        if as_json:
            row = {
                "id": hit.id,
                "msgid": hit.msgid,
                "msgtime": hit.msgtime_ms,
                "sender": hit.sender,
                "room_id": hit.room_id,
                "msgtype": hit.msgtype,
                "recalled": hit.recalled,
                "risk_labels": hit.risk_labels,
                "text": hit.text,
            }
            sys.stdout.write(orjson.dumps(row).decode() + "\n")
        else:
            ts = time.strftime("%Y-%m-%d %H:%M", time.localtime(hit.msgtime_ms / 1000))
            flag = " [recalled]" if hit.recalled else ""
            typer.echo(f"{ts} {hit.sender}{flag}: {hit.text}")
    if not as_json:
        typer.echo(f"-- {len(page.hits)} hit(s)", err=True)


@app.command()
def reindex() -> None:
    """Rebuild the search index from the archive."""
    from archive.search.indexer import reindex as run

    rt = _runtime()
    typer.echo(f"reindexed {run(rt)} messages into the {rt.search.name} backend")


@app.command("jobs")
def jobs(
    sample_rate: Annotated[
        float | None, typer.Option(help="also sample this share of unflagged rooms of the last day")
    ] = None,
) -> None:
    """Run the scheduled work once (cron): index catch-up, notifications, an anchor of the access log,
    optional review sampling."""
    from datetime import timedelta

    from archive.kit.timeutil import utcnow
    from archive.risk.service import sample_unflagged

    rt = _runtime()
    result = _run_jobs(rt)
    result["anchored"] = int(_anchor(rt) is not None)
    if sample_rate is not None:
        with transaction(rt.sessions) as session:
            result["sampled"] = len(
                sample_unflagged(session, rate=sample_rate, since=utcnow() - timedelta(days=1))
            )
    typer.echo(" ".join(f"{k}={v}" for k, v in result.items()))


@app.command("index-catchup")
def index_catchup() -> None:
    """Push every pending outbox row to the search backend now (cron-friendly)."""
    from archive.search.indexer import drain, retry_now

    rt = _runtime()
    with transaction(rt.sessions) as session:
        retry_now(session)
    typer.echo(f"indexed {drain(rt)} messages")


@app.command()
def verify(
    sample: Annotated[int | None, typer.Option(help="check N random segments and N random records")] = None,
    as_json: Annotated[bool, typer.Option("--json")] = False,
) -> None:
    """Decrypt and re-hash records and segments; exit 1 on any mismatch."""
    from archive.store.verify import verify as run

    rt = _runtime()
    report = run(rt.sessions, rt.blobs, rt.envelope, sample=sample)
    if as_json:
        sys.stdout.write(orjson.dumps(report.as_dict()).decode() + "\n")
    else:
        typer.echo(
            f"segments checked: {report.segments_checked}, records checked: {report.records_checked}, "
            f"shredded skipped: {report.shredded_skipped}, problems: {len(report.problems)}"
        )
        for p in report.problems[:50]:
            typer.secho("  " + ", ".join(f"{k}={v}" for k, v in p.items()), fg=typer.colors.RED)
    if not report.ok:
        raise typer.Exit(1)


@directory_app.command("import")
def directory_import(file: Annotated[Path, typer.Argument(exists=True, dir_okay=False)]) -> None:
    """Import a directory JSON file: {"departments": [...], "employees": [...], "customers": [...]}."""
    from archive.customers.service import import_directory, parse_directory

    try:
        data = orjson.loads(file.read_bytes())
    except orjson.JSONDecodeError as exc:
        typer.secho(f"error: {file} is not valid JSON ({exc})", fg=typer.colors.RED, err=True)
        raise typer.Exit(2) from None
    try:
        rt = _runtime()
        with transaction(rt.sessions) as session:
            result = import_directory(session, operator(), parse_directory(data))
    except ChatVaultError as exc:
        _fail(exc)
    typer.echo(
        f"departments={result.departments} employees={result.employees} customers={result.customers} "
        f"messages re-scoped={result.messages_rescoped}"
    )
    for err in result.errors:
        typer.secho(f"  warning: {err}", fg=typer.colors.YELLOW)


@media_app.command("retry")
def media_retry(media_dir: Annotated[Path, typer.Argument(exists=True, file_okay=False)]) -> None:
    """Look again for every missing media file in MEDIA_DIR (files named by sdkfileid or its SHA-256)."""
    from archive.ingest.media import MediaStore, retry_missing

    rt = _runtime()
    with transaction(rt.sessions) as session:
        counts = retry_missing(session, MediaStore(rt.blobs, rt.envelope), media_dir)
    typer.echo(", ".join(f"{k}={v}" for k, v in counts.items()))


@audit_app.command("verify")
def audit_verify() -> None:
    """Re-hash the access log and hold it against its anchors in the blob store; exit 1 naming the first
    entry that was edited, deleted, reordered, rewritten or cut off, or an anchor that is not authentic."""
    from audit.anchors import read_anchors
    from audit.log import verify_chain

    rt = _runtime()
    anchors, forged = read_anchors(rt.blobs, rt.audit_anchor_key)
    with rt.sessions() as session:
        report = verify_chain(session, anchors=anchors)
    for bad in forged:
        typer.secho(f"anchor {bad.key} is not authentic: {bad.problem}", fg=typer.colors.RED, err=True)
    if report.ok and not forged:
        typer.echo(f"access log intact: {report.entries} entries, held against {report.anchors} anchors")
        return
    if not report.ok:
        typer.secho(
            f"access log BROKEN at entry {report.first_bad_id}: {report.problem}",
            fg=typer.colors.RED,
            err=True,
        )
    raise typer.Exit(1)


@audit_app.command("anchor")
def audit_anchor() -> None:
    """Anchor the access log's newest entry in the blob store now (`jobs` and the server do it too)."""
    rt = _runtime()
    anchor = _anchor(rt)
    if anchor is None:
        typer.echo("nothing to anchor: the newest entry is anchored already (or the log is empty)")
        return
    typer.echo(f"anchored entry {anchor.entry_id} as {anchor.key}")


@users_app.command("reset-password")
def users_reset_password(username: str) -> None:
    """Print a new random password for USERNAME (once) and end its sessions."""
    from audit.accounts import reset_password

    try:
        rt = _runtime()
        with transaction(rt.sessions) as session:
            password = reset_password(session, username, actor=operator().username)
    except ChatVaultError as exc:
        _fail(exc)
    typer.echo(f"new password for {username}: {password}")


@users_app.command("create")
def users_create(
    username: str,
    roles: Annotated[
        str, typer.Option(help="comma-separated: admin,compliance,manager,auditor,employee,outsourced")
    ],
    employee: Annotated[
        str | None, typer.Option(help="WeCom userid of the employee this account belongs to")
    ] = None,
) -> None:
    """Create an account with a random password (printed once)."""
    import secrets

    from sqlalchemy import select

    from archive.store.models import Employee
    from audit import log
    from audit.accounts import create_account

    password = secrets.token_urlsafe(15)
    try:
        rt = _runtime()
        with transaction(rt.sessions) as session:
            emp_id = None
            if employee:
                emp_id = session.execute(
                    select(Employee.id).where(Employee.userid == employee)
                ).scalar_one_or_none()
                if emp_id is None:
                    raise InvalidInput(f"no employee {employee}")
            create_account(
                session,
                username,
                password,
                [r.strip() for r in roles.split(",") if r.strip()],
                employee_id=emp_id,
            )
            log.append(session, actor=operator().username, action="account.create", target_ids=[username])
    except ChatVaultError as exc:
        _fail(exc)
    typer.echo(f"created {username}; password (shown once): {password}")


@quarantine_app.command("list")
def quarantine_list(
    reason: Annotated[str | None, typer.Option(help="only this reason (prefix)")] = None,
    status: Annotated[str, typer.Option(help="open | retried")] = "open",
    limit: int = 100,
    as_json: Annotated[bool, typer.Option("--json")] = False,
) -> None:
    """List quarantined lines: id, file, line number, reason, size."""
    from archive.ingest.quarantine import list_entries

    rt = _runtime()
    with transaction(rt.sessions) as session:
        rows = list_entries(session, operator(), reason=reason, status=status, limit=limit)
        for r in rows:
            item = {
                "id": r.id,
                "file": r.file,
                "line": r.line_no,
                "reason": r.reason,
                "msgid": r.msgid,
                "bytes": r.raw_size,
            }
            if as_json:
                sys.stdout.write(orjson.dumps(item).decode() + "\n")
            else:
                typer.echo(f"{r.id}  {r.file}:{r.line_no}  {r.reason}  {r.raw_size} bytes")
    if not as_json:
        typer.echo(f"-- {len(rows)} entr{'y' if len(rows) == 1 else 'ies'}", err=True)


@quarantine_app.command("show")
def quarantine_show(entry_id: str) -> None:
    """Print one quarantined line's raw bytes (an audited content read)."""
    from archive.ingest.quarantine import show

    try:
        rt = _runtime()
        with transaction(rt.sessions) as session:
            entry, raw = show(session, operator(), entry_id, rt.blobs, rt.envelope)
    except ChatVaultError as exc:
        _fail(exc)
    typer.echo(f"# {entry.file}:{entry.line_no} reason={entry.reason}", err=True)
    sys.stdout.buffer.write(raw + b"\n")


@quarantine_app.command("retry")
def quarantine_retry(entry_ids: Annotated[list[str] | None, typer.Argument()] = None) -> None:
    """Re-parse open entries (all, or the given ids); those that now pass are imported."""
    from archive.ingest.pipeline import Importer
    from archive.ingest.quarantine import retry

    rt = _runtime()
    with transaction(rt.sessions) as session:
        result = retry(session, operator(), Importer(rt), rt.blobs, rt.envelope, entry_ids or None)
    typer.echo(
        f"retried={result.retried} imported={result.imported} duplicates={result.duplicates} "
        f"still_rejected={result.still_rejected}"
    )


@keys_app.command("rotate")
def keys_rotate() -> None:
    """Add a new key-encryption key and re-wrap every data key under it (blobs are not touched)."""
    from archive.rotation import rotate

    rt = _runtime()
    new_id, count = rotate(rt)
    typer.echo(f"active key is now {new_id}; re-wrapped {count} data keys")


@app.command()
def demo(
    sample: Annotated[Path, typer.Option(help="WeCom JSON-lines file to import")] = SAMPLE,
    serve_api: Annotated[bool, typer.Option("--serve/--no-serve")] = True,
) -> None:
    """Embedded demo: initialise, import and scan the sample archive, then serve API and console."""
    from archive.ingest.pipeline import Importer
    from archive.search.indexer import drain

    os.environ.setdefault("CHATVAULT_PROFILE", "embedded")
    rt = _runtime()
    media = sample.parent / "media"
    summary = Importer(rt).import_file(sample, media_dir=media if media.is_dir() else None)
    drain(rt)
    typer.echo(
        f"imported {summary.imported} messages ({summary.duplicates} duplicates, {summary.recalled} recalls, "
        f"{summary.quarantined} quarantined, {summary.risk_flagged} flagged by the risk scan) into {rt.settings.data_dir}"
    )
    typer.echo("try:  chatvault search 支付宝")
    _print_login(_bootstrap(rt, reset=True), rt)
    if serve_api:
        _serve(rt)


from archive.risk.cli import risk_app  # noqa: E402

lexicon_app = typer.Typer(
    help="The risk lexicon (rules are data, versioned in the database).", no_args_is_help=True
)
risk_app.add_typer(lexicon_app, name="lexicon")
app.add_typer(risk_app, name="risk")


@lexicon_app.command("export")
def lexicon_export(output: Annotated[Path | None, typer.Option("-o", "--output")] = None) -> None:
    """Write the active lexicon as JSON."""
    from archive.risk.service import active_lexicon

    rt = _runtime()
    with rt.sessions() as session:
        data = orjson.dumps(active_lexicon(session)[1].to_json(), option=orjson.OPT_INDENT_2)
    if output:
        output.write_bytes(data)
    else:
        sys.stdout.buffer.write(data + b"\n")


@lexicon_app.command("import")
def lexicon_import(
    file: Annotated[Path, typer.Argument(exists=True, dir_okay=False)],
    note: Annotated[str, typer.Option(help="what changed; recorded with the version")] = "imported from file",
) -> None:
    """Validate a lexicon JSON file and make it the active version (who and what is recorded)."""
    from archive.risk.service import save_lexicon

    try:
        rt = _runtime()
        with transaction(rt.sessions) as session:
            row = save_lexicon(session, operator(), file.read_bytes(), note)
            version = row.data["version"]
    except ChatVaultError as exc:
        _fail(exc)
    typer.echo(
        f"lexicon {version} is active (version row {row.id}); running servers pick it up on their next batch"
    )


@lexicon_app.command("list")
def lexicon_list() -> None:
    """List the active rules."""
    from archive.risk.service import active_lexicon

    rt = _runtime()
    with rt.sessions() as session:
        vid, lex = active_lexicon(session)
    typer.echo(
        f"lexicon {lex.version} ({'built-in default' if vid == 0 else f'version row {vid}'}), {len(lex.data.rules)} rules"
    )
    for r in lex.data.rules:
        typer.echo(
            f"  {r.id:28s} {r.category:18s} tier={r.effective_tier} {r.match:6s} {len(r.terms)} terms"
            + ("" if r.enabled else " (disabled)")
        )


@risk_app.command("rescan")
def risk_rescan(
    since: Annotated[
        datetime, typer.Option(formats=["%Y-%m-%d", "%Y-%m-%dT%H:%M:%S"], help="messages sent on or after")
    ],
) -> None:
    """Re-scan the archive since DATE with the active lexicon (streaming, with a progress bar)."""
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TimeRemainingColumn

    from archive.risk.rescan import count_since, rescan

    rt = _runtime()
    start = since if since.tzinfo else since.replace(tzinfo=UTC)
    total = count_since(rt, start)
    with Progress(
        "[progress.description]{task.description}",
        BarColumn(),
        MofNCompleteColumn(),
        TimeRemainingColumn(),
        disable=not sys.stderr.isatty(),
    ) as bar:
        task = bar.add_task("rescanning", total=total)
        summary = rescan(rt, start, progress=lambda n: bar.update(task, completed=n))
    typer.echo(
        f"scanned={summary.scanned} labels changed={summary.changed} alerts raised or extended={summary.alerts}"
    )


def main() -> None:
    app()


if __name__ == "__main__":
    main()

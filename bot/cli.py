"""The ``recon-bot`` command line.

Exit codes: 0 success; 2 partial (e.g. some ingest rows rejected, the rest committed);
1 failure with nothing changed. Errors are one sentence on stderr; ``--debug`` shows the
traceback instead.
"""

from __future__ import annotations

import asyncio
import dataclasses
import json
import logging
import os
import re
import sys
from collections.abc import Awaitable, Callable, Coroutine
from pathlib import Path
from typing import TYPE_CHECKING, Any, NoReturn, TypeVar

import click
from rich.console import Console

from bot.errors import BotError
from bot.files import DEFAULT_BATCH, DEFAULT_SOURCE
from domain.errors import DomainError, PolicyError
from domain.items import ReviewState, parse_human_id

# Each command imports what it needs when it runs: SQLAlchemy, pydantic-settings and the
# domain services took most of a second to import before any command ran, `--help` too.
if TYPE_CHECKING:
    from bot.container import Container
    from bot.settings import Settings
    from domain.audit.report import VerifyReport

EXIT_OK, EXIT_FAIL, EXIT_PARTIAL = 0, 1, 2
EXAMPLE_POLICY = Path(__file__).parent / "policy.example.yml"

T = TypeVar("T")
# Off a terminal (a pipe, a file, CI) rich would assume 80 columns and squeeze tables.
out = Console(highlight=False, soft_wrap=True, width=None if sys.stdout.isatty() else 140)
err = Console(stderr=True, highlight=False, soft_wrap=True)
log = logging.getLogger("recon_bot")


class CliFailure(BotError):
    """A failure to report in one sentence (with optional detail lines)."""

    def __init__(self, message: str, details: list[str] | None = None) -> None:
        super().__init__(message)
        self.details = details or []


def _fail(message: str, details: list[str] | None = None) -> NoReturn:
    raise CliFailure(message, details)


def _settings() -> Settings:
    from pydantic import ValidationError

    from bot.settings import Settings

    try:
        return Settings()
    except ValidationError as exc:
        problems = [f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in exc.errors()]
        _fail("the environment settings are invalid", problems)


class ReconGroup(click.Group):
    """Turns known failures into one clear sentence and the right exit code."""

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except (click.exceptions.Exit, click.ClickException, click.exceptions.Abort):
            raise
        except Exception as exc:
            if ctx.meta.get("recon.debug"):
                raise
            message, details = _describe(exc)
            err.print(f"[bold red]error:[/] {message}")
            for line in details:
                err.print(f"  {line}")
            ctx.exit(EXIT_FAIL)


def _describe(exc: Exception) -> tuple[str, list[str]]:
    """The sentence (and detail lines) for a failure, by the layer that raised it.

    Every layer has one error root (:class:`DomainError`, :class:`StoreError`,
    :class:`BotError`) whose messages are written for the person at the terminal, so
    they are shown as they are; anything else is reported as unexpected.
    """
    from sqlalchemy.exc import SQLAlchemyError

    from store.errors import StoreError  # here: `--help` must not import the store

    if isinstance(exc, CliFailure):
        return str(exc), exc.details
    if isinstance(exc, PolicyError):
        return str(exc), exc.problems
    if isinstance(exc, DomainError | StoreError | BotError):
        return str(exc), []
    if isinstance(exc, SQLAlchemyError):
        orig = getattr(exc, "orig", None)
        return f"database error: {orig or exc.__class__.__name__}", []
    if isinstance(exc, OSError):
        return f"{exc.strerror or exc}: {exc.filename or ''}".strip(": "), []
    if isinstance(exc, ValueError):
        return str(exc), []
    return (
        f"unexpected {exc.__class__.__name__}: {exc}; re-run with --debug for the traceback",
        [],
    )


def _run(coro: Coroutine[Any, Any, T]) -> T:
    return asyncio.run(coro)


async def _with_container(
    work: Callable[[Container], Awaitable[T]], *, check_schema: bool = True
) -> T:
    from bot.container import Container

    container = await Container.open(_settings(), check_schema=check_schema)
    try:
        return await work(container)
    finally:
        await container.close()


def _print_json(data: Any) -> None:
    click.echo(json.dumps(data, indent=2, ensure_ascii=False))


@click.group(cls=ReconGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.option("--debug", is_flag=True, help="Show tracebacks and debug logs.")
@click.version_option(package_name="recon-bot")
@click.pass_context
def main(ctx: click.Context, debug: bool) -> None:
    """recon-bot: the human-in-the-loop desk of automated reconciliation.

    Settings come from the environment or .env: RECON_DATABASE_URL, RECON_POLICY,
    RECON_AUDIT_KEY, RECON_AUDIT_ANCHORS, SLACK_BOT_TOKEN, SLACK_APP_TOKEN.

    \b
    Example:
      recon-bot init && recon-bot ingest samples/items.csv
    """
    ctx.meta["recon.debug"] = debug
    logging.basicConfig(
        level=logging.DEBUG if debug else logging.WARNING,
        format="%(asctime)s %(levelname)s %(name)s %(message)s",
    )


# --- init / db -------------------------------------------------------------------------


@main.command()
@click.option("--force-policy", is_flag=True, help="Overwrite an existing policy file.")
def init(force_policy: bool) -> None:
    """Write the example policy, create the audit key and the migrated database.

    Safe to run again: an existing policy, key or database is kept (and the database
    is upgraded to the current schema).

    \b
    Example:
      recon-bot init
    """
    from bot.setup import initialize

    settings = _settings()
    report = _run(initialize(settings, force_policy=force_policy))
    note = "written; edit teams and thresholds" if report.policy_written else "kept"
    out.print(f"policy     {settings.policy} ({note})")
    note = "created, mode 0600" if report.key_created else "kept"
    out.print(f"audit key  {settings.audit_key} ({note}; key id {report.key_id})")
    out.print(f"database   {_safe_url(settings.database_url)} (schema {report.revision})")
    out.print(f"policy version {report.policy_version}")


def _safe_url(url: str) -> str:
    from sqlalchemy.engine import make_url

    return make_url(url).render_as_string(hide_password=True)


@main.group()
def db() -> None:
    """Database schema commands."""


@db.command("upgrade")
def db_upgrade() -> None:
    """Apply pending schema migrations.

    \b
    Example:
      recon-bot db upgrade
    """
    from store.engine import create_database
    from store.migrate import current_revision, upgrade

    settings = _settings()

    async def _upgrade() -> tuple[str | None, str]:
        database = create_database(settings.database_url)
        try:
            before = await current_revision(database)
            return before, await upgrade(database)
        finally:
            await database.dispose()

    before, after = _run(_upgrade())
    if before == after:
        out.print(f"schema already at {after}")
    else:
        out.print(f"schema upgraded {before or '(empty)'} -> {after}")


@db.command("status")
def db_status() -> None:
    """Show the schema revision of the database and of this code."""
    from store.engine import create_database
    from store.migrate import HEAD, current_revision

    settings = _settings()

    async def _status() -> str | None:
        database = create_database(settings.database_url)
        try:
            return await current_revision(database)
        finally:
            await database.dispose()

    current = _run(_status())
    out.print(f"database {current or '(empty)'}; code {HEAD}")
    if current != HEAD:
        sys.exit(EXIT_FAIL)


# --- policy ----------------------------------------------------------------------------


@main.group()
def policy() -> None:
    """Validate the policy or print its JSON Schema."""


@policy.command("check")
@click.argument("path", type=click.Path(path_type=Path), required=False)
def policy_check(path: Path | None) -> None:
    """Validate a policy file; every error names the field and the reason.

    \b
    Example:
      recon-bot policy check policy.yml
    """
    from store.policy_file import read_policy

    target = path or _settings().policy
    loaded, _ = read_policy(target)
    p = loaded.policy
    out.print(
        f"{target}: valid (version {loaded.version}; {len(p.teams)} team(s), "
        f"reporting currency {p.reporting_currency}, {len(p.fx_rates)} FX rate(s))"
    )


@policy.command("schema")
def policy_schema() -> None:
    """Print the policy's JSON Schema.

    \b
    Example:
      recon-bot policy schema > policy.schema.json
    """
    from domain.policy import policy_json_schema

    _print_json(policy_json_schema())


# --- ingest ----------------------------------------------------------------------------


@main.command()
@click.argument("file", type=click.Path(path_type=Path, dir_okay=False), required=False)
@click.option(
    "--source",
    help=f"Source name for rows without a 'source' column (default: {DEFAULT_SOURCE!r}).",
)
@click.option("--json", "as_json", is_flag=True, help="Print a machine-readable summary.")
@click.option("--batch-size", default=DEFAULT_BATCH, show_default=True, type=click.IntRange(1))
@click.option(
    "--parallel/--no-parallel",
    default=None,
    help="Parse and route in a second process while this one writes "
    "(default: for files over 4 MB on a machine with more than one CPU).",
)
@click.option("--rejected", is_flag=True, help="List the quarantined rows of a run instead.")
@click.option("--run", "run_id", type=int, help="With --rejected: the run (default: latest).")
def ingest(
    file: Path | None,
    source: str | None,
    as_json: bool,
    batch_size: int,
    parallel: bool | None,
    rejected: bool,
    run_id: int | None,
) -> None:
    """Ingest items from a CSV (with a header) or JSON Lines file.

    Bad rows are reported (line, field, reason) and kept in a quarantine; the good rows
    still land. Re-ingesting the same (source, external_id) with identical content
    changes nothing; changed content amends the item and voids its approvals.
    Exit code 2 when some rows were rejected.

    \b
    Examples:
      recon-bot ingest samples/items.csv
      recon-bot ingest bank.jsonl --source bank-feed --json
      recon-bot ingest --rejected
    """
    if rejected:
        _show_rejected(run_id, as_json)
        return
    if file is None:
        raise click.UsageError("give a FILE to ingest, or --rejected to list quarantined rows")
    if not file.exists():
        _fail(f"{file} does not exist")

    from rich.progress import BarColumn, DownloadColumn, Progress, TextColumn, TimeRemainingColumn
    from rich.table import Table

    from bot.ingest import WorkerBatches, batch_gc, ingest_file, use_worker

    size = file.stat().st_size

    async def _ingest(c: Container, worker: WorkerBatches | None) -> Any:
        show_bar = sys.stderr.isatty() and not as_json
        progress = Progress(
            TextColumn("ingesting"),
            BarColumn(),
            DownloadColumn(),
            TimeRemainingColumn(),
            console=err,
            disable=not show_bar,
            transient=True,
        )
        with progress:
            task = progress.add_task("ingest", total=size)
            return await ingest_file(
                path=file,
                source=source,
                intake=c.usecases.intake,
                clock=c.clock,
                policy_text=c.policy.text,
                batch_size=batch_size,
                on_progress=lambda done: progress.update(task, completed=done),
                parallel=parallel,
                worker=worker,
            )

    async def _spawn_then_ingest() -> Any:
        # The parsing process starts up while this one opens the store.
        worker = await WorkerBatches.spawn() if use_worker(file, parallel) else None
        try:
            return await _with_container(lambda c: _ingest(c, worker))
        finally:
            if worker is not None:
                await worker.close()

    with batch_gc():
        run = _run(_spawn_then_ingest())
    result = run.result
    if as_json:
        _print_json({**result.summary(), "run": run.run_id})
    else:
        table = Table(title=f"ingest run {run.run_id}: {file.name}", show_header=True)
        for col in ("read", "inserted", "unchanged", "amended", "rejected"):
            table.add_column(col, justify="right")
        table.add_row(
            *(
                str(v)
                for v in (
                    result.read,
                    result.inserted,
                    result.unchanged,
                    result.amended,
                    result.rejected,
                )
            )
        )
        out.print(table)
        routes = Table(title="routed", show_header=True)
        for col in ("immediate", "digest", "auto-accepted"):
            routes.add_column(col, justify="right")
        summary = result.summary()["routes"]
        routes.add_row(
            str(summary["immediate"]), str(summary["digest"]), str(summary["auto_accepted"])
        )
        out.print(routes)
        if result.rejected_rows:
            shown = result.rejected_rows[:20]
            err.print(f"[yellow]{result.rejected} row(s) rejected[/] (kept in quarantine):")
            for row in shown:
                err.print(f"  line {row.line}: {row.field}: {row.error}")
            if result.rejected > len(shown):
                err.print(f"  ... see all with: recon-bot ingest --rejected --run {run.run_id}")
    if result.rejected:
        sys.exit(EXIT_PARTIAL)


def _show_rejected(run_id: int | None, as_json: bool) -> None:
    from rich.table import Table

    from store.intake import list_rejected

    async def _list(c: Container) -> tuple[int | None, list[dict[str, Any]]]:
        async with c.database.reader.connect() as conn:
            return await list_rejected(conn, run_id=run_id, limit=100_000)

    found_run, rows = _run(_with_container(_list))
    if as_json:
        _print_json({"run": found_run, "rejected_rows": rows})
        return
    if found_run is None:
        out.print("no ingest runs yet")
        return
    table = Table(title=f"quarantined rows of run {found_run}")
    for col in ("line", "field", "error", "raw"):
        table.add_column(col, overflow="fold")
    for row in rows:
        table.add_row(str(row["line"]), row["field"], row["error"], row["raw"][:120])
    out.print(table if rows else f"run {found_run} rejected no rows")


# --- queue / show ----------------------------------------------------------------------

_STATES = [s.value for s in ReviewState]


@main.command()
@click.option(
    "--state",
    "states",
    multiple=True,
    type=click.Choice(_STATES),
    help="Only these states (repeatable). Default: everything still open.",
)
@click.option("--team", help="Only this team's items.")
@click.option("--assignee", help="Only items claimed by this Slack user id.")
@click.option("--limit", default=50, show_default=True, type=click.IntRange(1, 100_000))
@click.option("--json", "as_json", is_flag=True, help="Print a JSON list.")
def queue(
    states: tuple[str, ...], team: str | None, assignee: str | None, limit: int, as_json: bool
) -> None:
    """List items, highest priority first.

    \b
    Examples:
      recon-bot queue
      recon-bot queue --state pending --team treasury --json
    """
    wanted = [ReviewState(s) for s in states] or [
        s for s in ReviewState if s not in (ReviewState.POSTED, ReviewState.REJECTED)
    ]

    from rich.table import Table

    from bot.views import item_summary

    async def _queue(c: Container) -> list[dict[str, Any]]:
        items = await c.usecases.queries.queue(
            states_=wanted, team=team, assignee=assignee, limit=limit
        )
        return [item_summary(i, c.policy.current().policy) for i in items]

    rows = _run(_with_container(_queue))
    if as_json:
        _print_json(rows)
        return
    if not rows:
        out.print("the queue is empty")
        return
    table = Table(show_header=True, box=None, pad_edge=False)
    for col in ("id", "kind", "state", "prio", "amount", "entity", "team", "assignee", "due"):
        table.add_column(
            col, justify="right" if col in ("prio", "amount") else "left", no_wrap=True
        )
    for r in rows:
        due = r["sla_due_at"]
        table.add_row(
            r["id"],
            r["kind"],
            r["state"].replace("awaiting_second_approval", "2nd approval"),
            str(r["priority"]),
            f"{r['amount']} {r['currency']}",
            r["entity"],
            r["team"] or "-",
            r["assignee"] or "-",
            f"{due[5:10]} {due[11:16]}" if due else "-",
        )
    out.print(table)


@main.command()
@click.argument("item_id")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
def show(item_id: str, as_json: bool) -> None:
    """Show one item: its facts, routing reasons, journal entries and full history.

    \b
    Example:
      recon-bot show R-1042
    """
    parsed = parse_human_id(item_id)
    if parsed is None:
        raise click.BadParameter(f"{item_id!r} is not an item id like R-1042", param_hint="ID")

    from bot.views import entry_view, item_detail
    from store.audit.log import history as audit_history

    async def _show(c: Container) -> dict[str, Any]:
        item = await c.usecases.queries.get(parsed)
        entries = await c.usecases.queries.journal_of(parsed)
        async with c.database.reader.connect() as conn:
            history = await audit_history(conn, parsed)
        detail = item_detail(item, c.policy.current().policy)
        detail["journal_entries"] = [entry_view(e) for e in entries]
        detail["history"] = history
        return detail

    detail = _run(_with_container(_show))
    if as_json:
        _print_json(detail)
        return
    out.print(
        f"[bold]{detail['id']}[/]  {detail['kind']}  {detail['state']}  "
        f"{detail['amount']} {detail['currency']}  {detail['entity']}"
    )
    for key in (
        "external_id",
        "source",
        "counterparty",
        "risk_tier",
        "aging_days",
        "confidence",
        "score",
        "matched_value",
        "variance",
        "record_count",
        "prepared_by",
        "team",
        "assignee",
        "route",
        "priority",
        "required_approvals",
        "sla_due_at",
        "ledger_ref",
        "policy_version",
    ):
        if detail.get(key) not in (None, ""):
            out.print(f"  {key:<19}{detail[key]}")
    out.print("  reasons:")
    for reason in detail["reasons"]:
        out.print(f"    - {reason}")
    for entry in detail["journal_entries"]:
        out.print(f"  journal entry {entry['ledger_ref']}: {entry['memo']}")
        for ln in entry["lines"]:
            out.print(f"    {ln['account']:<32} Dr {ln['debit']:>14}  Cr {ln['credit']:>14}")
    out.print("  history:")
    for rec in detail["history"]:
        moved = f"{rec.get('from') or '-'} -> {rec.get('to') or '-'}"
        out.print(f"    #{rec['seq']} {rec['time']} {rec['event']} by {rec['actor']} ({moved})")


# --- audit -----------------------------------------------------------------------------


@main.group()
def audit() -> None:
    """Verify or export the signed audit log."""


def _print_report(report: VerifyReport, as_json: bool) -> None:
    if as_json:
        _print_json(dataclasses.asdict(report))
    elif report.ok:
        out.print(f"audit log {report.summary()}")
    else:
        err.print(f"[bold red]audit log {report.summary()}[/]")
    if not report.ok:
        sys.exit(EXIT_FAIL)


def _key_ids(
    _ctx: click.Context, _param: click.Parameter, values: tuple[str, ...]
) -> tuple[str, ...]:
    for value in values:
        if not re.fullmatch(r"[0-9a-f]{32}", value):
            raise click.BadParameter(
                f"{value!r} is not a key id (32 lowercase hex digits, as recon-bot init prints)"
            )
    return values


@audit.command("verify")
@click.option(
    "--bundle",
    type=click.Path(path_type=Path, file_okay=False, exists=True),
    help="Verify an exported bundle offline instead of the database.",
)
@click.option("--json", "as_json", is_flag=True, help="Print the report as JSON.")
@click.option(
    "--deep", is_flag=True, help="Also parse and re-canonicalise every body (about 8x slower)."
)
@click.option(
    "--trust",
    "trusted",
    multiple=True,
    callback=_key_ids,
    metavar="KEY_ID",
    help="Accept only signatures by this key id (repeatable; recon-bot init prints it). "
    "Without it, every key in the log's keys table counts.",
)
def audit_verify(bundle: Path | None, as_json: bool, deep: bool, trusted: tuple[str, ...]) -> None:
    """Check every record, link, hash, signature, checkpoint and anchor.

    Names the first bad record and why. Exit code 1 when anything is wrong. An auditor
    who noted the key id when the desk was set up passes it with --trust: a key added
    to the log later (by someone able to write the database and re-sign it) then fails.

    \b
    Examples:
      recon-bot audit verify
      recon-bot audit verify --bundle ./audit-2026-11 --json
      recon-bot audit verify --bundle ./audit-2026-11 --trust ed815f95efdd73ebaa7a45f490cab0e9
    """
    from store.audit.anchors import AnchorFile
    from store.audit.bundle import verify_bundle
    from store.audit.verification import verify_database
    from store.engine import create_database

    pinned = set(trusted) if trusted else None
    if bundle is not None:
        _print_report(verify_bundle(bundle, deep=deep, trusted=pinned), as_json)
        return
    settings = _settings()

    async def _verify() -> Any:
        database = create_database(settings.database_url)
        try:
            anchors = AnchorFile(settings.audit_anchors)
            return await verify_database(database, anchors=anchors, deep=deep, trusted=pinned)
        finally:
            await database.dispose()

    _print_report(_run(_verify()), as_json)


@audit.command("export")
@click.option(
    "--out",
    "out_dir",
    required=True,
    type=click.Path(path_type=Path, file_okay=False),
    help="Directory to write the bundle to (created if missing).",
)
def audit_export(out_dir: Path) -> None:
    """Export records, checkpoints, public keys and anchors for offline verification.

    \b
    Example:
      recon-bot audit export --out ./audit-bundle && recon-bot audit verify --bundle ./audit-bundle
    """
    from store.audit.anchors import AnchorFile
    from store.audit.bundle import export_bundle
    from store.engine import create_database

    settings = _settings()

    async def _export() -> Any:
        database = create_database(settings.database_url)
        try:
            # The database, not a connection: the bundle is read in one snapshot, so a
            # log growing meanwhile cannot make it look truncated.
            return await export_bundle(
                database, out_dir, anchors=AnchorFile(settings.audit_anchors)
            )
        finally:
            await database.dispose()

    result = _run(_export())
    out.print(
        f"exported to {result.directory}: {result.records} record(s), "
        f"{result.checkpoints} checkpoint(s), {result.keys} key(s), {result.anchors} anchor(s)"
    )


# --- serve / outbox ----------------------------------------------------------------------


@main.command()
@click.pass_context
def serve(ctx: click.Context) -> None:
    """Run the Slack bot over Socket Mode until SIGTERM or SIGINT.

    Needs SLACK_BOT_TOKEN (xoxb-...) and SLACK_APP_TOKEN (xapp-...); see README for how
    to create the Slack app from manifest.yml.

    \b
    Example:
      SLACK_BOT_TOKEN=xoxb-... SLACK_APP_TOKEN=xapp-... recon-bot serve
    """
    from bot.app import serve as serve_forever

    settings = _settings()
    if not ctx.meta.get("recon.debug"):
        logging.getLogger().setLevel(settings.log_level.upper())
    _run(serve_forever(settings))


@main.command("outbox")
@click.option("--dead", is_flag=True, help="Only dead-lettered messages.")
@click.option("--retry", "retry_id", type=int, help="Return a dead message to the queue.")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
def outbox_cmd(dead: bool, retry_id: int | None, as_json: bool) -> None:
    """See Slack deliveries waiting or failed, and replay dead letters.

    \b
    Examples:
      recon-bot outbox --dead
      recon-bot outbox --retry 42
    """
    from rich.table import Table

    from store.outbox import OutboxStore, RowState

    async def _outbox(c: Container) -> Any:
        store = OutboxStore(c.database)
        if retry_id is not None:
            return await store.retry(retry_id, now=c.clock.now())
        states = [RowState.DEAD] if dead else [RowState.PENDING, RowState.SENDING, RowState.DEAD]
        return await store.counts(), await store.list_rows(states=states, limit=200)

    result = _run(_with_container(_outbox))
    if retry_id is not None:
        if not result:
            _fail(f"outbox message {retry_id} is not dead-lettered (nothing to retry)")
        out.print(f"outbox message {retry_id} is queued again; a running bot sends it shortly")
        return
    counts, rows = result
    data = [
        {
            "id": r.id,
            "kind": r.kind.value,
            "target": r.target,
            "item_id": r.item_id,
            "state": r.state.value,
            "attempts": r.attempts,
            "failures": r.failures,
            "last_error": r.last_error,
            "created_at": r.created_at.isoformat(),
        }
        for r in rows
    ]
    if as_json:
        _print_json({"counts": counts, "messages": data})
        return
    out.print("outbox: " + ", ".join(f"{k} {v}" for k, v in sorted(counts.items())) or "empty")
    if data:
        table = Table()
        for col in ("id", "kind", "target", "item", "state", "attempts", "last error"):
            table.add_column(col)
        for d in data:
            table.add_row(
                str(d["id"]),
                d["kind"],
                d["target"],
                str(d["item_id"] or "-"),
                d["state"],
                str(d["attempts"]),
                (d["last_error"] or "")[:60],
            )
        out.print(table)


def run() -> None:  # pragma: no cover - console entry point
    """Entry point for ``python -m bot``."""
    main(prog_name="recon-bot")


if __name__ == "__main__":  # pragma: no cover
    os.environ.setdefault("PYTHONUNBUFFERED", "1")
    run()

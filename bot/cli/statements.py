"""``recon-bot statements``: bank statements in (import), listed, shown and re-parsed.

The operator's tools for Stage 1 (reviewers approve, edit and reject in Slack). The
operator reads as :data:`~domain.permissions.OPERATOR` and acts as ``system`` in the
audit log. Amounts are decimal strings in every JSON output, never floats.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any, BinaryIO

import click

from bot.cli.root import (
    EXIT_FAIL,
    EXIT_PARTIAL,
    err,
    fail,
    main,
    out,
    print_json,
    run_coroutine,
    with_container,
)

if TYPE_CHECKING:
    from bot.container import Container
    from domain.statements.records import Statement
    from domain.usecases.statements import ImportReport

FORMATS = ["auto", "camt053", "mt940", "bai2", "ofx"]
STATES = ["pending_review", "approved", "rejected"]
#: Who the operator's imports and re-parses are recorded as.
OPERATOR_ACTOR = "system"


class StatementId(click.ParamType[int]):
    """A statement id: ``S-12`` or ``12``."""

    name = "statement id"

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> int:
        """The id, or click's usage error."""
        if isinstance(value, int):
            return value
        from domain.statements.records import parse_statement_id

        parsed = parse_statement_id(str(value))
        if parsed is None:
            self.fail(f"{str(value)[:40]!r} is not a statement id (like S-12)", param, ctx)
        return parsed


def _format(value: str | None) -> Any:
    from domain.statements.parsed import StatementFormat

    return None if value in (None, "auto") else StatementFormat(value)


def _text(value: object) -> str | None:
    return None if value is None else str(value)


def statement_json(statement: Statement, entries: int) -> dict[str, Any]:
    """One statement in ``statements --json`` (and ``show --json``): the stable keys."""
    checks = statement.checks
    return {
        "id": statement.human_id,
        "account": statement.account,
        "file_account": statement.file_account,
        "entity": statement.entity,
        "team": statement.team,
        "gl_account": statement.gl_account,
        "currency": statement.currency,
        "bank": statement.bank,
        "statement_id": statement.statement_id,
        "sequence": statement.sequence,
        "period_start": statement.period_start.isoformat(),
        "period_end": statement.period_end.isoformat(),
        "opening": _text(statement.opening),
        "closing": _text(statement.closing),
        "opening_derived": statement.opening_derived,
        "entries": entries,
        "delta": _text(checks.delta),
        "chain_ok": checks.chain_ok,
        "chain_note": checks.chain_note,
        "tolerance": f"{checks.tolerance:f}",
        "continuity": checks.continuity.value,
        "continuity_gap": _text(checks.continuity_gap),
        "overlap": checks.overlap,
        "control_ok": checks.control_ok,
        "control_problems": list(checks.control_problems),
        "out_of_period": list(checks.out_of_period),
        "stage1_status": statement.stage1_status.value,
        "format": statement.format.value,
        "file_name": statement.file_name,
        "sha256": statement.sha256,
        "revision": statement.revision,
        "version": statement.version,
        "updated_at": statement.updated_at.isoformat(),
    }


def _line_json(statement: Statement, index: int) -> dict[str, Any]:
    ln = statement.lines[index]
    return {
        "number": ln.number,
        "amount": str(ln.amount),
        "booking_date": ln.booking_date.isoformat() if ln.booking_date else None,
        "value_date": ln.value_date.isoformat() if ln.value_date else None,
        "reference": ln.reference,
        "counterparty": ln.counterparty,
        "description": ln.description,
        "match_status": ln.match_status.value,
        "edited": ln.edited,
        "added": ln.added,
        "removed": ln.removed,
    }


@main.group(invoke_without_command=True)
@click.option("--state", type=click.Choice(STATES), help="Only statements in this state.")
@click.option("--account", help="Only this account (as the policy or the file names it).")
@click.option("--limit", default=100, show_default=True, type=click.IntRange(1, 100_000))
@click.option("--json", "as_json", is_flag=True, help="Print a JSON list.")
@click.pass_context
def statements(
    ctx: click.Context, state: str | None, account: str | None, limit: int, as_json: bool
) -> None:
    """Bank statements (Stage 1): list them, or import, show and re-parse one.

    \b
    Examples:
      recon-bot statements --state pending_review
      recon-bot statements import march.xml --json
      recon-bot statements show S-12 --lines 50
    """
    if ctx.invoked_subcommand is not None:
        return
    from domain.permissions import OPERATOR
    from domain.statements.records import Stage1Status

    async def _list(c: Container) -> list[dict[str, Any]]:
        wanted = account
        if account is not None:
            known = [a for a in c.policy.current().policy.statements.accounts if a.matches(account)]
            wanted = known[0].account if known else account
        found = await c.usecases.statements.listing(
            viewer=OPERATOR,
            status=Stage1Status(state) if state else None,
            account=wanted,
            limit=limit,
        )
        return [statement_json(s, n) for s, n in found]

    rows = run_coroutine(with_container(_list))
    if as_json:
        print_json(rows)
        return
    if not rows:
        out.print("no statements")
        return
    from rich.table import Table

    table = Table(show_header=True, box=None, pad_edge=False)
    for col in ("id", "account", "period", "cur", "opening", "closing", "entries", "delta",
                "chain", "continuity", "status", "rev"):  # fmt: skip
        table.add_column(col, no_wrap=True)
    for r in rows:
        chain = {True: "ok", False: "OFF", None: "n/a"}[r["chain_ok"]]
        table.add_row(
            r["id"], r["account"], f"{r['period_start']}..{r['period_end']}", r["currency"],
            r["opening"] or "-", r["closing"] or "-", str(r["entries"]), r["delta"] or "-",
            chain, r["continuity"], r["stage1_status"], str(r["revision"]),
        )  # fmt: skip
    out.print(table)


@statements.command("import")
@click.argument("files", nargs=-1, required=True, type=click.Path(path_type=Path))
@click.option(
    "--format",
    "fmt",
    type=click.Choice(FORMATS),
    default="auto",
    show_default=True,
    help="The files' format; auto detects it from the content.",
)
@click.option("--json", "as_json", is_flag=True, help="Print a machine-readable summary.")
def import_(files: tuple[Path, ...], fmt: str, as_json: bool) -> None:
    """Import bank statement files (camt.053, MT940, BAI2, OFX).

    Each statement is imported whole or not at all: one bad statement never stops the
    others. The file is read from disk in slices and statements are stored as it is read,
    so a big file (100 MB) imports in bounded memory. The same statement again with
    the same content changes nothing; with different content it becomes a new revision
    back in review.
    Exit code 0 when every statement was imported (or unchanged); 2 when some were
    rejected; 1 when nothing could be imported.

    \b
    Examples:
      recon-bot statements import march.xml
      recon-bot statements import day1.sta day2.sta --format mt940 --json
    """
    from domain.usecases.statements import ImportReport

    async def _import(c: Container) -> ImportReport:
        report = ImportReport()
        started = c.clock.now()
        for path in files:
            try:
                file = path.open("rb")
            except OSError as exc:
                report.reject_file(path.name, _unreadable(exc))
                continue
            with file:
                await _import_one(c, path.name, file, fmt, report)
        await c.usecases.statements.record_run(
            report=report, file_names=[p.name for p in files], started=started, now=c.clock.now()
        )
        return report

    report = run_coroutine(with_container(_import))
    done = report.imported + report.unchanged + report.revised
    if as_json:
        print_json(report.to_json())
    else:
        out.print(
            f"{report.files} file(s), {report.statements} statement(s): {report.imported} "
            f"imported, {report.unchanged} unchanged, {report.revised} revised, "
            f"{len(report.rejected)} rejected"
            + (f" ({report.auto_approved} approved by policy)" if report.auto_approved else "")
        )
        for r in report.rejected:
            where = ", ".join(p for p in (r.statement and f"statement {r.statement}", r.where) if p)
            err.print(f"[red]rejected:[/] {r.file}{': ' + where if where else ''}: {r.error}")
    if report.rejected:
        sys.exit(EXIT_PARTIAL if done else EXIT_FAIL)
    if not done:
        if not as_json:
            err.print("[red]error:[/] no statement was found in the file(s)")
        sys.exit(EXIT_FAIL)


def _unreadable(exc: OSError) -> str:
    return f"cannot read the file: {exc.strerror or exc}"


async def _import_one(
    c: Container, name: str, file: BinaryIO, fmt: str, report: ImportReport
) -> None:
    """Imports one open file without ever holding it whole: a first pass packs the
    original (SHA-256 and zlib, slice by slice), the parser then reads it again from
    its start, statement by statement (each batch stored before the next is read)."""
    from domain.statements.records import Original

    try:
        original = Original.read(file)
        file.seek(0)
    except OSError as exc:
        report.reject_file(name, _unreadable(exc))
        return
    try:
        result = c.parser.stream(file, format=_format(fmt))
    except ImportError:
        report.reject_file(name, "the bank-file parsers are not installed")
        return
    except Exception as exc:  # any parser failure is this file's, in one sentence
        report.reject_file(name, str(exc) or type(exc).__name__)
        return
    await c.usecases.statements.import_file(
        file_name=name,
        data=original,
        result=result,
        now=c.clock.now(),
        actor=OPERATOR_ACTOR,
        report=report,
    )


@statements.command("show")
@click.argument("statement_id", type=StatementId())
@click.option("--lines", "max_lines", default=20, show_default=True, type=click.IntRange(0),
              help="How many lines to show (0: none).")  # fmt: skip
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
def show(statement_id: int, max_lines: int, as_json: bool) -> None:
    """Show one statement: its checks, its first lines, its edits and its history.

    \b
    Example:
      recon-bot statements show S-12 --lines 50
    """
    from domain.money import quantize
    from domain.permissions import OPERATOR
    from store.statements import statement_history

    async def _show(c: Container) -> dict[str, Any]:
        found = await c.usecases.statements.get(statement_id, viewer=OPERATOR)
        async with c.database.reader.connect() as conn:
            history = await statement_history(conn, statement_id)
        body = statement_json(found, len(found.counted))
        body["credits"] = str(quantize(found.credits, found.currency))
        body["debits"] = str(quantize(found.debits, found.currency))
        body["rejection"] = found.rejection
        body["lines"] = [_line_json(found, i) for i in range(min(max_lines, len(found.lines)))]
        body["lines_total"] = len(found.lines)
        body["edits"] = [e.to_data() for e in found.edits]
        body["approvals"] = [a.to_data() for a in found.approvals]
        body["history"] = history
        return body

    body = run_coroutine(with_container(_show))
    if as_json:
        print_json(body)
        return
    _print_statement(body)


def _print_statement(b: dict[str, Any]) -> None:
    cur = b["currency"]
    out.print(
        f"{b['id']}  {b['stage1_status']}  revision {b['revision']}  {b['format']}  "
        f"account {b['account']} ({b['entity']}, GL {b['gl_account']}, team {b['team']})"
    )
    out.print(f"  period {b['period_start']}..{b['period_end']}  file {b['file_name']}")
    out.print(f"  sha256 {b['sha256']}")
    out.print(
        f"  opening {b['opening'] or '-'} {cur}{' (derived)' if b['opening_derived'] else ''}"
        f"  credits {b['credits']}  debits {b['debits']}  closing {b['closing'] or '-'} {cur}"
        f"  entries {b['entries']}"
    )
    if b["delta"] is None:
        out.print(f"  chain: not checkable ({b['chain_note']})")
    else:
        verdict = "holds" if b["chain_ok"] else "OFF"
        out.print(f"  chain: {verdict}, delta {b['delta']} {cur} (tolerance {b['tolerance']})")
    gap = f" by {b['continuity_gap']} {cur}" if b["continuity_gap"] else ""
    out.print(f"  continuity: {b['continuity']}{gap}{'; periods overlap' if b['overlap'] else ''}")
    if b["control_ok"] is not None:
        out.print(
            f"  control totals: {'ok' if b['control_ok'] else '; '.join(b['control_problems'])}"
        )
    if b["out_of_period"]:
        out.print(f"  lines dated outside the period: {b['out_of_period']}")
    if b["rejection"]:
        out.print(f"  rejected: {b['rejection']}")
    if b["lines"]:
        out.print(f"  lines (first {len(b['lines'])} of {b['lines_total']}):")
        for ln in b["lines"]:
            flags = ",".join(f for f in ("edited", "added", "removed") if ln[f])
            out.print(
                f"    {ln['number']:>6} {ln['booking_date'] or '-':10} {ln['amount']:>16} "
                f"{ln['reference'] or ''} {ln['counterparty'] or ''}"
                + (f" [{flags}]" if flags else "")
            )
    for e in b["edits"]:
        out.print(f"  edit by {e['actor']}: {e['kind']} line {e['line']} {e['field'] or ''} "
                  f"{e['old']} -> {e['new']}")  # fmt: skip
    for h in b["history"]:
        out.print(
            f"  #{h['seq']} {h['time']} {h['event']} by {h['actor']} ({h['from']} -> {h['to']})"
        )


@statements.command("reparse")
@click.argument("statement_id", type=StatementId())
@click.option("--format", "fmt", type=click.Choice(FORMATS), default="auto", show_default=True,
              help="Read the original as this format (auto: the statement's own).")  # fmt: skip
@click.option("--json", "as_json", is_flag=True, help="Print the new revision as JSON.")
def reparse(statement_id: int, fmt: str, as_json: bool) -> None:
    """Run the parser again on the statement's stored original: a new revision, back in
    review (the way back from rejected).

    \b
    Example:
      recon-bot statements reparse S-12 --format mt940
    """

    async def _reparse(c: Container) -> dict[str, Any]:
        after = await c.usecases.statements.reparse(
            statement_id=statement_id, now=c.clock.now(), actor=OPERATOR_ACTOR,
            format=_format(fmt),
        )  # fmt: skip
        return statement_json(after, len(after.counted))

    try:
        body = run_coroutine(with_container(_reparse))
    except ImportError:
        fail("the bank-file parsers are not installed")
    if as_json:
        print_json(body)
        return
    out.print(
        f"{body['id']} is now revision {body['revision']}, {body['stage1_status']} "
        f"(delta {body['delta'] or 'not checkable'}, continuity {body['continuity']})"
    )

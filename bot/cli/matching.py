"""``recon-bot match``, ``matches`` and ``checks``: Stage 2 from the operator's terminal.

``match`` runs the matcher now; ``matches`` lists what it found; ``checks`` lists the
consistency checks. The operator actions (``matches accept|reject``, ``matches
accept-all``, ``checks resolve``) are recorded as the operator; reviewers take the same
decisions in Slack. The ``--json`` outputs are stable contracts (README, "Matching").
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Any

import click

from bot.cli.root import fail, main, out, print_json, run_coroutine, with_container

if TYPE_CHECKING:
    from bot.container import Container
    from domain.matching.stored import CheckRecord, MatchRecord

#: Who the operator's decisions are recorded as.
OPERATOR_ACTOR = "operator"
BANDS = ["auto_accepted", "pending_review", "unmatched"]
RESOLUTIONS = ["confirmed_duplicate", "not_duplicate", "transfer_confirmed", "explained"]


class StatementArg(click.ParamType[int]):
    """A statement id: ``S-12`` or ``12``."""

    name = "statement"

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> int:
        text = str(value).strip()
        digits = text[2:] if text.upper().startswith("S-") else text
        if not (digits.isascii() and digits.isdigit()) or len(digits) > 18:
            self.fail(f"{text[:40]!r} is not a statement id (like S-12)", param, ctx)
        return int(digits)


class RowId(click.ParamType[int]):
    """A match or check id: ASCII digits."""

    name = "id"

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> int:
        text = str(value).strip()
        if not (text.isascii() and text.isdigit()) or len(text) > 18:
            self.fail(f"{text[:40]!r} is not an id (digits, like 42)", param, ctx)
        return int(text)


@main.command("match")
@click.option("--statement", "statement", type=StatementArg(), help="Only this statement.")
@click.option("--json", "as_json", is_flag=True, help="Print a machine-readable summary.")
def match(statement: int | None, as_json: bool) -> None:
    """Match approved statements against the ledger now.

    \b
    Examples:
      recon-bot match
      recon-bot match --statement S-12 --json
    """

    async def _run(c: Container) -> dict[str, Any]:
        started = time.perf_counter()
        summary = await c.usecases.matching.run(now=c.clock.now(), statement=statement)
        return {**summary.as_dict(), "seconds": round(time.perf_counter() - started, 3)}

    result = run_coroutine(with_container(_run))
    if as_json:
        print_json(result)
        return
    out.print(
        f"auto-accepted {result['auto_accepted']}, pending review {result['pending_review']}, "
        f"unmatched bank lines {result['unmatched_bank']}, unmatched ledger entries "
        f"{result['unmatched_ledger']}, open checks {result['checks_open']} "
        f"({result['seconds']} s)"
    )


def match_json(
    record: MatchRecord, references: dict[tuple[int, int], str | None]
) -> dict[str, Any]:
    """One match as ``matches --json`` prints it."""
    return {
        "id": record.id,
        "band": record.band.value,
        "score": record.score,
        "state": record.state.value,
        "components": record.components,
        "bank_lines": [
            {"statement": sid, "line": number, "reference": references.get((sid, number))}
            for sid, number in record.bank_lines
        ],
        "ledger_entries": [k.entry_id for k in record.ledger_entries],
        "statement": record.statement_id,
        "held": record.held,
        "decided_by": record.decided_by,
        "approvals": [a.user for a in record.approvals],
        "run": record.run,
    }


def check_json(check: CheckRecord) -> dict[str, Any]:
    """One check as ``checks --json`` prints it."""
    return {
        "id": check.id,
        "kind": check.kind.value,
        "state": check.state.value,
        "statement": check.statement_id,
        "detail": check.detail,
        "resolution": None if check.resolution is None else check.resolution.value,
        "note": check.note,
        "resolved_by": check.resolved_by,
    }


@main.group("matches", invoke_without_command=True)
@click.option("--band", type=click.Choice(BANDS), help="Only matches in this band.")
@click.option("--limit", default=100, show_default=True, type=click.IntRange(1, 100_000))
@click.option("--json", "as_json", is_flag=True, help="Print a machine-readable list.")
@click.pass_context
def matches(ctx: click.Context, band: str | None, limit: int, as_json: bool) -> None:
    """List matches (oldest first); subcommands accept or reject them.

    \b
    Examples:
      recon-bot matches --band pending_review --json
      recon-bot matches accept 42
      recon-bot matches accept-all S-12
    """
    if ctx.invoked_subcommand is not None:
        return
    from domain.matching.records import Band

    async def _list(c: Container) -> list[dict[str, Any]]:
        found = await c.usecases.matching.matches(
            band=None if band is None else Band(band), limit=limit
        )
        keys = [k for m in found for k in m.bank_lines]
        refs = await c.usecases.matching.line_references(keys)
        return [match_json(m, refs) for m in found]

    listed = run_coroutine(with_container(_list))
    if as_json:
        print_json(listed)
        return
    if not listed:
        out.print("no matches")
    for m in listed:
        lines = ", ".join(f"S-{b['statement']}#{b['line']}" for b in m["bank_lines"])
        held = f" (held: {m['held']})" if m["held"] else ""
        out.print(
            f"{m['id']:>6}  {m['score']:>3}  {m['state']:<15} {lines} <-> "
            f"{', '.join(m['ledger_entries'])}{held}"
        )


@matches.command("accept")
@click.argument("match_id", type=RowId())
def accept(match_id: int) -> None:
    """Accept a pending match (its journal entry is made now)."""

    async def _do(c: Container) -> MatchRecord:
        return await c.usecases.matching.accept(match_id, actor=OPERATOR_ACTOR, now=c.clock.now())

    from domain.matching.stored import MatchState

    done = run_coroutine(with_container(_do))
    if done.state is MatchState.ACCEPTED:
        out.print(f"match {done.id} accepted")
    else:
        out.print(
            f"match {done.id}: accept {len(done.approvals)} recorded; under dual control it "
            "waits for a second, different person"
        )


@matches.command("reject")
@click.argument("match_id", type=RowId())
def reject(match_id: int) -> None:
    """Reject a pending match: both sides go back to the pool."""

    async def _do(c: Container) -> MatchRecord:
        return await c.usecases.matching.reject(match_id, actor=OPERATOR_ACTOR, now=c.clock.now())

    done = run_coroutine(with_container(_do))
    out.print(f"match {done.id} rejected; its lines are back in the pool")


@matches.command("accept-all")
@click.argument("statement", type=StatementArg())
def accept_all(statement: int) -> None:
    """Accept every pending match of a statement (refused while a check on it is open)."""

    async def _do(c: Container) -> list[MatchRecord]:
        return await c.usecases.matching.accept_all(
            statement, actor=OPERATOR_ACTOR, now=c.clock.now()
        )

    from domain.matching.stored import MatchState

    done = run_coroutine(with_container(_do))
    accepted = sum(1 for m in done if m.state is MatchState.ACCEPTED)
    waiting = len(done) - accepted
    out.print(
        f"{accepted} match(es) of S-{statement} accepted"
        + (f"; {waiting} wait(s) for a second person (dual control)" if waiting else "")
    )


@main.group("checks", invoke_without_command=True)
@click.option("--json", "as_json", is_flag=True, help="Print a machine-readable list.")
@click.pass_context
def checks(ctx: click.Context, as_json: bool) -> None:
    """List the consistency checks of matching runs; ``resolve`` closes one.

    \b
    Examples:
      recon-bot checks --json
      recon-bot checks resolve 3 --as not_duplicate --note "two real payments"
    """
    if ctx.invoked_subcommand is not None:
        return

    async def _list(c: Container) -> list[dict[str, Any]]:
        return [check_json(k) for k in await c.usecases.matching.checks()]

    listed = run_coroutine(with_container(_list))
    if as_json:
        print_json(listed)
        return
    if not listed:
        out.print("no checks")
    for k in listed:
        out.print(
            f"{k['id']:>6}  {k['state']:<9} {k['kind']:<18} S-{k['statement']}  {k['detail']}"
        )


@checks.command("resolve")
@click.argument("check_id", type=RowId())
@click.option("--as", "resolution", required=True, type=click.Choice(RESOLUTIONS))
@click.option("--note", default=None, help="Why (required for explained).")
def resolve(check_id: int, resolution: str, note: str | None) -> None:
    """Resolve an open check."""
    from domain.matching.stored import Resolution

    if resolution == "explained" and not (note or "").strip():
        fail("--as explained needs --note saying why")

    async def _do(c: Container) -> CheckRecord:
        return await c.usecases.matching.resolve_check(
            check_id, Resolution(resolution), note=note, actor=OPERATOR_ACTOR, now=c.clock.now()
        )

    done = run_coroutine(with_container(_do))
    out.print(f"check {done.id} resolved as {resolution}")

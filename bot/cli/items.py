"""``recon-bot queue`` and ``show``: the items and one item's whole story.

These are the operator's tools, run on the server: the operator is not a Slack user and
reads as :data:`~domain.permissions.OPERATOR`, who sees every item (Slack users see only
their teams' items).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import click

from bot.cli.root import (
    fail,
    main,
    out,
    print_json,
    run_coroutine,
    with_container,
)
from domain.items import ReviewState, parse_human_id

if TYPE_CHECKING:
    from bot.container import Container


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
        s
        for s in ReviewState
        if s not in (ReviewState.POSTED, ReviewState.REJECTED, ReviewState.MATCHED)
    ]

    from rich.table import Table

    from bot.views import item_summary
    from domain.permissions import OPERATOR

    async def _queue(c: Container) -> list[dict[str, Any]]:
        items = await c.usecases.queries.queue(
            viewer=OPERATOR, states_=wanted, team=team, assignee=assignee, limit=limit
        )
        return [item_summary(i, c.policy.current().policy) for i in items]

    rows = run_coroutine(with_container(_queue))
    if as_json:
        print_json(rows)
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
    """Show one item: its facts, routing reasons, journal entries, dispute timeline and
    full history.

    \b
    Example:
      recon-bot show R-1042
    """
    parsed = parse_human_id(item_id)
    if parsed is None:
        # Exit 1 (failure, nothing changed), not click's usage code 2, which means "partial".
        fail(f"{item_id[:40]!r} is not an item id; ids are R- and ASCII digits, like R-1042")

    from rich.markup import escape

    from bot.views import entry_view, item_detail, timeline_view
    from domain.dispute_timeline import dispute_timeline
    from domain.permissions import OPERATOR
    from store.audit.log import history as audit_history

    async def _show(c: Container) -> dict[str, Any]:
        item = await c.usecases.queries.item(parsed, viewer=OPERATOR)
        entries = await c.usecases.queries.journal_of(parsed, viewer=OPERATOR)
        async with c.database.reader.connect() as conn:
            history = await audit_history(conn, parsed)
        detail = item_detail(item, c.policy.current().policy)
        detail["journal_entries"] = [entry_view(e) for e in entries]
        timeline = dispute_timeline(history, item_id=parsed, currency=item.facts.currency)
        detail["dispute_timeline"] = [timeline_view(t) for t in timeline]
        detail["history"] = history
        return detail

    detail = run_coroutine(with_container(_show))
    if as_json:
        print_json(detail)
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
        links = "".join(
            f", {label} {entry[key]}"
            for key, label in (("dispute_id", "dispute"), ("reverses", "reverses"))
            if entry[key]
        )
        out.print(
            f"  journal entry {entry['ledger_ref']} ({entry['kind']}{links}): {entry['memo']}"
        )
        for ln in entry["lines"]:
            out.print(f"    {ln['account']:<32} Dr {ln['debit']:>14}  Cr {ln['credit']:>14}")
    if detail["dispute_timeline"]:
        out.print("  dispute timeline:")
    for step in detail["dispute_timeline"]:
        # People's words are shown as typed, on one line, never read as console markup.
        wrote = f": {' '.join(step['text'].split())}" if step["text"] else ""
        line = f"{step['dispute']} {step['at'] or '-'} {step['actor']} {step['summary']}{wrote}"
        out.print(f"    {escape(line)}")
    out.print("  history:")
    for rec in detail["history"]:
        moved = f"{rec.get('from') or '-'} -> {rec.get('to') or '-'}"
        out.print(f"    #{rec['seq']} {rec['time']} {rec['event']} by {rec['actor']} ({moved})")

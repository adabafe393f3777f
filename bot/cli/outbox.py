"""``recon-bot outbox``: Slack deliveries waiting or failed, and replaying dead letters."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import click

from bot.cli.root import (
    AsciiId,
    fail,
    main,
    out,
    print_json,
    run_coroutine,
    with_container,
)

if TYPE_CHECKING:
    from bot.container import Container


@main.command("outbox")
@click.option("--dead", is_flag=True, help="Only dead-lettered messages.")
@click.option("--retry", "retry_id", type=AsciiId(), help="Return a dead message to the queue.")
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

    result = run_coroutine(with_container(_outbox))
    if retry_id is not None:
        if not result:
            fail(f"outbox message {retry_id} is not dead-lettered (nothing to retry)")
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
        print_json({"counts": counts, "messages": data})
        return
    out.print("outbox: " + (", ".join(f"{k} {v}" for k, v in sorted(counts.items())) or "empty"))
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

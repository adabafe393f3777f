"""``recon-bot show`` prints an item's dispute timeline, as text and as JSON."""

from __future__ import annotations

import asyncio
import json
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path

from click.testing import CliRunner, Result

from bot.cli import main
from bot.cli.root import with_container
from bot.container import Container
from domain.items import DisputeCategory, DisputeOutcome, DisputeState, parse_human_id
from tests.conftest import ROOT

SAMPLE = ROOT / "samples" / "items.csv"
NOW = datetime.now(UTC)


def run(*args: str) -> Result:
    return CliRunner().invoke(main, list(args), catch_exceptions=False)


async def _dispute_to_the_end(c: Container, item_id: int) -> None:
    disputes = c.usecases.disputes
    await disputes.open_dispute(
        item_id=item_id,
        actor="U0BOB",
        now=NOW,
        category=DisputeCategory.AMOUNT_MISMATCH,
        description="they booked [bold]2,450.00[/bold]\nnot the full amount",
    )
    await disputes.update_dispute(
        item_id=item_id, actor="U0BOB", now=NOW, state=DisputeState.AWAITING_COUNTERPARTY
    )
    await disputes.note_dispute(item_id=item_id, actor="U0ALICE", now=NOW, text="called AP")
    await disputes.resolve_dispute(
        item_id=item_id,
        actor="U0ALICE",
        now=NOW,
        outcome=DisputeOutcome.ADJUSTED,
        note="adjusted by the fee",
        amount=Decimal("-50.00"),
    )


def test_show_prints_the_dispute_timeline(desk_dir: Path) -> None:
    assert run("init").exit_code == 0
    run("ingest", str(SAMPLE))
    rows = json.loads(run("queue", "--json", "--team", "treasury", "--state", "pending").output)
    ref = rows[0]["id"]
    item_id = parse_human_id(ref)
    assert item_id is not None
    asyncio.run(with_container(lambda c: _dispute_to_the_end(c, item_id)))

    shown = json.loads(run("show", ref, "--json").output)
    steps = [(s["dispute"], s["step"], s["actor"]) for s in shown["dispute_timeline"]]
    ident = f"D-{item_id}-1"
    assert steps == [
        (ident, "opened", "U0BOB"),
        (ident, "awaiting_counterparty", "U0BOB"),
        (ident, "note", "U0ALICE"),
        (ident, "resolved", "U0ALICE"),
    ]
    resolved = shown["dispute_timeline"][-1]
    currency = shown["currency"]
    assert resolved["summary"] == f"resolved it: adjusted, -50.00 {currency}"
    assert resolved["text"] == "adjusted by the fee"
    assert all(s["at"] and s["seq"] for s in shown["dispute_timeline"])

    text = run("show", ref).output
    assert "dispute timeline:" in text
    assert f"{ident} " in text and "U0ALICE added a note: called AP" in text
    # what people typed is shown as typed, on one line, never read as console markup
    assert "they booked [bold]2,450.00[/bold] not the full amount" in text


def test_show_of_an_item_never_disputed_has_no_timeline(desk_dir: Path) -> None:
    assert run("init").exit_code == 0
    run("ingest", str(SAMPLE))
    ref = json.loads(run("queue", "--json", "--limit", "1").output)[0]["id"]
    assert json.loads(run("show", ref, "--json").output)["dispute_timeline"] == []
    assert "dispute timeline:" not in run("show", ref).output

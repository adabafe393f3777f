"""Corrective entries end to end on a real desk: the CLI ingests a file, reviewers decide
through the use cases on the same SQLite database, ``show`` and ``audit verify`` read it.

ingest -> approve -> changed re-ingest -> reversal and back in review -> re-approve ->
second entry -> second change -> second reversal; and a dispute resolved as adjusted
with its adjustment entry.
"""

from __future__ import annotations

import asyncio
import json
import sqlite3
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any, TypeVar

from click.testing import CliRunner, Result

from bot.cli import main
from bot.cli.root import with_container
from bot.container import Container
from domain.items import DisputeCategory, DisputeOutcome
from ledger.file import FileLedgerSink
from tests.fakes import FixedClock
from tests.ledger_support import ACCOUNTS_YAML, deliver_all, ledger_relay

T = TypeVar("T")
HEADER = "external_id,kind,entity,currency,amount,counterparty,prepared_by,reference"
T0 = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)


def run(*args: str) -> Result:
    return CliRunner().invoke(main, list(args), catch_exceptions=False)


def on_desk(work: Callable[[Container], Awaitable[T]]) -> T:
    """Runs ``work`` on the desk the CLI uses (settings from the working directory)."""
    return asyncio.run(with_container(work))


def ingest(desk_dir: Path, amount: str) -> dict[str, Any]:
    path = desk_dir / "items.csv"
    path.write_text(
        f"{HEADER}\nco-1,unmatched,ACME-US,USD,{amount},Soylent Corp,U0PREP1,INV-7\n",
        encoding="utf-8",
    )
    result = run("ingest", str(path), "--json")
    assert result.exit_code == 0, result.output
    summary: dict[str, Any] = json.loads(result.output)
    return summary


def show(item: str) -> dict[str, Any]:
    result = run("show", item, "--json")
    assert result.exit_code == 0, result.output
    detail: dict[str, Any] = json.loads(result.output)
    return detail


def approve(actor: str, at: datetime) -> None:
    """Approves R-1, then lets the real ledger relay deliver its entry to the file ledger
    beside the desk: the ledger's answer posts the item."""
    outcome = on_desk(lambda c: c.usecases.decisions.approve(item_id=1, actor=actor, now=at))
    assert outcome.item.state.value == "approved"

    async def deliver(c: Container) -> None:
        sink = FileLedgerSink(directory=Path("ledger"), today=lambda: at)
        relay = ledger_relay(c.database, c.usecases, sink, FixedClock(at))
        assert (await deliver_all(relay)).delivered >= 1

    on_desk(deliver)


def entries(detail: dict[str, Any]) -> list[tuple[str, str, str | None]]:
    return [(e["idempotency_key"], e["kind"], e["reverses"]) for e in detail["journal_entries"]]


def test_a_changed_re_ingest_reverses_the_posting_and_a_re_approval_posts_again(
    desk_dir: Path,
) -> None:
    assert run("init").exit_code == 0
    with (desk_dir / "policy.yml").open("a") as policy:
        policy.write(ACCOUNTS_YAML)  # real accounts: entries leave for the ledger
    assert ingest(desk_dir, "125.00")["inserted"] == 1
    approve("U0ALICE", T0)
    first_ref = show("R-1")["ledger_ref"]  # the file ledger's reference
    assert first_ref.startswith("file:")

    changed = ingest(desk_dir, "126.50")

    assert (changed["amended"], changed["rejected"], changed["reversed"]) == (1, 0, 1)
    detail = show("R-1")
    assert (detail["state"], detail.get("ledger_ref")) == ("pending", None)
    assert entries(detail) == [
        ("item-1-approval", "approval", None),
        ("item-1-reversal-1", "reversal", "item-1-approval"),
    ]
    original, reversal = detail["journal_entries"]
    assert [(ln["account"], ln["debit"], ln["credit"]) for ln in reversal["lines"]] == [
        (ln["account"], ln["credit"], ln["debit"]) for ln in original["lines"]
    ]
    assert "JE-00000001-A" in reversal["memo"]
    history = [rec["event"] for rec in detail["history"]]
    assert history[-2:] == ["item.amended", "item.reversed"]

    # Back in review on the new facts: approved again, a second entry of its own.
    approve("U0BOB", T0 + timedelta(hours=1))
    detail = show("R-1")
    assert detail["ledger_ref"].startswith("file:") and detail["ledger_ref"] != first_ref
    second = detail["journal_entries"][-1]
    assert (second["idempotency_key"], second["lines"][0]["debit"]) == (
        "item-1-approval-2",
        "126.50",
    )

    # A second change reverses the second entry only; the same file again changes nothing.
    assert ingest(desk_dir, "127.00")["amended"] == 1
    assert ingest(desk_dir, "127.00")["unchanged"] == 1
    assert entries(show("R-1")) == [
        ("item-1-approval", "approval", None),
        ("item-1-reversal-1", "reversal", "item-1-approval"),
        ("item-1-approval-2", "approval", None),
        ("item-1-reversal-2", "reversal", "item-1-approval-2"),
    ]
    text = run("show", "R-1").output
    assert "journal entry JE-00000001-V2 (reversal, reverses item-1-approval-2)" in text
    deep = json.loads(run("audit", "verify", "--deep", "--json").output)
    assert deep["ok"], deep["problem"]
    assert deep["journal_entries"] == 4

    # The log says what each reversal was: a reversal made to repeat its original is caught.
    conn = sqlite3.connect(desk_dir / "recon.db")
    conn.execute(
        "UPDATE journal_entries SET lines = (SELECT lines FROM journal_entries "
        "WHERE ledger_ref = 'JE-00000001-A2') WHERE ledger_ref = 'JE-00000001-V2'"
    )
    conn.commit()
    conn.close()
    tampered = run("audit", "verify", "--deep")
    assert tampered.exit_code == 1
    assert "journal entry JE-00000001-V2: line 1's debit" in tampered.output.replace("\n", " ")


def test_a_dispute_resolved_as_adjusted_makes_its_entry(desk_dir: Path) -> None:
    assert run("init").exit_code == 0
    ingest(desk_dir, "125.00")

    async def dispute_and_adjust(c: Container) -> None:
        await c.usecases.disputes.open_dispute(
            item_id=1,
            actor="U0ALICE",
            now=T0,
            category=DisputeCategory.AMOUNT_MISMATCH,
            description="counterparty paid 5 less",
        )
        await c.usecases.disputes.resolve_dispute(
            item_id=1,
            actor="U0LEAD",
            now=T0 + timedelta(hours=2),
            outcome=DisputeOutcome.ADJUSTED,
            note="the fee was agreed by phone",
            amount=Decimal("5.00"),
        )

    on_desk(dispute_and_adjust)

    detail = show("R-1")
    assert detail["state"] == "pending"
    [entry] = detail["journal_entries"]
    assert (entry["kind"], entry["dispute_id"], entry["idempotency_key"]) == (
        "adjustment",
        "D-1-1",
        "item-1-adjustment-1",
    )
    # The example policy maps no accounts yet: the entry waits on placeholders.
    assert entry["hold"] == "no account mapping"
    assert [(ln["debit"], ln["credit"]) for ln in entry["lines"]] == [
        ("5.00", "0.00"),
        ("0.00", "5.00"),
    ]
    assert "D-1-1" in entry["memo"] and "R-1" in entry["memo"]
    resolved = [r for r in detail["history"] if r["event"] == "dispute.resolved"]
    assert len(resolved) == 1
    text = run("show", "R-1").output
    assert "journal entry JE-00000001-J1 (adjustment, dispute D-1-1)" in text
    deep = json.loads(run("audit", "verify", "--deep", "--json").output)
    assert deep["ok"], deep["problem"]
    assert deep["journal_entries"] == 1

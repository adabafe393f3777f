"""The pure replay of the log (``audit verify --deep``), on in-memory records."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

from domain.audit.merkle import leaf_hash
from domain.audit.records import GENESIS, AuditEntry, record_body
from domain.audit.replay import LogReplay, StoredItem

T0 = datetime(2024, 5, 1, 9, 0, tzinfo=UTC)
ROUTING = {
    "amount": "1500.00",
    "currency": "EUR",
    "kind": "unmatched",
    "route": "immediate",
    "team": "treasury",
    "required_approvals": 2,
    "content_hash": "c" * 64,
}


def rows(*records: tuple[str, str, str | None, dict[str, Any]]) -> list[tuple[Any, ...]]:
    """``(event, actor, to_state, data)`` of item 7, chained as the writer chains them."""
    out: list[tuple[Any, ...]] = []
    prev = GENESIS
    for seq, (event, actor, to_state, data) in enumerate(records, 1):
        entry = AuditEntry(
            time=T0 + timedelta(seconds=seq),
            event=event,
            actor=actor,
            item_id=7,
            item="R-7",
            to_state=to_state,
            policy_version="sha256:1",
            data=data,
        )
        body = record_body(entry, seq=seq, prev=prev)
        prev = leaf_hash(body)
        out.append((seq, body, prev, 7, event))
    return out


def stored(**changes: Any) -> StoredItem:
    values: dict[str, Any] = {
        "item_id": 7,
        "state": "pending",
        "currency": "EUR",
        "amount": Decimal("1500.00"),
        "amount_minor": 150000,
        "kind": "unmatched",
        "route": "immediate",
        "team": "treasury",
        "required_approvals": 2,
        "content_hash": "c" * 64,
        "policy_version": "sha256:1",
        "approvers": (),
        "decided_by": None,
        "ledger_ref": None,
    }
    return StoredItem(**{**values, **changes})


def replayed(*records: tuple[str, str, str | None, dict[str, Any]]) -> LogReplay:
    replay = LogReplay()
    assert replay.add_records(rows(*records)) is None, replay.problem
    return replay


def test_a_first_approval_of_two_leaves_the_item_undecided() -> None:
    replay = replayed(
        ("item.ingested", "system", "pending", ROUTING),
        ("item.approval_recorded", "U1", "awaiting_second_approval", {"approval": 1}),
    )

    assert replay.check_item(stored(state="awaiting_second_approval", approvers=("U1",))) is None
    assert replay.missing() is None


def test_a_rejection_voids_approvals_and_names_the_decider() -> None:
    replay = replayed(
        ("item.ingested", "system", "pending", ROUTING),
        ("item.approval_recorded", "U1", "awaiting_second_approval", {}),
        ("item.rejected", "U2", "rejected", {"reason": "not ours at all"}),
    )

    problem = replay.check_item(stored(state="rejected", approvers=("U1",), decided_by="U2"))

    assert problem is not None
    assert problem.problem == "R-7: items.approvals are by U1 but the log says nobody (record 3)"


def test_a_write_off_makes_its_approvers_the_items_and_posts_its_entry() -> None:
    lines = [
        {"account": "write-off-expense:ACME", "debit": "1500.00", "credit": "0.00"},
        {"account": "suspense:ACME", "debit": "0.00", "credit": "1500.00"},
    ]
    replay = replayed(
        ("item.ingested", "system", "pending", ROUTING),
        ("dispute.opened", "U1", "disputed", {}),
        ("dispute.write_off_approval", "U2", "disputed", {}),
        ("dispute.write_off_approval", "U3", "approved", {}),
        ("dispute.resolved", "U3", "approved", {"outcome": "written_off"}),
        ("item.posted", "system", "posted", {"ledger_ref": "JE-7-W", "lines": lines}),
    )

    assert (
        replay.check_item(
            stored(state="posted", approvers=("U2", "U3"), decided_by="U3", ledger_ref="JE-7-W")
        )
        is None
    )
    missing = replay.missing()
    assert missing is not None and missing.problem == (
        "journal entry JE-7-W (R-7) was posted in the log (record 6) but is not in the "
        "journal_entries table"
    )


def test_an_amendment_takes_the_new_amount_and_clears_the_decision() -> None:
    replay = replayed(
        ("item.ingested", "system", "pending", ROUTING),
        ("item.escalated", "U1", "escalated", {}),
        ("item.amended", "system", "pending", {**ROUTING, "amount": "1600.00"}),
    )

    problem = replay.check_item(stored())

    assert problem is not None
    assert problem.problem == "R-7: items.amount is 1500.00 but the log says 1600.00 (record 3)"


def test_a_row_whose_columns_disagree_with_its_body_stops_the_replay() -> None:
    records = rows(
        ("item.ingested", "system", "pending", ROUTING),
        ("item.claimed", "U1", "assigned", {}),
    )
    seq, body, hashed, _item_id, event = records[1]
    records[1] = (seq, body, hashed, 8, event)
    replay = LogReplay()

    assert replay.add_records(records) == 1
    assert replay.problem is not None
    assert (replay.problem.reason, replay.problem.first_bad_seq) == ("row", 2)
    assert replay.problem.problem == (
        "record 2: audit_records.item_id is 8 but its signed body says 7"
    )

"""The dispute timeline is read from an item's audit records by event name (pure)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from domain.dispute_timeline import Step, TimelineEntry, dispute_timeline

T = "2024-05-02T14:30:00.000000Z"


def record(seq: int, event: str, actor: str = "U0BOB", **data: Any) -> dict[str, Any]:
    """A decoded audit record body, as ``store.audit.log.history`` returns it."""
    return {"seq": seq, "event": event, "actor": actor, "time": T, "data": data}


LIFE = [
    record(1, "item.ingested", "system"),
    record(
        2,
        "dispute.opened",
        category="amount_mismatch",
        description="  they booked 2,450.00  ",
        expected_resolution="2024-05-10",
        proposed_adjustment="-50.00",
    ),
    record(
        3, "dispute.updated", dispute_from="open", dispute_to="awaiting_counterparty", note=None
    ),
    record(4, "dispute.note", "U0ALICE", text="called their AP desk"),
    record(5, "dispute.message", "system", user="U0CAROL", ts="1.2", text="paid", change="posted"),
    record(6, "dispute.message", "system", user="U0CAROL", ts="1.2", text="", change="deleted"),
    record(7, "dispute.updated", dispute_from="awaiting_counterparty", dispute_to="open"),
    record(
        8,
        "dispute.write_off_approval",
        approval=1,
        required=2,
        note="uncollectable",
        amount="50.00",
    ),
    record(
        9,
        "dispute.write_off_approval",
        "U0LEAD",
        approval=2,
        required=2,
        note="agreed",
        amount="50.00",
    ),
    record(
        10,
        "dispute.resolved",
        "U0LEAD",
        outcome="written_off",
        approvers=["U0BOB", "U0LEAD"],
        amount="50.00",
    ),
    record(11, "item.posted", "system"),
]


def test_every_dispute_event_becomes_one_step_in_order() -> None:
    timeline = dispute_timeline(LIFE, item_id=1042, currency="USD")
    assert [(t.seq, t.step, t.actor) for t in timeline] == [
        (2, Step.OPENED, "U0BOB"),
        (3, Step.AWAITING_COUNTERPARTY, "U0BOB"),
        (4, Step.NOTE, "U0ALICE"),
        (5, Step.MESSAGE, "U0CAROL"),  # the reply's author, not the recorder
        (6, Step.MESSAGE, "U0CAROL"),
        (7, Step.RESUMED, "U0BOB"),
        (8, Step.SIGN_OFF, "U0BOB"),
        (9, Step.SIGN_OFF, "U0LEAD"),
        (10, Step.RESOLVED, "U0LEAD"),
    ]
    assert {t.dispute for t in timeline} == {"D-1042-1"}
    assert all(t.at == datetime(2024, 5, 2, 14, 30, tzinfo=UTC) for t in timeline)


def test_each_step_says_what_happened_in_plain_words() -> None:
    by_seq = {t.seq: t for t in dispute_timeline(LIFE, item_id=1042, currency="USD")}
    assert by_seq[2] == TimelineEntry(
        dispute="D-1042-1",
        step=Step.OPENED,
        at=datetime(2024, 5, 2, 14, 30, tzinfo=UTC),
        actor="U0BOB",
        summary=(
            "opened the dispute (amount mismatch), expected by 2024-05-10, "
            "proposed adjustment -50.00 USD"
        ),
        text="they booked 2,450.00",
        seq=2,
    )
    assert by_seq[3].summary == "marked it awaiting the counterparty" and by_seq[3].text is None
    assert by_seq[4].text == "called their AP desk"
    assert (by_seq[5].summary, by_seq[5].text) == ("replied in the card's thread", "paid")
    assert (by_seq[6].summary, by_seq[6].text) == ("deleted a thread reply", None)
    assert by_seq[7].summary == "reopened it (no longer awaiting the counterparty)"
    assert by_seq[8].summary == "signed off the write-off of 50.00 USD (1 of 2)"
    assert by_seq[8].text == "uncollectable"
    assert by_seq[10].summary == "resolved it: written off, 50.00 USD"


def test_a_second_dispute_gets_the_next_id() -> None:
    records = [
        record(1, "dispute.opened", category="timing", description="late"),
        record(2, "dispute.resolved", outcome="matched", note="it arrived today", amount=None),
        record(3, "dispute.opened", category="duplicate", description="twice"),
        record(4, "dispute.note", text="asked for the remittance"),
    ]
    timeline = dispute_timeline(records, item_id=7, currency="EUR")
    assert [t.dispute for t in timeline] == ["D-7-1", "D-7-1", "D-7-2", "D-7-2"]
    assert timeline[1].summary == "resolved it: matched"
    assert timeline[1].text == "it arrived today"


def test_an_item_never_disputed_has_no_timeline() -> None:
    assert (
        dispute_timeline(
            [record(1, "item.ingested"), record(2, "item.approved")], item_id=1, currency="USD"
        )
        == []
    )


def test_odd_records_leave_parts_out_instead_of_failing() -> None:
    records: list[dict[str, Any]] = [
        {"event": "dispute.opened", "data": None, "time": "yesterday", "seq": True},
        {"event": "dispute.message", "actor": None, "data": {"change": "shouted"}, "time": 5},
        {"event": "dispute.resolved", "actor": "U0BOB", "data": {"outcome": "lost"}},
        {"event": "dispute.opened", "data": {"category": "other"}, "time": "2024-05-02T14:30:00"},
    ]
    timeline = dispute_timeline(records, item_id=9, currency="USD")
    assert [t.summary for t in timeline] == [
        "opened the dispute",
        "replied in the thread",
        "resolved it: lost",
        "opened the dispute (other)",
    ]
    assert [t.at for t in timeline] == [None, None, None, None]  # naive times are unreadable
    assert [t.seq for t in timeline] == [None, None, None, None]
    assert timeline[1].actor == "system"

"""Stage 1 statement review in Slack, end to end: the real bot against the stand-in, with
MT940 files written here and imported the way ``recon-bot statements import`` does.

The policy is the example one with a ``statements`` section: one EUR account reviewed by
treasury (alice, bob; lead), ``edit_needs_other_approver`` on.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Callable, Sequence
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from bot.container import statement_parser
from bot.setup import EXAMPLE_POLICY
from domain.statements.records import Stage1Status, Statement
from domain.usecases.statements import ImportReport
from handlers.blocks.limits import VIEW_MAX_BLOCKS
from store.tables import audit_records
from tests.e2e.conftest import (
    TREASURY,
    Desk,
    e2e_settings,
    listeners_idle,
    messages_idle,
    start_desk,
    stop_desk,
    wait_said,
)
from tests.slack_standin import SlackStandIn

ACCOUNT = "DE44500105175407324931"
STATED = f"COBADEFFXXX/{ACCOUNT}"
STATEMENTS_POLICY = f"""
statements:
  balance_tolerance: "0.001"
  auto_approve: false
  edit_needs_other_approver: true
  accounts:
    - {{account: "{ACCOUNT}", entity: ACME-DE, currency: EUR, gl_account: "1100",
       team: treasury}}
"""


@dataclass(frozen=True, slots=True)
class Entry:
    """One ``:61:`` line (signed amount) and its ``:86:`` text."""

    amount: str
    reference: str
    text: str = "transfer"


def _mt940_amount(value: Decimal) -> str:
    return f"{abs(value):.2f}".replace(".", ",")


def mt940(
    *,
    number: str,
    day: str,
    opening: str,
    entries: Sequence[Entry],
    closing: str | None = None,
) -> str:
    """One MT940 statement (``day`` as YYMMDD). ``closing`` defaults to the true one."""
    balance = Decimal(opening)
    lines = [
        f":20:STMT{number}",
        f":25:{STATED}",
        f":28C:{number}/1",
        f":60F:C{day}EUR{_mt940_amount(balance)}",
    ]
    for i, entry in enumerate(entries, start=1):
        amount = Decimal(entry.amount)
        mark = "C" if amount >= 0 else "D"
        lines.append(
            f":61:{day}{day[2:]}{mark}{_mt940_amount(amount)}NTRF{entry.reference}//BK{i:05d}"
        )
        lines.append(f":86:{entry.text}")
        balance += amount
    shown = Decimal(closing) if closing is not None else balance
    lines.append(f":62F:C{day}EUR{_mt940_amount(shown)}")
    lines.append("-")
    return "\r\n".join(lines) + "\r\n"


THREE = [Entry("1500.00", "INV-1"), Entry("-250.75", "CARD-2"), Entry("-99.25", "FEE-3")]


async def import_mt940(desk: Desk, text: str, name: str = "bank.sta") -> ImportReport:
    """Imports a file as ``recon-bot statements import`` does."""
    data = text.encode("latin-1")
    result = statement_parser()(data)
    return await desk.container.usecases.statements.import_file(
        file_name=name, data=data, result=result, now=desk.container.clock.now(), actor="operator"
    )


async def stored(desk: Desk, statement_id: int = 1) -> Statement:
    from domain.permissions import OPERATOR

    return await desk.container.usecases.statements.get(statement_id, viewer=OPERATOR)


def stmt_cards(desk: Desk, statement_id: int, revision: int) -> list[Any]:
    prefix = f"stmt.{statement_id}.r{revision}."
    return [
        m
        for m in desk.slack.messages_in(TREASURY)
        if any(str(b.get("block_id", "")).startswith(prefix) for b in m.blocks or [])
    ]


async def wait_stmt_card(
    desk: Desk, *needles: str, statement_id: int = 1, revision: int = 1, within: float = 10.0
) -> Any:
    def shows() -> Any:
        for message in stmt_cards(desk, statement_id, revision):
            if all(n in message.all_text() for n in needles):
                return message
        return None

    return await desk.slack.wait_for(
        shows, timeout=within, message=f"S-{statement_id} r{revision} card showing {needles!r}"
    )


def _modal_showing(desk: Desk, user: str, needle: str) -> Callable[[], Any]:
    def find() -> Any:
        modal = desk.slack.open_modal(user)
        return modal if modal is not None and needle in modal.all_text() else None

    return find


@pytest.fixture
async def stage1(slack: SlackStandIn, tmp_path: Path) -> AsyncIterator[Desk]:
    """A running bot whose policy knows the statement account."""
    settings = e2e_settings(tmp_path, slack)
    settings.policy.write_text(EXAMPLE_POLICY.read_text() + STATEMENTS_POLICY)
    running = await start_desk(slack, settings)
    try:
        yield running
    finally:
        await stop_desk(running)


async def test_card_posted_once_and_approve_refused_with_the_delta_while_the_chain_is_off(
    stage1: Desk, every_envelope_acked: None
) -> None:
    desk = stage1
    text = mt940(number="00001", day="261201", opening="1000.00", entries=THREE, closing="2150.05")
    report = await import_mt940(desk, text)
    assert (report.imported, report.rejected) == (1, [])
    card = await wait_stmt_card(desk, "off by -0.05 EUR")
    body = card.all_text()
    for shown in (
        "DE44…4931",  # masked, never the whole account
        "2026-12-01",
        "1,000.00 EUR",  # opening
        "2,150.05 EUR",  # closing
        "1,500.00 EUR",  # credits
        "350.00 EUR",  # debits
        "3 entries",
        "mt940",
        "bank.sta",
    ):
        assert shown in body, shown
    assert ACCOUNT not in body
    full = (await stored(desk)).sha256
    assert full in body and full[:12] in body
    assert card.button_labels() == ["Approve", "Edit", "Reject", "View entries"]

    await desk.slack.click("U0ALICE", "Approve", channel=TREASURY, ts=card.ts)
    said = await wait_said(desk, "U0ALICE", "cannot be approved", "off by -0.05 EUR")
    assert "tolerance 0.00092592" in said  # 0.001 USD in EUR at the policy rate
    assert (await stored(desk)).stage1_status is Stage1Status.PENDING_REVIEW
    # The same import again changes nothing and posts nothing.
    again = await import_mt940(desk, text)
    assert again.unchanged == 1
    await messages_idle(desk, kinds=("alert",))
    assert len(stmt_cards(desk, 1, 1)) == 1
    assert stmt_cards(desk, 1, 2) == []


async def test_edit_then_approve_shows_the_new_delta_and_maker_checker_holds(
    stage1: Desk, every_envelope_acked: None
) -> None:
    desk = stage1
    # The bank's file says 250.57 where the entry was 250.75: off by 0.18.
    entries = [Entry("1500.00", "INV-1"), Entry("-250.57", "CARD-2"), Entry("-99.25", "FEE-3")]
    await import_mt940(
        desk,
        mt940(number="00002", day="261202", opening="1000.00", entries=entries, closing="2150.00"),
    )
    card = await wait_stmt_card(desk, "off by 0.18 EUR")
    await desk.slack.click("U0BOB", "Edit", channel=TREASURY, ts=card.ts)
    await desk.slack.wait_for(lambda: desk.slack.open_modal("U0BOB"), message="edit form")
    # Mistakes come back under their field, in the ack; nothing changes.
    bad = await desk.slack.submit_modal(
        "U0BOB",
        {"Entry number": "9", "Field to correct": "Amount", "New value": "-250.75"},
    )
    assert bad.response_action == "errors" and set(bad.errors) == {"stmt_line"}
    bad = await desk.slack.submit_modal(
        "U0BOB",
        {"Entry number": "2", "Field to correct": "Amount", "New value": "-250.755"},
    )
    assert bad.response_action == "errors" and set(bad.errors) == {"stmt_value"}
    assert (await stored(desk)).edits == ()
    done = await desk.slack.submit_modal(
        "U0BOB",
        {"Entry number": "2", "Field to correct": "Amount", "New value": "-250.75"},
    )
    assert done.response_action is None
    card = await wait_stmt_card(desk, "delta 0.00 EUR, within", "1 edit by")
    # The editor is told in the card's channel, privately.
    await desk.slack.wait_for(
        lambda: any(
            "S-1 edited (entry #2, amount)" in e.all_text()
            for e in desk.slack.ephemerals_for("U0BOB", TREASURY)
        ),
        message="bob told in the channel",
    )
    after = await stored(desk)
    assert [(e.line, e.field, e.old, e.new, e.actor) for e in after.edits] == [
        (2, "amount", "-250.57", "-250.75", "U0BOB")
    ]
    # A form opened before that edit is refused in its ack: it saw another version.
    await desk.slack.click("U0ALICE", "Edit", channel=TREASURY, ts=card.ts)
    await desk.slack.wait_for(lambda: desk.slack.open_modal("U0ALICE"), message="alice's form")
    await desk.slack.click("U0BOB", "Edit", channel=TREASURY, ts=card.ts)
    await desk.slack.wait_for(lambda: desk.slack.open_modal("U0BOB"), message="bob's form")
    await desk.slack.submit_modal(
        "U0BOB", {"Entry number": "1", "Field to correct": "Reference", "New value": "INV-1A"}
    )
    await wait_stmt_card(desk, "2 edits by")
    stale = await desk.slack.submit_modal(
        "U0ALICE", {"Entry number": "1", "Field to correct": "Reference", "New value": "X"}
    )
    assert stale.response_action == "errors" and "changed since" in stale.errors["stmt_operation"]
    card = await wait_stmt_card(desk, "2 edits by")
    # Who edited may not be the only approver (the policy asks for it)...
    await desk.slack.click("U0BOB", "Approve", channel=TREASURY, ts=card.ts)
    await wait_said(desk, "U0BOB", "someone else must approve")
    assert (await stored(desk)).stage1_status is Stage1Status.PENDING_REVIEW
    # ...someone else may.
    await desk.slack.click("U0ALICE", "Approve", channel=TREASURY, ts=card.ts)
    await wait_said(desk, "U0ALICE", "S-1 approved (edited, then approved)")
    card = await wait_stmt_card(desk, "Approved")
    assert "<@U0ALICE>" in card.all_text()
    assert card.button_labels() == ["View entries"]
    events = await _audit_events(desk)
    assert events.count("statement.edited") == 2 and events.count("statement.approved") == 1
    assert len(stmt_cards(desk, 1, 1)) == 1


async def _audit_events(desk: Desk) -> list[str]:
    """The events of the audit log, oldest first."""
    stmt = select(audit_records.c.event).order_by(audit_records.c.seq)
    async with desk.container.database.reader.connect() as conn:
        return list((await conn.execute(stmt)).scalars().all())


async def test_reject_then_a_changed_reimport_posts_a_new_revision_in_review(
    stage1: Desk, every_envelope_acked: None
) -> None:
    desk = stage1
    await import_mt940(
        desk, mt940(number="00003", day="261203", opening="0.00", entries=THREE, closing="5.00")
    )
    card = await wait_stmt_card(desk, "off by")
    await desk.slack.click("U0ALICE", "Reject", channel=TREASURY, ts=card.ts)
    await desk.slack.wait_for(lambda: desk.slack.open_modal("U0ALICE"), message="reject form")
    empty = await desk.slack.submit_modal("U0ALICE", {"Reason": "   "})
    assert empty.response_action == "errors" and set(empty.errors) == {"stmt_reason"}
    await desk.slack.submit_modal("U0ALICE", {"Reason": "closing balance is wrong"})
    card = await wait_stmt_card(desk, "Rejected", "closing balance is wrong")
    assert card.button_labels() == ["View entries"]
    assert (await stored(desk)).stage1_status is Stage1Status.REJECTED

    report = await import_mt940(
        desk, mt940(number="00003", day="261203", opening="0.00", entries=THREE), name="fixed.sta"
    )
    assert report.revised == 1
    new = await wait_stmt_card(desk, "revision 2", "delta 0.00 EUR", revision=2)
    assert new.button_labels() == ["Approve", "Edit", "Reject", "View entries"]
    assert "fixed.sta" in new.all_text()
    old = await wait_stmt_card(desk, "Replaced by revision 2")
    assert old.button_labels() == []
    current = await stored(desk)
    assert (current.stage1_status, current.revision) == (Stage1Status.PENDING_REVIEW, 2)
    assert len(stmt_cards(desk, 1, 2)) == 1


async def test_view_entries_of_a_500_entry_statement_pages_forward_and_back(
    stage1: Desk, every_envelope_acked: None
) -> None:
    desk = stage1
    entries = [Entry(f"{(i % 7) - 3}.{i % 100:02d}", f"R{i:04d}") for i in range(1, 501)]
    await import_mt940(desk, mt940(number="00500", day="261204", opening="100.00", entries=entries))
    card = await wait_stmt_card(desk, "500 entries")
    await desk.slack.click("U0ALICE", "View entries", channel=TREASURY, ts=card.ts)
    modal = await desk.slack.wait_for(lambda: desk.slack.open_modal("U0ALICE"), message="entries")
    assert "Page 1 of 25" in modal.all_text() and "*#1*" in modal.all_text()
    for expected in ("Page 2 of 25", "Page 3 of 25"):
        await desk.slack.click("U0ALICE", "Next")
        modal = await desk.slack.wait_for(
            _modal_showing(desk, "U0ALICE", expected), message=expected
        )
    assert "#41*" in modal.all_text() and "ref R0060" in modal.all_text()
    assert "ref R0061" not in modal.all_text()
    await desk.slack.click("U0ALICE", "Previous")
    modal = await desk.slack.wait_for(
        _modal_showing(desk, "U0ALICE", "Page 2 of 25"), message="back to page 2"
    )
    assert "ref R0021" in modal.all_text()
    updates = [c for c in desk.slack.calls_to("views.update") if c.ok]
    opened = [c for c in desk.slack.calls_to("views.open") if c.ok]
    assert len(updates) == 3 and len(opened) == 1
    for call in [*opened, *updates]:
        view = call.params["view"]
        blocks = view["blocks"] if isinstance(view, dict) else view.blocks
        assert len(blocks) <= VIEW_MAX_BLOCKS


async def test_commands_list_and_show_statements_and_home_counts_them(
    stage1: Desk, every_envelope_acked: None
) -> None:
    desk = stage1
    await import_mt940(desk, mt940(number="00010", day="261210", opening="0.00", entries=THREE))
    await wait_stmt_card(desk, "delta 0.00 EUR")
    await desk.slack.slash_command("U0ALICE", "statements")
    said = await wait_said(desk, "U0ALICE", "Statements awaiting review (1)", "S-1")
    assert "DE44…4931" in said
    await desk.slack.slash_command("U0ALICE", "statement S-1")
    await wait_said(desk, "U0ALICE", "Bank statement S-1 · revision 1", "delta 0.00 EUR")
    # The list's Show button shows the same card, with its buttons.
    await desk.slack.slash_command("U0BOB", "statements", channel=TREASURY)
    await wait_said(desk, "U0BOB", "Statements awaiting review (1)")
    await desk.slack.click("U0BOB", "Show", channel=TREASURY)
    await desk.slack.wait_for(
        lambda: any(
            e.button_labels() == ["Approve", "Edit", "Reject", "View entries"]
            for e in desk.slack.ephemerals_for("U0BOB")
        ),
        message="the card shown to bob",
    )
    help_ack = await desk.slack.slash_command("U0ALICE", "help")
    help_text = json.dumps(help_ack.ack_payload or {})
    assert "/recon statements" in help_text and "/recon statement ID" in help_text
    await listeners_idle(desk)
    await desk.slack.open_home("U0ALICE")
    await desk.slack.wait_for(
        lambda: (
            (h := desk.slack.home_of("U0ALICE"))
            and "Bank statements awaiting review*\n1" in h.all_text()
        ),
        message="home counts the statement",
    )


async def test_someone_of_another_team_is_refused_like_for_items(
    stage1: Desk, every_envelope_acked: None
) -> None:
    desk = stage1
    await import_mt940(desk, mt940(number="00011", day="261211", opening="0.00", entries=THREE))
    card = await wait_stmt_card(desk, "delta 0.00 EUR")
    await desk.slack.click("U0DAN", "Approve", channel=TREASURY, ts=card.ts)
    await wait_said(desk, "U0DAN", "you cannot see S-1")
    await desk.slack.click("U0DAN", "View entries", channel=TREASURY, ts=card.ts)
    await desk.slack.slash_command("U0DAN", "statement S-1")
    await desk.slack.slash_command("U0DAN", "statement S-99")
    await listeners_idle(desk)
    said = desk.said_to("U0DAN")
    assert said.count("you cannot see S-1") == 3 and "you cannot see S-99" in said
    assert desk.slack.open_modal("U0DAN") is None
    assert (await stored(desk)).stage1_status is Stage1Status.PENDING_REVIEW
    await desk.slack.slash_command("U0DAN", "statements")
    await wait_said(desk, "U0DAN", "No bank statements are waiting for review")


async def test_a_double_click_on_approve_approves_once_and_the_card_stays_one(
    stage1: Desk, every_envelope_acked: None
) -> None:
    desk = stage1
    await import_mt940(desk, mt940(number="00012", day="261212", opening="0.00", entries=THREE))
    card = await wait_stmt_card(desk, "delta 0.00 EUR")
    await asyncio.gather(
        *(desk.slack.click("U0ALICE", "Approve", channel=TREASURY, ts=card.ts) for _ in range(2))
    )
    await listeners_idle(desk)
    assert (await _audit_events(desk)).count("statement.approved") == 1
    await wait_stmt_card(desk, "Approved")
    await messages_idle(desk, kinds=("alert",))
    assert len(stmt_cards(desk, 1, 1)) == 1
    assert desk.said_to("U0ALICE").count("S-1 approved") == 1
    assert (await stored(desk)).approvals[0].actor == "U0ALICE"


async def test_a_duplicated_entry_removed_and_a_missing_one_added_close_the_chain(
    stage1: Desk, every_envelope_acked: None
) -> None:
    desk = stage1
    # The bank's file has the fee twice and misses a 12.00 credit: off by -(-99.25) - 12.00.
    entries = [*THREE, Entry("-99.25", "FEE-3")]
    await import_mt940(
        desk,
        mt940(number="00013", day="261213", opening="0.00", entries=entries, closing="1162.00"),
    )
    card = await wait_stmt_card(desk, "off by -111.25 EUR", "4 entries")
    await desk.slack.click("U0BOB", "Edit", channel=TREASURY, ts=card.ts)
    await desk.slack.wait_for(lambda: desk.slack.open_modal("U0BOB"), message="edit form")
    await desk.slack.submit_modal(
        "U0BOB", {"What to do": "Remove a duplicated entry", "Entry number": "4"}
    )
    card = await wait_stmt_card(desk, "off by -12.00 EUR", "3 entries (1 removed)")
    await desk.slack.click("U0BOB", "Edit", channel=TREASURY, ts=card.ts)
    await desk.slack.wait_for(lambda: desk.slack.open_modal("U0BOB"), message="edit form")
    outside = await desk.slack.submit_modal(
        "U0BOB",
        {
            "What to do": "Add a missing entry",
            "Amount of the missing entry": "12.00",
            "Booking date of the missing entry": "2026-11-30",
        },
    )
    assert outside.response_action == "errors" and set(outside.errors) == {"stmt_date"}
    await desk.slack.submit_modal(
        "U0BOB",
        {
            "What to do": "Add a missing entry",
            "Amount of the missing entry": "12.00",
            "Booking date of the missing entry": "2026-12-13",
            "Reference of the missing entry": "LATE-CREDIT",
        },
    )
    card = await wait_stmt_card(desk, "delta 0.00 EUR", "4 entries (1 removed)", "2 edits by")
    after = await stored(desk)
    assert [(e.kind.value, e.line, e.actor) for e in after.edits] == [
        ("remove", 4, "U0BOB"),
        ("add", 5, "U0BOB"),
    ]
    assert [ln.number for ln in after.parsed_lines()] == [1, 2, 3, 4]  # the original stays
    await desk.slack.click("U0BOB", "View entries", channel=TREASURY, ts=card.ts)
    modal = await desk.slack.wait_for(_modal_showing(desk, "U0BOB", "LATE-CREDIT"), message="5")
    assert "(removed)" in modal.all_text() and "(added by a reviewer)" in modal.all_text()


async def test_each_statement_of_a_file_gets_one_card(
    stage1: Desk, every_envelope_acked: None
) -> None:
    desk = stage1
    first = mt940(number="00020", day="261220", opening="0.00", entries=THREE)
    second = mt940(number="00021", day="261221", opening="1150.00", entries=THREE[:1])
    report = await import_mt940(desk, first + second, name="two-days.sta")
    assert (report.statements, report.imported) == (2, 2)
    await wait_stmt_card(desk, "S-1", statement_id=1)
    # The second follows the first: continuity holds.
    await wait_stmt_card(desk, "follows S-1", statement_id=2)
    await messages_idle(desk, kinds=("alert",))
    assert [len(stmt_cards(desk, n, 1)) for n in (1, 2)] == [1, 1]

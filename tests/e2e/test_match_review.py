"""Matching reviewed in Slack, end to end (issue 12): the real bot against the stand-in.

A statement (MT940, written here) is approved on its Stage 1 card; the approval runs
matching for it in the serve process, which posts the summary and a card per pending
match through the outbox. Then: Accept all is refused while a duplicate check is open
(the refusal lists it), the check is resolved through the Resolve form, a card's Reject
returns both sides to the pool, an auditor is refused, Accept all succeeds, and journal
entries exist only for accepted matches.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from datetime import date
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select

from bot.setup import EXAMPLE_POLICY
from domain.gl import LedgerEntry, LedgerRow
from domain.items import EntryKind
from domain.matching.stored import CheckState, MatchRecord, MatchState, Resolution
from domain.permissions import READ_ONLY_REASON
from domain.statements.records import MatchStatus, Stage1Status
from store.tables import audit_records, journal_entries
from tests.e2e.conftest import (
    CHANNELS,
    PEOPLE,
    TREASURY,
    Desk,
    e2e_settings,
    messages_idle,
    start_desk,
    stop_desk,
    wait_said,
)
from tests.e2e.test_statement_review import (
    STATEMENTS_POLICY,
    Entry,
    import_mt940,
    mt940,
    stored,
    wait_stmt_card,
)
from tests.slack_standin import SlackStandIn

pytestmark = pytest.mark.usefixtures("every_envelope_acked")

AUDITOR = "U0READER"
GL = "1100"
DAY = date(2026, 12, 1)

#: The bank side: an exact pair (auto), two that only roughly agree (review), a fee with
#: no counterpart (unmatched), and the same line twice (a duplicate check).
ENTRIES = [
    Entry("1500.00", "INV-1001", "/NAME/ACME GMBH/REMI/USTD//INV-1001"),
    Entry("-250.75", "CARD", "/NAME/GLOBEX/REMI/USTD//card settlement"),
    Entry("-410.00", "PAYMENT", "/NAME/INITECH/REMI/USTD//supplier payment"),
    Entry("-99.25", "FEE-3", "/NAME/THE BANK/REMI/USTD//bank fee"),
    Entry("75.00", "DUP-1", "/NAME/HOOLI/REMI/USTD//refund"),
    Entry("75.00", "DUP-1", "/NAME/HOOLI/REMI/USTD//refund"),
]


def _ledger(
    entry_id: str, amount: str, day: int, reference: str | None, counterparty: str
) -> LedgerEntry:
    return LedgerEntry(
        entry_id=entry_id,
        account=GL,
        booked_on=date(2026, 12, day),
        amount=Decimal(amount),
        currency="EUR",
        reference=reference,
        counterparty=counterparty,
    )


LEDGER = [
    _ledger("GL-1", "1500.00", 1, "INV-1001", "ACME GMBH"),
    _ledger("GL-2", "-250.75", 3, "QQ-552", "GLOBEX"),
    _ledger("GL-3", "-410.00", 3, "ZZ-771", "INITECH"),
]


@pytest.fixture
async def slack() -> AsyncIterator[SlackStandIn]:
    """The e2e stand-in, with the auditor in every channel too."""
    async with SlackStandIn() as standin:
        people = {**PEOPLE, AUDITOR: "reader"}
        for user, name in people.items():
            standin.add_user(user, name)
        for channel, name in CHANNELS.items():
            standin.add_channel(channel, name, members=tuple(people))
        yield standin


@pytest.fixture
async def stage2(slack: SlackStandIn, tmp_path: Path) -> AsyncIterator[Desk]:
    """A running bot whose policy knows the statement account and an auditor."""
    settings = e2e_settings(tmp_path, slack)
    policy = EXAMPLE_POLICY.read_text().replace(
        "  # auditors: [U0EXTAUDIT]", f"  auditors: [{AUDITOR}]"
    )
    assert f"auditors: [{AUDITOR}]" in policy
    settings.policy.write_text(policy + STATEMENTS_POLICY)
    running = await start_desk(slack, settings)
    try:
        yield running
    finally:
        await stop_desk(running)


def _with_prefix(desk: Desk, prefix: str) -> list[Any]:
    return [
        m
        for m in desk.slack.messages_in(TREASURY)
        if any(str(b.get("block_id", "")).startswith(prefix) for b in m.blocks or [])
    ]


async def _wait_message(desk: Desk, prefix: str, *needles: str, within: float = 10.0) -> Any:
    def shows() -> Any:
        for message in _with_prefix(desk, prefix):
            if all(n in message.all_text() for n in needles):
                return message
        return None

    return await desk.slack.wait_for(
        shows, timeout=within, message=f"{prefix} message showing {needles!r}"
    )


async def _matches(desk: Desk, state: MatchState | None = None) -> list[MatchRecord]:
    return await desk.container.usecases.matching.matches(state=state, limit=1000)


async def _journal_count(desk: Desk) -> int:
    stmt = select(func.count()).select_from(journal_entries)
    stmt = stmt.where(journal_entries.c.kind == EntryKind.MATCH.value)
    async with desk.container.database.reader.connect() as conn:
        return int((await conn.execute(stmt)).scalar_one())


async def _refusals(desk: Desk, actor: str) -> list[dict[str, Any]]:
    stmt = (
        select(audit_records.c.body)
        .where(audit_records.c.event == "decision.refused")
        .order_by(audit_records.c.seq)
    )
    async with desk.container.database.reader.connect() as conn:
        bodies = (await conn.execute(stmt)).scalars().all()
    return [r for r in map(json.loads, bodies) if r["actor"] == actor]


async def test_approval_runs_matching_and_the_desk_reviews_it_in_slack(stage2: Desk) -> None:
    desk = stage2
    result = await desk.container.usecases.gl.import_rows(
        [LedgerRow(line=i, entry=e) for i, e in enumerate(LEDGER, start=1)],
        now=desk.container.clock.now(),
    )
    assert result is not None
    await import_mt940(
        desk, mt940(number="00001", day="261201", opening="1000.00", entries=ENTRIES)
    )
    card = await wait_stmt_card(desk, "delta 0.00 EUR")
    await desk.slack.click("U0ALICE", "Approve", channel=TREASURY, ts=card.ts)
    await wait_said(desk, "U0ALICE", "S-1 approved")
    assert (await stored(desk)).stage1_status is Stage1Status.APPROVED

    # The approval ran matching in the background: all three bands, one summary.
    summary = await _wait_message(desk, "msum.1.", "Matching · S-1")
    matches = await _matches(desk)
    auto = [m for m in matches if m.state is MatchState.AUTO_ACCEPTED]
    pending = [m for m in matches if m.state is MatchState.PENDING_REVIEW]
    assert len(auto) == 1 and len(pending) == 2, [(m.score, m.state) for m in matches]
    text = summary.all_text()
    assert "*1* auto-accepted" in text and "*2* pending review" in text
    assert "unmatched bank lines" in text and "unmatched ledger entries" in text
    checks = await desk.container.usecases.matching.checks(state=CheckState.OPEN)
    dup = [c for c in checks if c.kind.value == "duplicate_bank"]
    assert len(dup) == 1 and dup[0].id is not None
    assert f"Check {dup[0].id}" in text
    assert "Resolve" in summary.button_labels() and "Accept all (2)" in summary.button_labels()
    # One card per pending match, none for the auto-accepted one.
    for m in pending:
        shown = await _wait_message(desk, f"match.{m.id}.", f"score {m.score}")
        assert shown.button_labels() == ["Accept", "Reject"]
        assert "*Bank*" in shown.all_text() and "*Ledger*" in shown.all_text()
        assert "days apart" in shown.all_text() or "same day" in shown.all_text()
    assert _with_prefix(desk, f"match.{auto[0].id}.") == []
    assert await _journal_count(desk) == 1  # only the auto-accepted match is posted

    # Accept all is refused while the duplicate is open, and the refusal lists it.
    await desk.slack.click("U0BOB", "Accept all (2)", channel=TREASURY, ts=summary.ts)
    said = await wait_said(desk, "U0BOB", "refused", f"check {dup[0].id} (duplicate_bank)")
    assert "accept-all of statement" in said
    assert len(await _matches(desk, MatchState.PENDING_REVIEW)) == 2

    # The auditor is refused on a card, and the refusal is audited.
    first = await _wait_message(desk, f"match.{pending[0].id}.", "Accept")
    await desk.slack.click(AUDITOR, "Accept", channel=TREASURY, ts=first.ts)
    await wait_said(desk, AUDITOR, READ_ONLY_REASON)

    async def audited() -> bool:
        return len(await _refusals(desk, AUDITOR)) == 1

    await desk.slack.wait_for(audited, message="the auditor's refusal audited")
    assert (await _refusals(desk, AUDITOR))[0]["data"]["action"] == "match_accept"

    # Resolve the duplicate through the form: a blank note comes back under its field.
    await desk.slack.click("U0BOB", "Resolve", channel=TREASURY, ts=summary.ts)
    await desk.slack.wait_for(lambda: desk.slack.open_modal("U0BOB"), message="resolve form")
    bad = await desk.slack.submit_modal("U0BOB", {"Resolution": "Not a duplicate", "Note": "  "})
    assert bad.response_action == "errors" and set(bad.errors) == {"check_note"}
    done = await desk.slack.submit_modal(
        "U0BOB", {"Resolution": "Not a duplicate", "Note": "two refunds of the same order"}
    )
    assert done.response_action is None
    summary = await _wait_message(desk, "msum.1.", "*2* pending review")
    await desk.slack.wait_for(
        lambda: (
            f"Check {dup[0].id}* · duplicate bank"
            not in _with_prefix(desk, "msum.1.")[0].all_text()
        ),
        message="the summary no longer lists the resolved check",
    )
    resolved = [c for c in await desk.container.usecases.matching.checks() if c.id == dup[0].id]
    assert resolved[0].state is CheckState.RESOLVED and resolved[0].resolved_by == "U0BOB"
    assert resolved[0].note == "two refunds of the same order"
    others = [c for c in checks if c.id != dup[0].id]
    for other in others:  # any other check of the run is resolved too (Accept all waits)
        assert other.id is not None
        await desk.container.usecases.match_review.resolve_check(
            other.id,
            Resolution.EXPLAINED,
            note="looked at",
            actor="U0LEAD",
            now=desk.container.clock.now(),
        )
    assert len(_with_prefix(desk, "msum.1.")) == 1  # edited in place, never posted twice

    # Reject one card with a reason: its sides go back to the pool, the card says so.
    second = pending[1]
    card2 = await _wait_message(desk, f"match.{second.id}.", "Reject")
    await desk.slack.click("U0ALICE", "Reject", channel=TREASURY, ts=card2.ts)
    await desk.slack.wait_for(lambda: desk.slack.open_modal("U0ALICE"), message="reject form")
    empty = await desk.slack.submit_modal("U0ALICE", {"Reason": "  "})
    assert empty.response_action == "errors" and set(empty.errors) == {"match_reason"}
    await desk.slack.submit_modal("U0ALICE", {"Reason": "different supplier invoice"})
    card2 = await _wait_message(desk, f"match.{second.id}.", "Rejected", "<@U0ALICE>")
    assert card2.button_labels() == []
    statement = await stored(desk)
    for _, number in second.bank_lines:
        line = next(ln for ln in statement.lines if ln.number == number)
        assert line.match_status is MatchStatus.UNMATCHED
    async with desk.container.uow(read_only=True) as uow:
        found = await uow.gl.get_many([(k.entry_id, k.account) for k in second.ledger_entries])
    assert {s.match_status for s in found.values()} == {MatchStatus.UNMATCHED}

    # Accept all now accepts the one left; journal entries only for accepted matches.
    summary = await _wait_message(desk, "msum.1.", "Accept all (1)")
    await desk.slack.click("U0BOB", "Accept all (1)", channel=TREASURY, ts=summary.ts)
    await wait_said(desk, "U0BOB", "1 matches of S-1 accepted")
    accepted = await _matches(desk, MatchState.ACCEPTED)
    assert [m.id for m in accepted] == [pending[0].id]
    assert await _journal_count(desk) == 2
    card1 = await _wait_message(desk, f"match.{pending[0].id}.", "Accepted", "<@U0BOB>")
    assert card1.button_labels() == []
    summary = await _wait_message(desk, "msum.1.", "*0* pending review", "*1* accepted")
    assert summary.button_labels() == []
    await messages_idle(desk, kinds=("alert",))
    # Each card and the summary were posted once and edited in place.
    assert len(_with_prefix(desk, "msum.1.")) == 1
    for m in pending:
        assert len(_with_prefix(desk, f"match.{m.id}.")) == 1


async def test_matches_command_lists_and_accept_all_command_refuses_an_auditor(
    stage2: Desk,
) -> None:
    desk = stage2
    await desk.container.usecases.gl.import_rows(
        [LedgerRow(line=i, entry=e) for i, e in enumerate(LEDGER, start=1)],
        now=desk.container.clock.now(),
    )
    await import_mt940(
        desk, mt940(number="00002", day="261201", opening="1000.00", entries=ENTRIES[:3])
    )
    card = await wait_stmt_card(desk, "delta 0.00 EUR")
    await desk.slack.click("U0ALICE", "Approve", channel=TREASURY, ts=card.ts)
    await _wait_message(desk, "msum.1.", "*2* pending review")
    await desk.slack.slash_command("U0BOB", "matches S-1", channel=TREASURY)
    said = await wait_said(desk, "U0BOB", "Matches pending review of S-1 (2)")
    assert "2 of 2 shown" in said
    await desk.slack.slash_command(AUDITOR, "accept-all S-1", channel=TREASURY)
    await wait_said(desk, AUDITOR, READ_ONLY_REASON)
    assert len(await _matches(desk, MatchState.PENDING_REVIEW)) == 2
    refusals = await _refusals(desk, AUDITOR)
    assert [r["data"]["action"] for r in refusals] == ["match_accept_all"]

    # A double click on Accept accepts once, posts one journal entry, edits the card once
    # with the outcome; the second click is told the card is stale.
    target = (await _matches(desk, MatchState.PENDING_REVIEW))[0]
    card = await _wait_message(desk, f"match.{target.id}.", "Accept")
    before = await _journal_count(desk)
    await asyncio.gather(
        desk.slack.click("U0BOB", "Accept", channel=TREASURY, ts=card.ts),
        desk.slack.click("U0BOB", "Accept", channel=TREASURY, ts=card.ts),
    )
    await wait_said(desk, "U0BOB", f"M-{target.id} accepted", "changed since you opened it")
    await _wait_message(desk, f"match.{target.id}.", "Accepted", "<@U0BOB>")
    await messages_idle(desk, kinds=("alert",))
    assert await _journal_count(desk) == before + 1
    assert len(_with_prefix(desk, f"match.{target.id}.")) == 1
    updates = [
        c for c in desk.slack.calls_to("chat.update") if c.ok and c.params.get("ts") == card.ts
    ]
    assert len(updates) == 1

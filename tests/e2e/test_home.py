"""The App Home dashboard: counts, My items, Unclaimed in my teams with buttons, pages,
never over Slack's 100 blocks, refreshed (debounced) after changes that affect it."""

from __future__ import annotations

from decimal import Decimal

import pytest

from domain.intake import IntakeRow
from domain.items import ReviewState, RiskTier
from tests.builders import make_facts
from tests.e2e.conftest import QUIET, Desk, journal_of, wait_said, wait_state, wait_told

pytestmark = pytest.mark.usefixtures("every_envelope_acked")

VIEW_MAX_BLOCKS = 100


def _count(home_text: str, label: str) -> str:
    """The number shown under a dashboard count, e.g. ``_count(text, "Overdue")``."""
    for line_no, line in enumerate(lines := home_text.splitlines()):
        if label in line and line_no + 1 < len(lines):
            return lines[line_no + 1].strip()
    raise AssertionError(f"no count labelled {label!r} in:\n{home_text}")


async def _home(desk: Desk, user: str, *needles: str, within: float = 5.0) -> str:
    """Waits until ``user``'s Home shows every needle; returns its text."""

    def shows() -> str | None:
        home = desk.slack.home_of(user)
        if home is None:
            return None
        text = home.all_text()
        return text if all(n in text for n in needles) else None

    return str(
        await desk.slack.wait_for(shows, timeout=within, message=f"{user}'s Home shows {needles}")
    )


async def test_home_shows_counts_my_items_and_unclaimed_with_buttons(desk: Desk) -> None:
    claimed, *unclaimed = await desk.ingest(3, **QUIET)
    (dual,) = await desk.ingest(amount=Decimal("25000.00"), risk_tier=RiskTier.LOW)
    await desk.slack.slash_command("U0ALICE", f"assign {claimed.human_id} <@U0ALICE>")
    await wait_state(desk, claimed, ReviewState.ASSIGNED)
    await desk.slack.slash_command("U0BOB", f"approve {dual.human_id}")
    await wait_state(desk, dual, ReviewState.AWAITING_SECOND_APPROVAL)

    result = await desk.slack.open_home("U0ALICE")
    assert not result.timed_out
    # Refreshes of Alice's Home read before Bob's approval may still be on their way
    # (each publishes in turn, the last read last): wait for the view read after it.
    text = await _home(
        desk, "U0ALICE", "Reconciliation desk", "My items · 1", "Unclaimed in my teams · 2"
    )
    home = desk.slack.home_of("U0ALICE")
    assert home is not None and home.type == "home"
    assert "Refreshed" in text and "teams: treasury" in text
    assert "Unclaimed in my teams · 2" in text
    assert _count(text, "Awaiting second approval") == "1"
    assert _count(text, "Overdue") == "0"
    assert _count(text, "Open disputes") == "0"
    assert _count(text, "Dead-lettered") == "0"
    pending = [_count(text, f"Pending, {band}") for band in ("high", "medium", "low")]
    assert sum(int(n) for n in pending) == 2
    for item in (claimed, *unclaimed):
        assert item.human_id in text
    labels = home.button_labels()
    assert labels.count("Claim") == 2  # one per unclaimed row
    assert labels.count("Release") == 1  # on Alice's own item
    assert labels.count("Details") == 3
    assert "Refresh" in labels and "Next" not in labels


async def test_home_pages_through_long_lists(desk: Desk) -> None:
    await desk.ingest(23, **QUIET)
    # The compliance officer: the ingest's debounced Home refreshes go to the team's
    # reviewers and leads, so none lands between these clicks (see the test below).
    await desk.slack.open_home("U0AUDIT")
    first = await _home(desk, "U0AUDIT", "Page 1 of 3")
    assert "Unclaimed in my teams · 23" in first
    home = desk.slack.home_of("U0AUDIT")
    assert home is not None
    assert home.button_labels().count("Claim") == 10
    assert "Previous" not in home.button_labels()

    await desk.slack.click("U0AUDIT", "Next")
    await _home(desk, "U0AUDIT", "Page 2 of 3")
    await desk.slack.click("U0AUDIT", "Next")
    last = await _home(desk, "U0AUDIT", "Page 3 of 3")
    assert "Next" not in home.button_labels() and "Previous" in home.button_labels()
    assert home.button_labels().count("Claim") == 3
    assert "R-21" in last and "R-1 " not in last
    await desk.slack.click("U0AUDIT", "Previous")
    await _home(desk, "U0AUDIT", "Page 2 of 3")
    published = len(home.history)
    await desk.slack.click("U0AUDIT", "Refresh")
    await desk.slack.wait_for(lambda: len(home.history) > published, message="refreshed")
    assert "Page 2 of 3" in home.all_text()  # Refresh keeps the page


async def test_a_refresh_after_a_change_keeps_the_reviewer_on_their_page(desk: Desk) -> None:
    await desk.ingest(23, **QUIET)
    await desk.slack.open_home("U0ALICE")
    await _home(desk, "U0ALICE", "Page 1 of 3", "Unclaimed in my teams · 23")
    await desk.slack.click("U0ALICE", "Next")
    await _home(desk, "U0ALICE", "Page 2 of 3")
    home = desk.slack.home_of("U0ALICE")
    assert home is not None
    published = len(home.history)

    await desk.ingest(2, **QUIET)  # someone's change: Alice's Home is refreshed

    text = await _home(desk, "U0ALICE", "Unclaimed in my teams · 25", within=10.0)
    assert len(home.history) > published
    assert "Page 2 of 3" in text  # it used to publish page 1


def _bulk_rows(batch: int, size: int) -> list[IntakeRow]:
    tiers = (RiskTier.LOW, RiskTier.MEDIUM)
    return [
        IntakeRow(
            line=n,
            facts=make_facts(
                source="bulk",
                external_id=f"bulk-{batch}-{n}",
                amount=100 + (n * 37) % 9000,
                counterparty="Globex Ltd",
                risk_tier=tiers[n % 2],
                confidence="0.95",
                reference=None,
            ),
        )
        for n in range(size)
    ]


async def test_home_stays_under_100_blocks_with_10000_open_items(desk: Desk) -> None:
    usecases = desk.container.usecases
    for batch in range(10):
        await usecases.intake.ingest(_bulk_rows(batch, 1000), now=desk.container.clock.now())
    # Alice claims a page and a half of them, so both lists are long
    for _ in range(15):
        await usecases.claims.claim_next(actor="U0ALICE", now=desk.container.clock.now())

    await desk.slack.open_home("U0ALICE")
    text = await _home(desk, "U0ALICE", "Unclaimed in my teams · 9,985")
    home = desk.slack.home_of("U0ALICE")
    assert home is not None
    assert len(home.blocks) <= VIEW_MAX_BLOCKS
    assert "My items · 15" in text and "Page 1 of 999" in text
    pending = [_count(text, f"Pending, {band}") for band in ("high", "medium", "low")]
    assert sum(int(n.replace(",", "")) for n in pending) == 9_985
    await desk.slack.click("U0ALICE", "Next")
    await _home(desk, "U0ALICE", "Page 2 of 999")
    assert len(home.blocks) <= VIEW_MAX_BLOCKS
    # the officer sees every team; still one page
    await desk.slack.open_home("U0AUDIT")
    await _home(desk, "U0AUDIT", "Unclaimed in my teams · 9,985")
    officer = desk.slack.home_of("U0AUDIT")
    assert officer is not None and len(officer.blocks) <= VIEW_MAX_BLOCKS
    assert not [c for c in desk.slack.calls_to("views.publish") if not c.ok]


async def test_home_is_refreshed_after_a_change_that_affects_it(desk: Desk) -> None:
    (item,) = await desk.ingest(**QUIET)
    await desk.slack.open_home("U0ALICE")
    await desk.slack.open_home("U0AUDIT")
    await _home(desk, "U0ALICE", "Unclaimed in my teams · 1", "My items · 0")
    await _home(desk, "U0AUDIT", "Unclaimed in my teams · 1")
    # Bob claims it: it leaves Alice's unclaimed list, without Alice doing anything
    await desk.slack.slash_command("U0BOB", "claim")
    await wait_state(desk, item, ReviewState.ASSIGNED)
    await _home(desk, "U0ALICE", "Unclaimed in my teams · 0", within=6.0)
    # and Bob's Home (never opened) is published with it under My items
    await _home(desk, "U0BOB", "My items · 1", within=6.0)
    # the compliance officer's dashboard counts every team: it is refreshed too
    await desk.relay_idle()
    officer = desk.slack.home_of("U0AUDIT")
    assert officer is not None and "Unclaimed in my teams · 0" in officer.all_text()


async def test_home_buttons_go_through_the_same_checks(desk: Desk) -> None:
    (own,) = await desk.ingest(prepared_by="U0ALICE", **QUIET)
    (other,) = await desk.ingest(**QUIET)
    await desk.slack.open_home("U0ALICE")
    await _home(desk, "U0ALICE", own.human_id, other.human_id)
    rows = {
        item.id: f"recon.approve:{item.id}"  # each row's Approve carries its item id
        for item in (own, other)
    }
    # the preparer's own item: refused, told why (privately: a Home has no channel)
    await desk.slack.click("U0ALICE", "Approve", action_id=rows[own.id])
    await wait_said(desk, "U0ALICE", f"you prepared {own.human_id}", "maker-checker")
    unchanged = await desk.item(own.id or 0)
    assert unchanged.state is ReviewState.PENDING and unchanged.approvals == ()
    # another item: approved from the Home
    await desk.slack.click("U0ALICE", "Approve", action_id=rows[other.id])
    await wait_state(desk, other, ReviewState.POSTED)
    assert len(await journal_of(desk, other)) == 1
    await wait_said(desk, "U0ALICE", f"{other.human_id} approved. Its journal entry")


async def test_home_of_another_team_shows_only_its_items(desk: Desk) -> None:
    (treasury,) = await desk.ingest(**QUIET)
    (euro,) = await desk.ingest(entity="ACME-FR", currency="EUR", risk_tier=RiskTier.LOW)
    await desk.slack.open_home("U0DAN")
    text = await _home(desk, "U0DAN", "teams: ap-europe", euro.human_id)
    assert f"*{treasury.human_id}*" not in text
    # nor may Dan act on the treasury item by any route
    await desk.slack.slash_command("U0DAN", f"approve {treasury.human_id}")
    await wait_said(desk, "U0DAN", f"you cannot see {treasury.human_id}")
    await desk.slack.slash_command("U0DAN", f"reject {treasury.human_id} not our item at all")
    await wait_told(desk, "U0DAN", f"you cannot see {treasury.human_id}", 2)
    assert (await desk.item(treasury.id or 0)).state is ReviewState.PENDING

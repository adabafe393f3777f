"""``/recon`` as people type it: help, queue, show, claim, approve, reject, escalate,
dispute, assign and stats, and a one-line ephemeral answer for every mistake."""

from __future__ import annotations

import asyncio
from decimal import Decimal

import pytest

from domain.items import ReviewState, RiskTier
from tests.e2e.conftest import (
    QUIET,
    TREASURY,
    Desk,
    journal_of,
    private_lines,
    times_told,
    wait_card,
    wait_said,
    wait_state,
    wait_told,
)

pytestmark = pytest.mark.usefixtures("every_envelope_acked")

SUBCOMMANDS = (
    "queue",
    "show",
    "claim",
    "approve",
    "reject",
    "escalate",
    "dispute",
    "resolve",
    "note",
    "assign",
)


async def test_help_lists_every_subcommand(desk: Desk) -> None:
    for n, text in enumerate(["help", "", "   ", "HELP"], start=1):
        result = await desk.slack.slash_command("U0ALICE", text)
        assert not result.timed_out
        shown = [e for e in desk.slack.ephemerals_for("U0ALICE") if e.source == "ack"]
        assert len(shown) == n, f"/recon {text!r} was not answered in its ack"
        help_text = shown[-1].all_text()
        for sub in (*SUBCOMMANDS, "stats", "help"):
            assert f"/recon {sub}" in help_text, (text, sub)
        assert "Traceback" not in help_text and "went wrong" not in help_text


USAGE_PROBLEMS = [
    ("frobnicate", "`frobnicate` is not a /recon command"),
    ("approve", "needs an item id"),
    ("approve banana", "is not an item id"),
    ("show R-x1", "is not an item id"),
    ("reject R-1", "a reason is required"),
    ("note R-1", "write the note after the id"),
    ("resolve", "needs an item id"),
    ("queue sideways", "use `mine`, `team NAME` or `all`"),
    ("queue team", "name the team"),
    ("assign R-1 bob", "mention the person"),
    ("assign R-1", "mention the person"),
]


async def test_bad_input_gets_one_line_of_usage(desk: Desk) -> None:
    for n, (text, explains) in enumerate(USAGE_PROBLEMS, start=1):
        result = await desk.slack.slash_command("U0ALICE", text)
        assert not result.timed_out
        replies = [e for e in desk.slack.ephemerals_for("U0ALICE") if e.source == "ack"]
        assert len(replies) == n, f"/recon {text} was not answered in its ack"
        reply = replies[-1]
        assert reply.text is not None and "\n" not in reply.text, text
        assert explains in reply.text and "/recon help" in reply.text, (text, reply.text)
        assert "Traceback" not in reply.all_text()
    assert len(private_lines(desk, "U0ALICE")) == len(USAGE_PROBLEMS)  # nothing else said


UNKNOWN_THINGS = [
    # Reads, forms opened from an id and decisions say the same for a missing item as for
    # one the user may not see, so ids cannot be probed.
    ("show R-999", "you cannot see R-999"),
    ("approve R-999", "you cannot see R-999"),
    ("reject R-999 the amount is wrong", "you cannot see R-999"),
    ("escalate R-999", "you cannot see R-999"),
    ("dispute R-999", "you cannot see R-999"),
    ("assign R-999 <@U0BOB>", "you cannot see R-999"),
    ("claim", "nothing is waiting in your teams' queues"),
    ("queue team nosuchteam", "there is no team `nosuchteam`"),
    ("queue team ap-europe", "you are not a member of `ap-europe`"),
]


async def test_unknown_ids_and_teams_get_a_one_line_explanation(desk: Desk) -> None:
    for n, (text, explains) in enumerate(UNKNOWN_THINGS, start=1):
        result = await desk.slack.slash_command("U0ALICE", text)
        assert not result.timed_out

        def answered(n: int = n) -> list[str] | None:
            told = private_lines(desk, "U0ALICE")
            return told if len(told) >= n else None

        lines = await desk.slack.wait_for(answered, message=f"/recon {text} answered")
        assert len(lines) == n, f"/recon {text} was answered more than once: {lines}"
        assert explains in lines[-1], (text, lines[-1])
        assert "\n" not in lines[-1].strip() and "went wrong" not in lines[-1]
    assert desk.slack.open_modal("U0ALICE") is None
    await desk.slack.slash_command("U0CAROL", "claim")
    await wait_said(desk, "U0CAROL", "you are not a reviewer or lead of any team")


async def test_queue_lists_open_items_with_buttons_and_pages(desk: Desk) -> None:
    items = await desk.ingest(12, **QUIET)
    await desk.slack.slash_command("U0ALICE", "queue all")
    dm = desk.slack.dm_channel("U0ALICE").id

    first = await desk.slack.wait_for(
        lambda: [
            e for e in desk.slack.ephemerals_for("U0ALICE", dm) if "Next" in e.button_labels()
        ],
        message="first queue page",
    )
    (page,) = first
    text = page.all_text()
    assert "Showing 1 to 10 of 12 items" in text
    assert "Previous" not in page.button_labels()
    labels = page.button_labels()
    for label in ("Claim", "Approve", "Reject", "Details"):
        assert labels.count(label) == 10, (label, labels)

    await desk.slack.click("U0ALICE", "Next", channel=dm)
    second = await desk.slack.wait_for(
        lambda: [
            e
            for e in desk.slack.ephemerals_for("U0ALICE", dm)
            if "Showing 11 to 12" in e.all_text()
        ],
        message="second queue page",
    )
    (page2,) = second
    assert "Previous" in page2.button_labels() and "Next" not in page2.button_labels()
    listed = page.all_text() + page2.all_text()
    for item in items:
        assert f"*{item.human_id}*" in listed or f"{item.human_id} " in listed

    await desk.slack.click("U0ALICE", "Previous", channel=dm, ts=page2.ts)
    await desk.slack.wait_for(
        lambda: (
            len(
                [
                    e
                    for e in desk.slack.ephemerals_for("U0ALICE", dm)
                    if "Showing 1 to 10" in e.all_text()
                ]
            )
            == 2
        ),
        message="back to the first page",
    )


async def test_queue_mine_team_and_all_list_different_things(desk: Desk) -> None:
    treasury = await desk.ingest(2, **QUIET)
    (euro,) = await desk.ingest(entity="ACME-DE", currency="EUR", risk_tier=RiskTier.LOW)
    await desk.slack.slash_command("U0ALICE", "claim")
    await wait_said(desk, "U0ALICE", "You claimed")

    await desk.slack.slash_command("U0ALICE", "queue")
    mine = await wait_said(desk, "U0ALICE", "My items")
    assert "Showing 1 to 1 of 1 item" in mine

    await desk.slack.slash_command("U0ALICE", "queue team treasury")
    team = await wait_said(desk, "U0ALICE", "Open in treasury")
    assert "of 2 items" in team.split("Open in treasury", 1)[1]
    assert euro.human_id not in team

    await desk.slack.slash_command("U0DAN", "queue all")
    dans = await wait_said(desk, "U0DAN", "Open in my teams")
    assert euro.human_id in dans
    assert all(f"*{t.human_id}*" not in dans for t in treasury)

    await desk.slack.slash_command("U0AUDIT", "queue all")
    officer = await wait_said(desk, "U0AUDIT", "Open in my teams")
    assert "of 3 items" in officer


async def test_show_gives_the_details_privately(desk: Desk) -> None:
    (item,) = await desk.ingest(counterparty="Initech GmbH", **QUIET)
    await desk.slack.slash_command("U0BOB", f"show {item.human_id}", channel=TREASURY)
    said = await wait_said(desk, "U0BOB", item.human_id, "Initech GmbH", "History")
    assert "item.ingested" in said
    (reply,) = desk.slack.ephemerals_for("U0BOB", TREASURY)
    assert "Approve" in reply.button_labels()
    # lower-case and bare ids work too
    await desk.slack.slash_command("U0BOB", f"show {item.id}")
    await desk.slack.wait_for(lambda: len(desk.slack.ephemerals_for("U0BOB")) == 2)


async def test_an_absurdly_large_id_is_just_an_unknown_id(desk: Desk) -> None:
    await desk.slack.slash_command("U0ALICE", "show R-99999999999999999999")
    said = await desk.slack.wait_for(lambda: private_lines(desk, "U0ALICE"), message="answer")
    assert "went wrong" not in said[0]
    assert "R-99999999999999999999" in said[0]


async def test_claim_takes_the_highest_priority_item_exclusively(desk: Desk) -> None:
    small = await desk.ingest(2, **QUIET)
    (big,) = await desk.ingest(amount=Decimal("9500.00"), risk_tier=RiskTier.MEDIUM)
    (medium,) = await desk.ingest(amount=Decimal("4000.00"), risk_tier=RiskTier.LOW)
    ranked = sorted([*small, big, medium], key=lambda i: (-i.priority, i.id or 0))
    assert ranked[0].priority > ranked[-1].priority

    await desk.slack.slash_command("U0ALICE", "claim")
    await wait_said(desk, "U0ALICE", f"You claimed {ranked[0].human_id}")
    claimed = await desk.item(ranked[0].id or 0)
    assert claimed.state is ReviewState.ASSIGNED and claimed.assignee == "U0ALICE"

    await desk.slack.slash_command("U0BOB", "claim")
    await wait_said(desk, "U0BOB", f"You claimed {ranked[1].human_id}")

    # Alice's claim is hers: Bob cannot decide on it, not even by command
    await desk.slack.slash_command("U0BOB", f"approve {ranked[0].human_id}")
    await wait_said(desk, "U0BOB", f"{ranked[0].human_id} is claimed by <@U0ALICE>")
    assert (await desk.item(ranked[0].id or 0)).state is ReviewState.ASSIGNED

    await wait_card(desk, ranked[0], "<@U0ALICE>")


async def test_concurrent_claims_never_get_the_same_item(desk: Desk) -> None:
    first, second = await desk.ingest(2, **QUIET)
    await asyncio.gather(
        desk.slack.slash_command("U0ALICE", "claim"),
        desk.slack.slash_command("U0BOB", "claim"),
        desk.slack.slash_command("U0LEAD", "claim"),
    )
    await desk.slack.wait_for(
        lambda: all(private_lines(desk, u) for u in ("U0ALICE", "U0BOB", "U0LEAD")),
        message="every claim answered",
    )
    holders = {(await desk.item(i.id or 0)).assignee for i in (first, second)}
    assert len(holders) == 2 and None not in holders
    (left_out,) = {"U0ALICE", "U0BOB", "U0LEAD"} - holders
    (line,) = private_lines(desk, left_out)
    assert "nothing is waiting" in line


async def test_approve_with_a_note_posts_the_entry(desk: Desk) -> None:
    (item,) = await desk.ingest()
    card = await desk.card(item)
    await desk.slack.slash_command("U0BOB", f"approve {item.human_id} matches the wire of 3 May")
    posted = await wait_state(desk, item, ReviewState.POSTED)
    assert posted.decision_note == "matches the wire of 3 May"
    assert [a.user for a in posted.approvals] == ["U0BOB"]
    (entry,) = await journal_of(desk, item)
    assert entry.reference == posted.ledger_ref  # the ledger's, shown on the card
    await wait_said(
        desk, "U0BOB", f"{item.human_id} approved. Its journal entry {entry.ledger_ref}"
    )
    updated = await wait_card(desk, item, posted.ledger_ref or "?")
    assert updated.ts == card.ts and updated.button_labels() == []


async def test_reject_needs_a_reason_of_a_few_words(desk: Desk) -> None:
    (item,) = await desk.ingest(**QUIET)
    await desk.slack.slash_command("U0ALICE", f"reject {item.human_id} wrong")
    await wait_said(desk, "U0ALICE", "at least 3 words")
    assert (await desk.item(item.id or 0)).state is ReviewState.PENDING

    await desk.slack.slash_command("U0ALICE", f"reject {item.human_id} duplicate of the March wire")
    rejected = await wait_state(desk, item, ReviewState.REJECTED)
    assert rejected.decided_by == "U0ALICE"
    assert rejected.decision_note == "duplicate of the March wire"
    await wait_said(desk, "U0ALICE", f"{item.human_id} rejected")
    assert await journal_of(desk, item) == []
    # a settled item takes no more decisions
    await desk.slack.slash_command("U0BOB", f"approve {item.human_id}")
    await wait_said(desk, "U0BOB", f"{item.human_id} is rejected; it cannot be approved now")


async def test_escalate_with_a_reason(desk: Desk) -> None:
    (item,) = await desk.ingest(**QUIET)
    await desk.slack.slash_command("U0ALICE", f"escalate {item.human_id} counterparty disputes it")
    escalated = await wait_state(desk, item, ReviewState.ESCALATED)
    assert escalated.ladder_level >= 2
    await wait_said(desk, "U0ALICE", f"{item.human_id} is now escalated")
    # the lead hears about it, and the item gets a card (someone must look at it now)
    await wait_said(desk, "U0LEAD", f"{item.human_id} was escalated to you")
    await wait_card(desk, item, "Escalated")
    # once escalated, only leads act on it
    await desk.slack.slash_command("U0ALICE", f"approve {item.human_id}")
    await wait_said(desk, "U0ALICE", "only its team's leads may act on it")
    await desk.slack.slash_command("U0LEAD", f"dispute {item.human_id}")
    await desk.slack.wait_for(lambda: desk.slack.open_modal("U0LEAD"), message="the lead's form")
    assert (await desk.item(item.id or 0)).state is ReviewState.ESCALATED


async def test_dispute_opens_the_form(desk: Desk) -> None:
    (item,) = await desk.ingest(**QUIET)
    await desk.slack.slash_command("U0ALICE", f"dispute {item.human_id}")
    modal = await desk.slack.wait_for(lambda: desk.slack.open_modal("U0ALICE"), message="modal")
    assert item.human_id in modal.title
    for label in (
        "Category",
        "Description",
        "Counterparty contact",
        "Expected resolution date",
        "Evidence links",
        "Proposed adjustment (USD)",
    ):
        assert label in modal.input_labels()


async def test_assign_by_a_lead_hands_the_item_over(desk: Desk) -> None:
    (item,) = await desk.ingest(**QUIET)
    await desk.slack.slash_command("U0LEAD", f"assign {item.human_id} <@U0BOB>")
    assigned = await wait_state(desk, item, ReviewState.ASSIGNED)
    assert assigned.assignee == "U0BOB"
    await wait_said(desk, "U0LEAD", f"{item.human_id} is assigned to <@U0BOB>")
    await wait_said(desk, "U0BOB", f"{item.human_id} was assigned to you")
    await wait_card(desk, item, "<@U0BOB>")


async def test_assign_accepts_the_mention_formats(desk: Desk) -> None:
    """Every way Slack or a person writes the user gets past parsing (to the id check)."""
    mentions = ["<@U0BOB>", "<@U0BOB|bob>", "@U0BOB", "U0BOB"]
    for n, mention in enumerate(mentions, start=1):
        await desk.slack.slash_command("U0LEAD", f"assign R-999 {mention}")
        await wait_told(desk, "U0LEAD", "you cannot see R-999", n)
    assert times_told(desk, "U0LEAD", "mention the person") == 0


async def test_assign_is_refused_with_a_reason(desk: Desk) -> None:
    (item,) = await desk.ingest(**QUIET)
    await desk.slack.slash_command("U0ALICE", f"assign {item.human_id} <@U0BOB>")
    await wait_said(desk, "U0ALICE", "only team leads and compliance officers assign items")
    await desk.slack.slash_command("U0LEAD", f"assign {item.human_id} <@U0DAN>")
    await wait_said(desk, "U0LEAD", "<@U0DAN> is not a reviewer of treasury")
    assert (await desk.item(item.id or 0)).state is ReviewState.PENDING
    # a reviewer may take it for themselves
    await desk.slack.slash_command("U0ALICE", f"assign {item.human_id} <@U0ALICE>")
    assigned = await wait_state(desk, item, ReviewState.ASSIGNED)
    assert assigned.assignee == "U0ALICE"


OUTSIDER_COMMANDS = [
    "approve {id}",
    "approve {id} looks fine",
    "reject {id} not our bank account",
    "escalate {id} please look",
    "dispute {id}",
    "assign {id} <@U0DAN>",
]


async def test_someone_outside_the_team_is_refused_on_every_command(desk: Desk) -> None:
    (item,) = await desk.ingest(**QUIET)
    for n, template in enumerate(OUTSIDER_COMMANDS, start=1):
        result = await desk.slack.slash_command("U0DAN", template.format(id=item.human_id))
        assert not result.timed_out
        await wait_told(desk, "U0DAN", f"you cannot see {item.human_id}", n)
    assert desk.slack.open_modal("U0DAN") is None
    unchanged = await desk.item(item.id or 0)
    assert unchanged.state is ReviewState.PENDING and unchanged.version == item.version


async def test_escalating_an_escalated_item_is_still_refused_to_outsiders(desk: Desk) -> None:
    (item,) = await desk.ingest(**QUIET)
    await desk.slack.slash_command("U0ALICE", f"escalate {item.human_id} please look at it")
    await wait_state(desk, item, ReviewState.ESCALATED)
    await desk.slack.slash_command("U0DAN", f"escalate {item.human_id}")
    (line,) = await desk.slack.wait_for(lambda: private_lines(desk, "U0DAN"), message="answer")
    # Refused without learning anything about the item, not even its team.
    assert line.endswith(f"you cannot see {item.human_id}")


async def test_stats_counts_the_desk(desk: Desk) -> None:
    await desk.ingest(3, **QUIET)
    await desk.slack.slash_command("U0ALICE", "stats")
    said = await wait_said(desk, "U0ALICE", "Desk stats")
    assert "went wrong" not in said

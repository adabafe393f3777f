"""Who sees what, through every Slack read path (issue 16, finding 3).

A user sees an item when they review or lead its team, or are a compliance officer.
Everyone else (someone in no team, a reviewer of another team, the item's own preparer
when they are in no team) gets one ephemeral sentence, "you cannot see R-5", whether
R-5 exists or not, and nothing of the item: not its amount, counterparty, description,
reasons or approvals.

Example policy: treasury reviewers U0ALICE, U0BOB, lead U0LEAD; ap-europe reviewers
U0DAN, U0ERIN, lead U0LEAD2; compliance officer U0AUDIT; U0CAROL and U0PREP1 in no team.
"""

from __future__ import annotations

from dataclasses import replace
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from domain.items import Item, ReviewState, RiskTier
from tests.e2e.conftest import (
    QUIET,
    TREASURY,
    Desk,
    private_lines,
    stop_desk,
    wait_said,
    wait_state,
)
from tests.e2e.ladder_support import (
    APEU,
    StepClock,
    desk_settings,
    jobs_of,
    policy_yaml,
    start_policy_desk,
    wait_message,
)
from tests.slack_standin import SlackStandIn

pytestmark = pytest.mark.usefixtures("every_envelope_acked")

#: People who must not see a treasury item: in no team, another team's reviewer and
#: lead, and the item's preparer (in no team).
OUTSIDERS = ("U0CAROL", "U0DAN", "U0LEAD2", "U0PREP1")
#: What a treasury item of ``_secret_item`` shows to those who may see it.
SECRETS = ("4,321.09", "Globex Ltd", "wire for the Q3 hush fund")


async def _secret_item(desk: Desk, **overrides: Any) -> Item:
    """A treasury item prepared by U0PREP1, with facts that must not leak."""
    (item,) = await desk.ingest(
        amount=Decimal("4321.09"),
        counterparty="Globex Ltd",
        description="wire for the Q3 hush fund",
        prepared_by="U0PREP1",
        **overrides,
    )
    return item


async def _answer(desk: Desk, user: str, n: int) -> str:
    """Waits for the ``n``-th private message to ``user`` and returns it (the only new one)."""

    def told() -> list[str] | None:
        lines = private_lines(desk, user)
        return lines if len(lines) >= n else None

    lines = await desk.slack.wait_for(told, message=f"{user} told something ({n})")
    assert len(lines) == n, f"{user} was told more than once: {lines}"
    return str(lines[-1]).strip()


def _refused(answer: str, ref: str) -> None:
    """The whole answer is the refusal: the one sentence, nothing of the item."""
    assert answer == f":no_entry: you cannot see {ref}", answer
    for secret in SECRETS:
        assert secret not in answer


async def test_show_tells_outsiders_only_that_they_cannot_see_it(desk: Desk) -> None:
    item = await _secret_item(desk)
    for user in OUTSIDERS:
        await desk.slack.slash_command(user, f"show {item.human_id}")
        _refused(await _answer(desk, user, 1), item.human_id)
        # An id that does not exist gets the same sentence: ids cannot be probed.
        await desk.slack.slash_command(user, "show R-999")
        _refused(await _answer(desk, user, 2), "R-999")
    # The team and compliance still see everything.
    for user in ("U0ALICE", "U0LEAD", "U0AUDIT"):
        await desk.slack.slash_command(user, f"show {item.human_id}")
        await wait_said(desk, user, *SECRETS)
    # Compliance sees every item, so for them a missing one is simply missing.
    await desk.slack.slash_command("U0AUDIT", "show R-999")
    await wait_said(desk, "U0AUDIT", "there is no item R-999")


async def test_an_item_of_no_team_is_compliance_s_alone(desk: Desk) -> None:
    item = await _secret_item(desk)
    async with desk.container.uow() as uow:
        stored = await uow.items.get(item.id or 0)
        assert stored is not None
        assert await uow.items.update(replace(stored, team=None), expected_version=stored.version)
        await uow.commit()
    for user in ("U0ALICE", "U0LEAD", "U0DAN"):
        await desk.slack.slash_command(user, f"show {item.human_id}")
        _refused(await _answer(desk, user, 1), item.human_id)
    await desk.slack.slash_command("U0AUDIT", f"show {item.human_id}")
    await wait_said(desk, "U0AUDIT", *SECRETS)


async def test_the_details_button_tells_outsiders_only_that_they_cannot_see_it(
    desk: Desk,
) -> None:
    """Details sits on queue and Home rows, which outsiders are never shown; a click
    replayed from someone else's Home (Slack would never send it) still gets nothing."""
    item = await _secret_item(desk)
    await desk.relay_idle()  # the ingest's Home refreshes are out: Alice's Home stays put
    await desk.slack.open_home("U0ALICE")
    home = await desk.slack.wait_for(
        lambda: (h := desk.slack.home_of("U0ALICE")) and "Details" in h.button_labels() and h,
        message="Alice's Home with the item's Details button",
    )
    for user in OUTSIDERS:
        await desk.slack.click(user, "Details", view_id=home.id)
        _refused(await _answer(desk, user, 1), item.human_id)
    await desk.slack.click("U0BOB", "Details", view_id=home.id)
    await wait_said(desk, "U0BOB", *SECRETS)


async def test_forms_opened_from_an_id_open_nothing_for_outsiders(desk: Desk) -> None:
    item = await _secret_item(desk)
    card = await desk.card(item)
    for user in OUTSIDERS:
        n = 0
        for label in ("Reject", "Escalate", "Dispute"):
            await desk.slack.click(user, label, channel=TREASURY, ts=card.ts)
            n += 1
            _refused(await _answer(desk, user, n), item.human_id)
        for text in (f"dispute {item.human_id}", "dispute R-999"):
            await desk.slack.slash_command(user, text)
            n += 1
            _refused(await _answer(desk, user, n), text.split()[-1])
        assert desk.slack.open_modal(user) is None
    unchanged = await desk.item(item.id or 0)
    assert unchanged.state is ReviewState.PENDING and unchanged.version == item.version


async def test_a_forged_form_submission_learns_nothing_about_the_item(desk: Desk) -> None:
    """A form re-checks the item when it is submitted; an outsider's forged submission
    must not learn the item's new state from the "it changed" answer."""
    (item,) = await desk.ingest(**QUIET)
    await desk.slack.slash_command("U0ALICE", f"dispute {item.human_id}")
    form = await desk.slack.wait_for(lambda: desk.slack.open_modal("U0ALICE"), message="form")
    await desk.slack.slash_command("U0BOB", f"escalate {item.human_id} please look")
    await wait_state(desk, item, ReviewState.ESCALATED)
    result = await desk.slack.submit_modal(
        "U0DAN",
        {"Category": "Amount mismatch", "Description": "forged by someone outside the team"},
        view_id=form.id,
    )
    assert not result.timed_out
    assert not result.errors, result.errors  # nothing about the item in the form's errors
    _refused(await _answer(desk, "U0DAN", 1), item.human_id)


async def test_queues_list_only_items_of_the_viewer_s_teams(desk: Desk) -> None:
    treasury = await _secret_item(desk, risk_tier=RiskTier.LOW)
    (euro,) = await desk.ingest(entity="ACME-FR", currency="EUR", counterparty="Initech", **QUIET)
    for user in ("U0CAROL", "U0PREP1"):
        for n, scope in enumerate(("all", "mine"), start=1):
            await desk.slack.slash_command(user, f"queue {scope}")
            answer = await _answer(desk, user, n)
            assert "Nothing to review here" in answer and treasury.human_id not in answer
        await desk.slack.slash_command(user, "queue team treasury")
        assert "you are not a member of `treasury`" in await _answer(desk, user, 3)
    await desk.slack.slash_command("U0DAN", "queue all")
    answer = await _answer(desk, "U0DAN", 1)
    assert f"*{euro.human_id}*" in answer and treasury.human_id not in answer
    for secret in SECRETS:
        assert secret not in answer
    await desk.slack.slash_command("U0ALICE", "queue all")
    answer = await _answer(desk, "U0ALICE", 1)
    assert f"*{treasury.human_id}*" in answer and euro.human_id not in answer


async def test_stats_count_only_the_viewer_s_teams(desk: Desk) -> None:
    await desk.ingest(3, **QUIET)
    await desk.ingest(entity="ACME-FR", currency="EUR", **QUIET)

    async def pending_low(user: str) -> str:
        await desk.slack.slash_command(user, "stats")
        answer = await _answer(desk, user, 1)
        assert "Desk stats" in answer, answer
        return answer.split("pending low ", 1)[1].split(",", 1)[0]

    assert await pending_low("U0CAROL") == "0"
    assert await pending_low("U0PREP1") == "0"
    assert await pending_low("U0DAN") == "1"
    assert await pending_low("U0ALICE") == "3"
    assert await pending_low("U0AUDIT") == "4"


async def test_app_home_shows_only_the_viewer_s_teams(desk: Desk) -> None:
    treasury = await _secret_item(desk, risk_tier=RiskTier.LOW)
    for user in ("U0CAROL", "U0PREP1", "U0DAN"):
        await desk.slack.open_home(user)

        def home_of(user: str = user) -> str | None:
            home = desk.slack.home_of(user)
            return home.all_text() if home is not None else None

        text = str(await desk.slack.wait_for(home_of, message=f"{user}'s Home"))
        assert treasury.human_id not in text
        for secret in SECRETS:
            assert secret not in text
        assert "Nothing unclaimed in your teams." in text


# --------------------------------------------------------------------------- digests


@pytest.fixture
async def digest_desk(slack: SlackStandIn, tmp_path: Path) -> Any:
    """A desk whose digest window the test posts itself (the job called directly)."""
    running = await start_policy_desk(
        slack, desk_settings(tmp_path, slack), policy_yaml(), clock=StepClock()
    )
    try:
        yield running
    finally:
        await stop_desk(running)


async def test_digest_group_buttons_open_nothing_for_outsiders(digest_desk: Desk) -> None:
    desk = digest_desk
    await desk.ingest(2, entity="ACME-DE", currency="EUR", **QUIET)
    assert await jobs_of(desk).digest() == 1
    summary = await wait_message(desk.slack, APEU, "Digest for ap-europe")
    group = await desk.slack.wait_for(
        lambda: len(t := desk.slack.thread(APEU, summary.ts)) == 2 and t[1],
        timeout=10,
        message="the digest group",
    )
    for user in ("U0CAROL", "U0ALICE"):
        await desk.slack.click(user, "Reject all", channel=APEU, ts=group.ts)
        assert await _answer(desk, user, 1) == ":no_entry: you cannot see this digest group"
        await desk.slack.click(user, "Review individually", channel=APEU, ts=group.ts)
        assert await _answer(desk, user, 2) == ":no_entry: you cannot see this digest group"
        assert desk.slack.open_modal(user) is None

"""Ack first: every envelope is acked within Slack's 3 s, even when the service fails, and
the person is told what happened. Latencies are recorded (see conftest), never asserted."""

from __future__ import annotations

from typing import Any

import pytest

from domain.errors import NotAuthorized
from domain.items import ReviewState
from tests.e2e.conftest import (
    QUIET,
    TREASURY,
    Desk,
    listeners_idle,
    private_lines,
    wait_said,
    wait_told,
)

pytestmark = pytest.mark.usefixtures("every_envelope_acked")

WENT_WRONG = "Something went wrong on our side"


def _raise(exc: Exception) -> Any:
    async def fail(**_: Any) -> Any:
        raise exc

    return fail


async def test_a_click_is_acked_and_answered_when_the_service_fails(
    desk: Desk, monkeypatch: pytest.MonkeyPatch
) -> None:
    (item,) = await desk.ingest()
    card = await desk.card(item)
    monkeypatch.setattr(
        desk.container.usecases.decisions, "approve", _raise(RuntimeError("disk on fire"))
    )
    result = await desk.slack.click("U0ALICE", "Approve", channel=TREASURY, ts=card.ts)
    assert not result.timed_out and result.ack is not None
    said = await wait_said(desk, "U0ALICE", WENT_WRONG, "ref `")
    assert "disk on fire" not in said  # no internals shown to the user
    assert (await desk.item(item.id or 0)).state is ReviewState.PENDING


async def test_a_command_is_acked_and_answered_when_the_service_fails(
    desk: Desk, monkeypatch: pytest.MonkeyPatch
) -> None:
    (item,) = await desk.ingest(**QUIET)
    monkeypatch.setattr(desk.container.usecases.decisions, "approve", _raise(RuntimeError("boom")))
    result = await desk.slack.slash_command("U0BOB", f"approve {item.human_id}")
    assert not result.timed_out
    await wait_said(desk, "U0BOB", WENT_WRONG)
    assert (await desk.item(item.id or 0)).state is ReviewState.PENDING


async def test_a_refusal_from_the_service_reaches_the_user(
    desk: Desk, monkeypatch: pytest.MonkeyPatch
) -> None:
    (item,) = await desk.ingest()
    card = await desk.card(item)
    refusal = NotAuthorized("approvals are frozen during the month-end close")
    monkeypatch.setattr(desk.container.usecases.decisions, "approve", _raise(refusal))
    result = await desk.slack.click("U0BOB", "Approve", channel=TREASURY, ts=card.ts)
    assert not result.timed_out
    await wait_said(desk, "U0BOB", ":no_entry: approvals are frozen during the month-end close")
    assert WENT_WRONG not in desk.said_to("U0BOB")
    await desk.slack.slash_command("U0BOB", f"approve {item.human_id}")
    await wait_told(desk, "U0BOB", "approvals are frozen", 2)


async def test_a_form_is_acked_and_answered_when_the_service_fails(
    desk: Desk, monkeypatch: pytest.MonkeyPatch
) -> None:
    (item,) = await desk.ingest()
    card = await desk.card(item)
    await desk.slack.click("U0ALICE", "Reject", channel=TREASURY, ts=card.ts)
    await desk.slack.wait_for(lambda: desk.slack.open_modal("U0ALICE"), message="form")
    monkeypatch.setattr(desk.container.usecases.decisions, "reject", _raise(RuntimeError("boom")))
    result = await desk.slack.submit_modal("U0ALICE", {"Reason": "not our bank account"})
    assert not result.timed_out and result.ack is not None and result.ack.error is None
    await wait_said(desk, "U0ALICE", WENT_WRONG)
    assert (await desk.item(item.id or 0)).state is ReviewState.PENDING


async def test_the_home_tab_is_acked_when_the_dashboard_fails(
    desk: Desk, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(desk.container.usecases.queries, "dashboard", _raise(RuntimeError("boom")))
    result = await desk.slack.open_home("U0ALICE")
    assert not result.timed_out and result.ack is not None
    await wait_said(desk, "U0ALICE", WENT_WRONG)


async def test_validation_errors_travel_in_the_ack(desk: Desk) -> None:
    (item,) = await desk.ingest(**QUIET)
    await desk.slack.slash_command("U0ALICE", f"dispute {item.human_id}")
    await desk.slack.wait_for(lambda: desk.slack.open_modal("U0ALICE"), message="form")
    result = await desk.slack.submit_modal(
        "U0ALICE",
        {"Category": "Timing", "Description": "value date differs", "Evidence links": "nope"},
    )
    assert result.ack is not None and result.ack.payload is not None
    assert result.ack.payload["response_action"] == "errors"
    assert set(result.ack.payload["errors"]) == {"evidence"}
    await listeners_idle(desk)
    assert private_lines(desk, "U0ALICE") == []  # nothing else was said

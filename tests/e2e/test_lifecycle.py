"""The process around the listeners: reconnects, token checks, and a graceful stop that
lets in-flight work finish."""

from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import SecretStr

from bot.app import slack_tokens
from bot.container import SetupError
from bot.settings import Settings
from domain.items import ReviewState
from tests.e2e.conftest import (
    QUIET,
    TREASURY,
    Desk,
    stop_desk,
    wait_card,
    wait_said,
    wait_state,
    wait_told,
)


@pytest.mark.usefixtures("every_envelope_acked")
async def test_a_dropped_socket_is_survived(desk: Desk) -> None:
    await desk.slack.slash_command("U0ALICE", "stats")
    before = len(desk.slack.connections)
    assert await desk.slack.drop_sockets() == 1
    result = await desk.slack.slash_command("U0ALICE", "stats")
    assert not result.timed_out
    assert len(desk.slack.connections) > before
    assert desk.slack.connections[0].close_reason == "dropped"
    await wait_told(desk, "U0ALICE", "Desk stats", 2)


@pytest.mark.usefixtures("every_envelope_acked")
async def test_a_refresh_request_is_survived(desk: Desk) -> None:
    (item,) = await desk.ingest(**QUIET)
    assert await desk.slack.request_refresh() == 1
    result = await desk.slack.slash_command("U0BOB", "queue all")
    assert not result.timed_out and result.envelope.connection_id != 1
    dm = desk.slack.dm_channel("U0BOB").id
    await desk.slack.wait_for(
        lambda: any("Approve" in e.button_labels() for e in desk.slack.ephemerals_for("U0BOB")),
        message="Bob's queue",
    )
    click = await desk.slack.click("U0BOB", "Approve", channel=dm)
    assert not click.timed_out and click.envelope.connection_id != 1
    await wait_state(desk, item, ReviewState.POSTED)
    assert desk.slack.connections[0].refresh_requested


@pytest.mark.parametrize(
    ("bot", "app", "named"),
    [
        (None, "xapp-1-A0-1-abc", "SLACK_BOT_TOKEN is not set"),
        ("", "xapp-1-A0-1-abc", "SLACK_BOT_TOKEN is not set"),
        ("xapp-oops-wrong-one", "xapp-1-A0-1-abc", "SLACK_BOT_TOKEN does not look like a bot"),
        ("xoxb-123-456-abc", None, "SLACK_APP_TOKEN is not set"),
        ("xoxb-123-456-abc", "xoxb-123-456-abc", "SLACK_APP_TOKEN does not look like an app"),
    ],
)
def test_tokens_are_checked_with_a_clear_error(
    bot: str | None, app: str | None, named: str, tmp_path: Path
) -> None:
    settings = Settings(
        database_url=f"sqlite+aiosqlite:///{tmp_path / 'recon.db'}",
        slack_bot_token=SecretStr(bot) if bot is not None else None,
        slack_app_token=SecretStr(app) if app is not None else None,
    )
    with pytest.raises(SetupError) as caught:
        slack_tokens(settings)
    message = str(caught.value)
    assert named in message
    for secret in (bot, app):
        if secret:
            assert secret not in message  # never print a token


def test_both_tokens_missing_are_named_together() -> None:
    with pytest.raises(SetupError) as caught:
        slack_tokens(Settings(slack_bot_token=None, slack_app_token=None))
    assert "SLACK_BOT_TOKEN" in str(caught.value) and "SLACK_APP_TOKEN" in str(caught.value)
    assert slack_tokens(
        Settings(slack_bot_token=SecretStr("xoxb-1"), slack_app_token=SecretStr("xapp-1"))
    ) == ("xoxb-1", "xapp-1")


@pytest.mark.usefixtures("every_envelope_acked")
async def test_a_graceful_stop_lets_an_in_flight_listener_finish(desk: Desk) -> None:
    (item,) = await desk.ingest()
    card = await desk.card(item)
    desk.slack.delay("views.open", 0.7)
    click = await desk.slack.click("U0ALICE", "Reject", channel=TREASURY, ts=card.ts)
    assert not click.timed_out
    assert desk.server.inflight.count == 1  # acked, still opening the form
    await stop_desk(desk)
    assert desk.server.inflight.count == 0
    (opened,) = desk.slack.calls_to("views.open")
    assert opened.ok
    modal = desk.slack.open_modal("U0ALICE")
    assert modal is not None and modal.title == f"Reject {item.human_id}"


@pytest.mark.usefixtures("every_envelope_acked")
async def test_a_graceful_stop_delivers_the_last_decision(desk: Desk) -> None:
    (item,) = await desk.ingest()
    card = await desk.card(item)
    await desk.slack.click("U0BOB", "Approve", channel=TREASURY, ts=card.ts)
    await stop_desk(desk)  # at once: the decision, its entry and its card update still go out
    updated = await wait_card(desk, item, "Approved and posted", within=0.1)
    assert updated.ts == card.ts and updated.button_labels() == []
    await wait_said(desk, "U0BOB", "approved. Its journal entry", within=0.1)

"""The Slack stand-in behaves like Slack for unmodified slack_sdk and slack_bolt clients.

Web API checks use ``AsyncWebClient(base_url=standin.api_url)``; Socket Mode checks run a
real ``AsyncApp`` behind ``AsyncSocketModeHandler`` and drive it as a person would.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import pytest
from slack_bolt.adapter.socket_mode.async_handler import AsyncSocketModeHandler
from slack_bolt.async_app import AsyncAck, AsyncApp, AsyncRespond
from slack_sdk.errors import SlackApiError
from slack_sdk.socket_mode.aiohttp import SocketModeClient
from slack_sdk.socket_mode.async_client import AsyncBaseSocketModeClient
from slack_sdk.socket_mode.request import SocketModeRequest
from slack_sdk.socket_mode.response import SocketModeResponse
from slack_sdk.web.async_client import AsyncWebClient
from slack_sdk.webhook.async_client import AsyncWebhookClient

from tests.slack_standin import LIMITS, ManualClock, SlackStandIn

BOT_TOKEN = "xoxb-test"
APP_TOKEN = "xapp-test"
TREASURY = "C0TREASURY"
ALICE = "U0ALICE"
BOB = "U0BOB"

MODAL: dict[str, Any] = {
    "type": "modal",
    "callback_id": "approve_modal",
    "private_metadata": json.dumps({"item": 42}),
    "title": {"type": "plain_text", "text": "Approve break"},
    "submit": {"type": "plain_text", "text": "Approve"},
    "close": {"type": "plain_text", "text": "Cancel"},
    "blocks": [
        {
            "type": "input",
            "block_id": "amount",
            "label": {"type": "plain_text", "text": "Amount"},
            "element": {"type": "number_input", "action_id": "v", "is_decimal_allowed": True},
        },
        {
            "type": "input",
            "block_id": "reason",
            "label": {"type": "plain_text", "text": "Reason"},
            "element": {"type": "plain_text_input", "action_id": "v", "multiline": True},
        },
        {
            "type": "input",
            "block_id": "kind",
            "label": {"type": "plain_text", "text": "Kind"},
            "element": {
                "type": "static_select",
                "action_id": "v",
                "options": [
                    {"text": {"type": "plain_text", "text": "Timing"}, "value": "timing"},
                    {"text": {"type": "plain_text", "text": "Fee"}, "value": "fee"},
                ],
            },
        },
        {
            "type": "input",
            "block_id": "due",
            "optional": True,
            "label": {"type": "plain_text", "text": "Due date"},
            "element": {"type": "datepicker", "action_id": "v"},
        },
        {
            "type": "input",
            "block_id": "tags",
            "optional": True,
            "label": {"type": "plain_text", "text": "Tags"},
            "element": {
                "type": "multi_static_select",
                "action_id": "v",
                "options": [
                    {"text": {"type": "plain_text", "text": "Urgent"}, "value": "urgent"},
                    {"text": {"type": "plain_text", "text": "FX"}, "value": "fx"},
                ],
            },
        },
    ],
}


def section(text: str) -> dict[str, Any]:
    return {"type": "section", "text": {"type": "mrkdwn", "text": text}}


def button(label: str, action_id: str, value: str = "v") -> dict[str, Any]:
    return {
        "type": "button",
        "text": {"type": "plain_text", "text": label},
        "action_id": action_id,
        "value": value,
    }


def home_view(text: str) -> dict[str, Any]:
    return {
        "type": "home",
        "blocks": [section(text), {"type": "actions", "elements": [button("Refresh", "refresh")]}],
    }


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock()


@pytest.fixture
async def slack(clock: ManualClock) -> AsyncIterator[SlackStandIn]:
    async with SlackStandIn(clock=clock) as standin:
        standin.add_user(ALICE, "alice")
        standin.add_user(BOB, "bob", tz="Europe/London")
        standin.add_channel(TREASURY, "treasury", members=(ALICE, BOB))
        standin.add_channel("C0OUTSIDE", "outside", bot_is_member=False)
        standin.add_channel("C0OLD", "old-recs", archived=True)
        yield standin


@pytest.fixture
def web(slack: SlackStandIn) -> AsyncWebClient:
    return AsyncWebClient(token=BOT_TOKEN, base_url=slack.api_url)


async def slack_error(call: Any) -> SlackApiError:
    with pytest.raises(SlackApiError) as info:
        await call
    return info.value


# ============================================================================ Web API


async def test_auth_and_tokens(slack: SlackStandIn, web: AsyncWebClient) -> None:
    me = await web.auth_test()
    assert (me["user_id"], me["team_id"], me["bot_id"]) == ("U0BOT", "T0TEST", slack.bot_id)

    bad = AsyncWebClient(token="xoxb-wrong", base_url=slack.api_url)
    assert (await slack_error(bad.auth_test())).response["error"] == "invalid_auth"
    anonymous = AsyncWebClient(base_url=slack.api_url)
    assert (await slack_error(anonymous.auth_test())).response["error"] == "not_authed"
    app_level = AsyncWebClient(token=APP_TOKEN, base_url=slack.api_url)
    err = await slack_error(app_level.chat_postMessage(channel=TREASURY, text="hi"))
    assert err.response["error"] == "not_allowed_token_type"
    err = await slack_error(web.apps_connections_open(app_token=BOT_TOKEN))
    assert err.response["error"] == "not_allowed_token_type"
    opened = await web.apps_connections_open(app_token=APP_TOKEN)
    assert opened["url"].startswith(f"ws://127.0.0.1:{slack.port}/link/?ticket=")
    assert (await slack_error(web.api_call("reactions.hug"))).response["error"] == "unknown_method"
    assert [c.error for c in slack.calls_to("auth.test")] == [None, "invalid_auth", "not_authed"]


async def test_post_update_thread_and_directory(slack: SlackStandIn, web: AsyncWebClient) -> None:
    posted = await web.chat_postMessage(channel=TREASURY, text="Break #1", blocks=[section("*1*")])
    assert posted["channel"] == TREASURY and posted["message"]["bot_id"] == slack.bot_id
    reply = await web.chat_postMessage(channel=TREASURY, text="detail", thread_ts=posted["ts"])
    assert [m.ts for m in slack.thread(TREASURY, posted["ts"])] == [posted["ts"], reply["ts"]]
    assert slack.latest_message(TREASURY).is_reply  # type: ignore[union-attr]

    await web.chat_update(channel=TREASURY, ts=posted["ts"], text="Break #1 (resolved)")
    msg = slack.message(TREASURY, posted["ts"])
    assert msg is not None and msg.text == "Break #1 (resolved)"
    assert msg.blocks is not None and msg.blocks[0]["block_id"]  # kept, ids filled in
    assert [r.text for r in msg.history] == ["Break #1"]
    err = await slack_error(web.chat_update(channel=TREASURY, ts="1.000001", text="x"))
    assert err.response["error"] == "message_not_found"

    for channel, error in (
        ("C0NOPE", "channel_not_found"),
        ("C0OUTSIDE", "not_in_channel"),
        ("C0OLD", "is_archived"),
    ):
        err = await slack_error(web.chat_postMessage(channel=channel, text="x"))
        assert err.response["error"] == error

    first = await web.conversations_open(users=ALICE)
    again = await web.conversations_open(users=ALICE)
    dm = first["channel"]["id"]
    assert dm.startswith("D") and again["channel"]["id"] == dm and again["already_open"]
    await web.chat_postMessage(channel=dm, text="to the DM")
    await web.chat_postMessage(channel=ALICE, text="by user id")  # Slack routes to the DM
    assert [m.text for m in slack.messages_in(dm)] == ["to the DM", "by user id"]

    info = await web.users_info(user=BOB)
    assert info["user"]["tz"] == "Europe/London" and info["user"]["name"] == "bob"
    assert (await slack_error(web.users_info(user="U0GHOST"))).response["error"] == "user_not_found"

    await web.chat_postEphemeral(channel=TREASURY, user=ALICE, text="only you")
    assert [e.text for e in slack.ephemerals_for(ALICE)] == ["only you"]
    err = await slack_error(web.chat_postEphemeral(channel="C0OUTSIDE", user=ALICE, text="x"))
    assert err.response["error"] == "not_in_channel"


def _blocks(n: int) -> list[dict[str, Any]]:
    return [section(f"row {i}") for i in range(n)]


@pytest.mark.parametrize(
    ("kwargs", "error", "pointer"),
    [
        ({}, "no_text", None),
        ({"text": "x" * (LIMITS.message_text + 1)}, "msg_too_long", None),
        ({"blocks": _blocks(51)}, "invalid_blocks", "/blocks]"),
        ({"blocks": [section("x" * 3001)]}, "invalid_blocks", "/blocks/0/text/text]"),
        (
            {"blocks": [{"type": "header", "text": {"type": "plain_text", "text": "h" * 151}}]},
            "invalid_blocks",
            "/blocks/0/text/text]",
        ),
        (
            {"blocks": [{"type": "actions", "elements": [button("b" * 76, "a")]}]},
            "invalid_blocks",
            "/blocks/0/elements/0/text/text]",
        ),
        (
            {
                "blocks": [
                    {"type": "actions", "elements": [button("A", "same"), button("B", "same")]}
                ]
            },
            "invalid_blocks",
            "/blocks/0/elements/1/action_id]",
        ),
        (
            {"blocks": [{**section("a"), "block_id": "dup"}, {**section("b"), "block_id": "dup"}]},
            "invalid_blocks",
            "/blocks/1/block_id]",
        ),
        (
            {"blocks": [{"type": "actions", "elements": [button("A", "a" * 256)]}]},
            "invalid_blocks",
            "/blocks/0/elements/0/action_id]",
        ),
    ],
)
async def test_message_limits_answer_like_slack(
    slack: SlackStandIn,
    web: AsyncWebClient,
    kwargs: dict[str, Any],
    error: str,
    pointer: str | None,
) -> None:
    # api_call: chat_postMessage() itself warns (UserWarning) when `text` is missing.
    err = await slack_error(web.api_call("chat.postMessage", json={"channel": TREASURY, **kwargs}))
    assert err.response.status_code == 200
    assert err.response["error"] == error
    if pointer is not None:
        assert any(e.endswith(pointer) for e in err.response["errors"]), err.response["errors"]
        assert err.response["response_metadata"]["messages"][0].startswith("[ERROR] ")
    assert slack.messages_in(TREASURY) == []


async def test_action_ids_may_repeat_across_blocks(
    slack: SlackStandIn, web: AsyncWebClient
) -> None:
    rows = [
        {"type": "actions", "block_id": f"break-{i}", "elements": [button("Approve", "approve")]}
        for i in range(3)
    ]
    await web.chat_postMessage(channel=TREASURY, text="queue", blocks=rows)
    assert slack.latest_message(TREASURY).button_labels() == ["Approve"] * 3  # type: ignore[union-attr]
    with pytest.raises(AssertionError, match="3 buttons labelled 'Approve'"):
        await slack.click(ALICE, "Approve", channel=TREASURY)
    slack.connect_timeout = 0.05  # no bot is connected in this test: the lookup succeeded
    with pytest.raises(AssertionError, match="no Socket Mode connection"):
        await slack.click(ALICE, "Approve", channel=TREASURY, block_id="break-1")


async def test_trigger_ids_are_single_use_and_expire(
    slack: SlackStandIn, web: AsyncWebClient, clock: ManualClock
) -> None:
    trigger = slack.mint_trigger(ALICE)
    bad_title = {**MODAL, "title": {"type": "plain_text", "text": "t" * 25}}
    err = await slack_error(web.views_open(trigger_id=trigger, view=bad_title))
    assert err.response["error"] == "invalid_arguments"
    assert err.response["response_metadata"]["messages"] == [
        "[ERROR] must be less than 25 characters [json-pointer:/view/title/text]"
    ]
    opened = await web.views_open(trigger_id=trigger, view=MODAL)  # a failed call does not use it
    assert slack.open_modal(ALICE).id == opened["view"]["id"]  # type: ignore[union-attr]
    err = await slack_error(web.views_open(trigger_id=trigger, view=MODAL))
    assert err.response["error"] == "exchanged_trigger_id"

    late = slack.mint_trigger(ALICE)
    clock.advance(LIMITS.trigger_ttl_s + 0.01)
    err = await slack_error(web.views_push(trigger_id=late, view=MODAL))
    assert err.response["error"] == "expired_trigger_id"
    err = await slack_error(web.views_open(trigger_id="123.456.nope", view=MODAL))
    assert err.response["error"] == "invalid_trigger_id"


async def test_view_rules(slack: SlackStandIn, web: AsyncWebClient) -> None:
    err = await slack_error(web.views_publish(user_id=ALICE, view=MODAL))
    assert err.response["error"] == "invalid_arguments"
    err = await slack_error(
        web.views_open(trigger_id=slack.mint_trigger(ALICE), view=home_view("h"))
    )
    assert err.response["error"] == "invalid_arguments"
    too_big = {**MODAL, "private_metadata": "m" * 3001, "blocks": _blocks(101)}
    err = await slack_error(web.views_open(trigger_id=slack.mint_trigger(ALICE), view=too_big))
    messages = err.response["response_metadata"]["messages"]
    assert any("[json-pointer:/view/blocks]" in m for m in messages)
    assert any("[json-pointer:/view/private_metadata]" in m for m in messages)

    published = await web.views_publish(user_id=ALICE, view=home_view("v1"))
    home_hash = published["view"]["hash"]
    await web.views_publish(user_id=ALICE, view=home_view("v2"), hash=home_hash)
    err = await slack_error(web.views_publish(user_id=ALICE, view=home_view("v3"), hash=home_hash))
    assert err.response["error"] == "hash_conflict"
    assert "v2" in slack.home_of(ALICE).all_text()  # type: ignore[union-attr]

    root = (await web.views_open(trigger_id=slack.mint_trigger(ALICE), view=MODAL))["view"]
    for _ in range(LIMITS.modal_stack_depth - 1):
        await web.views_push(trigger_id=slack.mint_trigger(ALICE), view=MODAL)
    err = await slack_error(web.views_push(trigger_id=slack.mint_trigger(ALICE), view=MODAL))
    assert err.response["error"] == "push_limit_reached"
    updated = await web.views_update(view_id=root["id"], hash=root["hash"], view=MODAL)
    err = await slack_error(web.views_update(view_id=root["id"], hash=root["hash"], view=MODAL))
    assert err.response["error"] == "hash_conflict"
    assert updated["view"]["root_view_id"] == root["id"]
    err = await slack_error(web.views_update(external_id="nope", view=MODAL))
    assert err.response["error"] == "not_found"


async def test_fault_injection(
    slack: SlackStandIn, web: AsyncWebClient, clock: ManualClock
) -> None:
    slack.fail_next("chat.postMessage", status=429, retry_after=7)
    err = await slack_error(web.chat_postMessage(channel=TREASURY, text="x"))
    assert err.response.status_code == 429 and err.response["error"] == "ratelimited"
    assert err.response.headers["Retry-After"] == "7"

    slack.fail_next("chat.postMessage", status=503, times=2)
    for _ in range(2):
        err = await slack_error(web.chat_postMessage(channel=TREASURY, text="x"))
        assert err.response.status_code == 503
    slack.fail_next("*", error="channel_not_found", channel="C0ELSEWHERE")
    await web.chat_postMessage(channel=TREASURY, text="unaffected")
    err = await slack_error(web.chat_postMessage(channel="C0ELSEWHERE", text="x"))
    assert err.response["error"] == "channel_not_found"

    slack.rate_limit("chat.postMessage", per_channel_per_second=1.0)
    await web.chat_postMessage(channel=TREASURY, text="a")
    err = await slack_error(web.chat_postMessage(channel=TREASURY, text="b"))
    assert err.response.status_code == 429 and err.response.headers["Retry-After"] == "1"
    dm = (await web.conversations_open(users=BOB))["channel"]["id"]
    await web.chat_postMessage(channel=dm, text="other channel, own bucket")
    clock.advance(1.0)
    await web.chat_postMessage(channel=TREASURY, text="c")
    assert [m.text for m in slack.messages_in(TREASURY)] == ["unaffected", "a", "c"]
    assert [c.status for c in slack.calls_to("chat.postMessage")].count(429) == 2


async def test_history_pages_newest_first_with_metadata_on_request(
    slack: SlackStandIn, web: AsyncWebClient
) -> None:
    meta = {"event_type": "recon_test", "event_payload": {"key": "k1", "n": 1}}
    first = await web.chat_postMessage(channel=TREASURY, text="m0", metadata=meta)
    assert first["message"]["metadata"] == meta
    for n in range(1, 5):
        await web.chat_postMessage(channel=TREASURY, text=f"m{n}")
    await web.chat_postMessage(channel=TREASURY, text="reply", thread_ts=first["ts"])
    deleted = await web.chat_postMessage(channel=TREASURY, text="gone")
    await web.chat_delete(channel=TREASURY, ts=deleted["ts"])

    seen: list[str] = []
    cursor = None
    while True:
        page = await web.conversations_history(channel=TREASURY, limit=2, cursor=cursor)
        seen += [m["text"] for m in page["messages"]]
        assert all("metadata" not in m for m in page["messages"])  # not asked for
        if not page["has_more"]:
            assert "response_metadata" not in page
            break
        cursor = page["response_metadata"]["next_cursor"]
    assert seen == ["m4", "m3", "m2", "m1", "m0"]  # no replies, no deleted messages

    with_meta = await web.conversations_history(
        channel=TREASURY, include_all_metadata=True, oldest=first["ts"], inclusive=True
    )
    assert [m["text"] for m in with_meta["messages"]][-1] == "m0"
    assert with_meta["messages"][-1]["metadata"] == meta
    after = await web.conversations_history(channel=TREASURY, oldest=first["ts"])
    assert "m0" not in [m["text"] for m in after["messages"]]  # oldest is exclusive

    err = await slack_error(web.conversations_history(channel="C0OUTSIDE"))
    assert err.response["error"] == "not_in_channel"
    err = await slack_error(web.conversations_history(channel="C0NOPE"))
    assert err.response["error"] == "channel_not_found"
    err = await slack_error(web.conversations_history(channel=TREASURY, cursor="%%%"))
    assert err.response["error"] == "invalid_cursor"


async def test_a_held_answer_leaves_only_on_release(
    slack: SlackStandIn, web: AsyncWebClient
) -> None:
    hold = slack.hold_response("chat.postMessage", channel=TREASURY)
    call = asyncio.ensure_future(web.chat_postMessage(channel=TREASURY, text="held"))
    await asyncio.wait_for(hold.reached.wait(), 5)
    assert [m.text for m in slack.messages_in(TREASURY)] == ["held"]  # Slack did the work
    await asyncio.sleep(0.05)
    assert not call.done()
    hold.release()
    answer = await asyncio.wait_for(call, 5)
    assert answer["ts"] == slack.messages_in(TREASURY)[0].ts
    await web.chat_postMessage(channel=TREASURY, text="not held")  # one call only


async def test_response_urls(slack: SlackStandIn, web: AsyncWebClient) -> None:
    posted = await web.chat_postMessage(channel=TREASURY, text="q", blocks=[section("Break #7")])
    url = slack.mint_response_url(
        user=ALICE, channel=TREASURY, origin="block_actions", message_ts=posted["ts"]
    )
    hook = AsyncWebhookClient(url)
    assert (await hook.send(text="just for you")).status_code == 200
    assert (await hook.send(text="everyone", response_type="in_channel")).status_code == 200
    assert (await hook.send(text="Break #7 approved", replace_original=True)).status_code == 200
    too_long = await hook.send(text="x", blocks=[section("y" * 3001)])
    assert (too_long.status_code, too_long.body) == (400, "invalid_blocks")
    await hook.send(delete_original=True)
    assert (await hook.send(text="sixth")).body == "used_url"
    assert [e.text for e in slack.ephemerals_for(ALICE)] == ["just for you"]
    original = slack.message(TREASURY, posted["ts"])
    assert original is not None and original.deleted and original.text == "Break #7 approved"
    assert [m.text for m in slack.messages_in(TREASURY)] == ["everyone"]
    assert [p.replace_original for p in slack.response_posts][:3] == [False, False, True]


# ============================================================================ Socket Mode


def build_app(slack: SlackStandIn) -> AsyncApp:
    """A small real Bolt app exercising commands, buttons, modals and the home tab."""
    app = AsyncApp(client=AsyncWebClient(token=BOT_TOKEN, base_url=slack.api_url))

    @app.command("/recon")
    async def recon(ack: AsyncAck, command: dict[str, Any], client: AsyncWebClient) -> None:
        if command["text"] == "help":
            await ack(text="Usage: /recon queue mine")
            return
        await ack()
        await client.chat_postMessage(
            channel=command["channel_id"],
            text=f"Queue for <@{command['user_id']}>",
            blocks=[
                section("Break #1: 10.00 USD"),
                {"type": "actions", "elements": [button("Approve", "approve", "break-1")]},
            ],
        )

    @app.action("approve")
    async def approve(
        ack: AsyncAck, body: dict[str, Any], client: AsyncWebClient, respond: AsyncRespond
    ) -> None:
        await ack()
        await client.views_open(trigger_id=body["trigger_id"], view=MODAL)
        await respond(text="Opening the approval form")  # via the response_url

    @app.view("approve_modal")
    async def submitted(ack: AsyncAck, view: dict[str, Any], client: AsyncWebClient) -> None:
        values = view["state"]["values"]
        if not values["reason"]["v"]["value"].strip(".").strip():
            await ack(response_action="errors", errors={"reason": "Say why"})
            return
        await ack()
        kind = values["kind"]["v"]["selected_option"]["value"]
        tags = [o["value"] for o in values["tags"]["v"]["selected_options"]]
        await client.chat_postMessage(
            channel=TREASURY,
            text=f"Approved {values['amount']['v']['value']} ({kind}, "
            f"due {values['due']['v']['selected_date']}, tags {tags}, "
            f"meta {json.loads(view['private_metadata'])['item']})",
        )

    @app.event("app_home_opened")
    async def home(event: dict[str, Any], client: AsyncWebClient) -> None:
        await client.views_publish(user_id=event["user"], view=home_view("Your queue: 1"))

    @app.action("refresh")
    async def refresh(ack: AsyncAck) -> None:
        await ack()

    @app.event("message")  # every subtype: edits and deletions too
    async def message(ack: AsyncAck) -> None:
        await ack()

    return app


@pytest.fixture
async def bot(slack: SlackStandIn) -> AsyncIterator[AsyncSocketModeHandler]:
    handler = AsyncSocketModeHandler(build_app(slack), APP_TOKEN, ping_interval=0.2)
    await handler.connect_async()  # type: ignore[no-untyped-call]
    try:
        yield handler
    finally:
        await handler.close_async()  # type: ignore[no-untyped-call]


async def test_bolt_app_end_to_end(slack: SlackStandIn, bot: AsyncSocketModeHandler) -> None:
    helped = await slack.slash_command(ALICE, "help", channel=TREASURY)
    assert helped.ack_payload == {"text": "Usage: /recon queue mine"}
    assert [e.text for e in slack.ephemerals_for(ALICE, TREASURY)] == ["Usage: /recon queue mine"]

    run = await slack.slash_command(ALICE, "queue mine", channel=TREASURY)
    assert run.ack is not None and run.ack_payload is None and run.latency_ms is not None
    queue = await slack.wait_for(lambda: slack.latest_message(TREASURY))
    assert queue.button_labels() == ["Approve"]
    assert slack.envelopes[-1].payload["trigger_id"] == run.trigger_id

    with pytest.raises(AssertionError, match=r"buttons there|messages with buttons"):
        await slack.click(ALICE, "Reject", channel=TREASURY)
    clicked = await slack.click(ALICE, "Approve", channel=TREASURY)
    assert clicked.payload["actions"][0]["value"] == "break-1"
    assert clicked.payload["message"]["ts"] == queue.ts
    modal = await slack.wait_for(lambda: slack.open_modal(ALICE))
    assert modal.callback_id == "approve_modal" and modal.input_labels()[0] == "Amount"

    rejected = await slack.submit_modal(ALICE, {"Amount": "10.5", "Reason": "...", "Kind": "Fee"})
    assert rejected.response_action == "errors" and rejected.errors == {"reason": "Say why"}
    assert rejected.modal_after is modal  # Slack keeps the modal open with the errors
    with pytest.raises(AssertionError, match="no option 'Bogus'"):
        await slack.submit_modal(ALICE, {"Kind": "Bogus"})

    await slack.wait_for(lambda: slack.response_posts)
    assert slack.ephemerals_for(ALICE, TREASURY)[-1].text == "Opening the approval form"
    done = await slack.submit_modal(
        ALICE, {"Reason": "timing difference", "Due date": "2026-01-31", "Tags": ["FX"]}
    )
    assert done.response_action is None and done.modal_after is None
    assert done.view is not None and done.view.closed
    # Wait for the new message itself: under load the previous one is still the latest.
    approved = await slack.wait_for(
        lambda: (
            (m := slack.latest_message(TREASURY)) and (m.text or "").startswith("Approved") and m
        )
    )
    assert approved.text == "Approved 10.5 (fee, due 2026-01-31, tags ['fx'], meta 42)"

    opened = await slack.open_home(BOB)
    assert opened.envelope.type == "events_api" and opened.envelope.retry_attempt == 0
    home = await slack.wait_for(lambda: slack.home_of(BOB))
    assert "Your queue: 1" in home.all_text()
    await slack.as_user(BOB).click("Refresh")

    kinds = [(a.envelope_type, a.late, a.duplicate) for a in slack.acks]
    assert kinds == [("slash_commands", False, False)] * 2 + [("interactive", False, False)] * 3 + [
        ("events_api", False, False),
        ("interactive", False, False),
    ]
    assert len(slack.ack_latencies_ms()) == 7 and all(ms < 3000 for ms in slack.ack_latencies_ms())
    assert not slack.ack_timeouts


async def test_bolt_survives_refresh_and_dropped_sockets(
    slack: SlackStandIn, bot: AsyncSocketModeHandler
) -> None:
    await slack.wait_connected()
    assert await slack.request_refresh() == 1
    first = await slack.slash_command(ALICE, "queue mine", channel=TREASURY)
    assert first.envelope.connection_id == 2  # delivered on the replacement connection
    await slack.wait_for(lambda: slack.connections[0].closed_at is not None)
    assert slack.connections[0].refresh_requested

    assert await slack.drop_sockets() == 1
    second = await slack.slash_command(ALICE, "queue mine", channel=TREASURY)
    assert second.ack is not None and second.envelope.connection_id == 3
    assert slack.connections[1].close_reason == "dropped"
    assert len(slack.calls_to("apps.connections.open")) == 3
    await slack.wait_for(lambda: len(slack.messages_in(TREASURY)) == 2)


async def test_unacked_envelopes_time_out_and_are_redelivered() -> None:
    async with SlackStandIn(ack_timeout=0.2, redeliver_unacked=True) as slack:
        seen: list[SocketModeRequest] = []

        async def listener(client: AsyncBaseSocketModeClient, req: SocketModeRequest) -> None:
            seen.append(req)
            if req.retry_attempt:  # ignore the first delivery, ack the retry
                await client.send_socket_mode_response(SocketModeResponse(req.envelope_id))

        client = SocketModeClient(
            app_token=APP_TOKEN,
            web_client=AsyncWebClient(base_url=slack.api_url),
            ping_interval=0.2,
        )
        client.socket_mode_request_listeners.append(listener)
        try:
            await client.connect()  # type: ignore[no-untyped-call]
            first = await slack.deliver_event(
                {"type": "app_mention", "text": "hi"}, require_ack=False
            )
            assert first.timed_out and first.ack is None
            retry = await slack.wait_for(lambda: next((a for a in slack.acks if not a.late), None))
            env = slack.envelope(retry.envelope_id)
            assert env is not None and env.redelivery_of == first.envelope_id
            assert (env.retry_attempt, env.retry_reason) == (1, "timeout")
            assert [r.retry_attempt for r in seen] == [0, 1]
            assert slack.ack_timeouts == [first.envelope]

            again = await slack.redeliver(env.envelope_id, reason="manual")
            await slack.wait_for(lambda: again.ack is not None)
            assert seen[-1].payload["event_id"] == seen[0].payload["event_id"]  # same event
        finally:
            await client.close()  # type: ignore[no-untyped-call]


async def test_view_submission_response_actions_and_ack_deadline() -> None:
    async with SlackStandIn(ack_timeout=0.2) as slack:
        slack.add_user(ALICE, "alice")

        async def listener(client: AsyncBaseSocketModeClient, req: SocketModeRequest) -> None:
            if req.type != "interactive":
                return  # never acks slash commands: Slack records a timeout
            values = req.payload["view"]["state"]["values"]
            wanted = values["reason"]["v"]["value"]
            body: dict[str, Any] = {"response_action": wanted}
            if wanted in ("update", "push"):
                body["view"] = {**MODAL, "title": {"type": "plain_text", "text": wanted}}
            await client.send_socket_mode_response(SocketModeResponse(req.envelope_id, body))

        client = SocketModeClient(
            app_token=APP_TOKEN,
            web_client=AsyncWebClient(base_url=slack.api_url),
            ping_interval=0.2,
        )
        client.socket_mode_request_listeners.append(listener)
        web = AsyncWebClient(token=BOT_TOKEN, base_url=slack.api_url)
        try:
            await client.connect()  # type: ignore[no-untyped-call]
            silent = await slack.slash_command(ALICE, "queue", require_ack=False)
            assert silent.timed_out and slack.ack_timeouts == [silent.envelope]
            with pytest.raises(AssertionError, match="did not ack"):
                await slack.slash_command(ALICE, "queue")

            await web.views_open(trigger_id=slack.mint_trigger(ALICE), view=MODAL)
            filled = {"Amount": "1", "Kind": "Timing"}
            pushed = await slack.submit_modal(ALICE, {**filled, "Reason": "push"})
            assert [v.title for v in slack.modal_stack(ALICE)] == ["Approve break", "push"]
            updated = await slack.submit_modal(ALICE, {**filled, "Reason": "update"})
            assert updated.modal_after is not None and updated.modal_after.title == "update"
            assert updated.modal_after.history  # the pushed view, updated in place
            await slack.submit_modal(ALICE, {**filled, "Reason": "clear"})
            assert slack.open_modal(ALICE) is None and pushed.view is not None
            assert all(v.closed for v in slack.views.values())
        finally:
            await client.close()  # type: ignore[no-untyped-call]


async def test_a_dropped_answer_never_arrives_but_the_work_is_done(
    slack: SlackStandIn, web: AsyncWebClient
) -> None:
    hold = slack.drop_response("chat.postMessage", channel=TREASURY)
    once = AsyncWebClient(token=BOT_TOKEN, base_url=slack.api_url, retry_handlers=[])
    with pytest.raises(aiohttp.ClientError):
        await once.chat_postMessage(channel=TREASURY, text="dropped")
    assert hold.reached.is_set()
    assert [m.text for m in slack.messages_in(TREASURY)] == ["dropped"]  # Slack did the work
    await web.chat_postMessage(channel=TREASURY, text="answered")  # one call only


async def test_an_unreachable_slack_answers_nothing_until_reachable_again(
    slack: SlackStandIn, web: AsyncWebClient
) -> None:
    slack.unreachable()
    posting = asyncio.ensure_future(web.chat_postMessage(channel=TREASURY, text="later"))
    done, _ = await asyncio.wait({posting}, timeout=0.3)
    assert not done and slack.messages_in(TREASURY) == []  # no answer, nothing done yet
    slack.reachable()
    answer = await asyncio.wait_for(posting, timeout=5)
    assert answer["ok"] and [m.text for m in slack.messages_in(TREASURY)] == ["later"]


async def test_replies_page_the_parent_then_replies_oldest_first(
    slack: SlackStandIn, web: AsyncWebClient
) -> None:
    meta = {"event_type": "recon_test", "event_payload": {"key": "r2"}}
    parent = await web.chat_postMessage(channel=TREASURY, text="parent")
    await web.chat_postMessage(channel=TREASURY, text="elsewhere")
    replies = [
        await web.chat_postMessage(
            channel=TREASURY, text=f"r{n}", thread_ts=parent["ts"], metadata=meta
        )
        for n in range(1, 5)
    ]
    await web.chat_delete(channel=TREASURY, ts=replies[2]["ts"])

    seen: list[str] = []
    cursor = None
    while True:
        page = await web.conversations_replies(
            channel=TREASURY, ts=parent["ts"], limit=2, cursor=cursor
        )
        seen += [m["text"] for m in page["messages"]]
        assert all("metadata" not in m for m in page["messages"])  # not asked for
        if not page["has_more"]:
            assert "response_metadata" not in page
            break
        cursor = page["response_metadata"]["next_cursor"]
    assert seen == ["parent", "r1", "r2", "r4"]  # no other thread, no deleted reply

    # A reply's ts names its thread too; metadata only when asked for.
    whole = await web.conversations_replies(
        channel=TREASURY, ts=replies[0]["ts"], include_all_metadata=True
    )
    assert [m["text"] for m in whole["messages"]] == ["parent", "r1", "r2", "r4"]
    assert whole["messages"][1]["metadata"] == meta and "metadata" not in whole["messages"][0]
    alone = await web.conversations_replies(channel=TREASURY, ts=parent["ts"], limit=1)
    assert [m["text"] for m in alone["messages"]] == ["parent"] and alone["has_more"]

    err = await slack_error(web.conversations_replies(channel=TREASURY, ts="1.000001"))
    assert err.response["error"] == "thread_not_found"
    err = await slack_error(web.conversations_replies(channel="C0OUTSIDE", ts=parent["ts"]))
    assert err.response["error"] == "not_in_channel"
    err = await slack_error(
        web.conversations_replies(channel=TREASURY, ts=parent["ts"], cursor="%%%")
    )
    assert err.response["error"] == "invalid_cursor"


async def test_peoples_replies_edits_and_deletions_are_message_events(
    slack: SlackStandIn, web: AsyncWebClient, bot: AsyncSocketModeHandler
) -> None:
    parent = await web.chat_postMessage(channel=TREASURY, text="card")
    posted = await slack.post_reply(BOB, TREASURY, parent["ts"], "first")
    assert posted.delivery is not None and posted.delivery.envelope.type == "events_api"
    event = posted.delivery.payload["event"]
    assert posted.delivery.payload["type"] == "event_callback"
    assert posted.delivery.payload["event_id"].startswith("Ev")
    assert {k: event[k] for k in ("type", "user", "text", "ts", "thread_ts", "channel")} == {
        "type": "message",
        "user": BOB,
        "text": "first",
        "ts": posted.message.ts,
        "thread_ts": parent["ts"],
        "channel": TREASURY,
    }
    assert event["channel_type"] == "channel" and "subtype" not in event
    assert event["parent_user_id"] == slack.bot_user_id and "bot_id" not in event
    thread = await web.conversations_replies(channel=TREASURY, ts=parent["ts"])
    assert [(m["user"], m["text"]) for m in thread["messages"]][1:] == [(BOB, "first")]

    with pytest.raises(AssertionError, match="cant_update_message"):
        await slack.edit_message(ALICE, TREASURY, posted.message.ts, "not hers")
    edited = await slack.edit_message(BOB, TREASURY, posted.message.ts, "second")
    assert edited.delivery is not None
    change = edited.delivery.payload["event"]
    assert (change["subtype"], change["hidden"], change["ts"]) == (
        "message_changed",
        True,
        edited.message.edited_ts,
    )
    assert change["message"]["text"] == "second" and change["previous_message"]["text"] == "first"
    assert change["message"]["edited"] == {"user": BOB, "ts": edited.message.edited_ts}
    assert change["message"]["ts"] == posted.message.ts == change["previous_message"]["ts"]

    deleted = await slack.delete_message(BOB, TREASURY, posted.message.ts)
    assert deleted.delivery is not None
    gone = deleted.delivery.payload["event"]
    assert (gone["subtype"], gone["deleted_ts"]) == ("message_deleted", posted.message.ts)
    assert gone["previous_message"]["text"] == "second" and gone["ts"] != posted.message.ts
    thread = await web.conversations_replies(channel=TREASURY, ts=parent["ts"])
    assert [m["text"] for m in thread["messages"]] == ["card"]
    with pytest.raises(AssertionError, match="message_not_found"):
        await slack.delete_message(BOB, TREASURY, posted.message.ts)


async def test_events_are_delivered_only_when_the_app_subscribes() -> None:
    async with SlackStandIn(bot_events=["message.groups"]) as standin:
        standin.add_user(BOB, "bob")
        standin.add_channel(TREASURY, "treasury", members=(BOB,))
        standin.add_channel("G0PRIVATE", "private", members=(BOB,), is_private=True)
        top = await standin.post_message(BOB, TREASURY, "hello")
        assert top.delivery is None and standin.envelopes == []  # no message.channels
        assert standin.messages_in(TREASURY) == [top.message]  # still in the channel
        with pytest.raises(AssertionError, match="does not subscribe to app_home_opened"):
            await standin.open_home(BOB)
        private = standin.find_channel("G0PRIVATE")
        assert private is not None and private.message_event == "message.groups"
        assert standin.subscribes("message.groups") and not standin.subscribes("message.im")


async def test_envelopes_spread_over_connections_and_a_dead_ones_are_redelivered() -> None:
    """Slack spreads one app's envelopes over its connections (at most 10 at once) and
    delivers again, on a live connection, what a connection that closed never acked."""
    async with SlackStandIn(ack_timeout=5.0) as slack:
        slack.add_user(ALICE, "alice")
        heard: dict[str, list[SocketModeRequest]] = {"mute": [], "live": []}

        def listener_for(name: str, *, acks: bool) -> Any:
            async def listener(client: AsyncBaseSocketModeClient, req: SocketModeRequest) -> None:
                heard[name].append(req)
                if acks:
                    await client.send_socket_mode_response(SocketModeResponse(req.envelope_id))

            return listener

        clients = {}
        for name, acks in (("mute", False), ("live", True)):
            client = SocketModeClient(
                app_token=APP_TOKEN,
                web_client=AsyncWebClient(base_url=slack.api_url),
                ping_interval=0.2,
                auto_reconnect_enabled=name == "live",  # the mute one "dies"
            )
            client.socket_mode_request_listeners.append(listener_for(name, acks=acks))
            clients[name] = client
        try:
            for client in clients.values():
                await client.connect()  # type: ignore[no-untyped-call]
            await slack.wait_for(lambda: slack.live_connections == 2)
            typed = [
                asyncio.create_task(slack.slash_command(ALICE, f"queue {n}")) for n in range(6)
            ]
            await slack.wait_for(lambda: len(heard["mute"]) + len(heard["live"]) == 6)
            assert len(heard["mute"]) == 3 and len(heard["live"]) == 3  # taken in turn
            first = list(slack.envelopes)
            unanswered = [e for e in first if e.ack is None]
            (mute_id,) = {e.connection_id for e in unanswered}
            (live_id,) = {e.connection_id for e in first} - {mute_id}

            assert await slack.drop_sockets(mute_id) == 1
            results = await asyncio.wait_for(asyncio.gather(*typed), 5)
            assert all(r.ack is not None and r.ack.connection_id == live_id for r in results)
            assert not any(r.timed_out for r in results)
            retries = [e for e in slack.envelopes if e.redelivery_of]
            assert sorted(e.redelivery_of or "" for e in retries) == sorted(
                e.envelope_id for e in unanswered
            )
            assert {(e.retry_attempt, e.retry_reason) for e in retries} == {
                (1, "connection_closed")
            }
            texts = sorted(str(r.payload["text"]) for r in heard["live"])
            assert texts == [f"queue {n}" for n in range(6)]  # each once on the live one
            assert not slack.ack_timeouts
        finally:
            for client in clients.values():
                await client.close()  # type: ignore[no-untyped-call]


async def test_an_app_gets_at_most_ten_socket_connections() -> None:
    async with SlackStandIn() as slack:
        web = AsyncWebClient(token=APP_TOKEN, base_url=slack.api_url)
        sessions: list[aiohttp.ClientWebSocketResponse] = []
        async with aiohttp.ClientSession() as http:
            try:
                for _ in range(LIMITS.socket_connections):
                    opened = await web.apps_connections_open(app_token=APP_TOKEN)
                    sessions.append(await http.ws_connect(str(opened["url"])))
                await slack.wait_for(lambda: slack.live_connections == LIMITS.socket_connections)
                with pytest.raises(SlackApiError, match="too_many_websockets"):
                    await web.apps_connections_open(app_token=APP_TOKEN)
                await sessions.pop().close()
                await slack.wait_for(lambda: slack.live_connections < LIMITS.socket_connections)
                assert (await web.apps_connections_open(app_token=APP_TOKEN))["ok"]
            finally:
                for ws in sessions:
                    await ws.close()

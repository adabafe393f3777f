"""A dispute's communication log: thread replies recorded once each, never rewritten;
and the Slack ``message`` events the listener turns into them."""

from __future__ import annotations

from typing import Any

import pytest

from domain.audit.records import AuditEntry
from domain.items import DisputeCategory, DisputeOutcome
from domain.usecases import UseCases
from domain.usecases.dispute_log import MESSAGE_EVENT, Logged, MessageChange, ThreadMessage
from handlers.events import is_thread_change
from handlers.payloads import MessageCallback
from tests.fakes import FixedClock, InMemoryUnitOfWorkFactory
from tests.unit.test_services import add_item

CARD_TS = "1700000000.000100"
CHANNEL = "C0TREASURY"


def reply(change: MessageChange = MessageChange.POSTED, **overrides: Any) -> ThreadMessage:
    values: dict[str, Any] = {
        "channel": CHANNEL,
        "thread_ts": CARD_TS,
        "ts": "1700000100.000200",
        "user": "U0BOB",
        "text": "Globex says the invoice was paid twice",
        "change": change,
    }
    return ThreadMessage(**(values | overrides))


def log_of(factory: InMemoryUnitOfWorkFactory) -> list[AuditEntry]:
    return [e for e in factory.audit_entries if e.event == MESSAGE_EVENT]


async def disputed_item(
    usecases: UseCases, factory: InMemoryUnitOfWorkFactory, clock: FixedClock
) -> int:
    await add_item(usecases, factory, clock)
    await usecases.disputes.open_dispute(
        item_id=1,
        actor="U0ALICE",
        now=clock.now(),
        category=DisputeCategory.AMOUNT_MISMATCH,
        description="amount differs from the invoice",
    )
    factory.posted_at(1, channel=CHANNEL, ts=CARD_TS)
    return 1


async def test_a_reply_is_recorded_with_exactly_the_timeline_keys(
    usecases: UseCases, uow_factory: InMemoryUnitOfWorkFactory, clock: FixedClock
) -> None:
    await disputed_item(usecases, uow_factory, clock)
    before = uow_factory.item(1)
    logged = await usecases.dispute_log.record(message=reply(), now=clock.now())
    assert logged is Logged.RECORDED
    [entry] = log_of(uow_factory)
    assert (entry.actor, entry.item_id, entry.item, entry.time) == (
        "U0BOB",
        1,
        "R-1",
        clock.now(),
    )
    assert (entry.from_state, entry.to_state, entry.policy_version) == (None, None, None)
    assert entry.data == {
        "user": "U0BOB",
        "ts": "1700000100.000200",
        "thread_ts": CARD_TS,
        "channel": CHANNEL,
        "text": "Globex says the invoice was paid twice",
        "change": "posted",
    }
    assert uow_factory.item(1) == before  # the item itself does not move


async def test_edits_and_a_deletion_add_records_and_repeats_add_none(
    usecases: UseCases, uow_factory: InMemoryUnitOfWorkFactory, clock: FixedClock
) -> None:
    await disputed_item(usecases, uow_factory, clock)
    changes = [
        reply(),
        reply(MessageChange.EDITED, text="paid twice, see bank ref 991", edited_ts="1.1"),
        reply(MessageChange.EDITED, text="paid twice, bank ref 992", edited_ts="1.2"),
        reply(MessageChange.DELETED, text="paid twice, bank ref 992"),
    ]
    for change in changes:
        assert await usecases.dispute_log.record(message=change, now=clock.now()) is (
            Logged.RECORDED
        )
    for change in changes:  # Slack delivering each one again
        assert await usecases.dispute_log.record(message=change, now=clock.now()) is Logged.REPEAT
    assert [(e.data["change"], e.data["text"]) for e in log_of(uow_factory)] == [  # type: ignore[index]
        ("posted", "Globex says the invoice was paid twice"),
        ("edited", "paid twice, see bank ref 991"),
        ("edited", "paid twice, bank ref 992"),
        ("deleted", "paid twice, bank ref 992"),
    ]


async def test_replies_about_an_item_without_an_open_dispute_are_ignored(
    usecases: UseCases, uow_factory: InMemoryUnitOfWorkFactory, clock: FixedClock
) -> None:
    await add_item(usecases, uow_factory, clock)
    uow_factory.posted_at(1, channel=CHANNEL, ts=CARD_TS)
    assert await usecases.dispute_log.record(message=reply(), now=clock.now()) is (
        Logged.NO_OPEN_DISPUTE
    )
    assert await usecases.dispute_log.record(
        message=reply(thread_ts="1700000000.999999"), now=clock.now()
    ) is (Logged.NOT_A_DESK_THREAD)
    assert log_of(uow_factory) == []
    assert uow_factory.store.once_keys == {}  # an ignored reply leaves no key either


async def test_the_log_ends_with_the_dispute(
    usecases: UseCases, uow_factory: InMemoryUnitOfWorkFactory, clock: FixedClock
) -> None:
    await disputed_item(usecases, uow_factory, clock)
    await usecases.dispute_log.record(message=reply(), now=clock.now())
    await usecases.disputes.resolve_dispute(
        item_id=1,
        actor="U0BOB",
        now=clock.now(),
        outcome=DisputeOutcome.MATCHED,
        note="matched after all",
    )
    late = reply(ts="1700000500.000300", text="thanks all")
    assert await usecases.dispute_log.record(message=late, now=clock.now()) is (
        Logged.NO_OPEN_DISPUTE
    )
    assert len(log_of(uow_factory)) == 1


# --- the Slack events the listener reads ----------------------------------------------------


def callback(event: dict[str, Any]) -> MessageCallback:
    return MessageCallback.model_validate(
        {
            "type": "event_callback",
            "event": {"channel": CHANNEL, "channel_type": "channel", **event},
            "authorizations": [{"user_id": "U0BOT", "is_bot": True}],
        }
    )


REPLY = {
    "type": "message",
    "user": "U0BOB",
    "text": "first",
    "ts": "2.0",
    "thread_ts": CARD_TS,
    "client_msg_id": "x",
}


def test_a_reply_edit_and_deletion_parse_to_their_changes() -> None:
    posted = callback({**REPLY, "event_ts": "2.0"}).thread_change()
    assert posted == reply(ts="2.0", text="first")
    edited = callback(
        {
            "type": "message",
            "subtype": "message_changed",
            "hidden": True,
            "ts": "3.0",
            "message": {**REPLY, "text": "second", "edited": {"user": "U0BOB", "ts": "3.0"}},
            "previous_message": REPLY,
        }
    ).thread_change()
    assert edited == reply(MessageChange.EDITED, ts="2.0", text="second", edited_ts="3.0")
    deleted = callback(
        {
            "type": "message",
            "subtype": "message_deleted",
            "hidden": True,
            "ts": "4.0",
            "deleted_ts": "2.0",
            "previous_message": {**REPLY, "text": "second"},
        }
    ).thread_change()
    assert deleted == reply(MessageChange.DELETED, ts="2.0", text="second")


@pytest.mark.parametrize(
    "event",
    [
        pytest.param({**REPLY, "thread_ts": None}, id="top-level message"),
        pytest.param({**REPLY, "ts": CARD_TS}, id="the thread's parent"),
        pytest.param({**REPLY, "user": "U0BOT"}, id="the bot's own reply"),
        pytest.param({**REPLY, "bot_id": "B0OTHER", "user": None}, id="another app's reply"),
        pytest.param({**REPLY, "subtype": "channel_join"}, id="a join"),
        pytest.param({**REPLY, "subtype": "bot_message", "bot_id": "B1"}, id="bot_message"),
        pytest.param(
            {
                "type": "message",
                "subtype": "message_changed",
                "ts": "3.0",
                "message": {**REPLY, "attachments": [{"from_url": "https://x"}]},
                "previous_message": REPLY,
            },
            id="a link preview (text unchanged)",
        ),
        pytest.param(
            {
                "type": "message",
                "subtype": "message_changed",
                "ts": "3.0",
                "message": {"type": "message", "user": "U0BOT", "ts": CARD_TS, "text": "card"},
                "previous_message": {"type": "message", "user": "U0BOT", "ts": CARD_TS},
            },
            id="the card updated",
        ),
    ],
)
def test_what_is_not_a_persons_thread_reply_is_dropped(event: dict[str, Any]) -> None:
    assert callback(event).thread_change() is None


def _body(event: dict[str, Any]) -> dict[str, Any]:
    return {
        "type": "event_callback",
        "event": {"channel": CHANNEL, "channel_type": "channel", **event},
        "authorizations": [{"user_id": "U0BOT", "is_bot": True}],
    }


def test_only_thread_replies_are_stored_before_their_ack() -> None:
    assert is_thread_change(_body({**REPLY, "event_ts": "2.0"}))
    assert not is_thread_change(_body({**REPLY, "thread_ts": None}))  # channel chatter
    assert not is_thread_change({"type": "event_callback", "event": {"type": 7}})  # malformed

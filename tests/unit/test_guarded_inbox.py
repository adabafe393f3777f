"""The listener guard and the durable inbox: what is stored before the ack, and what a
copy, a takeover or a replay tells the person (``handlers.context.guarded``)."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, cast

import pytest
from slack_sdk.errors import SlackApiError

from domain.audit.records import AuditEntry
from domain.errors import StaleItem, TakenOver
from domain.usecases.transaction import record_refusal
from handlers.context import Ctx, Deps, InFlight, guarded
from tests.fakes import T0, FixedClock

BODY = {"type": "block_actions", "trigger_id": "t-1", "user": {"id": "U0ALICE"}}


@dataclass
class FakeInbox:
    """Records the order of events; ``taken`` answers ``receive``."""

    events: list[str]
    taken: bool = True
    replay: bool = False

    async def receive(self, body: Mapping[str, Any]) -> bool:
        self.events.append(f"stored {body['trigger_id']}")
        return self.taken

    def resume(self) -> bool:
        return self.replay

    async def finish(self) -> None:
        self.events.append("finished")

    def taken_over(self, kind: str) -> None:
        self.events.append(f"taken over {kind}")


@dataclass
class FakeClient:
    said: list[str] = field(default_factory=list)

    async def chat_postMessage(self, *, channel: str, text: str, **_: Any) -> None:
        self.said.append(text)


def make(inbox: FakeInbox) -> Deps:
    return Deps(
        usecases=cast(Any, None),
        policy=cast(Any, None),
        clock=FixedClock(),
        history=cast(Any, None),
        inflight=InFlight(),
        inbox=inbox,
    )


async def run(
    listener: Any, inbox: FakeInbox, *, durable: bool | Callable[[Mapping[str, Any]], bool] = True
) -> tuple[list[str], FakeClient]:
    client = FakeClient()

    async def ack(*args: Any, **kwargs: Any) -> None:
        inbox.events.append(f"ack {kwargs.get('response_action') or ''}".strip())

    await guarded(make(inbox), listener, durable=durable)(ack, dict(BODY), client)
    return inbox.events, client


async def decide(ctx: Ctx) -> None:
    await ctx.ack()
    cast(FakeInbox, ctx.deps.inbox).events.append("decided")


async def test_an_interaction_is_stored_before_its_ack_and_finished_after_its_work() -> None:
    events, client = await run(decide, FakeInbox([]))
    assert events == ["stored t-1", "ack", "decided", "finished"]
    assert client.said == []


async def test_a_form_error_ack_is_the_whole_answer_and_is_not_stored() -> None:
    async def invalid(ctx: Ctx) -> None:
        await ctx.ack(response_action="errors", errors={"reason": "Say why."})

    events, _ = await run(invalid, FakeInbox([]))
    assert events == ["ack errors", "finished"]


async def test_paging_is_not_stored() -> None:
    events, _ = await run(decide, FakeInbox([]), durable=False)
    assert events == ["ack", "decided"]


async def test_a_copy_of_an_interaction_already_taken_is_acked_and_dropped_silently() -> None:
    events, client = await run(decide, FakeInbox([], taken=False))
    assert events == ["stored t-1", "ack", "finished"]  # never decided
    assert client.said == []


async def test_a_copy_that_fails_before_its_ack_is_dropped_silently_too() -> None:
    async def fails(ctx: Ctx) -> None:
        raise RuntimeError("before the ack")

    events, client = await run(fails, FakeInbox([], taken=False))
    assert events == ["stored t-1", "ack", "finished"]
    assert client.said == []


async def test_a_change_another_process_took_over_is_not_answered_here() -> None:
    async def slow(ctx: Ctx) -> None:
        await ctx.ack()
        raise TakenOver("block_actions")

    events, client = await run(slow, FakeInbox([]))
    assert events == ["stored t-1", "ack", "taken over block_actions", "finished"]
    assert client.said == []


async def test_a_replay_is_not_stored_again() -> None:
    events, _ = await run(decide, FakeInbox([], replay=True))
    assert events == ["ack", "decided", "finished"]


async def test_a_replayed_click_whose_form_cannot_open_asks_for_a_new_click() -> None:
    async def opens_form(ctx: Ctx) -> None:
        await ctx.ack()
        raise SlackApiError("expired", cast(Any, {"ok": False, "error": "expired_trigger_id"}))

    _, client = await run(opens_form, FakeInbox([], replay=True))
    assert client.said == [
        ":arrows_counterclockwise: recon-bot restarted before this form could open. "
        "Click the button again."
    ]
    _, first_time = await run(opens_form, FakeInbox([]))  # not a replay: a real failure
    assert first_time.said[0].startswith(":warning: Something went wrong")


async def test_a_listener_stores_only_the_interactions_its_rule_accepts() -> None:
    events, _ = await run(decide, FakeInbox([]), durable=lambda body: "thread_ts" in body)
    assert events == ["ack", "decided"]
    events, _ = await run(decide, FakeInbox([]), durable=lambda body: "trigger_id" in body)
    assert events == ["stored t-1", "ack", "decided", "finished"]


class _Committing:
    """A unit of work whose commit fails with ``failure``."""

    def __init__(self, failure: Exception) -> None:
        self.failure = failure
        self.audit = self

    async def append(self, entries: Any) -> None:
        pass

    async def __aenter__(self) -> _Committing:
        return self

    async def __aexit__(self, *exc: object) -> None:
        pass

    async def commit(self) -> None:
        raise self.failure


async def test_a_refusal_whose_interaction_was_taken_over_is_left_to_the_other_process() -> None:
    entry = AuditEntry(time=T0, event="decision.refused", actor="U0ALICE")
    refusal = StaleItem("R-1 was changed")
    with pytest.raises(TakenOver):
        await record_refusal(
            cast(Any, lambda: _Committing(TakenOver("block_actions"))), refusal, entry
        )
    await record_refusal(cast(Any, lambda: _Committing(OSError("disk"))), refusal, entry)
    assert refusal.__notes__ == ["refusal not audited: OSError"]  # told, and logged

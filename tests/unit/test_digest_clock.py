"""A digest item's SLA clock starts when the digest that shows it is posted (issue 14).

At intake a digest item waits: no deadline, never overdue, never reminded. When Slack
has accepted its digest's summary (the outbox says when), the next sweep starts its
clock at that moment; until then (Slack down, the relay retrying) it keeps waiting.
Someone acting on it before any digest showed it starts it there and then. Its
reminder names the digest and goes in the digest's thread.
"""

from __future__ import annotations

import json
from datetime import timedelta
from decimal import Decimal

from domain import sla
from domain.items import Route
from domain.notifications import digest_key
from domain.policy import LoadedPolicy
from domain.routing import route_item
from domain.states import amend
from domain.templates import NoticeKind, Reminder, ReminderUnclaimed, decode, encode
from domain.usecases import UseCases
from domain.usecases.amendments import routed_item
from handlers import blocks
from tests.builders import make_facts, make_item, make_policy
from tests.fakes import FixedClock, InMemoryUnitOfWorkFactory
from tests.unit.test_services import add_item

HOUR = timedelta(hours=1)
REMIND = timedelta(hours=24)  # the test policy's remind_after


async def _digested(
    usecases: UseCases, factory: InMemoryUnitOfWorkFactory, clock: FixedClock, n: int = 2
) -> str:
    """Ingests ``n`` digest items, posts the window ``w1``; returns its summary's key."""
    for k in range(n):
        await add_item(usecases, factory, clock, external_id=f"D{k}", amount="40.00")
    assert await usecases.digests.digest_window(window="w1", now=clock.now())
    return digest_key("treasury", "w1")


def _outbox_keys(factory: InMemoryUnitOfWorkFactory, prefix: str) -> list[str]:
    return [k for k in factory.store.outbox if k.startswith(prefix)]


async def test_a_digest_item_waits_from_intake(
    usecases: UseCases,
    uow_factory: InMemoryUnitOfWorkFactory,
    clock: FixedClock,
    loaded_policy: LoadedPolicy,
) -> None:
    digest = await add_item(usecases, uow_factory, clock, amount="40.00")
    immediate = await add_item(usecases, uow_factory, clock, amount="40.00", risk_tier="high")
    assert digest.route is Route.DIGEST and immediate.route is Route.IMMEDIATE
    assert digest.sla_waits and digest.sla_next_at is None
    assert not immediate.sla_waits and immediate.sla_next_at == clock.now() + REMIND
    later = clock.now() + 10 * REMIND
    assert not sla.is_overdue(digest, loaded_policy.policy, later)
    assert sla.due_step(digest, loaded_policy.policy, later) is None
    stats = await usecases.queries.stats(user="U0ALICE", now=later)
    assert stats["overdue"] == 1  # the immediate item only


async def test_the_clock_starts_when_the_digest_post_is_sent_not_when_it_is_queued(
    usecases: UseCases, uow_factory: InMemoryUnitOfWorkFactory, clock: FixedClock
) -> None:
    intake = clock.now()
    key = await _digested(usecases, uow_factory, clock)
    # Slack is down: the summary is queued but not sent, however long it takes.
    clock.advance(3 * REMIND)
    assert await usecases.digests.start_clocks(now=clock.now()) == 0
    assert (await usecases.ladder.sla_sweep(now=clock.now())).total == 0
    assert all(i.sla_waits for i in uow_factory.items)
    # It goes out two hours after intake (the relay's retry); the sweep finds it later.
    posted = intake + 2 * HOUR
    uow_factory.store.sent[key] = posted
    assert await usecases.digests.start_clocks(now=clock.now()) == 2
    for item in uow_factory.items:
        assert not item.sla_waits and item.shown_in_digest == "w1"
        assert item.sla_started_at == posted
        assert item.sla_next_at == posted + REMIND
    assert await usecases.digests.start_clocks(now=clock.now()) == 0  # once
    [record] = [e for e in uow_factory.audit_entries if e.event == "digest.clock_started"]
    assert record.data == {
        "team": "treasury",
        "window": "w1",
        "posted_at": posted.isoformat(),
        "items": [1, 2],
    }


async def test_a_digest_item_is_reminded_only_after_its_digest_in_its_thread(
    usecases: UseCases, uow_factory: InMemoryUnitOfWorkFactory, clock: FixedClock
) -> None:
    key = await _digested(usecases, uow_factory, clock, n=1)
    clock.advance(2 * REMIND)  # past the reminder and the escalation, counted from intake
    assert (await usecases.ladder.sla_sweep(now=clock.now())).total == 0
    uow_factory.store.sent[key] = clock.now()
    await usecases.digests.start_clocks(now=clock.now())
    assert (await usecases.ladder.sla_sweep(now=clock.now() + REMIND - HOUR)).total == 0
    result = await usecases.ladder.sla_sweep(now=clock.now() + REMIND)
    assert result.taken["remind"] == 1 and result.total == 1
    [reminder_key] = _outbox_keys(uow_factory, "sla:remind:1:")
    reminder = uow_factory.store.outbox[reminder_key].notification
    assert reminder.thread_of == key
    assert reminder.payload == ReminderUnclaimed(digest="w1")


async def test_acting_on_a_waiting_item_starts_its_clock_then(
    usecases: UseCases, uow_factory: InMemoryUnitOfWorkFactory, clock: FixedClock
) -> None:
    item = await add_item(usecases, uow_factory, clock, amount="40.00")
    claimed_at = clock.advance(5 * HOUR)
    await usecases.claims.claim(item_id=item.id or 0, actor="U0BOB", now=claimed_at)
    claimed = uow_factory.item(item.id or 0)
    assert not claimed.sla_waits and claimed.shown_in_digest is None
    assert claimed.sla_started_at == claimed_at
    assert claimed.sla_next_at == claimed_at + REMIND
    # So does the next-item claim (it writes without a transition helper of its own).
    other = await add_item(usecases, uow_factory, clock, amount="41.00", external_id="X2")
    taken = await usecases.claims.claim_next(actor="U0ALICE", now=clock.advance(HOUR))
    assert taken.item.id == other.id and not taken.item.sla_waits
    assert taken.item.sla_started_at == clock.now()


def test_an_amendment_keeps_an_unseen_digest_item_waiting(loaded_policy: LoadedPolicy) -> None:
    t0 = FixedClock().now()
    facts = make_facts(amount=Decimal("40.00"))
    waiting = routed_item(facts, route_item(facts, loaded_policy), t0, item_id=1)
    assert waiting.sla_waits
    changed = make_facts(amount=Decimal("41.00"))
    still = amend(
        waiting,
        routed=routed_item(changed, route_item(changed, loaded_policy), t0),
        routing={},
        now=t0 + HOUR,
    )
    assert still.item.sla_waits
    material = make_facts(amount=Decimal("25000.00"))
    now_immediate = amend(
        waiting,
        routed=routed_item(material, route_item(material, loaded_policy), t0),
        routing={},
        now=t0 + HOUR,
    )
    assert not now_immediate.item.sla_waits
    assert now_immediate.item.sla_started_at == t0 + HOUR


def test_reminder_rows_queued_before_the_digest_field_read_back_the_same() -> None:
    for kind, old, new in (
        (NoticeKind.ALERT, {"template": "reminder_unclaimed"}, ReminderUnclaimed(digest="w1")),
        (NoticeKind.DM, {"template": "reminder"}, Reminder(digest="w1")),
    ):
        body, _ = decode(kind, old)
        assert isinstance(body, Reminder | ReminderUnclaimed)
        assert encode(body) == old and body.digest is None
        again, _ = decode(kind, encode(new))
        assert again == new


def test_a_waiting_item_s_details_say_when_its_sla_starts() -> None:
    policy = make_policy().policy
    now = FixedClock().now()
    waiting = make_item(sla_waits=True)
    text = json.dumps(blocks.item_details(waiting, policy=policy, now=now, history=[]).payload())
    assert "SLA starts when its digest is posted" in text and "in review" not in text
    running = make_item(sla_started_at=now - HOUR)
    text = json.dumps(blocks.item_details(running, policy=policy, now=now, history=[]).payload())
    assert "in review 1h" in text

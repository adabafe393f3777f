"""A dispute's expected resolution date passing reminds its owner once, on the ladder's
clock (business calendar, paused while awaiting the counterparty), from the SLA sweep."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

from domain import notifications, sla
from domain.items import Dispute, DisputeCategory, DisputeState, ReviewState
from domain.policy import LoadedPolicy
from domain.templates import DisputeOverdue, NoticeKind
from domain.usecases import UseCases
from tests.builders import make_item, make_policy
from tests.fakes import T0, FixedClock, InMemoryUnitOfWorkFactory
from tests.unit.test_services import add_item

#: T0 is Monday 2025-03-10 09:00 UTC; the test policy's display timezone is Berlin
#: (UTC+1 in March), so the 10th has passed at 23:00 UTC.
EXPECTED = date(2025, 3, 10)
PASSED = datetime(2025, 3, 10, 23, 0, tzinfo=UTC)


async def disputed(
    usecases: UseCases,
    factory: InMemoryUnitOfWorkFactory,
    clock: FixedClock,
    expected: date | None = EXPECTED,
) -> None:
    await add_item(usecases, factory, clock)
    await usecases.disputes.open_dispute(
        item_id=1,
        actor="U0ALICE",
        now=clock.now(),
        category=DisputeCategory.TIMING,
        description="payment arrives next week",
        expected_resolution=expected,
    )


def overdue_dms(factory: InMemoryUnitOfWorkFactory) -> list[tuple[str, str, DisputeOverdue]]:
    return [
        (q.notification.target, key, q.notification.payload)
        for key, q in factory.store.outbox.items()
        if isinstance(q.notification.payload, DisputeOverdue)
    ]


async def test_the_owner_is_reminded_once_when_the_date_has_passed(
    usecases: UseCases, uow_factory: InMemoryUnitOfWorkFactory, clock: FixedClock
) -> None:
    await disputed(usecases, uow_factory, clock)
    # The sweep index knows when: the reminder comes before the ladder's first rung.
    assert uow_factory.item(1).sla_next_at == PASSED
    before = uow_factory.item(1)

    early = await usecases.ladder.sla_sweep(now=PASSED - timedelta(seconds=1))
    assert early.total == 0 and overdue_dms(uow_factory) == []

    swept = await usecases.ladder.sla_sweep(now=PASSED)
    assert (swept.total, swept.disputes_reminded) == (1, 1)
    item = uow_factory.item(1)
    assert item.dispute is not None and item.dispute.reminded_at == PASSED
    assert item.state is before.state and item.version == before.version + 1
    assert overdue_dms(uow_factory) == [
        (
            "U0ALICE",
            "dispute:overdue:D-1-1",
            DisputeOverdue(dispute="D-1-1", expected_resolution=EXPECTED),
        )
    ]
    [record] = [e for e in uow_factory.audit_entries if e.event == "dispute.reminded"]
    assert (record.actor, record.item_id, record.from_state, record.to_state) == (
        "system",
        1,
        "disputed",
        "disputed",
    )
    assert record.data == {
        "dispute": "D-1-1",
        "expected_resolution": "2025-03-10",
        "owner": "U0ALICE",
    }
    # The card follows the new version (its buttons carry it).
    assert f"card:1:v{item.version}" in uow_factory.store.outbox
    # The next deadline is the ladder's again.
    assert item.sla_next_at == sla.deadline(item, sla.Rung.REMIND, make_policy().policy)

    # Later sweeps, and a desk restarted on the same store, never remind again.
    again = UseCases.over(uow=uow_factory, policy=make_policy)
    for later in (PASSED, PASSED + timedelta(hours=1)):
        assert (await usecases.ladder.sla_sweep(now=later)).disputes_reminded == 0
        assert (await again.ladder.sla_sweep(now=later)).disputes_reminded == 0
    assert len(overdue_dms(uow_factory)) == 1
    assert uow_factory.audit_events(1).count("dispute.reminded") == 1


async def test_a_dispute_without_a_date_is_never_reminded(
    usecases: UseCases, uow_factory: InMemoryUnitOfWorkFactory, clock: FixedClock
) -> None:
    await disputed(usecases, uow_factory, clock, expected=None)
    await usecases.ladder.sla_sweep(now=T0 + timedelta(days=30))
    assert overdue_dms(uow_factory) == []
    assert "dispute.reminded" not in uow_factory.audit_events(1)


async def test_a_paused_dispute_is_reminded_only_once_resumed(
    usecases: UseCases, uow_factory: InMemoryUnitOfWorkFactory, clock: FixedClock
) -> None:
    await disputed(usecases, uow_factory, clock)
    await usecases.disputes.update_dispute(
        item_id=1, actor="U0ALICE", now=clock.now(), state=DisputeState.AWAITING_COUNTERPARTY
    )
    assert uow_factory.item(1).sla_next_at is None  # a paused clock has no deadline
    assert (await usecases.ladder.sla_sweep(now=PASSED + timedelta(hours=5))).total == 0
    assert overdue_dms(uow_factory) == []

    resumed_at = PASSED + timedelta(hours=6)
    await usecases.disputes.update_dispute(
        item_id=1, actor="U0ALICE", now=resumed_at, state=DisputeState.OPEN
    )
    assert uow_factory.item(1).sla_next_at == PASSED  # overdue already: the next sweep
    swept = await usecases.ladder.sla_sweep(now=resumed_at)
    assert swept.disputes_reminded == 1
    assert len(overdue_dms(uow_factory)) == 1


async def test_a_business_calendar_reminds_at_the_next_working_moment(
    uow_factory: InMemoryUnitOfWorkFactory, clock: FixedClock
) -> None:
    policy = make_policy(
        calendar={"timezone": "UTC", "start": "09:00:00", "end": "17:00:00"},
    )
    usecases = UseCases.over(uow=uow_factory, policy=lambda: policy)
    friday = date(2025, 3, 14)
    await disputed(usecases, uow_factory, clock, expected=friday)
    monday_nine = datetime(2025, 3, 17, 9, 0, tzinfo=UTC)
    due = sla.resolution_reminder_due(uow_factory.item(1), policy.policy)
    assert due == monday_nine  # not Saturday midnight: the weekend is not working time
    saturday = datetime(2025, 3, 15, 12, 0, tzinfo=UTC)
    assert (await usecases.ladder.sla_sweep(now=saturday)).disputes_reminded == 0
    assert (await usecases.ladder.sla_sweep(now=monday_nine)).disputes_reminded == 1
    [(_, _, body)] = overdue_dms(uow_factory)
    assert body.expected_resolution == friday


def test_a_settled_or_other_state_has_no_dispute_reminder(loaded_policy: LoadedPolicy) -> None:
    assert sla.resolution_reminder_due(make_item(), loaded_policy.policy) is None


def test_the_dm_is_keyed_by_the_dispute() -> None:
    dispute = Dispute(
        state=DisputeState.OPEN,
        category=DisputeCategory.TIMING,
        description="x y z",
        opened_by="U0ALICE",
        opened_at=T0,
        expected_resolution=EXPECTED,
        number=2,
    )
    item = make_item(state=ReviewState.DISPUTED, dispute=dispute)
    notice = notifications.dispute_overdue(item, "U0ALICE")
    assert (notice.kind, notice.target, notice.dedupe_key) == (
        NoticeKind.DM,
        "U0ALICE",
        "dispute:overdue:D-1-2",
    )

"""Read-only auditors (issue 14): they see every team's items and decide nothing.

The policy lists them under ``compliance.auditors``. Every decision use case refuses an
auditor with one sentence, changes nothing and records the refusal; every read shows
them every team.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from decimal import Decimal
from typing import Any

import pytest

from domain.audit.records import AuditEntry
from domain.errors import NotAuthorized, PolicyError
from domain.intake import IntakeRow
from domain.items import DisputeCategory, DisputeOutcome, DisputeState, ReviewState
from domain.permissions import (
    READ_ONLY_REASON,
    Person,
    Role,
    can_see,
    check_can_act,
    roles_of,
    visible_teams,
)
from domain.policy import LoadedPolicy
from domain.states import Action
from domain.usecases import UseCases
from domain.usecases.transaction import REFUSED
from tests.builders import make_facts, make_item, make_policy
from tests.fakes import FixedClock, InMemoryUnitOfWorkFactory
from tests.unit.test_services import add_item, snapshot

AUDITOR = "U0READER"


def data_of(entry: AuditEntry) -> dict[str, Any]:
    """An audit entry's data as the use case wrote it (a dict, not pre-encoded)."""
    assert isinstance(entry.data, dict)
    return entry.data


@pytest.fixture
def loaded_policy() -> LoadedPolicy:
    return make_policy(compliance={"auditors": [AUDITOR]})


# --- the policy ----------------------------------------------------------------------


def test_auditors_are_optional_and_listed_under_compliance() -> None:
    assert make_policy().policy.compliance.auditors == []
    assert make_policy(compliance={"auditors": [AUDITOR]}).policy.compliance.auditors == [AUDITOR]


@pytest.mark.parametrize(
    ("auditors", "problem"),
    [
        (["U0AUDIT"], "compliance: auditors: U0AUDIT also listed as officer(s)"),
        (["U0BOB"], "compliance: auditors: U0BOB (treasury) also review(s) or lead(s) a team"),
        (["U0LEAD2"], "compliance: auditors: U0LEAD2 (ap) also review(s) or lead(s) a team"),
    ],
)
def test_an_auditor_who_also_decides_is_refused_by_name(auditors: list[str], problem: str) -> None:
    with pytest.raises(PolicyError) as info:
        make_policy(compliance={"auditors": auditors})
    assert len(info.value.problems) == 1
    assert info.value.problems[0].startswith(problem), info.value.problems


# --- seeing ----------------------------------------------------------------------------


def test_an_auditor_sees_every_team_and_the_items_of_none(loaded_policy: LoadedPolicy) -> None:
    policy = loaded_policy.policy
    assert visible_teams(policy, Person(AUDITOR)) is None
    for team in ("treasury", "ap", None):
        assert can_see(policy, Person(AUDITOR), team)
    assert roles_of(policy, AUDITOR, "treasury") == frozenset({Role.AUDITOR})
    # Someone in no team and no role still sees nothing.
    assert visible_teams(policy, Person("U0STRANGER")) == ()


def test_check_can_act_refuses_an_auditor_in_every_state(loaded_policy: LoadedPolicy) -> None:
    for state in ReviewState:
        with pytest.raises(NotAuthorized, match=f"^{READ_ONLY_REASON}$"):
            check_can_act(loaded_policy.policy, make_item(state=state), AUDITOR)


async def test_an_auditor_reads_every_queue_and_item(
    usecases: UseCases, uow_factory: InMemoryUnitOfWorkFactory, clock: FixedClock
) -> None:
    await add_item(usecases, uow_factory, clock, amount="20000.00", risk_tier="high")
    await add_item(usecases, uow_factory, clock, entity="ACME-DE", currency="EUR", risk_tier="high")
    queries = usecases.queries
    teams = {i.team for i in await queries.queue(viewer=Person(AUDITOR))}
    assert teams == {"treasury", "ap"}
    assert (await queries.item(2, viewer=Person(AUDITOR))).team == "ap"
    home = await queries.dashboard(user=AUDITOR, now=clock.now())
    assert set(home.teams) == {"treasury", "ap"}
    assert home.unclaimed_total == 2
    # A reviewer of one team still sees only theirs.
    assert {i.team for i in await queries.queue(viewer=Person("U0DAN"))} == {"ap"}


# --- deciding: every use case that decides refuses, records, changes nothing ----------------

Attempt = Callable[[UseCases, FixedClock], Awaitable[Any]]

ATTEMPTS: dict[str, tuple[Action | str, Attempt]] = {
    "approve": (
        Action.APPROVE,
        lambda u, c: u.decisions.approve(item_id=1, actor=AUDITOR, now=c.now()),
    ),
    "reject": (
        Action.REJECT,
        lambda u, c: u.decisions.reject(
            item_id=1, actor=AUDITOR, now=c.now(), reason="not in our books at all"
        ),
    ),
    "escalate": (
        Action.ESCALATE,
        lambda u, c: u.decisions.escalate(item_id=1, actor=AUDITOR, now=c.now()),
    ),
    "claim": (Action.CLAIM, lambda u, c: u.claims.claim(item_id=1, actor=AUDITOR, now=c.now())),
    "claim next": (Action.CLAIM, lambda u, c: u.claims.claim_next(actor=AUDITOR, now=c.now())),
    "assign": (
        Action.ASSIGN,
        lambda u, c: u.claims.assign(item_id=1, actor=AUDITOR, assignee="U0BOB", now=c.now()),
    ),
    "release": (
        Action.RELEASE,
        lambda u, c: u.claims.release(item_id=1, actor=AUDITOR, now=c.now()),
    ),
    "dispute": (
        Action.DISPUTE,
        lambda u, c: u.disputes.open_dispute(
            item_id=1,
            actor=AUDITOR,
            now=c.now(),
            category=DisputeCategory.AMOUNT_MISMATCH,
            description="the bank shows a different amount",
        ),
    ),
    "open a form": (
        Action.REJECT,
        lambda u, c: u.decisions.check_may_act(
            item_id=1, actor=AUDITOR, action=Action.REJECT, now=c.now()
        ),
    ),
}


@pytest.mark.parametrize("name", ATTEMPTS)
async def test_every_decision_on_a_pending_item_refuses_an_auditor(
    name: str, usecases: UseCases, uow_factory: InMemoryUnitOfWorkFactory, clock: FixedClock
) -> None:
    action, attempt = ATTEMPTS[name]
    await add_item(usecases, uow_factory, clock, amount="20000.00", risk_tier="high")
    before = snapshot(uow_factory)
    with pytest.raises(NotAuthorized, match=f"^{READ_ONLY_REASON}$"):
        await attempt(usecases, clock)
    assert snapshot(uow_factory) == before
    [refused] = [e for e in uow_factory.audit_entries if e.event == REFUSED]
    assert refused.actor == AUDITOR
    assert refused.data == {"action": str(action), "reason": READ_ONLY_REASON}


async def test_every_dispute_decision_refuses_an_auditor(
    usecases: UseCases, uow_factory: InMemoryUnitOfWorkFactory, clock: FixedClock
) -> None:
    await add_item(usecases, uow_factory, clock, amount="500.00", risk_tier="high")
    await usecases.disputes.open_dispute(
        item_id=1,
        actor="U0BOB",
        now=clock.now(),
        category=DisputeCategory.AMOUNT_MISMATCH,
        description="the bank shows a different amount",
    )
    disputes = usecases.disputes
    attempts: list[Awaitable[Any]] = [
        disputes.update_dispute(
            item_id=1, actor=AUDITOR, now=clock.now(), state=DisputeState.AWAITING_COUNTERPARTY
        ),
        disputes.note_dispute(item_id=1, actor=AUDITOR, now=clock.now(), text="called them"),
        disputes.resolve_dispute(
            item_id=1,
            actor=AUDITOR,
            now=clock.now(),
            outcome=DisputeOutcome.WITHDRAWN,
            note="not a real difference after all",
        ),
    ]
    before = snapshot(uow_factory)
    for attempt in attempts:
        with pytest.raises(NotAuthorized, match=f"^{READ_ONLY_REASON}$"):
            await attempt
    assert snapshot(uow_factory) == before
    refused = [e for e in uow_factory.audit_entries if e.event == REFUSED]
    assert [(e.actor, e.item_id) for e in refused] == [(AUDITOR, 1)] * 3


async def test_a_repeat_by_an_auditor_is_still_a_refusal(
    usecases: UseCases, uow_factory: InMemoryUnitOfWorkFactory, clock: FixedClock
) -> None:
    """Escalating an escalated item is a harmless no-op for a lead; an auditor is told
    they decide nothing, not that it was already done."""
    await add_item(usecases, uow_factory, clock, amount="20000.00", risk_tier="high")
    await usecases.decisions.escalate(item_id=1, actor="U0BOB", now=clock.now())
    with pytest.raises(NotAuthorized, match=f"^{READ_ONLY_REASON}$"):
        await usecases.decisions.escalate(item_id=1, actor=AUDITOR, now=clock.now())


async def test_bulk_digest_decisions_refuse_an_auditor(
    usecases: UseCases, uow_factory: InMemoryUnitOfWorkFactory, clock: FixedClock
) -> None:
    facts = [make_facts(external_id=f"D{n}", amount=Decimal("40.00")) for n in range(3)]
    await usecases.intake.ingest(
        [IntakeRow(line=n + 2, facts=f) for n, f in enumerate(facts)], now=clock.now()
    )
    assert await usecases.digests.digest_window(window="w1", now=clock.now())
    (cluster_id,) = uow_factory.store.clusters
    before = snapshot(uow_factory)
    for approve in (True, False):
        with pytest.raises(NotAuthorized, match=f"^{READ_ONLY_REASON}$"):
            await usecases.digests.decide_cluster(
                cluster_id=cluster_id,
                actor=AUDITOR,
                now=clock.now(),
                approve=approve,
                reason=None if approve else "these are all duplicates of last week",
            )
    with pytest.raises(NotAuthorized, match=f"^{READ_ONLY_REASON}$"):
        await usecases.digests.cluster_summary(
            cluster_id=cluster_id, actor=AUDITOR, now=clock.now()
        )
    assert snapshot(uow_factory) == before
    refused = [e for e in uow_factory.audit_entries if e.event == REFUSED]
    assert [(data_of(e)["action"], data_of(e)["cluster_id"]) for e in refused] == [
        ("approve", cluster_id),
        ("reject", cluster_id),
        ("reject", cluster_id),  # reaching for the "Reject all" form
    ]
    # A reviewer of the team still decides the group.
    done = await usecases.digests.decide_cluster(
        cluster_id=cluster_id, actor="U0BOB", now=clock.now(), approve=True
    )
    assert {i.state for i in done.items} == {ReviewState.APPROVED}  # entries on their way


async def test_compliance_officers_still_decide_as_the_policy_lets_them(
    usecases: UseCases, uow_factory: InMemoryUnitOfWorkFactory, clock: FixedClock
) -> None:
    """Adding auditors changes nothing for officers: they act on any team's item."""
    await add_item(usecases, uow_factory, clock, amount="500.00", risk_tier="high")
    outcome = await usecases.decisions.approve(item_id=1, actor="U0AUDIT", now=clock.now())
    assert outcome.item.state is ReviewState.APPROVED

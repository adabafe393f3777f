"""The review state machine: every action from every state, maker-checker, dual control."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from datetime import date, timedelta
from decimal import Decimal
from typing import Any

import pytest

from domain import states
from domain.errors import IllegalTransition, InvalidCommand, NotAuthorized
from domain.intake import content_hash
from domain.items import (
    Approval,
    Dispute,
    DisputeCategory,
    DisputeOutcome,
    DisputeState,
    Item,
    ReviewState,
    Route,
)
from domain.sla import Rung
from domain.states import ALLOWED_FROM, LEADS_TO, TERMINAL, Action, Transition
from tests.builders import make_facts, make_item
from tests.fakes import T0

S = ReviewState
NOW = T0 + timedelta(hours=1)
TTL = timedelta(hours=4)
PREP = "U0PREP"
ACTOR = "U0CAROL"  # a reviewer who has not touched the item
REASON = "amounts differ by bank fees"


def dispute(**overrides: Any) -> Dispute:
    values: dict[str, Any] = {
        "state": DisputeState.OPEN,
        "category": DisputeCategory.AMOUNT_MISMATCH,
        "description": "counterparty says they paid less",
        "opened_by": "U0BOB",
        "opened_at": T0,
    }
    values.update(overrides)
    return Dispute(**values)


def dispute_state(item: Item) -> DisputeState | None:
    return item.dispute.state if item.dispute else None


def item_in(state: ReviewState, **overrides: Any) -> Item:
    """A consistent item in ``state`` (prepared by U0PREP)."""
    values: dict[str, Any] = {"facts": make_facts(prepared_by=PREP)}
    values.update(_STATE_FIELDS[state])
    values.update(overrides)
    return make_item(state=state, **values)


_STATE_FIELDS: dict[ReviewState, dict[str, Any]] = {
    S.PENDING: {},
    S.ASSIGNED: {"assignee": "U0BOB", "claim_expires_at": T0 + TTL},
    S.AWAITING_SECOND_APPROVAL: {"required_approvals": 2, "approvers": ["U0ALICE"]},
    S.APPROVED: {"approvers": ["U0ALICE"], "decided_by": "U0ALICE", "decided_at": T0},
    S.REJECTED: {"decided_by": "U0ALICE", "decided_at": T0, "decision_note": REASON},
    S.ESCALATED: {"ladder_level": 2},
    S.DISPUTED: {"dispute": dispute(), "assignee": "U0BOB"},
    S.DEAD_LETTER: {"ladder_level": 3},
    S.POSTED: {"approvers": ["U0ALICE"], "decided_by": "U0ALICE", "ledger_ref": "JE-1"},
    S.MATCHED: {"decided_by": "system", "decided_at": T0, "decision_note": "matched by match 7"},
}


def run(action: Action, item: Item, actor: str = ACTOR) -> Transition:
    """Applies ``action`` with valid arguments."""
    calls: dict[Action, Callable[[], Transition]] = {
        Action.CLAIM: lambda: states.claim(item, actor=actor, now=NOW, ttl=TTL),
        Action.ASSIGN: lambda: states.assign(
            item, actor="U0LEAD", assignee=actor, now=NOW, ttl=TTL
        ),
        Action.RELEASE: lambda: states.release(item, actor=actor, now=NOW, reason="lease expired"),
        Action.APPROVE: lambda: states.approve(item, actor=actor, now=NOW),
        Action.REJECT: lambda: states.reject(item, actor=actor, now=NOW, reason=REASON),
        Action.ESCALATE: lambda: states.escalate(item, actor=actor, now=NOW, reason="stuck"),
        Action.DISPUTE: lambda: states.open_dispute(
            item,
            actor=actor,
            now=NOW,
            category=DisputeCategory.TIMING,
            description="payment arrives next week",
        ),
        Action.UPDATE_DISPUTE: lambda: states.update_dispute(
            item, actor=actor, now=NOW, state=DisputeState.AWAITING_COUNTERPARTY
        ),
        Action.RESOLVE_DISPUTE: lambda: states.resolve_dispute(
            item,
            actor=actor,
            now=NOW,
            outcome=DisputeOutcome.MATCHED,
            note="matched with the bank",
            write_off_approvals_required=1,
        ),
        Action.NOTE_DISPUTE: lambda: states.add_dispute_note(
            item, actor=actor, now=NOW, text="called their AP desk"
        ),
        Action.DEAD_LETTER: lambda: states.dead_letter(item, actor=actor, now=NOW, reason="72h"),
        Action.POST: lambda: states.post(item, actor="system", now=NOW, ledger_ref="JE-9"),
        Action.AMEND: lambda: states.amend(item, routed=routed(item), routing={}, now=NOW),
        Action.ACCEPT_BY_POLICY: lambda: states.accept_by_policy(
            dataclasses.replace(item, route=Route.AUTO_ACCEPTED), now=NOW
        ),
        Action.CLIMB_LADDER: lambda: states.climb_ladder(
            item, rung=Rung.ESCALATE, skipped=(), reason="48h", now=NOW
        ),
        Action.REMIND_DISPUTE: lambda: states.remind_dispute(item, now=NOW),
        Action.CLOSE_MATCHED: lambda: states.close_matched(item, match_id=7, run=3, now=NOW),
    }
    return calls[action]()


def routed(item: Item, *, amount: str = "99.00", route: Route = Route.IMMEDIATE) -> Item:
    """``item``'s source data changed (a new amount), as routing would store it."""
    facts = dataclasses.replace(item.facts, amount=Decimal(amount))
    return dataclasses.replace(
        item, facts=facts, content_hash=content_hash(facts), route=route, priority=50
    )


ACTIONS_WITH_FUNCTIONS = list(Action)
# Repeats that are no-ops whoever asks (the target state is already reached).
NOOP_FROM = {Action.ESCALATE: S.ESCALATED, Action.DEAD_LETTER: S.DEAD_LETTER}


def test_tables_cover_every_action_and_lead_to_real_states() -> None:
    assert set(ALLOWED_FROM) == set(Action) == set(LEADS_TO)
    for action in Action:
        assert ALLOWED_FROM[action], action
        assert LEADS_TO[action] <= set(S)
    # A posted item's changed source data amends it (its entries are reversed elsewhere).
    assert ALLOWED_FROM[Action.AMEND] == set(S)


@pytest.mark.parametrize("state", list(S))
@pytest.mark.parametrize("action", ACTIONS_WITH_FUNCTIONS)
def test_every_action_from_every_state(action: Action, state: ReviewState) -> None:
    item = item_in(state)
    if NOOP_FROM.get(action) is state:
        transition = run(action, item)
        assert transition.noop and transition.item is item and transition.events == ()
    elif state in ALLOWED_FROM[action]:
        transition = run(action, item)
        assert not transition.noop
        assert transition.item.state in LEADS_TO[action]
        assert transition.item.version == item.version + 1
        assert transition.item.updated_at == NOW
        assert transition.item.id == item.id
        assert transition.events
        first = transition.events[0]
        assert first.from_state == state.value
        assert first.to_state == transition.item.state.value
        assert all(e.actor for e in transition.events)
    else:
        with pytest.raises(IllegalTransition) as info:
            run(action, item)
        message = str(info.value)
        assert message.startswith(f"R-1 is {state.value.replace('_', ' ')}; it cannot be ")


@pytest.mark.parametrize("state", sorted(TERMINAL))
def test_terminal_states_only_allow_amendment(state: ReviewState) -> None:
    for action in Action:
        if action is Action.AMEND:
            continue
        assert state not in ALLOWED_FROM[action], action


def test_events_carry_only_json_safe_values() -> None:
    def walk(value: Any) -> None:
        assert not isinstance(value, float)
        if isinstance(value, dict):
            for v in value.values():
                walk(v)
        elif isinstance(value, list | tuple):
            for v in value:
                walk(v)
        else:
            assert value is None or isinstance(value, str | int | bool), repr(value)

    for state in S:
        for action in ACTIONS_WITH_FUNCTIONS:
            try:
                transition = run(action, item_in(state))
            except IllegalTransition:
                continue
            for event in transition.events:
                walk(event.data)


# --- maker-checker and dual control ------------------------------------------------------


@pytest.mark.parametrize("state", sorted(ALLOWED_FROM[Action.APPROVE]))
def test_the_preparer_can_never_approve(state: ReviewState) -> None:
    with pytest.raises(NotAuthorized, match="maker-checker"):
        states.approve(item_in(state), actor=PREP, now=NOW)


def test_single_approval_approves() -> None:
    item = item_in(S.ASSIGNED, assignee=ACTOR)
    t = states.approve(item, actor=ACTOR, now=NOW, note="checked against statement")
    assert t.item.state is S.APPROVED
    assert [a.user for a in t.item.approvals] == [ACTOR]
    assert (t.item.decided_by, t.item.decided_at) == (ACTOR, NOW)
    assert t.item.decision_note == "checked against statement"
    assert t.item.assignee is None and t.item.claim_expires_at is None
    assert [e.name for e in t.events] == ["item.approval_recorded", "item.approved"]


def test_dual_control_needs_two_distinct_approvers() -> None:
    item = item_in(S.PENDING, required_approvals=2)
    first = states.approve(item, actor="U0ALICE", now=NOW)
    assert first.item.state is S.AWAITING_SECOND_APPROVAL
    assert first.item.decided_by is None
    assert [e.name for e in first.events] == ["item.approval_recorded"]
    assert first.events[0].data == {"approval": 1, "required": 2, "note": None}

    again = states.approve(first.item, actor="U0ALICE", now=NOW)
    assert again.noop and again.item is first.item and again.events == ()

    with pytest.raises(NotAuthorized):
        states.approve(first.item, actor=PREP, now=NOW)

    second = states.approve(first.item, actor="U0BOB", now=NOW + timedelta(minutes=5))
    assert second.item.state is S.APPROVED
    assert [a.user for a in second.item.approvals] == ["U0ALICE", "U0BOB"]
    assert second.item.decided_by == "U0BOB"
    assert second.events[-1].name == "item.approved"
    assert second.events[-1].data == {"approvers": ["U0ALICE", "U0BOB"]}
    assert second.item.version == item.version + 2


@pytest.mark.parametrize("state", [S.APPROVED, S.POSTED])
def test_repeat_approval_after_the_decision_is_a_noop(state: ReviewState) -> None:
    item = item_in(state)
    t = states.approve(item, actor="U0ALICE", now=NOW)
    assert t.noop and t.item is item and t.events == ()


def test_approvals_survive_escalation_and_still_count() -> None:
    item = item_in(S.AWAITING_SECOND_APPROVAL)
    escalated = states.escalate(item, actor="system", now=NOW, reason=None).item
    assert escalated.approvals == item.approvals
    approved = states.approve(escalated, actor="U0LEAD", now=NOW).item
    assert approved.state is S.APPROVED
    assert [a.user for a in approved.approvals] == ["U0ALICE", "U0LEAD"]


def test_an_earlier_approver_cannot_approve_twice_after_escalation() -> None:
    # Reachable despite the "pragma: no cover - guarded above" in states.approve.
    item = item_in(S.AWAITING_SECOND_APPROVAL)
    escalated = states.escalate(item, actor="system", now=NOW, reason=None).item
    with pytest.raises(NotAuthorized, match="already approved"):
        states.approve(escalated, actor="U0ALICE", now=NOW)


def test_an_earlier_approver_cannot_be_the_second_after_a_dead_letter_either() -> None:
    item = item_in(S.AWAITING_SECOND_APPROVAL)
    parked = states.dead_letter(item, actor="system", now=NOW, reason="72h breach").item
    with pytest.raises(NotAuthorized, match="dual control needs a second, different approver"):
        states.approve(parked, actor="U0ALICE", now=NOW)
    assert states.approve(parked, actor="U0AUDIT", now=NOW).item.state is S.APPROVED


# --- reject -----------------------------------------------------------------------------


@pytest.mark.parametrize("reason", [None, "", "   ", "no", "too short", "  two\twords  "])
def test_reject_needs_a_reason_of_three_words(reason: str | None) -> None:
    with pytest.raises(InvalidCommand, match="at least 3 words"):
        states.reject(item_in(S.PENDING), actor=ACTOR, now=NOW, reason=reason)  # type: ignore[arg-type]


def test_reject_records_the_stripped_reason_and_voids_approvals() -> None:
    item = item_in(S.AWAITING_SECOND_APPROVAL)
    t = states.reject(item, actor=ACTOR, now=NOW, reason="  duplicate of R-7  ")
    assert t.item.state is S.REJECTED
    assert t.item.decision_note == "duplicate of R-7"
    assert t.item.approvals == ()
    assert t.events[0].data == {"reason": "duplicate of R-7", "voided_approvals": ["U0ALICE"]}


def test_reject_repeat_by_the_same_person_is_a_noop_by_another_is_refused() -> None:
    rejected = states.reject(item_in(S.PENDING), actor=ACTOR, now=NOW, reason=REASON).item
    again = states.reject(rejected, actor=ACTOR, now=NOW, reason=REASON)
    assert again.noop and again.item is rejected
    with pytest.raises(IllegalTransition, match="is rejected; it cannot be rejected now"):
        states.reject(rejected, actor="U0BOB", now=NOW, reason=REASON)


def test_require_reason() -> None:
    assert states.require_reason("  a b c ") == "a b c"
    with pytest.raises(InvalidCommand, match="give a description of at least 3 words"):
        states.require_reason("short one", what="a description")


# --- claim, assign, release -------------------------------------------------------------


def test_claim_takes_the_item_until_the_lease_ends() -> None:
    t = states.claim(item_in(S.PENDING), actor=ACTOR, now=NOW, ttl=TTL)
    assert t.item.state is S.ASSIGNED
    assert t.item.assignee == ACTOR
    assert t.item.claim_expires_at == NOW + TTL
    assert t.events[0].data["resume_state"] == "pending"
    assert t.events[0].data["claim_expires_at"] == (NOW + TTL).isoformat()


def test_assign_same_assignee_is_a_noop_reassign_records_previous() -> None:
    item = item_in(S.ASSIGNED)  # assignee U0BOB
    same = states.assign(item, actor="U0LEAD", assignee="U0BOB", now=NOW, ttl=TTL)
    assert same.noop and same.item is item
    other = states.assign(item, actor="U0LEAD", assignee=ACTOR, now=NOW, ttl=TTL)
    assert other.item.assignee == ACTOR
    assert other.events[0].data["previous_assignee"] == "U0BOB"
    assert other.events[0].data["resume_state"] == "pending"


@pytest.mark.parametrize(
    ("ladder_level", "back_to"),
    [(0, S.PENDING), (1, S.PENDING), (2, S.ESCALATED), (3, S.DEAD_LETTER)],
)
def test_release_returns_to_the_ladder_state(ladder_level: int, back_to: ReviewState) -> None:
    item = item_in(S.ASSIGNED, ladder_level=ladder_level)
    t = states.release(item, actor="system", now=NOW, reason="claim lease expired")
    assert t.item.state is back_to
    assert t.item.assignee is None and t.item.claim_expires_at is None
    assert t.events[0].data == {"previous_assignee": "U0BOB", "reason": "claim lease expired"}


@pytest.mark.parametrize(
    ("path", "back_to"),
    [
        ([], S.PENDING),
        (["escalate"], S.ESCALATED),
        (["dead_letter"], S.DEAD_LETTER),
        (["escalate", "dead_letter"], S.DEAD_LETTER),
    ],
)
def test_claim_then_release_goes_back_where_it_was(path: list[str], back_to: ReviewState) -> None:
    item = item_in(S.PENDING)
    for step in path:
        if step == "escalate":
            item = states.escalate(item, actor="system", now=NOW, reason=None).item
        else:
            item = states.dead_letter(item, actor="system", now=NOW, reason="72h breach").item
    claimed = states.claim(item, actor="U0LEAD", now=NOW, ttl=TTL).item
    released = states.release(claimed, actor="U0LEAD", now=NOW, reason="not mine").item
    assert released.state is back_to
    assigned = states.assign(item, actor="U0LEAD", assignee=ACTOR, now=NOW, ttl=TTL).item
    assert states.release(assigned, actor=ACTOR, now=NOW, reason="x").item.state is back_to


def test_release_after_a_resolved_dispute_returns_to_the_claimed_from_state() -> None:
    item = states.escalate(item_in(S.PENDING), actor="system", now=NOW, reason=None).item
    item = states.open_dispute(
        item,
        actor="U0LEAD",
        now=NOW,
        category=DisputeCategory.TIMING,
        description="waiting on the bank's recall",
    ).item
    item = states.resolve_dispute(
        item,
        actor="U0LEAD",
        now=NOW,
        outcome=DisputeOutcome.MATCHED,
        note="matched with the bank",
        write_off_approvals_required=1,
    ).item
    assert item.state is S.PENDING
    claim = states.claim(item, actor=ACTOR, now=NOW, ttl=TTL)
    resume = claim.events[0].data["resume_state"]
    released = states.release(claim.item, actor=ACTOR, now=NOW, reason="not mine")
    assert released.item.state.value == resume


# --- escalate, dead letter, post ----------------------------------------------------------


def test_escalate_moves_up_the_ladder() -> None:
    t = states.escalate(item_in(S.ASSIGNED), actor="system", now=NOW, reason="  48h breach ")
    assert t.item.state is S.ESCALATED
    assert t.item.ladder_level == 2
    assert t.item.assignee is None
    assert t.events[0].data == {"reason": "48h breach", "ladder_level": 2}
    blank = states.escalate(item_in(S.PENDING), actor="system", now=NOW, reason="  ")
    assert blank.events[0].data["reason"] is None
    explicit = states.escalate(
        item_in(S.PENDING), actor="system", now=NOW, reason=None, ladder_level=4
    )
    assert explicit.item.ladder_level == 4


def test_dead_letter_halts_and_alerts() -> None:
    t = states.dead_letter(item_in(S.ESCALATED), actor="system", now=NOW, reason="72h breach")
    assert t.item.state is S.DEAD_LETTER
    assert t.item.ladder_level == 3
    assert t.events[0].data == {"reason": "72h breach", "severity": "high"}


def test_post_records_the_ledger_reference() -> None:
    t = states.post(item_in(S.APPROVED), actor="system", now=NOW, ledger_ref="JE-00000001-A")
    assert t.item.state is S.POSTED
    assert t.item.ledger_ref == "JE-00000001-A"
    assert t.events[0].data == {"ledger_ref": "JE-00000001-A"}


# --- disputes ---------------------------------------------------------------------------


def test_open_dispute_voids_approvals_and_records_everything() -> None:
    item = item_in(S.AWAITING_SECOND_APPROVAL)
    t = states.open_dispute(
        item,
        actor="U0BOB",
        now=NOW,
        category=DisputeCategory.FX_DIFFERENCE,
        description="  rate used by the bank differs  ",
        counterparty_contact="ar@globex.example",
        expected_resolution=date(2025, 3, 20),
        evidence_links=("https://files.example/stmt.pdf",),
        proposed_adjustment=Decimal("-12.50"),
    )
    assert t.item.state is S.DISPUTED
    assert t.item.approvals == ()
    assert t.item.assignee == "U0BOB"
    d = t.item.dispute
    assert d is not None
    assert (d.state, d.category, d.opened_by, d.opened_at) == (
        DisputeState.OPEN,
        DisputeCategory.FX_DIFFERENCE,
        "U0BOB",
        NOW,
    )
    assert d.description == "rate used by the bank differs"
    assert t.events[0].data["voided_approvals"] == ["U0ALICE"]
    assert t.events[0].data["proposed_adjustment"] == "-12.50"
    assert t.events[0].data["expected_resolution"] == "2025-03-20"


def test_open_dispute_needs_a_description() -> None:
    with pytest.raises(InvalidCommand, match="description of at least 3 words"):
        states.open_dispute(
            item_in(S.PENDING),
            actor="U0BOB",
            now=NOW,
            category=DisputeCategory.OTHER,
            description="wrong",
        )


def test_update_dispute_moves_between_open_and_awaiting() -> None:
    item = item_in(S.DISPUTED)
    waiting = states.update_dispute(
        item, actor="U0BOB", now=NOW, state=DisputeState.AWAITING_COUNTERPARTY, note="emailed"
    )
    assert dispute_state(waiting.item) is DisputeState.AWAITING_COUNTERPARTY
    assert waiting.item.state is S.DISPUTED
    again = states.update_dispute(
        waiting.item, actor="U0BOB", now=NOW, state=DisputeState.AWAITING_COUNTERPARTY
    )
    assert again.noop and again.item is waiting.item
    reopened = states.update_dispute(waiting.item, actor="U0BOB", now=NOW, state=DisputeState.OPEN)
    assert dispute_state(reopened.item) is DisputeState.OPEN
    with pytest.raises(InvalidCommand, match="use resolve"):
        states.update_dispute(item, actor="U0BOB", now=NOW, state=DisputeState.RESOLVED)


def test_a_dispute_note_is_an_audited_event_that_moves_the_version() -> None:
    item = item_in(S.DISPUTED)
    t = states.add_dispute_note(item, actor="U0BOB", now=NOW, text="  called their AP desk  ")
    assert t.item.state is S.DISPUTED and t.item.dispute == item.dispute
    assert t.item.version == item.version + 1 and t.item.updated_at == NOW
    (event,) = t.events
    assert event.name == "dispute.note" and event.actor == "U0BOB"
    assert event.data == {"text": "called their AP desk"}
    assert (event.from_state, event.to_state) == ("disputed", "disputed")


def test_a_dispute_note_needs_text_and_an_open_dispute() -> None:
    with pytest.raises(InvalidCommand, match="needs some text"):
        states.add_dispute_note(item_in(S.DISPUTED), actor="U0BOB", now=NOW, text="   ")
    for state in set(S) - {S.DISPUTED}:
        with pytest.raises(IllegalTransition, match="given a dispute note"):
            states.add_dispute_note(item_in(state), actor="U0BOB", now=NOW, text="a note")


def test_a_resolution_repeat_is_recognised_before_any_check() -> None:
    item = item_in(S.DISPUTED)
    assert not states.is_resolution_repeat(item, "U0BOB", DisputeOutcome.WRITTEN_OFF)
    first = states.resolve_dispute(
        item,
        actor="U0BOB",
        now=NOW,
        outcome=DisputeOutcome.WRITTEN_OFF,
        note="uncollectable after three reminders",
        write_off_approvals_required=2,
        amount=Decimal("50.00"),
    )
    assert states.is_resolution_repeat(first.item, "U0BOB", DisputeOutcome.WRITTEN_OFF)
    assert not states.is_resolution_repeat(first.item, "U0LEAD", DisputeOutcome.WRITTEN_OFF)
    assert not states.is_resolution_repeat(first.item, "U0BOB", DisputeOutcome.MATCHED)
    matched = states.resolve_dispute(
        item,
        actor="U0BOB",
        now=NOW,
        outcome=DisputeOutcome.MATCHED,
        note="matched with the bank",
        write_off_approvals_required=1,
    )
    assert states.is_resolution_repeat(matched.item, "U0BOB", DisputeOutcome.MATCHED)
    assert not states.is_resolution_repeat(matched.item, "U0LEAD", DisputeOutcome.MATCHED)


@pytest.mark.parametrize(
    "outcome", [DisputeOutcome.MATCHED, DisputeOutcome.ADJUSTED, DisputeOutcome.WITHDRAWN]
)
def test_resolving_without_write_off_returns_to_review(outcome: DisputeOutcome) -> None:
    t = states.resolve_dispute(
        item_in(S.DISPUTED),
        actor="U0BOB",
        now=NOW,
        outcome=outcome,
        note="sorted with the bank",
        write_off_approvals_required=2,
        amount=Decimal("12.50") if outcome is DisputeOutcome.ADJUSTED else None,
    )
    assert t.item.state is S.PENDING
    assert t.item.assignee is None
    d = t.item.dispute
    assert d is not None
    assert (d.state, d.outcome, d.resolved_by, d.resolved_at) == (
        DisputeState.RESOLVED,
        outcome,
        "U0BOB",
        NOW,
    )
    assert t.item.approvals == ()  # it still needs its normal approval


def test_resolving_an_escalated_dispute_restarts_ordinary_review() -> None:
    escalated = states.escalate(item_in(S.PENDING), actor="system", now=T0, reason=None).item
    disputed = states.open_dispute(
        escalated,
        actor="U0LEAD",
        now=T0,
        category=DisputeCategory.TIMING,
        description="waiting on the bank's recall",
    ).item
    later = NOW + timedelta(days=3)
    t = states.resolve_dispute(
        disputed,
        actor="U0LEAD",
        now=later,
        outcome=DisputeOutcome.MATCHED,
        note="matched with the bank",
        write_off_approvals_required=1,
    )
    assert (t.item.state, t.item.ladder_level, t.item.sla_started_at) == (S.PENDING, 0, later)


@pytest.mark.parametrize(
    "outcome", [DisputeOutcome.MATCHED, DisputeOutcome.ADJUSTED, DisputeOutcome.WITHDRAWN]
)
def test_repeating_a_resolution_is_a_noop_but_another_outcome_is_refused(
    outcome: DisputeOutcome,
) -> None:
    def resolve(item: Item, actor: str, how: DisputeOutcome) -> Transition:
        return states.resolve_dispute(
            item,
            actor=actor,
            now=NOW,
            outcome=how,
            note="matched with the bank",
            write_off_approvals_required=1,
            amount=Decimal("12.50") if how is DisputeOutcome.ADJUSTED else None,
        )

    resolved = resolve(item_in(S.DISPUTED), "U0BOB", outcome).item
    again = resolve(resolved, "U0BOB", outcome)
    assert again.noop and again.item is resolved
    with pytest.raises(IllegalTransition, match="cannot be resolved as a dispute now"):
        resolve(resolved, "U0ALICE", outcome)
    with pytest.raises(IllegalTransition):
        resolve(resolved, "U0BOB", DisputeOutcome.WRITTEN_OFF)


def write_off(item: Item, actor: str, required: int = 2) -> Transition:
    return states.resolve_dispute(
        item,
        actor=actor,
        now=NOW,
        outcome=DisputeOutcome.WRITTEN_OFF,
        note="uncollectable after three reminders",
        write_off_approvals_required=required,
    )


def test_write_off_above_the_limit_needs_two_distinct_approvers() -> None:
    item = item_in(S.DISPUTED)
    with pytest.raises(NotAuthorized, match="maker-checker"):
        write_off(item, PREP)
    first = write_off(item, "U0ALICE")
    assert first.item.state is S.DISPUTED
    d = first.item.dispute
    assert d is not None and d.outcome is None and d.state is DisputeState.OPEN
    assert [a.user for a in d.write_off_approvals] == ["U0ALICE"]
    assert [e.name for e in first.events] == ["dispute.write_off_approval"]

    again = write_off(first.item, "U0ALICE")
    assert again.noop and again.item is first.item

    second = write_off(first.item, "U0BOB")
    assert second.item.state is S.APPROVED
    d = second.item.dispute
    assert d is not None
    assert (d.state, d.outcome, d.resolved_by) == (
        DisputeState.RESOLVED,
        DisputeOutcome.WRITTEN_OFF,
        "U0BOB",
    )
    assert [a.user for a in second.item.approvals] == ["U0ALICE", "U0BOB"]
    assert [e.name for e in second.events] == ["dispute.write_off_approval", "dispute.resolved"]
    assert second.events[-1].data["approvers"] == ["U0ALICE", "U0BOB"]


def test_write_off_below_the_limit_needs_one_approver() -> None:
    t = write_off(item_in(S.DISPUTED), "U0ALICE", required=1)
    assert t.item.state is S.APPROVED
    assert t.item.decided_by == "U0ALICE"


def test_write_off_repeat_by_the_last_approver_is_a_noop() -> None:
    approved = write_off(item_in(S.DISPUTED), "U0ALICE", required=1).item
    posted = states.post(approved, actor="system", now=NOW, ledger_ref="JE-1-W").item
    for item in (approved, posted):
        again = write_off(item, "U0ALICE", required=1)
        assert again.noop and again.item is item


def test_approval_records_are_values() -> None:
    approval = Approval(user="U0ALICE", at=NOW)
    assert approval == Approval(user="U0ALICE", at=NOW)
    with pytest.raises(AttributeError):
        approval.user = "U0BOB"  # type: ignore[misc]

"""The moves the desk makes by itself, as pure transitions of the table: acceptance by
policy, amendment by a re-import, and the rungs of the SLA ladder."""

from __future__ import annotations

import dataclasses
from datetime import timedelta
from decimal import Decimal
from typing import Any

import pytest

from domain import states
from domain.errors import IllegalTransition, InvalidCommand
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
from domain.states import LEADS_TO, SYSTEM, Action
from tests.builders import make_item
from tests.fakes import T0

S = ReviewState
GOOD = "amount does not match the bank"
NOW = T0 + timedelta(hours=30)


def _routed(item: Item, *, amount: str = "99.00", route: Route = Route.IMMEDIATE) -> Item:
    facts = dataclasses.replace(item.facts, amount=Decimal(amount), counterparty="Globex")
    return dataclasses.replace(
        item,
        facts=facts,
        content_hash=content_hash(facts),
        route=route,
        priority=77,
        reasons=("over materiality",),
        policy_version="pol-new",
        team="ap-europe",
        required_approvals=2,
    )


# --- acceptance by policy ----------------------------------------------------------------


def test_acceptance_by_policy_approves_in_the_systems_name_with_the_routing_reasons() -> None:
    item = make_item(route=Route.AUTO_ACCEPTED, reasons=("score 97 >= 85",))
    transition = states.accept_by_policy(item, now=NOW)
    after = transition.item
    assert after.state is S.APPROVED and after.version == item.version + 1
    assert (after.decided_by, after.decided_at, after.decision_note) == (
        SYSTEM,
        NOW,
        "auto-accepted by policy",
    )
    assert after.approvals == ()
    (event,) = transition.events
    assert (event.name, event.actor, event.from_state, event.to_state) == (
        "item.auto_accepted",
        SYSTEM,
        "pending",
        "approved",
    )
    assert event.data == {"reasons": ["score 97 >= 85"]}


def test_acceptance_by_policy_needs_the_route_and_a_pending_item() -> None:
    with pytest.raises(InvalidCommand, match="not routed for acceptance by policy"):
        states.accept_by_policy(make_item(route=Route.DIGEST), now=NOW)
    claimed = make_item(state=S.ASSIGNED, route=Route.AUTO_ACCEPTED, assignee="U0BOB")
    with pytest.raises(IllegalTransition, match="cannot be accepted by policy"):
        states.accept_by_policy(claimed, now=NOW)


# --- amendment ---------------------------------------------------------------------------


def test_amendment_voids_sign_offs_and_returns_the_item_to_review_on_a_fresh_clock() -> None:
    item = make_item(
        state=S.AWAITING_SECOND_APPROVAL,
        approvers=["U0ALICE"],
        required_approvals=2,
        assignee="U0ALICE",
        ladder_level=1,
        sla_credit_seconds=600,
    )
    new = _routed(item)
    transition = states.amend(item, routed=new, routing={"route": "immediate"}, now=NOW)
    after = transition.item
    assert after.state is S.PENDING and after.version == item.version + 1
    assert (after.facts, after.content_hash, after.route, after.team) == (
        new.facts,
        new.content_hash,
        Route.IMMEDIATE,
        "ap-europe",
    )
    assert (after.priority, after.reasons, after.policy_version, after.required_approvals) == (
        77,
        ("over materiality",),
        "pol-new",
        2,
    )
    assert after.approvals == () and after.assignee is None and after.decided_by is None
    assert (after.ladder_level, after.sla_started_at, after.sla_credit_seconds) == (0, NOW, 0)
    (event,) = transition.events
    assert (event.name, event.actor, event.to_state) == ("item.amended", SYSTEM, "pending")
    assert event.data == {
        "route": "immediate",
        "changed_fields": ["amount", "counterparty"],
        "previous_content_hash": item.content_hash,
        "voided_approvals": ["U0ALICE"],
        "reason": "source data changed: sign-offs on the old data are void",
    }


@pytest.mark.parametrize("state", [S.DEAD_LETTER, S.ASSIGNED])
def test_an_amended_dead_letter_stays_with_compliance_on_its_clock(state: ReviewState) -> None:
    # Claimed from the compliance queue (ladder level 3) counts as dead-lettered too.
    item = make_item(
        state=state,
        ladder_level=3,
        sla_credit_seconds=120,
        assignee="U0COMP" if state is S.ASSIGNED else None,
        claim_expires_at=T0 + timedelta(hours=4) if state is S.ASSIGNED else None,
    )
    transition = states.amend(item, routed=_routed(item), routing={}, now=NOW)
    after = transition.item
    assert after.state is S.DEAD_LETTER and after.state in LEADS_TO[Action.AMEND]
    assert after.assignee is None
    assert (after.ladder_level, after.sla_started_at, after.sla_credit_seconds) == (3, T0, 120)
    assert states.auto_accept_withheld(item) == (
        f"auto-accept withheld: the item is {state.value.replace('_', ' ')}"
    )


def test_an_amended_dispute_stays_open_with_its_owner_and_voids_write_off_sign_offs() -> None:
    dispute = Dispute(
        state=DisputeState.AWAITING_COUNTERPARTY,
        category=DisputeCategory.TIMING,
        description="bank fee deducted twice",
        opened_by="U0BOB",
        opened_at=T0,
        write_off_approvals=(Approval(user="U0LEAD", at=T0),),
    )
    item = make_item(state=S.DISPUTED, dispute=dispute, assignee="U0BOB", ladder_level=1)
    transition = states.amend(item, routed=_routed(item), routing={}, now=NOW)
    after = transition.item
    assert after.state is S.DISPUTED and after.assignee == "U0BOB"
    assert after.dispute == dataclasses.replace(dispute, write_off_approvals=())
    assert (after.ladder_level, after.sla_started_at) == (1, T0)
    data = transition.events[0].data
    assert data["dispute_state"] == "awaiting_counterparty"
    assert data["voided_write_off_approvals"] == ["U0LEAD"]
    assert states.auto_accept_withheld(item) == "auto-accept withheld: the item is disputed"


def test_a_posted_item_is_amended_back_to_review_without_its_ledger_ref() -> None:
    posted = make_item(
        state=S.POSTED, approvers=["U0ALICE"], ledger_ref="JE-00000001-A", decided_by="U0ALICE"
    )
    transition = states.amend(posted, routed=_routed(posted), routing={}, now=NOW)
    after = transition.item
    assert (after.state, after.ledger_ref, after.approvals, after.decided_by) == (
        S.PENDING,
        None,
        (),
        None,
    )
    assert (after.sla_started_at, after.version) == (NOW, posted.version + 1)
    (event,) = transition.events
    assert (event.from_state, event.to_state) == ("posted", "pending")
    assert event.data["previous_ledger_ref"] == "JE-00000001-A"
    assert event.data["voided_approvals"] == ["U0ALICE"]
    assert states.auto_accept_withheld(make_item()) is None


def test_a_reversed_write_off_is_approved_again_the_ordinary_way() -> None:
    """A posted write-off amended by changed data goes back to ordinary review: the
    dispute stays as history, and the new decision is an ordinary approval."""
    item = make_item(required_approvals=1)
    item = states.open_dispute(
        item, actor="U0ALICE", now=NOW, category=DisputeCategory.OTHER, description=GOOD
    ).item
    for actor in ("U0BOB", "U0CAROL"):
        item = states.resolve_dispute(
            item,
            actor=actor,
            now=NOW,
            outcome=DisputeOutcome.WRITTEN_OFF,
            note=GOOD,
            write_off_approvals_required=2,
        ).item
    posted = states.post(item, actor=SYSTEM, now=NOW, ledger_ref="JE-00000001-W").item
    routed = dataclasses.replace(_routed(posted), required_approvals=1)
    amended = states.amend(posted, routed=routed, routing={}, now=NOW).item
    assert (amended.state, amended.approvals, amended.ledger_ref) == (S.PENDING, (), None)
    assert amended.dispute is not None and amended.dispute.outcome is DisputeOutcome.WRITTEN_OFF
    approved = states.approve(amended, actor="U0DAN", now=NOW).item
    assert approved.state is S.APPROVED and [a.user for a in approved.approvals] == ["U0DAN"]


# --- the ladder ----------------------------------------------------------------------------


def test_a_reminder_moves_the_ladder_and_keeps_the_state() -> None:
    item = make_item(state=S.ASSIGNED, assignee="U0BOB", claim_expires_at=NOW)
    transition = states.climb_ladder(item, rung=Rung.REMIND, skipped=(), reason="24h", now=NOW)
    after = transition.item
    assert (after.state, after.assignee, after.ladder_level) == (S.ASSIGNED, "U0BOB", 1)
    assert after.version == item.version + 1
    (event,) = transition.events
    assert (event.name, event.from_state, event.to_state) == (
        "sla.reminded",
        "assigned",
        "assigned",
    )
    assert event.data == {"rung": "remind", "skipped": [], "reason": "24h"}


def test_the_escalation_rung_escalates_where_the_state_allows_it() -> None:
    item = make_item()
    transition = states.climb_ladder(
        item, rung=Rung.ESCALATE, skipped=(Rung.REMIND,), reason="48h", now=NOW
    )
    assert transition.item.state is S.ESCALATED and transition.item.ladder_level == 2
    (event,) = transition.events
    assert (event.name, event.actor) == ("item.escalated", SYSTEM)
    assert event.data["reason"] == "48h"  # the rung's data is merged over the move's
    assert event.data["rung"] == "escalate" and event.data["skipped"] == ["remind"]
    assert transition.item.decision_note == "SLA: 48h"


@pytest.mark.parametrize(
    ("state", "rung", "name"),
    [
        (S.DISPUTED, Rung.ESCALATE, "sla.escalate"),
        (S.ESCALATED, Rung.ESCALATE, "sla.escalate"),
        (S.DISPUTED, Rung.DEAD_LETTER, "sla.dead_letter"),
        (S.DEAD_LETTER, Rung.DEAD_LETTER, "sla.dead_letter"),
    ],
)
def test_a_rung_whose_move_does_not_apply_still_climbs(
    state: ReviewState, rung: Rung, name: str
) -> None:
    extra: dict[str, Any] = {"dispute": None, "assignee": None}
    if state is S.DISPUTED:
        extra = {
            "dispute": Dispute(
                state=DisputeState.OPEN,
                category=DisputeCategory.TIMING,
                description="arrives next week",
                opened_by="U0BOB",
                opened_at=T0,
            ),
            "assignee": "U0BOB",
        }
    item = make_item(state=state, **extra)
    transition = states.climb_ladder(item, rung=rung, skipped=(), reason="72h", now=NOW)
    assert transition.item.state is state and transition.item.ladder_level == rung.value
    (event,) = transition.events
    assert (event.name, event.from_state, event.to_state) == (name, state.value, state.value)


def test_the_dead_letter_rung_dead_letters_a_claimed_item() -> None:
    item = make_item(state=S.ASSIGNED, assignee="U0BOB", claim_expires_at=NOW)
    transition = states.climb_ladder(item, rung=Rung.DEAD_LETTER, skipped=(), reason="72h", now=NOW)
    after = transition.item
    assert (after.state, after.assignee, after.ladder_level) == (S.DEAD_LETTER, None, 3)
    assert transition.events[0].data["severity"] == "high"


@pytest.mark.parametrize("state", [S.APPROVED, S.POSTED, S.REJECTED])
def test_settled_items_are_off_the_ladder(state: ReviewState) -> None:
    with pytest.raises(IllegalTransition, match="cannot be moved up the SLA ladder"):
        states.climb_ladder(
            make_item(state=state), rung=Rung.REMIND, skipped=(), reason="x", now=NOW
        )

"""Properties: money rounding, routing determinism, and the review state machine's invariants.

The state machine test drives the pure functions of ``domain.states`` with random actors
(the preparer among them) and random actions, and checks after every step that the item
is in a state its last action may lead to, that nobody (least of all the preparer)
approved it alone when dual control applies, and that versions only move forward.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from datetime import timedelta
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from hypothesis import given
from hypothesis import strategies as st
from hypothesis.stateful import (
    RuleBasedStateMachine,
    initialize,
    invariant,
    precondition,
    rule,
)

from domain import states
from domain.errors import IllegalTransition, InvalidCommand, MoneyError, NotAuthorized
from domain.intake import content_hash
from domain.items import (
    DisputeCategory,
    DisputeOutcome,
    DisputeState,
    Item,
    ItemFacts,
    ItemKind,
    ReviewState,
    RiskTier,
    Route,
)
from domain.money import Money, minor_units, to_minor
from domain.policy import LoadedPolicy
from domain.routing import MAX_PRIORITY, route_item
from domain.sla import Rung
from domain.states import ALLOWED_FROM, LEADS_TO, Action, Transition
from tests.builders import make_facts, make_item, make_policy
from tests.fakes import T0

# --- money ---------------------------------------------------------------------------------

CURRENCIES = ["USD", "EUR", "JPY", "KWD", "CLF", "KRW", "BHD"]

amounts = st.decimals(
    min_value=Decimal("-1000000000000"),
    max_value=Decimal("1000000000000"),
    allow_nan=False,
    allow_infinity=False,
    places=6,
)
currencies = st.sampled_from(CURRENCIES)


def unit(currency: str) -> Decimal:
    return Decimal(1).scaleb(-minor_units(currency))


@given(amounts, currencies)
def test_of_is_idempotent(value: Decimal, currency: str) -> None:
    once = Money.of(value, currency)
    assert Money.of(once.amount, currency) == once
    assert once.amount.as_tuple().exponent == -minor_units(currency)


@given(amounts, currencies)
def test_of_is_round_half_up_and_within_half_a_unit(value: Decimal, currency: str) -> None:
    money = Money.of(value, currency)
    assert money.amount == value.quantize(unit(currency), rounding=ROUND_HALF_UP)
    assert abs(money.amount - value) <= unit(currency) / 2
    # Half up means half away from zero, symmetric around zero.
    assert Money.of(-value, currency) == -money


@given(st.integers(min_value=-(10**15), max_value=10**15), currencies)
def test_minor_units_round_trip_exactly(minor: int, currency: str) -> None:
    money = Money.from_minor(minor, currency)
    assert money.minor == minor
    assert Money.parse(str(money.amount), currency) == money
    assert Money.from_minor(money.minor, currency) == money


@given(
    amounts | st.decimals(allow_nan=False, allow_infinity=False) | st.just(Decimal("1e30")),
    currencies,
)
def test_to_minor_is_money_minor_checked_the_same_way(value: Decimal, currency: str) -> None:
    # Storage maps amounts with to_minor, which skips building a Money.
    try:
        expected: int | str = Money(amount=value, currency=currency).minor
    except MoneyError as exc:
        expected = str(exc)
    try:
        got: int | str = to_minor(value, currency)
    except MoneyError as exc:
        got = str(exc)
    assert got == expected


@given(amounts, currencies)
def test_parse_never_silently_rounds(value: Decimal, currency: str) -> None:
    text = format(value, "f")
    try:
        money = Money.parse(text, currency)
    except MoneyError as exc:
        assert value != value.quantize(unit(currency))  # refused only when it would round
        assert "not rounded silently" in str(exc)
    else:
        assert money.amount == value  # accepted only when exact


@given(amounts, currencies, st.integers(min_value=0, max_value=4))
def test_trailing_zeros_never_matter(value: Decimal, currency: str, zeros: int) -> None:
    exact = Money.of(value, currency)
    text = format(exact.amount, "f")
    padded = text + ("." if "." not in text and zeros else "") + "0" * zeros
    assert Money.parse(padded, currency) == exact


# --- routing ------------------------------------------------------------------------------


def minor(value: int, currency: str) -> Decimal:
    return Money.from_minor(value, currency).amount


POLICIES = {
    "default": make_policy(),
    "no-catch-all": make_policy(
        teams=[
            {"name": "us", "channel": "C0US", "reviewers": ["U0ALICE"], "entities": ["ACME-US"]},
            {
                "name": "ap",
                "channel": "C0AP",
                "reviewers": ["U0DAN"],
                "entities": ["ACME-DE"],
                "currencies": ["EUR"],
            },
        ]
    ),
    "strict": make_policy(
        routing={"materiality": "500.00", "match_auto_accept_score": 95},
        batch={"min_records": 0, "risk_multiplier": "0.9"},
    ),
}
policies = st.sampled_from(sorted(POLICIES)).map(POLICIES.__getitem__)


@st.composite
def facts(draw: st.DrawFn) -> ItemFacts:
    currency = draw(st.sampled_from(["USD", "EUR", "GBP", "JPY", "CHF", "KWD"]))

    def maybe(strategy: st.SearchStrategy[Any]) -> Any:
        return draw(st.none() | strategy)

    kind = draw(st.sampled_from(list(ItemKind)))
    ratios = st.decimals(min_value=0, max_value=1, places=3)
    return make_facts(
        external_id=draw(st.text("ABC123", min_size=1, max_size=6)),
        kind=kind,
        entity=draw(st.sampled_from(["ACME-US", "ACME-DE", "ACME-JP"])),
        currency=currency,
        amount=minor(draw(st.integers(-(10**9), 10**9)), currency),
        risk_tier=maybe(st.sampled_from(list(RiskTier))),
        aging_days=maybe(st.integers(0, 400)),
        confidence=maybe(ratios),
        score=maybe(st.integers(0, 100)),
        matched_value=maybe(st.integers(0, 10**9).map(lambda m: minor(m, currency))),
        variance=maybe(st.integers(-(10**6), 10**6).map(lambda m: minor(m, currency))),
        record_count=maybe(st.integers(0, 100)),
        entity_risk_score=maybe(ratios),
    )


@given(facts(), policies)
def test_routing_is_deterministic(item: ItemFacts, loaded: LoadedPolicy) -> None:
    first = route_item(item, loaded)
    assert route_item(item, loaded) == first
    assert route_item(dataclasses.replace(item), loaded) == first


@given(facts(), policies)
def test_routing_decision_is_well_formed(item: ItemFacts, loaded: LoadedPolicy) -> None:
    decision = route_item(item, loaded)
    assert decision.route in set(Route)
    assert decision.reasons and all(isinstance(r, str) and r for r in decision.reasons)
    assert 0 <= decision.priority <= MAX_PRIORITY
    assert decision.required_approvals in (1, 2)
    assert decision.policy_version == loaded.version
    if decision.kind is not item.kind:  # only a weak match is ever re-kinded
        assert item.kind is ItemKind.MATCH and decision.kind is ItemKind.UNMATCHED
    if decision.route is Route.AUTO_ACCEPTED:
        assert item.kind in (ItemKind.MATCH, ItemKind.BATCH)
    if item.kind is ItemKind.BATCH and decision.route is not Route.AUTO_ACCEPTED:
        assert decision.route is Route.IMMEDIATE


@given(facts(), policies)
def test_no_fx_rate_or_no_team_is_never_auto_accepted(
    item: ItemFacts, loaded: LoadedPolicy
) -> None:
    decision = route_item(item, loaded)
    no_rate = loaded.policy.rate(item.currency) is None
    no_team = decision.team is None
    if no_rate or no_team:
        assert decision.route is Route.IMMEDIATE
        assert any(r.startswith(("no FX rate", "no team owns")) for r in decision.reasons)
    if no_rate:
        assert decision.reporting_amount is None
        assert decision.required_approvals == 2


@given(facts(), st.integers(min_value=1, max_value=10**8))
def test_a_bigger_amount_never_lowers_priority(item: ItemFacts, extra_minor: int) -> None:
    loaded = POLICIES["default"]
    bigger = abs(item.amount) + Money.from_minor(extra_minor, item.currency).amount
    more = dataclasses.replace(item, amount=bigger)
    assert (
        route_item(more, loaded).priority
        >= route_item(dataclasses.replace(item, amount=abs(item.amount)), loaded).priority
    )


# --- the review state machine -------------------------------------------------------------

PREP = "U0PREP"
ACTORS = [PREP, "U0ALICE", "U0BOB", "U0CAROL", "U0LEAD"]
REASONS = ["", "no", "too short", "amount does not match", "  duplicate of an earlier line  "]
actors = st.sampled_from(ACTORS)
routes = st.sampled_from([Route.DIGEST, Route.IMMEDIATE, Route.AUTO_ACCEPTED])
reasons = st.sampled_from(REASONS)
REACHABLE = {ReviewState.PENDING}.union(*LEADS_TO.values())
TTL = timedelta(hours=4)
GOOD = "amount does not match"


class ReviewMachine(RuleBasedStateMachine):
    """One item, many hands."""

    def __init__(self) -> None:
        super().__init__()
        self.item: Item = make_item()
        self.write_off_required = 1
        self.now = T0
        self.steps = 0

    @initialize(
        required=st.sampled_from([1, 2]),
        write_off_required=st.sampled_from([1, 2]),
        prepared=st.booleans(),
        route=routes,
    )
    def start(self, required: int, write_off_required: int, prepared: bool, route: Route) -> None:
        self.fresh_item(required, write_off_required, prepared, route)

    def fresh_item(
        self, required: int, write_off_required: int, prepared: bool, route: Route = Route.DIGEST
    ) -> None:
        self.item = make_item(
            facts=make_facts(prepared_by=PREP if prepared else None),
            required_approvals=required,
            route=route,
            created_at=self.now,
            updated_at=self.now,
            sla_started_at=self.now,
        )
        self.write_off_required = write_off_required

    @precondition(lambda self: self.item.state in states.TERMINAL)
    @rule(
        required=st.sampled_from([1, 2]),
        write_off_required=st.sampled_from([1, 2]),
        prepared=st.booleans(),
        route=routes,
    )
    def next_item(
        self, required: int, write_off_required: int, prepared: bool, route: Route
    ) -> None:
        """A terminal item is done: carry on with a fresh one (keeps the walk useful)."""
        self.fresh_item(required, write_off_required, prepared, route)

    # One step: apply, then check what every step must respect.
    def step(
        self,
        action: Action,
        actor: str,
        call: Callable[[Item], Transition],
        *,
        same_facts: bool = True,
    ) -> None:
        """``same_facts`` False for the one action that changes the facts (amendment)."""
        before = self.item
        self.now += timedelta(minutes=7)
        try:
            transition = call(before)
        except IllegalTransition:
            assert before.state not in ALLOWED_FROM[action], (action, before.state)
            return
        except NotAuthorized as exc:
            assert actor == before.facts.prepared_by or "already approved" in str(exc), exc
            return
        except InvalidCommand:
            return
        if transition.noop:
            assert transition.item == before
            assert transition.events == ()
            return
        after = transition.item
        assert before.state in ALLOWED_FROM[action], (action, before.state)
        assert after.state in LEADS_TO[action], (action, after.state)
        assert after.version > before.version
        assert after.version == before.version + 1
        assert after.id == before.id and (after.facts == before.facts or not same_facts)
        assert transition.events
        assert transition.events[0].from_state == before.state.value
        assert transition.events[-1].to_state == after.state.value
        self.item = after
        self.steps += 1

    @rule(actor=actors)
    def claim(self, actor: str) -> None:
        self.step(
            Action.CLAIM,
            actor,
            lambda i: states.claim(i, actor=actor, now=self.now, ttl=TTL),
        )

    @rule(actor=actors, assignee=actors)
    def assign(self, actor: str, assignee: str) -> None:
        self.step(
            Action.ASSIGN,
            actor,
            lambda i: states.assign(i, actor=actor, assignee=assignee, now=self.now, ttl=TTL),
        )

    @rule(actor=actors)
    def release(self, actor: str) -> None:
        self.step(
            Action.RELEASE,
            actor,
            lambda i: states.release(i, actor=actor, now=self.now, reason="claim lease expired"),
        )

    @rule(actor=actors)
    def approve(self, actor: str) -> None:
        self.step(Action.APPROVE, actor, lambda i: states.approve(i, actor=actor, now=self.now))

    @rule(actor=actors, reason=reasons)
    def reject(self, actor: str, reason: str) -> None:
        self.step(
            Action.REJECT,
            actor,
            lambda i: states.reject(i, actor=actor, now=self.now, reason=reason),
        )

    @rule(actor=actors, reason=st.none() | reasons)
    def escalate(self, actor: str, reason: str | None) -> None:
        self.step(
            Action.ESCALATE,
            actor,
            lambda i: states.escalate(i, actor=actor, now=self.now, reason=reason),
        )

    @rule(actor=actors)
    def dead_letter(self, actor: str) -> None:
        self.step(
            Action.DEAD_LETTER,
            actor,
            lambda i: states.dead_letter(i, actor=actor, now=self.now, reason="72h breach"),
        )

    @rule(actor=actors, description=reasons, category=st.sampled_from(list(DisputeCategory)))
    def open_dispute(self, actor: str, description: str, category: DisputeCategory) -> None:
        self.step(
            Action.DISPUTE,
            actor,
            lambda i: states.open_dispute(
                i, actor=actor, now=self.now, category=category, description=description
            ),
        )

    @precondition(lambda self: self.item.state is ReviewState.DISPUTED)
    @rule(actor=actors, state=st.sampled_from(list(DisputeState)))
    def update_dispute(self, actor: str, state: DisputeState) -> None:
        self.step(
            Action.UPDATE_DISPUTE,
            actor,
            lambda i: states.update_dispute(i, actor=actor, now=self.now, state=state),
        )

    @precondition(lambda self: self.item.state is ReviewState.DISPUTED)
    @rule(actor=actors, outcome=st.sampled_from(list(DisputeOutcome)))
    def resolve_dispute(self, actor: str, outcome: DisputeOutcome) -> None:
        self.step(
            Action.RESOLVE_DISPUTE,
            actor,
            lambda i: states.resolve_dispute(
                i,
                actor=actor,
                now=self.now,
                outcome=outcome,
                note="matched with the bank",
                write_off_approvals_required=self.write_off_required,
                amount=Decimal("3.25") if outcome is DisputeOutcome.ADJUSTED else None,
            ),
        )

    @precondition(lambda self: self.item.state is ReviewState.DISPUTED)
    @rule(actor=actors, text=st.sampled_from(["called their AP desk", "x", " remittance due "]))
    def note_dispute(self, actor: str, text: str) -> None:
        self.step(
            Action.NOTE_DISPUTE,
            actor,
            lambda i: states.add_dispute_note(i, actor=actor, now=self.now, text=text),
        )

    @precondition(lambda self: self.item.state is ReviewState.APPROVED)
    @rule()
    def post(self) -> None:
        self.step(
            Action.POST,
            "system",
            lambda i: states.post(i, actor="system", now=self.now, ledger_ref="JE-1"),
        )

    @rule(route=routes, required=st.sampled_from([1, 2]), amount=st.sampled_from(["1.00", "2.50"]))
    def amend(self, route: Route, required: int, amount: str) -> None:
        self.step(
            Action.AMEND,
            "system",
            lambda i: states.amend(
                i, routed=self.routed(i, route, required, amount), routing={}, now=self.now
            ),
            same_facts=False,
        )

    def routed(self, item: Item, route: Route, required: int, amount: str) -> Item:
        """New source data for ``item``, as routing would store it."""
        facts = dataclasses.replace(item.facts, amount=Decimal(amount))
        return dataclasses.replace(
            item,
            facts=facts,
            content_hash=content_hash(facts),
            route=route,
            required_approvals=required,
        )

    @rule()
    def accept_by_policy(self) -> None:
        self.step(
            Action.ACCEPT_BY_POLICY,
            "system",
            lambda i: states.accept_by_policy(i, now=self.now),
        )

    @rule(rung=st.sampled_from(list(Rung)))
    def climb_ladder(self, rung: Rung) -> None:
        self.step(
            Action.CLIMB_LADDER,
            "system",
            lambda i: states.climb_ladder(i, rung=rung, skipped=(), reason="24h", now=self.now),
        )

    @rule()
    def remind_dispute(self) -> None:
        self.step(Action.REMIND_DISPUTE, "system", lambda i: states.remind_dispute(i, now=self.now))

    @rule(run=st.sampled_from([None, 4]))
    def close_matched(self, run: int | None) -> None:
        self.step(
            Action.CLOSE_MATCHED,
            "system",
            lambda i: states.close_matched(i, match_id=9, run=run, now=self.now),
        )

    @rule(action=st.sampled_from(list(Action)), actor=actors)
    def any_action_from_anywhere(self, action: Action, actor: str) -> None:
        """Valid arguments, whatever the state: only the state decides legality."""
        calls: dict[Action, Callable[[Item], Transition]] = {
            Action.CLAIM: lambda i: states.claim(i, actor=actor, now=self.now, ttl=TTL),
            Action.ASSIGN: lambda i: states.assign(
                i, actor=actor, assignee="U0CAROL", now=self.now, ttl=TTL
            ),
            Action.RELEASE: lambda i: states.release(i, actor=actor, now=self.now, reason="x"),
            Action.APPROVE: lambda i: states.approve(i, actor=actor, now=self.now),
            Action.REJECT: lambda i: states.reject(i, actor=actor, now=self.now, reason=GOOD),
            Action.ESCALATE: lambda i: states.escalate(i, actor=actor, now=self.now, reason=None),
            Action.DISPUTE: lambda i: states.open_dispute(
                i, actor=actor, now=self.now, category=DisputeCategory.OTHER, description=GOOD
            ),
            Action.UPDATE_DISPUTE: lambda i: states.update_dispute(
                i, actor=actor, now=self.now, state=DisputeState.AWAITING_COUNTERPARTY
            ),
            Action.RESOLVE_DISPUTE: lambda i: states.resolve_dispute(
                i,
                actor=actor,
                now=self.now,
                outcome=DisputeOutcome.WRITTEN_OFF,
                note="matched with the bank",
                write_off_approvals_required=self.write_off_required,
            ),
            Action.NOTE_DISPUTE: lambda i: states.add_dispute_note(
                i, actor=actor, now=self.now, text=GOOD
            ),
            Action.DEAD_LETTER: lambda i: states.dead_letter(
                i, actor=actor, now=self.now, reason="72h breach"
            ),
            Action.POST: lambda i: states.post(i, actor=actor, now=self.now, ledger_ref="JE-2"),
            Action.AMEND: lambda i: states.amend(
                i, routed=self.routed(i, Route.IMMEDIATE, 1, "3.00"), routing={}, now=self.now
            ),
            Action.ACCEPT_BY_POLICY: lambda i: states.accept_by_policy(i, now=self.now),
            Action.CLIMB_LADDER: lambda i: states.climb_ladder(
                i, rung=Rung.ESCALATE, skipped=(Rung.REMIND,), reason="48h", now=self.now
            ),
            Action.REMIND_DISPUTE: lambda i: states.remind_dispute(i, now=self.now),
            Action.CLOSE_MATCHED: lambda i: states.close_matched(
                i, match_id=7, run=3, now=self.now
            ),
        }
        self.step(action, actor, calls[action], same_facts=action is not Action.AMEND)

    # Invariants, checked after every step.

    @invariant()
    def state_is_reachable(self) -> None:
        assert isinstance(self.item.state, ReviewState)
        assert self.item.state in REACHABLE

    @invariant()
    def decided_only_with_enough_distinct_checkers(self) -> None:
        item = self.item
        if item.state not in (ReviewState.APPROVED, ReviewState.POSTED):
            return
        if item.decided_by == states.SYSTEM:  # accepted by policy: routed so, nobody signs
            assert item.route is Route.AUTO_ACCEPTED and not item.approvals
            return
        approvers = [a.user for a in item.approvals]
        # Decided by the write-off itself (an amendment since voids it: the item is then
        # approved the ordinary way, on the new data).
        written_off = (
            item.dispute is not None
            and item.dispute.outcome is DisputeOutcome.WRITTEN_OFF
            and item.approvals == item.dispute.write_off_approvals
        )
        required = self.write_off_required if written_off else item.required_approvals
        assert len(set(approvers)) == len(approvers)
        assert len(approvers) >= required
        assert item.facts.prepared_by not in approvers

    @invariant()
    def approvals_are_never_the_preparers(self) -> None:
        prepared_by = self.item.facts.prepared_by
        assert prepared_by is None or prepared_by not in {a.user for a in self.item.approvals}
        if self.item.dispute is not None:
            assert prepared_by is None or prepared_by not in {
                a.user for a in self.item.dispute.write_off_approvals
            }

    @invariant()
    def claim_fields_match_the_state(self) -> None:
        item = self.item
        if item.state is ReviewState.ASSIGNED:
            assert item.assignee is not None and item.claim_expires_at is not None
        if item.state in (ReviewState.PENDING, ReviewState.ESCALATED, ReviewState.DEAD_LETTER):
            assert item.assignee is None and item.claim_expires_at is None
        if item.state is ReviewState.DISPUTED:
            assert item.dispute is not None
        if item.state is ReviewState.POSTED:
            assert item.ledger_ref is not None
        else:  # an amended posted item goes back to review without its ledger reference
            assert item.ledger_ref is None


TestReviewMachine = ReviewMachine.TestCase


def test_every_reachable_state_can_be_left_or_is_terminal() -> None:
    for state in REACHABLE:
        leaves = any(state in ALLOWED_FROM[a] and LEADS_TO[a] - {state} for a in Action)
        assert leaves or state in states.TERMINAL, state

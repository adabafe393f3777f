"""Routing: every rule of DESIGN.md "Routing", with its reasons, priority and approvals.

The test policy (tests/builders.py): materiality 10,000 USD, aging limit 5 days, minimum
confidence 0.85, high/critical risk immediate, match scores 85/60, batch caps 500 USD and
0.15 % (risk multiplier 0.5, at least 10 records), dual control at 10,000 USD or 0.5 %.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest

from domain.errors import PolicyError
from domain.items import ItemFacts, ItemKind, RiskTier, Route, RoutingDecision
from domain.matching.history import MatchHistory, MatchTally
from domain.policy import LoadedPolicy
from domain.routing import MAX_PRIORITY, reporting_amount, route_item
from tests.builders import make_facts, make_policy

POLICY = make_policy()
# No wildcard team: an item of another entity has no team.
NO_CATCH_ALL = make_policy(
    teams=[
        {"name": "us", "channel": "C0US", "reviewers": ["U0ALICE"], "entities": ["ACME-US"]},
        {"name": "ap", "channel": "C0AP", "reviewers": ["U0DAN"], "entities": ["ACME-DE"]},
    ]
)


def route(policy: LoadedPolicy = POLICY, **facts: Any) -> RoutingDecision:
    return route_item(make_facts(**facts), policy)


def _history(days: int = 90, **tallies: tuple[int, int]) -> MatchHistory:
    """A history of (lines, matched) per counterparty."""
    return MatchHistory(
        days=days,
        tallies={n: MatchTally(lines=t[0], matched=t[1]) for n, t in tallies.items()},
    )


def batch(**overrides: Any) -> ItemFacts:
    """A batch within every tolerance: 100 USD variance on 100,000 matched, 10 records."""
    values: dict[str, Any] = {
        "kind": ItemKind.BATCH,
        "amount": "100000.00",
        "matched_value": "100000.00",
        "variance": "100.00",
        "record_count": 10,
    }
    values.update(overrides)
    return make_facts(**values)


def has_reason(decision: RoutingDecision, fragment: str) -> bool:
    return any(fragment in r for r in decision.reasons)


# --- matches ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("score", "route_", "kind", "reason"),
    [
        (100, Route.AUTO_ACCEPTED, ItemKind.MATCH, "score 100 >= 85: auto-accept"),
        (85, Route.AUTO_ACCEPTED, ItemKind.MATCH, "score 85 >= 85: auto-accept"),
        (84, Route.DIGEST, ItemKind.MATCH, "score 84 in review band 60-84"),
        (72, Route.DIGEST, ItemKind.MATCH, "score 72 in review band 60-84"),
        (60, Route.DIGEST, ItemKind.MATCH, "score 60 in review band 60-84"),
        (59, Route.DIGEST, ItemKind.UNMATCHED, "score 59 < 60: unmatched exception"),
        (0, Route.DIGEST, ItemKind.UNMATCHED, "score 0 < 60: unmatched exception"),
    ],
)
def test_match_score_bands(score: int, route_: Route, kind: ItemKind, reason: str) -> None:
    decision = route(kind=ItemKind.MATCH, score=score)
    assert decision.route is route_
    assert decision.kind is kind
    assert reason in decision.reasons


def test_match_without_a_score_is_an_unmatched_exception() -> None:
    decision = route(kind=ItemKind.MATCH, score=None)
    assert decision.kind is ItemKind.UNMATCHED
    assert decision.route is not Route.AUTO_ACCEPTED
    assert "match without a score" in decision.reasons


def test_score_bands_follow_the_policy() -> None:
    policy = make_policy(routing={"match_auto_accept_score": 95, "match_review_score": 70})
    assert route(policy, kind=ItemKind.MATCH, score=94).route is Route.DIGEST
    assert route(policy, kind=ItemKind.MATCH, score=95).route is Route.AUTO_ACCEPTED
    assert route(policy, kind=ItemKind.MATCH, score=69).kind is ItemKind.UNMATCHED


# --- immediate triggers, each alone -----------------------------------------------------

TRIGGERS = [
    pytest.param({"amount": "10000.00"}, "amount 10000.00 USD >= materiality", id="materiality"),
    pytest.param({"amount": "-10000.00"}, "amount -10000.00 USD >= materiality", id="negative"),
    pytest.param(
        {"amount": "9260.00", "currency": "EUR"}, "amount 10000.80 USD >= materiality", id="fx"
    ),
    pytest.param({"amount": "1500000", "currency": "JPY"}, "amount 10050.00 USD", id="jpy"),
    pytest.param({"aging_days": 5}, "aging 5d >= 5d", id="aging-limit"),
    pytest.param({"aging_days": 400}, "aging 400d >= 5d", id="aging-old"),
    pytest.param({"confidence": "0.84"}, "confidence 0.84 < 0.85", id="confidence"),
    pytest.param({"confidence": "0"}, "confidence 0 < 0.85", id="confidence-zero"),
    pytest.param({"risk_tier": RiskTier.HIGH}, "counterparty risk high", id="risk-high"),
    pytest.param({"risk_tier": RiskTier.CRITICAL}, "counterparty risk critical", id="critical"),
]
NOT_TRIGGERS = [
    pytest.param({"amount": "9999.99"}, id="below-materiality"),
    pytest.param({"amount": "-9999.99"}, id="negative-below"),
    pytest.param({"amount": "9250.00", "currency": "EUR"}, id="fx-below"),  # 9990.00 USD
    pytest.param({"aging_days": 4}, id="aging-below"),
    pytest.param({"aging_days": None}, id="aging-unknown"),
    pytest.param({"confidence": "0.85"}, id="confidence-at-minimum"),
    pytest.param({"confidence": "1"}, id="confidence-full"),
    pytest.param({"risk_tier": RiskTier.MEDIUM}, id="risk-medium"),
    pytest.param({"risk_tier": RiskTier.LOW}, id="risk-low"),
]
REVIEWED_KINDS = [
    pytest.param({"kind": ItemKind.UNMATCHED}, id="unmatched"),
    pytest.param({"kind": ItemKind.STATEMENT}, id="statement"),
    pytest.param({"kind": ItemKind.MATCH, "score": 70}, id="match-review-band"),
    pytest.param({"kind": ItemKind.MATCH, "score": 10}, id="weak-match"),
]


@pytest.mark.parametrize("kind", REVIEWED_KINDS)
@pytest.mark.parametrize(("trigger", "reason"), TRIGGERS)
def test_each_trigger_alone_sends_a_reviewed_item_to_immediate_review(
    kind: dict[str, Any], trigger: dict[str, Any], reason: str
) -> None:
    decision = route(**kind, **trigger)
    assert decision.route is Route.IMMEDIATE
    assert has_reason(decision, reason), decision.reasons
    assert not has_reason(decision, "next digest")


@pytest.mark.parametrize("kind", REVIEWED_KINDS)
@pytest.mark.parametrize("facts", NOT_TRIGGERS)
def test_below_every_threshold_waits_for_the_digest(
    kind: dict[str, Any], facts: dict[str, Any]
) -> None:
    decision = route(**kind, **facts)
    assert decision.route is Route.DIGEST
    assert "below every immediate-review threshold: next digest" in decision.reasons


def test_every_trigger_that_fires_is_a_reason() -> None:
    decision = route(amount="50000.00", aging_days=9, confidence="0.5", risk_tier=RiskTier.CRITICAL)
    assert decision.route is Route.IMMEDIATE
    for fragment in ("materiality", "aging 9d", "confidence 0.5", "counterparty risk critical"):
        assert has_reason(decision, fragment)


def test_risk_tiers_that_trigger_come_from_the_policy() -> None:
    policy = make_policy(routing={"immediate_risk_tiers": ["medium", "high", "critical"]})
    assert route(policy, risk_tier=RiskTier.MEDIUM).route is Route.IMMEDIATE
    assert route(policy, risk_tier=RiskTier.LOW).route is Route.DIGEST


# --- batches ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("overrides", "policy_overrides"),
    [
        pytest.param({}, {}, id="well-within"),
        pytest.param({"variance": "500.00", "matched_value": "1000000.00"}, {}, id="abs-at-cap"),
        pytest.param({"variance": "-500.00", "matched_value": "1000000.00"}, {}, id="abs-neg"),
        pytest.param({"variance": "150.00"}, {}, id="rel-at-cap"),
        pytest.param({"variance": "0.00"}, {}, id="zero-variance"),
        pytest.param({"variance": "75.00", "entity_risk_score": "1"}, {}, id="risk-1-at-cap"),
        pytest.param({"variance": "112.50", "entity_risk_score": "0.5"}, {}, id="risk-half"),
        pytest.param({"record_count": 5000}, {}, id="many-records"),
        pytest.param({"record_count": None}, {"batch": {"min_records": 0}}, id="no-minimum"),
        pytest.param(
            {"currency": "EUR", "variance": "462.00", "matched_value": "400000.00"},
            {},
            id="eur-abs-499.96",
        ),
    ],
)
def test_batch_within_every_tolerance_is_auto_approved(
    overrides: dict[str, Any], policy_overrides: dict[str, Any]
) -> None:
    decision = route_item(batch(**overrides), make_policy(**policy_overrides))
    assert decision.route is Route.AUTO_ACCEPTED
    assert decision.kind is ItemKind.BATCH
    assert "batch within every tolerance: auto-approve" in decision.reasons


@pytest.mark.parametrize(
    ("overrides", "reason"),
    [
        pytest.param(
            {"variance": "500.01", "matched_value": "1000000.00"},
            "variance 500.01 USD > absolute cap 500.00 USD",
            id="abs-over",
        ),
        pytest.param(
            {"variance": "-500.01", "matched_value": "1000000.00"},
            "variance 500.01 USD > absolute cap",
            id="abs-over-negative",
        ),
        pytest.param(
            {"currency": "EUR", "variance": "463.00", "matched_value": "400000.00"},
            "variance 500.04 USD > absolute cap",
            id="abs-over-in-eur",
        ),
        pytest.param({"variance": "150.01"}, "relative variance 0.001500 > cap", id="rel-over"),
        pytest.param(
            {"variance": "75.01", "entity_risk_score": "1"},
            "> cap 0.000750 (entity risk 1)",
            id="risk-scaled-cap",
        ),
        pytest.param(
            {"variance": "112.51", "entity_risk_score": "0.5"},
            "> cap 0.001125",
            id="risk-half-scaled-cap",
        ),
        pytest.param({"record_count": 9}, "9 records < minimum 10", id="few-records"),
        pytest.param({"record_count": None}, "0 records < minimum 10", id="no-records"),
        pytest.param({"matched_value": "0.00"}, "relative variance undefined", id="zero-matched"),
        pytest.param({"variance": None}, "without matched_value and variance", id="no-variance"),
        pytest.param(
            {"matched_value": None}, "without matched_value and variance", id="no-matched"
        ),
    ],
)
def test_batch_over_any_tolerance_goes_to_immediate_review(
    overrides: dict[str, Any], reason: str
) -> None:
    decision = route_item(batch(**overrides), POLICY)
    assert decision.route is Route.IMMEDIATE
    assert decision.kind is ItemKind.BATCH
    assert has_reason(decision, "batch over tolerance: "), decision.reasons
    assert has_reason(decision, reason), decision.reasons


def test_batch_lists_every_failed_tolerance() -> None:
    decision = route_item(
        batch(variance="900.00", matched_value="10000.00", record_count=2), POLICY
    )
    failures = [r for r in decision.reasons if r.startswith("batch over tolerance")]
    assert len(failures) == 3


def test_batch_over_tolerance_is_immediate_even_without_any_trigger() -> None:
    decision = route_item(batch(amount="10.00", record_count=1), POLICY)
    assert decision.route is Route.IMMEDIATE
    assert not has_reason(decision, "materiality")


# --- no FX rate, no team ----------------------------------------------------------------

AUTO_CANDIDATES = [
    pytest.param(make_facts(kind=ItemKind.MATCH, score=99), id="match"),
    pytest.param(batch(), id="batch"),
    pytest.param(make_facts(), id="unmatched"),
]


@pytest.mark.parametrize("facts", AUTO_CANDIDATES)
def test_no_fx_rate_is_immediate_with_that_reason_and_never_auto_accepted(
    facts: ItemFacts,
) -> None:
    chf = ItemFacts(**{**_fields(facts), "currency": "CHF"})
    decision = route_item(chf, POLICY)
    assert decision.route is Route.IMMEDIATE
    assert "no FX rate for CHF in the policy" in decision.reasons
    assert decision.reporting_amount is None
    assert decision.required_approvals == 2  # unknown size: treated as material


@pytest.mark.parametrize("facts", AUTO_CANDIDATES)
def test_no_team_is_immediate_with_that_reason_and_never_auto_accepted(
    facts: ItemFacts,
) -> None:
    orphan = ItemFacts(**{**_fields(facts), "entity": "ACME-JP"})
    decision = route_item(orphan, NO_CATCH_ALL)
    assert decision.route is Route.IMMEDIATE
    assert decision.team is None
    assert "no team owns entity ACME-JP in USD" in decision.reasons


def test_withheld_auto_accept_says_why() -> None:
    decision = route(kind=ItemKind.MATCH, score=99, currency="CHF")
    assert decision.kind is ItemKind.MATCH
    assert "auto-accept withheld: no FX rate for CHF in the policy" in decision.reasons


def _fields(facts: ItemFacts) -> dict[str, Any]:
    return {name: getattr(facts, name) for name in ItemFacts.__dataclass_fields__}


# --- team, reasons, version, reporting amount -------------------------------------------


@pytest.mark.parametrize(
    ("entity", "currency", "team"),
    [
        ("ACME-DE", "EUR", "ap"),
        ("ACME-DE", "USD", "treasury"),
        ("ACME-US", "EUR", "treasury"),
        ("ACME-US", "USD", "treasury"),
    ],
)
def test_team_is_the_most_specific_owner(entity: str, currency: str, team: str) -> None:
    assert route(entity=entity, currency=currency).team == team


def test_decision_carries_reasons_version_and_reporting_amount() -> None:
    decision = route(amount="100.00", currency="EUR")
    assert decision.reasons
    assert decision.policy_version == POLICY.version
    assert decision.reporting_amount == Decimal("108.00")
    assert route(amount="1000", currency="JPY").reporting_amount == Decimal("6.70")
    assert route(amount="-1.00", currency="GBP").reporting_amount == Decimal("-1.27")


def test_reporting_amount_rounds_half_up() -> None:
    facts = make_facts(amount="1.25", currency="EUR")  # 1.35 exactly
    assert reporting_amount(facts, POLICY) == Decimal("1.35")
    facts = make_facts(amount="0.05", currency="EUR")  # 0.054 -> 0.05
    assert reporting_amount(facts, POLICY) == Decimal("0.05")


# --- priority ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("low", "high"),
    [
        pytest.param({"amount": "100.00"}, {"amount": "5000.00"}, id="amount"),
        pytest.param({"amount": "-100.00"}, {"amount": "-5000.00"}, id="negative-amount"),
        pytest.param({"amount": "9000.00"}, {"amount": "25000.00"}, id="amount-over-materiality"),
        pytest.param({"risk_tier": RiskTier.LOW}, {"risk_tier": RiskTier.MEDIUM}, id="medium"),
        pytest.param({"risk_tier": RiskTier.MEDIUM}, {"risk_tier": RiskTier.HIGH}, id="high"),
        pytest.param({"risk_tier": RiskTier.HIGH}, {"risk_tier": RiskTier.CRITICAL}, id="crit"),
        pytest.param({"risk_tier": None}, {"risk_tier": RiskTier.MEDIUM}, id="unknown-risk"),
        pytest.param({"aging_days": 0}, {"aging_days": 4}, id="aging"),
        pytest.param({"confidence": "0.99"}, {"confidence": "0.6"}, id="confidence"),
        pytest.param({"entity_risk_score": "0.1"}, {"entity_risk_score": "0.9"}, id="entity"),
        pytest.param({"currency": "EUR"}, {"currency": "CHF"}, id="unknown-size"),
    ],
)
def test_priority_bigger_older_riskier_less_certain_first(
    low: dict[str, Any], high: dict[str, Any]
) -> None:
    assert route(**high).priority > route(**low).priority


@pytest.mark.parametrize(
    ("small", "large"),
    [
        ("10.00", "100.00"),
        ("100.00", "149.00"),
        ("-10.00", "-140.00"),
    ],
)
def test_priority_bigger_variance_first(small: str, large: str) -> None:
    low = route_item(batch(variance=small), POLICY).priority
    high = route_item(batch(variance=large), POLICY).priority
    assert high > low


def test_priority_is_bounded() -> None:
    # Every input at its worst, down to a counterparty that never matches: the top.
    extreme = route_item(
        make_facts(
            amount="9999999.00",
            risk_tier=RiskTier.CRITICAL,
            aging_days=9999,
            confidence="0",
            entity_risk_score="1",
            kind=ItemKind.BATCH,
            matched_value="1.00",
            variance="9999999.00",
            counterparty="Globex",
        ),
        POLICY,
        history=_history(Globex=(10, 0)),
    )
    assert extreme.priority == MAX_PRIORITY
    # Every input at its best, down to a counterparty that always matches: the bottom.
    tiny = route_item(
        make_facts(
            amount="0.00",
            aging_days=0,
            confidence="1",
            risk_tier=RiskTier.LOW,
            counterparty="Globex",
        ),
        POLICY,
        history=_history(Globex=(10, 10)),
    )
    assert tiny.priority == 0
    # Out of the ranges intake enforces: still a priority, never a negative one (an
    # entity risk score of -9e13 made -9007199254740992, which no audit record holds).
    wild = route(
        amount="0.00",
        aging_days=-400,
        confidence="7",
        entity_risk_score="-90071992547409.9725",
        kind=ItemKind.BATCH,
        matched_value="1.00",
        variance="0.00",
    )
    # Every input clamped to its floor: all that is left is the neutral match rate.
    floor = route(amount="0.00", aging_days=0, confidence="1", risk_tier=RiskTier.LOW)
    assert wild.priority == floor.priority == int(MAX_PRIORITY * Decimal("0.05"))


# --- historical match rate ----------------------------------------------------------------


def test_a_counterparty_that_seldom_matches_comes_first() -> None:
    facts = make_facts(counterparty="Globex")
    seldom = route_item(facts, POLICY, history=_history(Globex=(20, 2)))
    often = route_item(facts, POLICY, history=_history(Globex=(20, 19)))
    unknown = route_item(facts, POLICY, history=_history(Initech=(20, 0)))
    assert seldom.priority > unknown.priority > often.priority
    # Only the priority moves: the route, team and approvals are the same.
    assert {(d.route, d.team, d.required_approvals) for d in (seldom, often, unknown)} == {
        (often.route, often.team, often.required_approvals)
    }


def test_the_rate_weighs_as_the_policy_says() -> None:
    facts = make_facts(counterparty="Globex")
    never, always = _history(Globex=(10, 0)), _history(Globex=(10, 10))
    # Default weight 0.10: the whole range of the rate moves the priority by 10% of 999.
    spread = (
        route_item(facts, POLICY, history=never).priority
        - route_item(facts, POLICY, history=always).priority
    )
    assert spread in (99, 100)
    weights = {"variance": "0.5", "aging": "0.3", "risk_tier": "0.2", "match_rate": "0"}
    ignored = make_policy(routing={"priority_weights": weights})
    assert (
        route_item(facts, ignored, history=never).priority
        == route_item(facts, ignored, history=always).priority
    )


def test_no_history_is_the_stated_neutral_rate() -> None:
    facts = make_facts(counterparty="Globex")
    half = route_item(facts, POLICY, history=_history(Globex=(10, 5)))
    none = route_item(facts, POLICY)
    empty = route_item(facts, POLICY, history=_history(Globex=(0, 0)))
    assert half.priority == none.priority == empty.priority
    assert none.reasons[-1] == "no match history over 90 days: match rate neutral 50%"
    assert half.reasons[-1] == "match rate 50% over 90 days, 10 lines"
    nameless = route_item(make_facts(counterparty=None), POLICY)
    assert nameless.reasons[-1] == "no counterparty: match rate neutral 50%"
    assert nameless.priority == none.priority


def test_the_reason_shows_the_rate_the_window_and_the_lines() -> None:
    facts = make_facts(counterparty="Globex")
    decision = route_item(facts, POLICY, history=_history(30, Globex=(14, 10)))
    assert "match rate 71% over 30 days, 14 lines" in decision.reasons
    one = route_item(facts, POLICY, history=_history(Globex=(1, 1)))
    assert one.reasons[-1] == "match rate 100% over 90 days, 1 line"
    window = make_policy(matching={"history_days": 30})
    assert route_item(facts, window).reasons[-1] == (
        "no match history over 30 days: match rate neutral 50%"
    )


def test_a_policy_without_priority_weights_keeps_its_version_and_the_default_weights() -> None:
    spelled = make_policy(
        routing={
            "priority_weights": {
                "variance": "0.45",
                "aging": "0.25",
                "risk_tier": "0.20",
                "match_rate": "0.10",
            }
        },
        matching={"history_days": 90},
    )
    assert spelled.version == POLICY.version
    assert make_policy(matching={"history_days": 30}).version != POLICY.version
    facts = make_facts(counterparty="Globex", aging_days=3, risk_tier=RiskTier.HIGH)
    assert route_item(facts, spelled) == route_item(facts, POLICY)


@pytest.mark.parametrize(
    ("weights", "why"),
    [
        ({"variance": "1.5", "aging": "0", "risk_tier": "0", "match_rate": "-0.5"}, "variance"),
        ({"match_rate": "-0.1", "variance": "0.55"}, "match_rate"),
        ({"variance": "0.5"}, "sum to 1, not 1.05"),
    ],
)
def test_priority_weights_are_validated(weights: dict[str, str], why: str) -> None:
    with pytest.raises(PolicyError) as info:
        make_policy(routing={"priority_weights": weights})
    assert any(
        p.startswith("routing.priority_weights") and why in p for p in info.value.problems
    ), info.value.problems


# --- dual control -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("facts", "required"),
    [
        pytest.param(make_facts(amount="9999.99"), 1, id="below"),
        pytest.param(make_facts(amount="10000.00"), 2, id="at-limit"),
        pytest.param(make_facts(amount="-10000.00"), 2, id="negative"),
        pytest.param(make_facts(amount="9250.00", currency="EUR"), 1, id="eur-below"),
        pytest.param(make_facts(amount="9260.00", currency="EUR"), 2, id="eur-above"),
        pytest.param(make_facts(currency="CHF"), 2, id="no-rate"),
        pytest.param(batch(amount="1000.00", variance="499.00"), 1, id="ratio-below"),
        pytest.param(batch(amount="1000.00", variance="500.00"), 2, id="ratio-at-limit"),
        pytest.param(batch(amount="1000.00", variance="-600.00"), 2, id="ratio-negative"),
    ],
)
def test_dual_control_sets_required_approvals(facts: ItemFacts, required: int) -> None:
    assert route_item(facts, POLICY).required_approvals == required


@pytest.mark.parametrize(
    "facts",
    [
        pytest.param(make_facts(kind=ItemKind.MATCH, score=95, amount="50000.00"), id="material"),
        pytest.param(
            make_facts(kind=ItemKind.MATCH, score=95, risk_tier=RiskTier.CRITICAL), id="critical"
        ),
    ],
)
def test_match_auto_accept_never_bypasses_materiality_risk_or_dual_control(
    facts: ItemFacts,
) -> None:
    decision = route_item(facts, POLICY)
    assert decision.route is Route.IMMEDIATE


def test_dual_control_alone_withholds_auto_accept_without_making_it_immediate() -> None:
    policy = make_policy(routing={"materiality": "50000.00"})
    decision = route(policy, kind=ItemKind.MATCH, score=95, amount="20000.00")
    assert decision.route is Route.DIGEST
    assert decision.required_approvals == 2
    assert "auto-accept withheld: dual control requires 2 approvers" in decision.reasons


@pytest.mark.parametrize(
    ("overrides", "why"),
    [
        pytest.param({"risk_tier": RiskTier.HIGH}, "counterparty risk high", id="risk-tier"),
        pytest.param({"aging_days": 5}, "aging 5d >= 5d", id="aging"),
        pytest.param({"confidence": "0.80"}, "confidence 0.80 < 0.85", id="confidence"),
    ],
)
def test_a_batch_within_tolerance_is_not_auto_approved_when_a_risk_trigger_fires(
    overrides: dict[str, Any], why: str
) -> None:
    decision = route_item(batch(**overrides), POLICY)
    assert decision.route is Route.IMMEDIATE
    assert f"auto-accept withheld: {why}" in decision.reasons


def test_a_batch_is_withheld_when_its_variance_itself_is_material() -> None:
    # Only a policy whose cap lets a material variance through can reach this.
    policy = make_policy(
        batch={"absolute_cap": "20000.00", "relative_cap": "0.5"},
        dual_control={"variance_pct": "0.9"},
    )
    decision = route_item(batch(variance="10000.00"), policy)
    assert decision.route is Route.IMMEDIATE
    assert "auto-accept withheld: variance 10000.00 USD >= materiality 10000.00" in decision.reasons
    assert "auto-accept withheld: dual control requires 2 approvers for this variance" in (
        decision.reasons
    )

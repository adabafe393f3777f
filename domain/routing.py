"""Routing: a pure, deterministic verdict for each item, with its reasons and priority.

A ``match`` scoring at or above the auto-accept score is accepted without review; one in
the review band is reviewed; one below it becomes an ``unmatched`` exception. A ``batch``
is auto-approved only when every tolerance holds. Anything reviewed goes to immediate
review when a trigger fires (materiality, aging, confidence, risk tier), otherwise to the
next digest. Auto-acceptance is withheld whenever an immediate-review trigger fires or
dual control requires two approvers: such an item is never approved without a human.
An item whose amount cannot be converted (no FX rate) or that no team owns is never
auto-accepted: it goes to immediate review with that reason.

Rates: given a :class:`~domain.fx.RateBook` (the dated rates the shell loaded from the
store for a batch), an amount is converted at the latest rate on or before the item's
date, which is its ``booked_on``, else the day it is ingested (``today``); without one
in the book, at the policy's static ``fx_rates``. The rate used, its date and its source
go into the decision (:attr:`RoutingDecision.fx`) and from there into its audit record.
"""

from __future__ import annotations

import dataclasses
from datetime import date
from decimal import Decimal
from typing import Any

from domain.audit.records import canonical_data
from domain.fx import AppliedRate, RateBook
from domain.intake import IntakeRow, content_hash
from domain.items import Item, ItemFacts, ItemKind, RiskTier, Route, RoutingDecision
from domain.matching.history import MatchHistory, MatchRate
from domain.money import quantize
from domain.policy import LoadedPolicy

MAX_PRIORITY = 999


#: The ``source`` of a rate taken from the policy's static ``fx_rates``.
POLICY_SOURCE = "policy fx_rates"


def applied_rate(
    currency: str, loaded: LoadedPolicy, *, rates: RateBook | None = None, on: date | None = None
) -> AppliedRate | None:
    """Reporting units per unit of ``currency``: the book's rate for ``on`` (the latest on
    or before it), else the policy's static rate (dated None), else None."""
    reporting = loaded.policy.reporting_currency
    if rates is not None and on is not None and currency != reporting:
        found = rates.lookup(currency, reporting, on)
        if found is not None:
            return found
    static = loaded.policy.rate(currency)
    if static is None:
        return None
    return AppliedRate(
        currency=currency,
        reporting_currency=reporting,
        rate=static,
        on=None,
        source="identity" if currency == reporting else POLICY_SOURCE,
        basis="same currency" if currency == reporting else f"policy {loaded.version}",
    )


def reporting_rate(currency: str, loaded: LoadedPolicy) -> Decimal | None:
    """Reporting-currency units per one unit of ``currency`` from the policy alone (its
    static ``fx_rates``); None without a rate. Dated rates: :func:`applied_rate`."""
    applied = applied_rate(currency, loaded)
    return applied.rate if applied is not None else None


def rate_date(facts: ItemFacts, today: date | None) -> date | None:
    """The day whose rate converts an item: its ``booked_on``, else its ingest day."""
    return facts.booked_on or today


def item_rate_day(item: Item) -> date:
    """The day a stored item's amount converts at: its ``booked_on``, else the day it
    was ingested."""
    return rate_date(item.facts, item.created_at.date()) or item.created_at.date()


def to_reporting(
    amount: Decimal, currency: str, loaded: LoadedPolicy, *, rate: AppliedRate | None = None
) -> Decimal | None:
    """An amount in the reporting currency, rounded to its minor units; None without a rate.

    ``rate`` is the one to use (:func:`applied_rate`); without it, the policy's static one.
    """
    policy = loaded.policy
    factor = rate.rate if rate is not None else policy.rate(currency)
    if factor is None:
        return None
    return quantize(amount * factor, policy.reporting_currency)


def reporting_amount(
    facts: ItemFacts, loaded: LoadedPolicy, *, rate: AppliedRate | None = None
) -> Decimal | None:
    """The item's amount in the reporting currency, or None without a rate."""
    return to_reporting(facts.amount, facts.currency, loaded, rate=rate)


def dual_control_required(
    reporting: Decimal | None, loaded: LoadedPolicy, *, variance_ratio: Decimal | None = None
) -> bool:
    """Whether two distinct approvers are needed (the one rule for approvals and write-offs).

    Args:
        reporting: the amount in the reporting currency, rounded as ``to_reporting`` does
            (None when there is no rate: an amount of unknown size needs two).
        loaded: the policy.
        variance_ratio: ``|variance / matched_value|`` of a batch, if any.
    """
    rules = loaded.policy.dual_control
    if reporting is None or abs(reporting) >= rules.amount:
        return True
    return variance_ratio is not None and variance_ratio >= rules.variance_pct


def _fixed_write_off(item: Item) -> Decimal | None:
    """The write-off amount a live sign-off fixed; None without one (an amendment voids
    the sign-offs, and with them the amount they fixed)."""
    dispute = item.dispute
    if dispute is None or not dispute.write_off_approvals:
        return None
    return dispute.resolution_amount


def write_off_approvers(
    item: Item,
    loaded: LoadedPolicy,
    *,
    amount: Decimal | None = None,
    rate: AppliedRate | None = None,
) -> int:
    """Approvers a write-off needs: the dual-control rule above, on the written-off amount.

    That amount is the one a live sign-off fixed, else ``amount`` (proposed with this
    sign-off), else the dispute's proposed adjustment, else the item's amount. It is
    converted and rounded exactly as routing does, so at the limit the write-off and the
    ordinary approval agree.
    """
    written_off = write_off_amount(item, amount)
    reporting = to_reporting(written_off, item.facts.currency, loaded, rate=rate)
    return 2 if dual_control_required(reporting, loaded) else 1


def write_off_amount(item: Item, amount: Decimal | None = None) -> Decimal:
    """What a write-off sign-off writes off (the item's currency): the amount a live
    sign-off fixed, else ``amount`` (proposed with this sign-off), else the dispute's
    proposed adjustment, else the item's amount."""
    written_off = _fixed_write_off(item)
    if written_off is None:
        written_off = amount
    if written_off is None and item.dispute is not None:
        written_off = item.dispute.proposed_adjustment
    if written_off is None:
        written_off = item.facts.amount
    return written_off


def _variance_ratio(facts: ItemFacts) -> Decimal | None:
    if facts.variance is None or not facts.matched_value:
        return None
    return abs(facts.variance) / abs(facts.matched_value)


#: Each risk tier's score in 0..1 (the share of the risk input it takes).
_TIER_SCORE = {
    RiskTier.LOW: Decimal(0),
    RiskTier.MEDIUM: Decimal("0.2"),
    RiskTier.HIGH: Decimal("0.6"),
    RiskTier.CRITICAL: Decimal(1),
}
_ONE = Decimal(1)


def _unit(value: Decimal) -> Decimal:
    return min(_ONE, max(Decimal(0), value))


def _priority(
    facts: ItemFacts, amount: Decimal | None, loaded: LoadedPolicy, match_rate: MatchRate
) -> int:
    """Bigger amounts and variances, older, riskier, less certain items and counterparties
    that seldom match first: ``999 x`` the weighted sum (``routing.priority_weights``) of
    four scores in 0..1.

    - variance: the amount against three times materiality (an unknown size counts 2/3);
      for an item with a variance ratio (a batch), the mean of that and the ratio against
      three times the relative cap;
    - aging: the aging against five times the aging limit;
    - risk_tier: the counterparty's tier (weighing half), the entity's risk score and the
      doubt ``1 - confidence`` (a quarter each);
    - match_rate: one minus the counterparty's historical match rate (neutral without
      history, :data:`~domain.matching.history.NEUTRAL_MATCH_RATE`).
    """
    policy = loaded.policy
    weights = policy.routing.priority_weights
    if amount is None:
        variance = Decimal(2) / 3  # unknown size: treat as material
    else:
        variance = _unit(abs(amount) / (3 * policy.routing.materiality))
    ratio = _variance_ratio(facts)
    if ratio is not None and policy.batch.relative_cap:
        variance = (variance + _unit(ratio / (3 * policy.batch.relative_cap))) / 2
    aging = Decimal(0)
    if facts.aging_days is not None and policy.routing.aging_days:
        aging = _unit(Decimal(facts.aging_days) / (5 * policy.routing.aging_days))
    tier = _TIER_SCORE[facts.risk_tier] if facts.risk_tier else Decimal(0)
    entity = _unit(facts.entity_risk_score) if facts.entity_risk_score is not None else 0
    doubt = _unit(1 - facts.confidence) if facts.confidence is not None else 0
    risk = (2 * tier + entity + doubt) / 4
    total = (
        weights.variance * variance
        + weights.aging * aging
        + weights.risk_tier * risk
        + weights.match_rate * (1 - _unit(match_rate.value))
    )
    # Intake keeps every input in range; facts from elsewhere still get a priority the
    # queue (and the audit record, which holds it as an exact JSON integer) can take.
    return max(0, min(MAX_PRIORITY, int(MAX_PRIORITY * total)))


def _required_approvals(facts: ItemFacts, amount: Decimal | None, loaded: LoadedPolicy) -> int:
    dual = dual_control_required(amount, loaded, variance_ratio=_variance_ratio(facts))
    return 2 if dual else 1


def _batch_failures(facts: ItemFacts, loaded: LoadedPolicy, fx: AppliedRate | None) -> list[str]:
    """Reasons a batch cannot be auto-approved; empty means every tolerance holds."""
    rules = loaded.policy.batch
    currency = loaded.policy.reporting_currency
    failures: list[str] = []
    if facts.variance is None or facts.matched_value is None:
        return ["batch without matched_value and variance cannot be auto-approved"]
    if fx is not None:
        variance_rep = quantize(abs(facts.variance) * fx.rate, currency)
        if variance_rep > rules.absolute_cap:
            failures.append(
                f"variance {variance_rep} {currency} > absolute cap {rules.absolute_cap} {currency}"
            )
    risk = facts.entity_risk_score or Decimal(0)
    cap = rules.relative_cap * (1 - risk * rules.risk_multiplier)
    ratio = _variance_ratio(facts)
    if ratio is None:
        failures.append("matched_value is zero: relative variance undefined")
    elif ratio > cap:
        failures.append(f"relative variance {ratio:.6f} > cap {cap:.6f} (entity risk {risk})")
    if rules.min_records and (facts.record_count or 0) < rules.min_records:
        failures.append(f"{facts.record_count or 0} records < minimum {rules.min_records}")
    return failures


def _auto_accept_withheld(
    facts: ItemFacts,
    triggers: list[str],
    *,
    material: str | None,
    required_approvals: int,
    loaded: LoadedPolicy,
    fx: AppliedRate | None,
) -> list[str]:
    """Why an item that qualifies for auto-acceptance must still see a human.

    Nothing material or risky is approved silently: any immediate-review trigger, or dual
    control, withholds it. A batch qualifies only with its variance within the caps, and
    its amount is the matched total the engine already reconciled; what auto-approval
    accepts unseen is the variance, so for a batch materiality and the dual-control
    amount are measured on the variance (the variance ratio rule applies as it is).
    """
    if facts.kind is not ItemKind.BATCH or facts.variance is None:
        withheld = list(triggers)
        if required_approvals >= 2:
            withheld.append(f"dual control requires {required_approvals} approvers")
        return withheld
    withheld = [t for t in triggers if t != material]
    policy = loaded.policy
    variance = to_reporting(abs(facts.variance), facts.currency, loaded, rate=fx)
    if variance is not None and variance >= policy.routing.materiality:
        withheld.append(
            f"variance {variance} {policy.reporting_currency} >= materiality "
            f"{policy.routing.materiality}"
        )
    if dual_control_required(variance, loaded, variance_ratio=_variance_ratio(facts)):
        withheld.append("dual control requires 2 approvers for this variance")
    return withheld


def route_item(
    facts: ItemFacts,
    loaded: LoadedPolicy,
    *,
    rates: RateBook | None = None,
    today: date | None = None,
    history: MatchHistory | None = None,
) -> RoutingDecision:
    """Routes one item. Pure: the same facts, policy, rates and history give the same
    decision.

    Args:
        facts: the item.
        loaded: the policy in force.
        rates: dated rates (None: only the policy's static ``fx_rates``).
        today: the ingest day, the rate date of an item without ``booked_on``.
        history: the counterparties' historical match rates (None: no history, so the
            neutral rate over the policy's ``matching.history_days``).
    """
    policy = loaded.policy
    kind = facts.kind
    reasons: list[str] = []
    blockers: list[str] = []

    on = rate_date(facts, today)
    fx = applied_rate(facts.currency, loaded, rates=rates, on=on)
    amount = reporting_amount(facts, loaded, rate=fx)
    if amount is None:
        if rates is not None and on is not None:
            blockers.append(
                f"no FX rate for {facts.currency} on or before {on.isoformat()} "
                "(dated rates) nor in the policy"
            )
        else:
            blockers.append(f"no FX rate for {facts.currency} in the policy")
    team = policy.team_for(entity=facts.entity, currency=facts.currency)
    if team is None:
        blockers.append(f"no team owns entity {facts.entity} in {facts.currency}")

    auto = False
    if kind is ItemKind.MATCH:
        score = facts.score if facts.score is not None else 0
        if facts.score is None:
            reasons.append("match without a score")
        if score >= policy.routing.match_auto_accept_score:
            reasons.append(
                f"score {score} >= {policy.routing.match_auto_accept_score}: auto-accept"
            )
            auto = True
        elif score >= policy.routing.match_review_score:
            reasons.append(
                f"score {score} in review band {policy.routing.match_review_score}-"
                f"{policy.routing.match_auto_accept_score - 1}"
            )
        else:
            kind = ItemKind.UNMATCHED
            reasons.append(
                f"score {score} < {policy.routing.match_review_score}: unmatched exception"
            )
    elif kind is ItemKind.BATCH:
        failures = _batch_failures(facts, loaded, fx)
        if failures:
            reasons.extend(f"batch over tolerance: {f}" for f in failures)
        else:
            reasons.append("batch within every tolerance: auto-approve")
            auto = True

    material = (
        f"amount {amount} {policy.reporting_currency} >= materiality {policy.routing.materiality}"
        if amount is not None and abs(amount) >= policy.routing.materiality
        else None
    )
    triggers: list[str] = list(blockers)
    if material:
        triggers.append(material)
    if facts.aging_days is not None and facts.aging_days >= policy.routing.aging_days:
        triggers.append(f"aging {facts.aging_days}d >= {policy.routing.aging_days}d")
    if facts.confidence is not None and facts.confidence < policy.routing.min_confidence:
        triggers.append(f"confidence {facts.confidence} < {policy.routing.min_confidence}")
    if facts.risk_tier is not None and facts.risk_tier in policy.routing.immediate_risk_tiers:
        triggers.append(f"counterparty risk {facts.risk_tier.value}")

    required_approvals = _required_approvals(facts, amount, loaded)
    if auto:
        withheld = _auto_accept_withheld(
            facts,
            triggers,
            material=material,
            required_approvals=required_approvals,
            loaded=loaded,
            fx=fx,
        )
        reasons.extend(f"auto-accept withheld: {why}" for why in withheld)
        auto = auto and not withheld

    if auto:
        route = Route.AUTO_ACCEPTED
    elif triggers or (facts.kind is ItemKind.BATCH):
        # A batch over tolerance is an exception in its own right: always immediate.
        route = Route.IMMEDIATE
        reasons.extend(t for t in triggers if t not in reasons)
    else:
        route = Route.DIGEST
        reasons.append("below every immediate-review threshold: next digest")

    if history is None:
        history = MatchHistory(days=policy.matching.history_days)
    match_rate = history.rate_for(facts.counterparty)
    reasons.append(match_rate.reason())

    return RoutingDecision(
        route=route,
        kind=kind,
        reasons=tuple(reasons),
        priority=_priority(facts, amount, loaded, match_rate),
        team=team.name if team else None,
        required_approvals=required_approvals,
        policy_version=loaded.version,
        reporting_amount=amount,
        fx=fx if fx is not None and facts.currency != policy.reporting_currency else None,
    )


def prepare(row: IntakeRow, loaded: LoadedPolicy) -> IntakeRow:
    """The row with its content hash and routing decision computed (pure).

    The state-free half of ingest, so a parsing process can do it while the writer
    stores the previous batch; ingest trusts the decision only under the same policy
    version.
    """
    hashed = content_hash(row.facts)
    decision = route_item(row.facts, loaded)
    return dataclasses.replace(
        row,
        content_hash=hashed,
        decision=decision,
        routing_record=canonical_data(routing_data(row.facts, decision, hashed)),
    )


def routing_data(facts: ItemFacts, decision: RoutingDecision, hashed: str) -> dict[str, Any]:
    """What an item's audit record says about its routing (ingest and amendments)."""
    return {
        "route": decision.route.value,
        "reasons": list(decision.reasons),
        "priority": decision.priority,
        "team": decision.team,
        "required_approvals": decision.required_approvals,
        "kind": decision.kind.value,
        # Money as exact decimal strings: RFC 8785 has no exact integers past 2**53,
        # and amounts up to 10**18 minor units are valid.
        "amount": str(facts.amount),
        "currency": facts.currency,
        "reporting_amount": (
            str(decision.reporting_amount) if decision.reporting_amount is not None else None
        ),
        "content_hash": hashed,
        # The rate the amount was converted at: its value, date and source (present
        # only for an item outside the reporting currency that had one).
        **({"fx": decision.fx.audit_data()} if decision.fx is not None else {}),
    }

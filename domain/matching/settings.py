"""The policy's ``matching:`` section as the matcher's :class:`MatchingPolicy`.

The amount tolerance is written in the reporting currency; the matcher needs it in each
line currency, so the caller passes the rate of each currency (reporting units per one
unit) and the tolerance is converted here, rounded up to the currency's minor unit so a
converted tolerance is never tighter than the one written.
"""

from __future__ import annotations

from collections.abc import Mapping
from decimal import ROUND_CEILING, Decimal

from domain.matching.records import MatchingPolicy, Weights
from domain.money import minor_units, normalize_currency
from domain.policy import Policy


def matching_policy(policy: Policy, *, rates: Mapping[str, Decimal]) -> MatchingPolicy:
    """The matcher's policy: the ``matching:`` section, routing's bands and ``rates``
    (currency -> reporting units per one unit) turned into per-currency tolerances.

    A currency without a rate (other than the reporting currency) gets no tolerance: the
    matcher then refuses it rather than guess.
    """
    section = policy.matching
    reporting = normalize_currency(policy.reporting_currency)
    tolerances: dict[str, Decimal] = {}
    for currency, rate in sorted(rates.items()):
        code = normalize_currency(currency)
        if code == reporting or rate <= 0:
            continue
        exponent = Decimal(1).scaleb(-minor_units(code))
        tolerances[code] = (section.amount_tolerance / rate).quantize(
            exponent, rounding=ROUND_CEILING
        )
    weights = section.weights
    return MatchingPolicy(
        date_window_days=section.date_window_days,
        amount_tolerance=section.amount_tolerance,
        reporting_currency=reporting,
        tolerances=tolerances,
        max_group_size=section.max_group_size,
        group_time_budget_ms=section.group_time_budget_ms,
        weights=Weights(
            amount=weights.amount,
            date=weights.date,
            reference=weights.reference,
            counterparty=weights.counterparty,
        ),
        auto_accept_at=policy.routing.match_auto_accept_score,
        review_at=max(1, policy.routing.match_review_score),
    )

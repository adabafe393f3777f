"""Builders of test values: the test policy (as YAML, dict or parsed), item facts, items.

Each builds a realistic default that a test changes only where its point lies
(``make_item(state=ReviewState.ASSIGNED, assignee="U0ALICE")``).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from decimal import Decimal
from typing import Any

import yaml

from domain.intake import content_hash
from domain.items import Approval, Item, ItemFacts, ItemKind, ReviewState, RiskTier, Route
from domain.policy import LoadedPolicy, parse_policy
from tests.fakes import T0

# --- policy --------------------------------------------------------------------------

POLICY_YAML = """\
# recon-bot policy used by the unit tests (a realistic two-team setup).
reporting_currency: USD

# Reporting-currency units per one unit of each currency. No CHF: CHF items have no rate.
fx_rates:
  EUR: "1.08"
  GBP: "1.27"
  JPY: "0.0067"

routing:
  materiality: "10000.00"
  aging_days: 5
  min_confidence: "0.85"
  immediate_risk_tiers: [high, critical]
  match_auto_accept_score: 85
  match_review_score: 60

batch:
  absolute_cap: "500.00"
  relative_cap: "0.0015"
  risk_multiplier: "0.5"
  min_records: 10

dual_control:
  amount: "10000.00"
  variance_pct: "0.005"

teams:
  - name: treasury
    channel: C0TREASURY
    reviewers: [U0ALICE, U0BOB, U0CAROL]
    leads: [U0LEAD]
  - name: ap
    channel: C0AP
    reviewers: [U0DAN, U0ERIN]
    leads: [U0LEAD2]
    entities: [ACME-DE]
    currencies: [EUR]

compliance:
  channel: C0COMPLIANCE
  officers: [U0AUDIT]
  leads_resolve_dead_letters: true

sla:
  remind_after: 24h
  escalate_after: 48h
  dead_letter_after: 72h
  claim_ttl: 4h

digest:
  cron: "0 */4 * * *"
  timezone: Europe/Berlin
"""


def policy_data(**overrides: Any) -> dict[str, Any]:
    """The test policy as a dict, with ``overrides`` deep-merged (mappings merge, the rest
    replaces; a ``None`` value removes the key)."""
    data: dict[str, Any] = yaml.safe_load(POLICY_YAML)
    return _merge(data, overrides)


def policy_text(**overrides: Any) -> str:
    """The test policy as YAML text (the exact ``POLICY_YAML`` when nothing is overridden)."""
    if not overrides:
        return POLICY_YAML
    return yaml.safe_dump(policy_data(**overrides), sort_keys=False)


def make_policy(**overrides: Any) -> LoadedPolicy:
    """A validated policy built from ``POLICY_YAML`` with ``overrides`` deep-merged.

    Example: ``make_policy(routing={"materiality": "5000.00"}, batch={"min_records": 0})``.
    """
    return parse_policy(policy_text(**overrides))


def _merge(base: dict[str, Any], overrides: dict[str, Any]) -> dict[str, Any]:
    out = dict(base)
    for key, value in overrides.items():
        if value is None:
            out.pop(key, None)
        elif isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = _merge(out[key], value)
        else:
            out[key] = value
    return out


# --- facts and items -----------------------------------------------------------------


def make_facts(**overrides: Any) -> ItemFacts:
    """Facts of a small, low-risk, fresh treasury item in USD (routes to the digest).

    ``amount``, ``confidence``, ``matched_value``, ``variance`` and ``entity_risk_score``
    may be given as strings; ``kind`` and ``risk_tier`` as their values.
    """
    values: dict[str, Any] = {
        "source": "bank-feed",
        "external_id": "EXT-1",
        "kind": ItemKind.UNMATCHED,
        "entity": "ACME-US",
        "currency": "USD",
        "amount": Decimal("125.00"),
        "counterparty": "Globex Corp",
        "aging_days": 1,
        "reference": "INV-2025-0042",
    }
    values.update(overrides)
    for name in ("amount", "confidence", "matched_value", "variance", "entity_risk_score"):
        if isinstance(values.get(name), str | int):
            values[name] = Decimal(values[name])
    if isinstance(values["kind"], str):
        values["kind"] = ItemKind(values["kind"])
    if isinstance(values.get("risk_tier"), str):
        values["risk_tier"] = RiskTier(values["risk_tier"])
    return ItemFacts(**values)


def make_item(
    *,
    state: ReviewState = ReviewState.PENDING,
    facts: ItemFacts | None = None,
    now: datetime = T0,
    approvers: Sequence[str] = (),
    **overrides: Any,
) -> Item:
    """A stored item (id 1 unless overridden) of the treasury team, needing one approval."""
    item_facts = facts if facts is not None else make_facts()
    values: dict[str, Any] = {
        "id": 1,
        "facts": item_facts,
        "content_hash": content_hash(item_facts),
        "state": state,
        "route": Route.DIGEST,
        "priority": 10,
        "reasons": ("below every immediate-review threshold: next digest",),
        "policy_version": "pol-test",
        "team": "treasury",
        "required_approvals": 1,
        "created_at": now,
        "updated_at": now,
        "sla_started_at": now,
        "approvals": tuple(Approval(user=u, at=now) for u in approvers),
    }
    values.update(overrides)
    return Item(**values)

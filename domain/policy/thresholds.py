"""The numbers that decide review: routing thresholds and queue priority weights,
batch tolerances, dual control and step-up."""

from __future__ import annotations

from decimal import Decimal

from pydantic import Field, ValidationInfo, field_validator, model_validator

from domain.items import RiskTier
from domain.policy.fields import Dec, StrictModel


class PriorityWeights(StrictModel):
    """How much each input weighs in an item's queue priority (each 0..1, summing to 1).

    The priority is ``999 x`` the weighted sum of four scores in 0..1: ``variance`` (the
    money at stake), ``aging``, ``risk_tier`` (the counterparty's tier, the entity's risk
    score and the doubt in the item's confidence) and ``match_rate`` (one minus the
    counterparty's historical match rate, see ``matching.history_days``).
    """

    variance: Dec = Decimal("0.45")
    aging: Dec = Decimal("0.25")
    risk_tier: Dec = Decimal("0.20")
    match_rate: Dec = Decimal("0.10")

    @field_validator("variance", "aging", "risk_tier", "match_rate")
    @classmethod
    def _weight(cls, value: Decimal, info: ValidationInfo) -> Decimal:
        if not Decimal(0) <= value <= Decimal(1):
            raise ValueError(f"{info.field_name} must be between 0 and 1, not {value}")
        return value

    @model_validator(mode="after")
    def _sum(self) -> PriorityWeights:
        total = self.variance + self.aging + self.risk_tier + self.match_rate
        if total != 1:
            raise ValueError(f"the priority weights must sum to 1, not {total}")
        return self


class Routing(StrictModel):
    """When an item needs a human now, later, or not at all."""

    materiality: Dec = Field(
        description="Amount in reporting currency at or above which review is immediate."
    )
    aging_days: int = Field(ge=0, description="Aging at or above which review is immediate.")
    min_confidence: Dec = Field(description="Confidence below which review is immediate (0..1).")
    immediate_risk_tiers: list[RiskTier] = Field(default=[RiskTier.HIGH, RiskTier.CRITICAL])
    match_auto_accept_score: int = Field(default=85, ge=0, le=100)
    match_review_score: int = Field(default=60, ge=0, le=100)
    priority_weights: PriorityWeights = Field(
        default=PriorityWeights(),
        description="Weights of the queue priority's inputs: variance, aging, risk_tier "
        "and match_rate (each 0..1, summing to 1).",
    )

    # Single-field rules are field validators, so an error names the field itself.
    @field_validator("materiality")
    @classmethod
    def _positive(cls, value: Decimal) -> Decimal:
        if value <= 0:
            raise ValueError("materiality must be positive")
        return value

    @field_validator("min_confidence")
    @classmethod
    def _unit_interval(cls, value: Decimal) -> Decimal:
        if not Decimal(0) <= value <= Decimal(1):
            raise ValueError("min_confidence must be between 0 and 1")
        return value

    @model_validator(mode="after")
    def _scores_ordered(self) -> Routing:
        if self.match_review_score > self.match_auto_accept_score:
            raise ValueError("match_review_score must not exceed match_auto_accept_score")
        return self


class BatchRules(StrictModel):
    """Batch sign-off: auto-approve only when every tolerance holds."""

    absolute_cap: Dec
    relative_cap: Dec
    risk_multiplier: Dec = Decimal("0.5")
    min_records: int = Field(default=10, ge=0)


class DualControl(StrictModel):
    """Either threshold reached means two distinct approvers, neither the preparer."""

    amount: Dec
    variance_pct: Dec


class StepUp(StrictModel):
    """Approving an item at or above ``amount`` (reporting currency) asks the approver to
    retype its amount first."""

    amount: Dec = Field(
        description="Reporting amount at or above which an approval needs the amount retyped."
    )

    @field_validator("amount")
    @classmethod
    def _positive(cls, value: Decimal) -> Decimal:
        if value <= 0:
            raise ValueError("step_up amount must be positive")
        return value

"""The matching section: the matcher's date window, amount tolerance, group search and
score weights."""

from __future__ import annotations

from decimal import Decimal

from pydantic import Field, field_validator, model_validator

from domain.policy.fields import Dec, StrictModel


class MatchingWeights(StrictModel):
    """How many of the 100 points each score component can give (they sum to 100)."""

    amount: int = Field(default=40, ge=0, le=100)
    date: int = Field(default=10, ge=0, le=100)
    reference: int = Field(default=30, ge=0, le=100)
    counterparty: int = Field(default=20, ge=0, le=100)

    @model_validator(mode="after")
    def _sum(self) -> MatchingWeights:
        total = self.amount + self.date + self.reference + self.counterparty
        if total != 100:
            raise ValueError(f"the weights must sum to 100, not {total}")
        return self


class Matching(StrictModel):
    """Matching approved statements against the ledger (the matcher's settings)."""

    date_window_days: int = Field(default=3, ge=0, le=366)
    amount_tolerance: Dec = Field(
        default=Decimal("0.10"),
        description="The amount tolerance in the reporting currency (converted at the "
        "date's rate into each line currency).",
    )
    max_group_size: int = Field(default=5, ge=1, le=50)
    group_time_budget_ms: int = Field(default=200, ge=0, le=60_000)
    weights: MatchingWeights = MatchingWeights()
    history_days: int = Field(
        default=90,
        ge=1,
        le=3660,
        description="The window, in days up to the day an item is routed, of the bank "
        "lines a counterparty's historical match rate counts (routing's priority).",
    )

    @field_validator("amount_tolerance")
    @classmethod
    def _tolerance(cls, value: Decimal) -> Decimal:
        if value < 0:
            raise ValueError("amount_tolerance must not be negative")
        return value

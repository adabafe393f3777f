"""Who reviews: teams, the people in them (certification, capacity, roles), automatic
assignment's certification rules, and the compliance queue.

Team lists and ``people`` are one membership, seen two ways: :func:`merge_people` adds
each person to the lists their roles name."""

from __future__ import annotations

from decimal import Decimal
from enum import StrEnum
from typing import Any

from pydantic import Field, field_validator, model_validator

from domain.items import ItemKind, RiskTier
from domain.policy.fields import Dec, Duration, StrictModel, TeamCurrency


class AssignmentMode(StrEnum):
    """How a team's immediate items reach a reviewer."""

    PULL = "pull"  # reviewers claim (today's behaviour); leads assign by hand
    AUTO = "auto"  # each new immediate item is assigned at once to the best eligible reviewer


class Team(StrictModel):
    """A review team: who reviews, who leads, and which items it owns."""

    name: str = Field(min_length=1)
    channel: str = Field(min_length=1, description="Slack channel id for item cards.")
    reviewers: list[str] = Field(min_length=1)
    leads: list[str] = Field(default_factory=list)
    entities: list[str] = Field(default=["*"])
    currencies: list[TeamCurrency] = Field(default=["*"])
    assignment: AssignmentMode = Field(
        default=AssignmentMode.PULL,
        description="pull: reviewers claim items (the default); auto: each new immediate "
        "item is assigned at once to an eligible reviewer.",
    )

    def owns(self, *, entity: str, currency: str) -> int:
        """How specifically this team owns an item: 0 not at all, higher is more specific."""
        entity_hit = 2 if entity in self.entities else (1 if "*" in self.entities else 0)
        currency_hit = 2 if currency in self.currencies else (1 if "*" in self.currencies else 0)
        if not entity_hit or not currency_hit:
            return 0
        return entity_hit * 3 + currency_hit


class PersonRole(StrEnum):
    """What a person listed under ``people`` is."""

    REVIEWER = "reviewer"
    LEAD = "lead"
    CONTROLLER = "controller"
    COMPLIANCE_OFFICER = "compliance_officer"
    AUDITOR = "auditor"


#: Defaults of a person the policy names only in a team's lists (or not at all).
DEFAULT_CERTIFICATION = 1
DEFAULT_CAPACITY = 10


class PersonEntry(StrictModel):
    """One person: the teams they work in, how far they are certified, how much they hold.

    ``teams`` with the ``reviewer`` (or ``lead``) role add the person to those teams'
    ``reviewers`` (or ``leads``); ``compliance_officer`` and ``auditor`` add them to the
    compliance section. Team lists and ``people`` are one membership, seen two ways.
    """

    id: str = Field(min_length=1, description="Slack user id.")
    teams: list[str] = Field(default_factory=list)
    certification: int = Field(
        default=DEFAULT_CERTIFICATION, ge=0, le=9, description="Certification level (0-9)."
    )
    capacity: int = Field(
        default=DEFAULT_CAPACITY, ge=1, description="Most open items assigned at once."
    )
    roles: list[PersonRole] = Field(default=[PersonRole.REVIEWER])


class CertificationRule(StrictModel):
    """An item matching every condition given needs at least ``level`` to be reviewed.

    No condition at all matches every item. The level an item needs is the highest of
    the rules it matches (0 when none does).
    """

    level: int = Field(ge=1, le=9)
    min_amount: Dec | None = Field(
        default=None, description="Reporting amount at or above which the rule applies."
    )
    risk_tiers: list[RiskTier] = Field(default_factory=list)
    kinds: list[ItemKind] = Field(default_factory=list)

    @field_validator("min_amount")
    @classmethod
    def _not_negative(cls, value: Decimal | None) -> Decimal | None:
        if value is not None and value < 0:
            raise ValueError("min_amount must not be negative")
        return value

    def matches(
        self, *, reporting_amount: Decimal | None, risk_tier: RiskTier | None, kind: ItemKind
    ) -> bool:
        """Whether an item with these facts falls under the rule (an unknown amount is
        treated as reaching any ``min_amount``: it needs the stricter review)."""
        if self.min_amount is not None and (
            reporting_amount is not None and abs(reporting_amount) < self.min_amount
        ):
            return False
        if self.risk_tiers and risk_tier not in self.risk_tiers:
            return False
        return not (self.kinds and kind not in self.kinds)


class Assignment(StrictModel):
    """Automatic assignment: what an item needs and how reviewers are ranked."""

    certification: list[CertificationRule] = Field(default_factory=list)
    accuracy_window: Duration = Field(
        default="90d",
        validate_default=True,
        description="How far back a reviewer's decisions count towards their accuracy.",
    )

    def level_needed(
        self, *, reporting_amount: Decimal | None, risk_tier: RiskTier | None, kind: ItemKind
    ) -> int:
        """The certification an item needs: the highest matching rule's level, else 0."""
        levels = [
            r.level
            for r in self.certification
            if r.matches(reporting_amount=reporting_amount, risk_tier=risk_tier, kind=kind)
        ]
        return max(levels, default=0)


class Compliance(StrictModel):
    """The compliance queue: dead letters and high-severity alerts land here."""

    channel: str
    officers: list[str] = Field(min_length=1)
    leads_resolve_dead_letters: bool = Field(
        default=True, description="Whether team leads may also act on dead-lettered items."
    )
    auditors: list[str] = Field(
        default_factory=list,
        description="Read-only auditors (Slack user ids): they see every team's items, "
        "history and App Home, and decide nothing.",
    )

    @model_validator(mode="after")
    def _auditors_only_read(self) -> Compliance:
        # Checked here, not on the field, so the error names the whole section's rule.
        both = sorted(set(self.auditors) & set(self.officers))
        if both:
            raise ValueError(
                f"auditors: {', '.join(both)} also listed as officer(s); an auditor only reads"
            )
        return self


def merge_people(data: dict[str, Any]) -> dict[str, Any]:
    """The raw policy with each ``people`` entry added to the lists its roles name.

    A team named by nobody is left alone (validation then names the unknown team); the
    input is never changed in place.
    """
    out = dict(data)
    teams = [dict(t) if isinstance(t, dict) else t for t in out.get("teams") or []]
    by_name = {t.get("name"): t for t in teams if isinstance(t, dict)}
    compliance = out.get("compliance")
    compliance = dict(compliance) if isinstance(compliance, dict) else compliance

    def add(target: dict[str, Any], key: str, user: str) -> None:
        current = target.get(key)
        listed = list(current) if isinstance(current, list) else []
        if user not in listed:
            listed.append(user)
        target[key] = listed

    for entry in out["people"]:
        if not isinstance(entry, dict) or not isinstance(entry.get("id"), str):
            continue
        user = entry["id"]
        roles = entry.get("roles", [PersonRole.REVIEWER.value])
        roles = roles if isinstance(roles, list) else []
        for name in entry.get("teams") or []:
            team = by_name.get(name)
            if team is None:
                continue
            if PersonRole.REVIEWER.value in roles:
                add(team, "reviewers", user)
            if PersonRole.LEAD.value in roles:
                add(team, "leads", user)
        if isinstance(compliance, dict):
            if PersonRole.COMPLIANCE_OFFICER.value in roles:
                add(compliance, "officers", user)
            if PersonRole.AUDITOR.value in roles:
                add(compliance, "auditors", user)
    if "teams" in out:
        out["teams"] = teams
    if compliance is not None:
        out["compliance"] = compliance
    return out

"""The whole policy document (:class:`Policy`): its sections and the rules that span
them (people in known teams, unique teams, statement teams, auditors who only read,
escalation after the reminder)."""

from __future__ import annotations

from collections import Counter
from decimal import Decimal
from typing import Any

from pydantic import Field, ValidationInfo, field_validator, model_validator

from domain.accounts import Accounts
from domain.errors import MoneyError
from domain.money import normalize_currency
from domain.policy.escalation import Escalation, default_escalation
from domain.policy.fields import Dec, StrictModel, format_duration
from domain.policy.ledger import Ledger
from domain.policy.matching import Matching
from domain.policy.people import Assignment, Compliance, PersonEntry, PersonRole, Team, merge_people
from domain.policy.schedule import BusinessCalendar, Digest, Sla
from domain.policy.statements import Statements
from domain.policy.thresholds import BatchRules, DualControl, Routing, StepUp


class Policy(StrictModel):
    """The whole policy document."""

    reporting_currency: str = "USD"
    fx_rates: dict[str, Dec] = Field(
        default_factory=dict, description="Reporting-currency units per one unit of each currency."
    )
    routing: Routing
    batch: BatchRules
    dual_control: DualControl
    step_up: StepUp | None = Field(
        default=None,
        description="Optional: approvals at or above this reporting amount need the "
        "amount retyped (no step-up when absent).",
    )
    people: list[PersonEntry] = Field(
        default_factory=list,
        description="Per person: teams, certification, capacity and roles. Adds to the "
        "teams' reviewers/leads lists; anyone not listed here gets the defaults.",
    )
    teams: list[Team] = Field(min_length=1)
    compliance: Compliance
    assignment: Assignment = Field(default_factory=Assignment)
    sla: Sla = Sla()
    escalation: Escalation | None = Field(
        default=None,
        description="Escalation tiers and edges (a DAG); absent: today's ladder as the "
        "default graph, reviewers -> leads (sla.escalate_after) -> compliance "
        "(sla.dead_letter_after).",
    )
    digest: Digest = Digest()
    calendar: BusinessCalendar | None = None
    accounts: Accounts | None = Field(
        default=None,
        description="Ledger accounts by entity (and currency); without it entries carry "
        "placeholder accounts and are never delivered to a ledger.",
    )
    statements: Statements = Field(
        default_factory=Statements,
        description="Bank statements: the accounts recon-bot takes statements of, the "
        "balance tolerance and auto-approval.",
    )
    ledger: Ledger = Field(
        default=Ledger(),
        description="The ERP export's column for each general-ledger field (optional).",
    )
    matching: Matching = Field(
        default=Matching(),
        description="Matching approved statements against the ledger: date window, "
        "amount tolerance, group size and time budget, score weights.",
    )

    @model_validator(mode="before")
    @classmethod
    def _people_join_teams(cls, data: Any) -> Any:
        """Adds each person to the team and compliance lists their roles name, so every
        rule that asks "who reviews this team" reads one membership."""
        if not isinstance(data, dict) or not isinstance(data.get("people"), list):
            return data
        return merge_people(data)

    @field_validator("people")
    @classmethod
    def _unique_people(cls, value: list[PersonEntry]) -> list[PersonEntry]:
        dupes = sorted(n for n, seen in Counter(p.id for p in value).items() if seen > 1)
        if dupes:
            raise ValueError(f"each person is listed once; repeated: {', '.join(dupes)}")
        return value

    @model_validator(mode="after")
    def _people_teams_exist(self) -> Policy:
        names = {t.name for t in self.teams}
        for index, person in enumerate(self.people):
            for position, team in enumerate(person.teams):
                if team not in names:
                    raise ValueError(
                        f"people[{index}].teams[{position}]: no team named {team!r} in teams"
                    )
            team_roles = {PersonRole.REVIEWER, PersonRole.LEAD} & set(person.roles)
            if person.teams and not team_roles:
                raise ValueError(
                    f"people[{index}].roles: {person.id} is in teams but neither reviewer "
                    "nor lead of them"
                )
        return self

    @field_validator("reporting_currency")
    @classmethod
    def _currency(cls, value: str) -> str:
        try:
            return normalize_currency(value)
        except MoneyError as exc:
            raise ValueError(str(exc)) from None

    @field_validator("fx_rates")
    @classmethod
    def _rates(cls, value: dict[str, Decimal]) -> dict[str, Decimal]:
        out: dict[str, Decimal] = {}
        for code, rate in value.items():
            try:
                key = normalize_currency(code)
            except MoneyError as exc:
                raise ValueError(str(exc)) from None
            if rate <= 0:
                raise ValueError(f"rate for {key} must be positive")
            out[key] = rate
        return out

    @field_validator("teams")
    @classmethod
    def _unique_teams(cls, value: list[Team]) -> list[Team]:
        # A Counter: names.count(n) for each name is 400 million comparisons for 20,000
        # teams, tens of seconds.
        dupes = sorted(n for n, seen in Counter(t.name for t in value).items() if seen > 1)
        if dupes:
            raise ValueError(f"team names must be unique; repeated: {', '.join(dupes)}")
        return value

    @model_validator(mode="after")
    def _statement_teams(self) -> Policy:
        names = {t.name for t in self.teams}
        for index, account in enumerate(self.statements.accounts):
            if account.team not in names:
                raise ValueError(
                    f"statements.accounts[{index}].team: no team named {account.team!r} in teams"
                )
        return self

    @field_validator("compliance")
    @classmethod
    def _auditors_outside_teams(cls, value: Compliance, info: ValidationInfo) -> Compliance:
        # Teams are validated first (declared first): an auditor who also reviews or
        # leads a team would decide there, which a read-only role must never do.
        teams: list[Team] = info.data.get("teams") or []
        clashes = [
            f"{user} ({team.name})"
            for user in value.auditors
            for team in teams
            if user in team.reviewers or user in team.leads
        ]
        if clashes:
            raise ValueError(
                f"auditors: {', '.join(clashes)} also review(s) or lead(s) a team; "
                "an auditor only reads"
            )
        return value

    @model_validator(mode="after")
    def _escalation_after_reminder(self) -> Policy:
        if self.escalation is not None:
            for index, edge in enumerate(self.escalation.edges):
                if edge.after <= self.sla.remind_after:
                    raise ValueError(
                        f"escalation.edges[{index}].after: must be after sla.remind_after "
                        f"({format_duration(self.sla.remind_after)})"
                    )
        return self

    @property
    def ladder(self) -> Escalation:
        """The escalation graph in force: the policy's, else today's ladder as a graph."""
        return self.escalation if self.escalation is not None else default_escalation(self.sla)

    def rate(self, currency: str) -> Decimal | None:
        """Reporting units per unit of ``currency``; None when the policy has no rate."""
        if currency == self.reporting_currency:
            return Decimal(1)
        return self.fx_rates.get(currency)

    def team(self, name: str) -> Team | None:
        """The team with that name, if any."""
        for team in self.teams:  # a loop, not a generator: this runs for every message
            if team.name == name:
                return team
        return None

    def channel_for(self, team_name: str | None) -> str:
        """Where messages about a team's items go: its channel, else compliance's.

        An item with no team, or one whose team left the policy, is compliance's to
        see, so its messages are never dropped.
        """
        team = self.team(team_name) if team_name else None
        return team.channel if team else self.compliance.channel

    def team_for(self, *, entity: str, currency: str) -> Team | None:
        """The most specific team owning the entity and currency (file order breaks ties)."""
        best: Team | None = None
        best_score = 0
        for team in self.teams:
            score = team.owns(entity=entity, currency=currency)
            if score > best_score:
                best, best_score = team, score
        return best

    def teams_of(self, user: str) -> list[Team]:
        """Teams where the user reviews or leads."""
        return [t for t in self.teams if user in t.reviewers or user in t.leads]

    def person(self, user: str) -> PersonEntry:
        """The user's entry under ``people``, or the defaults for someone not listed."""
        for entry in self.people:
            if entry.id == user:
                return entry
        return PersonEntry(id=user)

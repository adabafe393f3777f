"""The routing policy: a YAML document validated by pydantic, versioned by content hash.

Policy is data. Thresholds, teams, the SLA ladder and the digest schedule live here;
every routing decision stores the version it was made under, so a later policy change
never rewrites history.
"""

from __future__ import annotations

import functools
import hashlib
import json
import re
from collections import Counter
from dataclasses import dataclass
from datetime import date, time, timedelta
from decimal import Decimal
from enum import StrEnum
from typing import Annotated, Any, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import yaml
from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    PlainSerializer,
    SerializationInfo,
    ValidationError,
    ValidationInfo,
    WithJsonSchema,
    field_validator,
    model_validator,
)

from domain.accounts import Accounts
from domain.errors import MoneyError, PolicyError
from domain.items import ItemKind, RiskTier
from domain.money import canonical_decimal, normalize_currency, parse_decimal

_DURATION = re.compile(r"^\s*(\d+)\s*([smhd])\s*$")
_UNIT_SECONDS = {"s": 1, "m": 60, "h": 3600, "d": 86400}


def parse_duration(value: object) -> timedelta:
    """Parses ``90s``, ``15m``, ``24h`` or ``3d`` (or a bare number of seconds).

    Raises:
        ValueError: anything else.
    """
    if isinstance(value, timedelta):
        return value
    if isinstance(value, int) and not isinstance(value, bool):
        return timedelta(seconds=value)
    if isinstance(value, str):
        match = _DURATION.match(value)
        if match:
            return timedelta(seconds=int(match.group(1)) * _UNIT_SECONDS[match.group(2)])
    raise ValueError(f"{value!r} is not a duration; use a number with s, m, h or d (e.g. 24h)")


def format_duration(value: timedelta) -> str:
    """The shortest exact ``<n><unit>`` form of a duration."""
    seconds = int(value.total_seconds())
    for unit in ("d", "h", "m"):
        size = _UNIT_SECONDS[unit]
        if seconds and seconds % size == 0:
            return f"{seconds // size}{unit}"
    return f"{seconds}s"


def _to_decimal(value: object) -> Decimal:
    if isinstance(value, float):
        raise ValueError('write decimals as quoted strings (e.g. "0.85"), never floats')
    if isinstance(value, Decimal):
        return value
    if isinstance(value, int) and not isinstance(value, bool):
        return Decimal(value)
    if isinstance(value, str):
        try:
            return parse_decimal(value)
        except MoneyError as exc:
            raise ValueError(str(exc)) from None
    raise ValueError(f"{value!r} is not a decimal")


def _serialize_decimal(value: Decimal, info: SerializationInfo) -> str:
    # The version hash asks for the canonical spelling; everything else keeps the
    # document's own ("10000.00" stays as written).
    if isinstance(info.context, dict) and info.context.get("canonical"):
        return canonical_decimal(value)
    return str(value)


Dec = Annotated[
    Decimal,
    BeforeValidator(_to_decimal),
    PlainSerializer(_serialize_decimal, return_type=str),
    WithJsonSchema({"type": "string", "pattern": r"^-?\d+(\.\d+)?$"}),
]
Duration = Annotated[
    timedelta,
    BeforeValidator(parse_duration),
    PlainSerializer(format_duration, return_type=str),
    WithJsonSchema({"type": "string", "pattern": r"^\d+[smhd]$", "examples": ["24h"]}),
]


def _team_currency(value: str) -> str:
    if value == "*":
        return value
    try:
        return normalize_currency(value)
    except MoneyError as exc:
        raise ValueError(str(exc)) from None


#: A team's currency: an ISO 4217 code (upper-cased) or ``*`` for any.
TeamCurrency = Annotated[str, AfterValidator(_team_currency)]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class PriorityWeights(_Strict):
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


class Routing(_Strict):
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


class BatchRules(_Strict):
    """Batch sign-off: auto-approve only when every tolerance holds."""

    absolute_cap: Dec
    relative_cap: Dec
    risk_multiplier: Dec = Decimal("0.5")
    min_records: int = Field(default=10, ge=0)


class DualControl(_Strict):
    """Either threshold reached means two distinct approvers, neither the preparer."""

    amount: Dec
    variance_pct: Dec


class AssignmentMode(StrEnum):
    """How a team's immediate items reach a reviewer."""

    PULL = "pull"  # reviewers claim (today's behaviour); leads assign by hand
    AUTO = "auto"  # each new immediate item is assigned at once to the best eligible reviewer


class Team(_Strict):
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


class PersonEntry(_Strict):
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


class CertificationRule(_Strict):
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


class Assignment(_Strict):
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


class TierRole(StrEnum):
    """Who is in a tier, when the tier names a role rather than its members."""

    REVIEWER = "reviewer"  # the item's team's reviewers
    LEAD = "lead"  # the item's team's leads
    CONTROLLER = "controller"  # people with the controller role
    COMPLIANCE_OFFICER = "compliance_officer"  # compliance.officers


class Tier(_Strict):
    """One escalation tier: who is in it, what they may do, where they hear of an item."""

    name: str = Field(min_length=1)
    members: list[str] = Field(default_factory=list, description="Slack user ids.")
    role: TierRole | None = Field(default=None, description="Or: everyone holding this role.")
    approve_up_to: Dec | None = Field(
        default=None,
        description="Most (reporting amount) this tier approves; no limit when absent.",
    )
    write_off: bool = Field(default=True, description="Whether this tier may write off.")
    read_only: bool = Field(default=False, description="Sees, decides nothing.")
    channel: str | None = Field(
        default=None, description="Slack channel also told when an item reaches the tier."
    )

    @model_validator(mode="after")
    def _who(self) -> Tier:
        if bool(self.members) == (self.role is not None):
            raise ValueError("give either members or a role (exactly one)")
        return self


class EdgeCondition(_Strict):
    """When an edge applies: every condition given must hold (none: always)."""

    min_amount: Dec | None = None
    risk_tiers: list[RiskTier] = Field(default_factory=list)
    kinds: list[ItemKind] = Field(default_factory=list)

    def holds(
        self, *, reporting_amount: Decimal | None, risk_tier: RiskTier | None, kind: ItemKind
    ) -> bool:
        """Whether an item with these facts meets the condition (an amount without a
        rate meets any ``min_amount``)."""
        if self.min_amount is not None and (
            reporting_amount is not None and abs(reporting_amount) < self.min_amount
        ):
            return False
        if self.risk_tiers and risk_tier not in self.risk_tiers:
            return False
        return not (self.kinds and kind not in self.kinds)


class Edge(_Strict):
    """An item in tier ``source`` moves to ``target`` once ``after`` of SLA time has run
    (counted from when review started, like the ladder), if ``when`` holds."""

    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)

    source: str = Field(alias="from", min_length=1)
    target: str = Field(alias="to", min_length=1)
    after: Duration
    when: EdgeCondition = Field(default_factory=EdgeCondition)


class Escalation(_Strict):
    """The escalation tiers and the edges between them: a DAG rooted at the first tier.

    The ladder follows it: an item starts in the first tier; from each tier, the first
    edge out of it (in file order) whose condition holds takes it on. The first edge
    escalates the item, the last of a path of two or more dead-letters it, and those
    between move it from tier to tier while it stays escalated
    (:mod:`domain.escalation`).
    """

    tiers: list[Tier] = Field(min_length=1)
    edges: list[Edge] = Field(default_factory=list)

    @model_validator(mode="after")
    def _graph(self) -> Escalation:
        check_graph(self)
        return self

    def tier(self, name: str) -> Tier | None:
        """The tier with that name."""
        for tier in self.tiers:
            if tier.name == name:
                return tier
        return None


def check_graph(graph: Escalation) -> None:
    """Validates tiers and edges: unique names, known ends, no cycle (named), every tier
    reachable from the first, times growing along every path.

    Raises:
        ValueError: naming the tier or edge and the reason.
    """
    names = [t.name for t in graph.tiers]
    dupes = sorted(n for n, seen in Counter(names).items() if seen > 1)
    if dupes:
        raise ValueError(f"tiers: names must be unique; repeated: {', '.join(dupes)}")
    known = set(names)
    out: dict[str, list[Edge]] = {n: [] for n in names}
    for index, edge in enumerate(graph.edges):
        for end, value in (("from", edge.source), ("to", edge.target)):
            if value not in known:
                raise ValueError(f"edges[{index}].{end}: no tier named {value!r}")
        out[edge.source].append(edge)
    cycle = _find_cycle(names, out)
    if cycle:
        raise ValueError(f"edges: cycle {' -> '.join(cycle)}")
    root = names[0]
    reached = {root}
    frontier = [root]
    while frontier:
        current = frontier.pop()
        for edge in out[current]:
            if edge.target not in reached:
                reached.add(edge.target)
                frontier.append(edge.target)
    for index, name in enumerate(names):
        if name not in reached:
            raise ValueError(f"tiers[{index}]: tier {name!r} cannot be reached from {root!r}")
    for edge in graph.edges:
        for second in out[edge.target]:
            if second.after <= edge.after:
                raise ValueError(
                    f"edges: {edge.target} -> {second.target} must come after "
                    f"{edge.source} -> {edge.target} ({format_duration(edge.after)})"
                )


def _find_cycle(names: list[str], out: dict[str, list[Edge]]) -> list[str] | None:
    """A cycle as tier names (first repeated at the end), or None. Depth-first, in file
    order, so the same graph always names the same cycle."""
    state: dict[str, int] = {}  # 1 on the path, 2 done
    path: list[str] = []

    def visit(name: str) -> list[str] | None:
        state[name] = 1
        path.append(name)
        for edge in out[name]:
            nxt = edge.target
            if state.get(nxt) == 1:
                return [*path[path.index(nxt) :], nxt]
            if nxt not in state:
                found = visit(nxt)
                if found:
                    return found
        path.pop()
        state[name] = 2
        return None

    for name in names:
        if name not in state:
            found = visit(name)
            if found:
                return found
    return None


@functools.lru_cache(maxsize=64)
def default_escalation(sla: Sla) -> Escalation:
    """Today's ladder as a graph: reviewers, then leads at ``escalate_after``, then
    compliance at ``dead_letter_after`` (the reminder stays ``remind_after``)."""
    return Escalation(
        tiers=[
            Tier(name="reviewers", role=TierRole.REVIEWER),
            Tier(name="leads", role=TierRole.LEAD),
            Tier(name="compliance", role=TierRole.COMPLIANCE_OFFICER),
        ],
        edges=[
            Edge(source="reviewers", target="leads", after=sla.escalate_after),
            Edge(source="leads", target="compliance", after=sla.dead_letter_after),
        ],
    )


class Compliance(_Strict):
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


class StepUp(_Strict):
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


class Sla(_Strict):
    """The SLA ladder, counted from when an item enters review."""

    # Defaults are written as in a policy file (and validated), so the exported JSON
    # Schema shows "24h", not the ISO 8601 "P1D" its own pattern would reject.
    remind_after: Duration = Field(default="24h", validate_default=True)
    escalate_after: Duration = Field(default="48h", validate_default=True)
    dead_letter_after: Duration = Field(default="72h", validate_default=True)
    claim_ttl: Duration = Field(default="4h", validate_default=True)

    @model_validator(mode="after")
    def _ordered(self) -> Sla:
        if not self.remind_after < self.escalate_after < self.dead_letter_after:
            raise ValueError("remind_after < escalate_after < dead_letter_after must hold")
        if self.claim_ttl <= timedelta(0):
            raise ValueError("claim_ttl must be positive")
        return self


def _check_timezone(value: str) -> str:
    try:
        ZoneInfo(value)
    except (ZoneInfoNotFoundError, ValueError):
        raise ValueError(f"unknown timezone {value!r} (use an IANA name)") from None
    return value


_CRON_FIELD = re.compile(r"^[\d*/,\-A-Za-z]+$")


class Digest(_Strict):
    """When low-risk items are summarised: a 5-field crontab in the given timezone."""

    cron: str = "0 */4 * * *"
    timezone: str = "UTC"

    @field_validator("cron")
    @classmethod
    def _cron_shape(cls, value: str) -> str:
        fields = value.split()
        if len(fields) != 5 or not all(_CRON_FIELD.match(f) for f in fields):
            raise ValueError("must be a 5-field crontab expression such as '0 */4 * * *'")
        return value

    _tz = field_validator("timezone")(_check_timezone)


Weekday = Literal["mon", "tue", "wed", "thu", "fri", "sat", "sun"]


class BusinessCalendar(_Strict):
    """Optional working-time calendar: when present, the SLA ladder counts working time."""

    timezone: str
    weekdays: list[Weekday] = Field(default=["mon", "tue", "wed", "thu", "fri"], min_length=1)
    start: time = time(9, 0)
    end: time = time(17, 0)
    holidays: list[date] = Field(default_factory=list)

    _tz = field_validator("timezone")(_check_timezone)

    @model_validator(mode="after")
    def _hours(self) -> BusinessCalendar:
        if self.start >= self.end:
            raise ValueError("start must be before end")
        return self


def normalize_account(value: str) -> str:
    """A bank account as compared: upper case, without spaces (``nl81 asnb...`` is
    ``NL81ASNB...``)."""
    return "".join(value.split()).upper()


def _statement_currency(value: str) -> str:
    try:
        return normalize_currency(value)
    except MoneyError as exc:
        raise ValueError(str(exc)) from None


class StatementAccount(_Strict):
    """A bank account recon-bot takes statements of, and whose books they belong to."""

    account: str = Field(
        min_length=1,
        description="The account as the bank file states it (IBAN, MT940 :25: with or "
        "without its bank-code prefix, BAI2 account number, OFX ACCTID).",
    )
    entity: str = Field(min_length=1)
    currency: Annotated[str, AfterValidator(_statement_currency)]
    gl_account: str = Field(min_length=1, description="The ledger account it mirrors.")
    team: str = Field(min_length=1, description="The team that reviews its statements.")

    @field_validator("account")
    @classmethod
    def _account(cls, value: str) -> str:
        if not normalize_account(value):
            raise ValueError("account must not be blank")
        return value

    def matches(self, stated: str) -> bool:
        """Whether the file's account is this one: the same after normalising case and
        spaces, or this one behind a bank-code prefix (MT940 ``BANKCODE/ACCOUNT``)."""
        mine = normalize_account(self.account)
        theirs = normalize_account(stated)
        if theirs == mine:
            return True
        prefix, slash, rest = theirs.rpartition("/")
        return bool(slash and prefix and rest == mine)


class Statements(_Strict):
    """Bank statements (Stage 1): the accounts recon-bot knows and how they are checked."""

    balance_tolerance: Dec = Field(
        default=Decimal("0.001"),
        description="How far opening + entries may miss the closing balance, in the "
        "reporting currency (converted at the statement date's rate).",
    )
    auto_approve: bool = Field(
        default=False,
        description="Approve, by policy, a statement whose chain and continuity both hold.",
    )
    edit_needs_other_approver: bool = Field(
        default=True,
        description="Whoever edited a statement cannot also be its only approver.",
    )
    accounts: list[StatementAccount] = Field(default_factory=list)

    @field_validator("balance_tolerance")
    @classmethod
    def _tolerance(cls, value: Decimal) -> Decimal:
        if value < 0:
            raise ValueError("balance_tolerance must not be negative")
        return value

    @field_validator("accounts")
    @classmethod
    def _unique_accounts(cls, value: list[StatementAccount]) -> list[StatementAccount]:
        seen = Counter((normalize_account(a.account), a.currency) for a in value)
        dupes = sorted(f"{a} {c}" for (a, c), n in seen.items() if n > 1)
        if dupes:
            raise ValueError(f"each account and currency is listed once; repeated: {dupes}")
        return value

    def account_for(self, stated: str, currency: str) -> StatementAccount | None:
        """The listed account the file's ``stated`` account is, in ``currency`` (or, when
        that account is listed in one currency only, in that one)."""
        hits = [a for a in self.accounts if a.matches(stated)]
        for hit in hits:
            if hit.currency == currency:
                return hit
        return hits[0] if len(hits) == 1 else None


#: The fields of a general-ledger entry, in the order ``ledger import`` reports them.
LEDGER_FIELDS = (
    "entry_id",
    "account",
    "date",
    "amount",
    "currency",
    "reference",
    "counterparty",
    "description",
)


class LedgerColumns(_Strict):
    """The column of the ERP export that holds each ledger field (defaults: the field's name)."""

    entry_id: str = "entry_id"
    account: str = "account"
    date: str = "date"
    amount: str = "amount"
    currency: str = "currency"
    reference: str = "reference"
    counterparty: str = "counterparty"
    description: str = "description"

    @field_validator(*LEDGER_FIELDS)
    @classmethod
    def _column_name(cls, value: str) -> str:
        name = value.strip()
        if not name:
            raise ValueError("must name a column (an empty name matches nothing)")
        if len(name) > 200:
            raise ValueError("is longer than 200 characters")
        return name

    @model_validator(mode="after")
    def _distinct(self) -> LedgerColumns:
        by_column: dict[str, list[str]] = {}
        for name in LEDGER_FIELDS:
            by_column.setdefault(getattr(self, name), []).append(name)
        shared = [
            f"{col!r} ({', '.join(fields)})" for col, fields in by_column.items() if len(fields) > 1
        ]
        if shared:
            raise ValueError(f"each field needs its own column; shared: {'; '.join(shared)}")
        return self

    def mapping(self) -> dict[str, str]:
        """Field -> file column."""
        return {name: getattr(self, name) for name in LEDGER_FIELDS}


class Ledger(_Strict):
    """How ``recon-bot ledger import`` reads an ERP export."""

    columns: LedgerColumns = LedgerColumns()


class MatchingWeights(_Strict):
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


class Matching(_Strict):
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


class Policy(_Strict):
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


@dataclass(frozen=True, slots=True, kw_only=True)
class LoadedPolicy:
    """A validated policy and its version (content hash of its canonical form)."""

    policy: Policy
    version: str


def policy_version(policy: Policy) -> str:
    """Content hash of the policy's canonical JSON: formatting and comments don't count.

    Values are hashed, not spellings: durations in their shortest unit (``240m`` is
    ``4h``) and decimals without trailing zeros (``0.850`` is ``0.85``).
    """
    dumped = policy.model_dump(mode="json", context={"canonical": True})
    if policy.ledger == Ledger():
        # Sections added later count only when set, so a policy written before them
        # keeps its version (and the decisions made under it stay current).
        del dumped["ledger"]
    if policy.matching == Matching():
        del dumped["matching"]
    elif policy.matching.history_days == Matching().history_days:
        del dumped["matching"]["history_days"]
    if policy.routing.priority_weights == PriorityWeights():
        del dumped["routing"]["priority_weights"]
    canonical = json.dumps(dumped, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return "pol-" + hashlib.sha256(canonical.encode()).hexdigest()[:16]


def _location(loc: tuple[int | str, ...]) -> str:
    parts: list[str] = []
    for part in loc:
        if isinstance(part, int):
            parts.append(f"[{part}]")
        else:
            parts.append(("." if parts else "") + part)
    return "".join(parts) or "(document)"


def describe_validation_error(exc: ValidationError) -> list[str]:
    """One ``field: reason`` line per problem, in document order."""
    lines = []
    for err in exc.errors():
        message = err["msg"].removeprefix("Value error, ")
        lines.append(f"{_location(tuple(err['loc']))}: {message}")
    return lines


#: libyaml's parser when PyYAML was built with it: several times faster than the pure-
#: Python one on a big policy. Same safe constructor and resolver, so the same values;
#: a document it refuses is parsed again in pure Python for the same error message.
_FAST_LOADER: Any = getattr(yaml, "CSafeLoader", None)


def _load_yaml(text: str) -> Any:
    if _FAST_LOADER is not None:
        try:
            return yaml.load(text, Loader=_FAST_LOADER)
        except yaml.YAMLError:
            pass
    return yaml.safe_load(text)


def parse_policy(text: str) -> LoadedPolicy:
    """Validates a policy document.

    Raises:
        PolicyError: with one ``field: reason`` line per problem.
    """
    try:
        data: Any = _load_yaml(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        raise PolicyError(f"policy is not valid YAML{where}", [str(exc)]) from None
    if not isinstance(data, dict):
        raise PolicyError("policy must be a YAML mapping", ["(document): expected a mapping"])
    try:
        policy = Policy.model_validate(data)
    except ValidationError as exc:
        problems = describe_validation_error(exc)
        raise PolicyError(f"policy has {len(problems)} problem(s)", problems) from None
    return LoadedPolicy(policy=policy, version=policy_version(policy))


def policy_json_schema() -> dict[str, Any]:
    """The JSON Schema of the policy document (for editors and CI checks)."""
    schema = Policy.model_json_schema(mode="validation")
    schema["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    schema["title"] = "recon-bot policy"
    return schema

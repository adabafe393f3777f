"""What each alert and direct message says: one frozen record per template.

Every record names its ``template`` and has a JSON form of its fields (``to_json``),
read back by ``from_json``; ``domain.templates`` stores and decodes them.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, fields
from datetime import date, datetime
from enum import Enum, StrEnum
from typing import Any, ClassVar, Self, get_args, get_origin, get_type_hints

from domain.notice_bodies import NoticeKind


class Template(StrEnum):
    """Which alert or direct message a row is (the ``template`` key of its JSON)."""

    REMINDER = "reminder"
    REMINDER_UNCLAIMED = "reminder_unclaimed"
    SLA_ESCALATED = "sla_escalated"
    ESCALATED = "escalated"
    ASSIGNED = "assigned"
    DEAD_LETTER = "dead_letter"
    DIGEST = "digest"
    DIGEST_CLUSTER = "digest_cluster"
    DIGEST_CLUSTER_DECIDED = "digest_cluster_decided"
    POLICY_INVALID = "policy_invalid"
    DELIVERY_FAILED = "delivery_failed"
    AUDIT_CHECKPOINT = "audit_checkpoint"
    DISPUTE_OVERDUE = "dispute_overdue"
    LEDGER_BREAKER = "ledger_breaker"
    STATEMENT_CARD = "statement_card"
    MATCH_SUMMARY = "match_summary"
    MATCH_CARD = "match_card"
    UNASSIGNED = "unassigned"
    TIER_REACHED = "tier_reached"


class Severity(StrEnum):
    """How loudly an alert speaks."""

    HIGH = "high"


class Verdict(StrEnum):
    """How a digest group was decided."""

    APPROVED = "approved"
    REJECTED = "rejected"


def _plain(value: Any) -> Any:
    """A field value as JSON: enums by value, times in ISO 8601, tuples as lists."""
    if isinstance(value, Enum):
        return value.value
    if isinstance(value, date):  # a datetime too
        return value.isoformat()
    if isinstance(value, tuple):
        return [_plain(v) for v in value]
    return value


#: Resolved field types per record class (resolving them costs more than decoding a row).
_HINTS: dict[type, dict[str, Any]] = {}


@dataclass(frozen=True, slots=True, kw_only=True)
class _TemplateRecord:
    """What every template record shares: its template, and a JSON form of its fields."""

    template: ClassVar[Template]

    def to_json(self) -> dict[str, Any]:
        """The stored form: ``template``, then each field in declaration order."""
        data: dict[str, Any] = {"template": self.template.value}
        for f in fields(self):
            data[f.name] = _plain(getattr(self, f.name))
        return data

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Self:
        """Read back what :meth:`to_json` wrote, each field converted to its declared type.

        Raises:
            KeyError, TypeError, ValueError: a field is missing or not of its type.
        """
        hints = _HINTS.get(cls) or _HINTS.setdefault(cls, get_type_hints(cls))
        return cls(**{f.name: _typed(hints[f.name], data[f.name]) for f in fields(cls)})


def _typed(hint: Any, value: Any) -> Any:
    """The inverse of :func:`_plain` for the field types the records use."""
    if hint is datetime:
        return datetime.fromisoformat(str(value))
    if hint is date:
        return date.fromisoformat(str(value))
    if isinstance(hint, type) and issubclass(hint, Enum):
        return hint(value)
    if get_origin(hint) is tuple:
        item = get_args(hint)[0]
        return tuple(_typed(item, v) for v in value)
    if hint in (int, str, bool):
        return hint(value)
    raise TypeError(f"no JSON form for {hint!r}")


@dataclass(frozen=True, slots=True, kw_only=True)
class _DigestReminder(_TemplateRecord):
    """A reminder that names the digest whose post started the item's clock, if any.

    ``digest`` is stored only when set, so rows queued before it existed read back the
    same (a reminder of an item no digest showed has none).
    """

    digest: str | None = None

    def to_json(self) -> dict[str, Any]:
        """The stored form: ``template``, and ``digest`` when there is one."""
        data: dict[str, Any] = {"template": self.template.value}
        if self.digest is not None:
            data["digest"] = self.digest
        return data

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Self:
        """Read back (no ``digest``: a reminder of an item no digest showed)."""
        digest = data.get("digest")
        return cls(digest=str(digest) if digest is not None else None)


@dataclass(frozen=True, slots=True, kw_only=True)
class Reminder(_DigestReminder):
    """SLA reminder to the assignee (a DM)."""

    template: ClassVar[Template] = Template.REMINDER


@dataclass(frozen=True, slots=True, kw_only=True)
class ReminderUnclaimed(_DigestReminder):
    """SLA reminder in the team channel for an item nobody has claimed (in the thread of
    the digest that showed it, when one did)."""

    template: ClassVar[Template] = Template.REMINDER_UNCLAIMED


@dataclass(frozen=True, slots=True, kw_only=True)
class SlaEscalated(_TemplateRecord):
    """The team channel hears that the SLA ladder escalated an item to its leads."""

    template: ClassVar[Template] = Template.SLA_ESCALATED


@dataclass(frozen=True, slots=True, kw_only=True)
class Escalated(_TemplateRecord):
    """A lead hears that an item of their team was escalated to them (a DM)."""

    template: ClassVar[Template] = Template.ESCALATED


@dataclass(frozen=True, slots=True, kw_only=True)
class Assigned(_TemplateRecord):
    """A reviewer hears that ``by`` (a user id) assigned them an item (a DM)."""

    template: ClassVar[Template] = Template.ASSIGNED
    by: str


@dataclass(frozen=True, slots=True, kw_only=True)
class Unassigned(_TemplateRecord):
    """A lead of an ``auto`` team hears, once per item, that nobody was eligible for it:
    ``reasons`` says why for each reviewer (a DM)."""

    template: ClassVar[Template] = Template.UNASSIGNED
    reasons: str


@dataclass(frozen=True, slots=True, kw_only=True)
class TierReached(_TemplateRecord):
    """An escalation tier's channel hears that an item reached the tier ``tier``."""

    template: ClassVar[Template] = Template.TIER_REACHED
    tier: str


@dataclass(frozen=True, slots=True, kw_only=True)
class DeadLetter(_TemplateRecord):
    """Compliance hears that an item is dead-lettered."""

    template: ClassVar[Template] = Template.DEAD_LETTER
    severity: Severity = Severity.HIGH


@dataclass(frozen=True, slots=True, kw_only=True)
class DisputeOverdue(_TemplateRecord):
    """A dispute's owner hears that its expected resolution date has passed (a DM).

    ``dispute`` is the dispute's id (``D-1042-1``), ``expected_resolution`` the date
    that passed.
    """

    template: ClassVar[Template] = Template.DISPUTE_OVERDUE
    dispute: str
    expected_resolution: date


@dataclass(frozen=True, slots=True, kw_only=True)
class DigestGroup:
    """One group as the digest summary lists it."""

    id: int
    key: str
    size: int

    def to_json(self) -> dict[str, Any]:
        """The stored form."""
        return {"id": self.id, "key": self.key, "size": self.size}

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> DigestGroup:
        """Read back."""
        return cls(id=int(data["id"]), key=str(data["key"]), size=int(data["size"]))


@dataclass(frozen=True, slots=True, kw_only=True)
class DigestSummary(_TemplateRecord):
    """The parent message of a team's digest window.

    ``totals`` pairs each currency with its total as exact decimal text, in currency
    order; ``groups`` lists the first few groups, ``group_count`` counts them all.
    """

    template: ClassVar[Template] = Template.DIGEST
    team: str
    window: str
    count: int
    totals: tuple[tuple[str, str], ...]
    oldest_at: datetime | None
    groups: tuple[DigestGroup, ...]
    group_count: int

    def to_json(self) -> dict[str, Any]:
        """The stored form (``clusters`` and ``cluster_count`` are its historic names)."""
        return {
            "template": self.template.value,
            "team": self.team,
            "window": self.window,
            "count": self.count,
            "totals": dict(self.totals),
            "oldest_at": self.oldest_at.isoformat() if self.oldest_at else None,
            "clusters": [g.to_json() for g in self.groups],
            "cluster_count": self.group_count,
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> DigestSummary:
        """Read back."""
        oldest = data["oldest_at"]
        return cls(
            team=str(data["team"]),
            window=str(data["window"]),
            count=int(data["count"]),
            totals=tuple((str(c), str(a)) for c, a in dict(data["totals"]).items()),
            oldest_at=datetime.fromisoformat(str(oldest)) if oldest else None,
            groups=tuple(DigestGroup.from_json(g) for g in data["clusters"]),
            group_count=int(data["cluster_count"]),
        )


@dataclass(frozen=True, slots=True, kw_only=True)
class DigestCluster(_TemplateRecord):
    """One group's reply in the digest thread, with its bulk buttons.

    ``apart``: the group of items that need individual review (no bulk buttons).
    ``item_ids`` lists the first items; ``size`` counts them all.
    """

    template: ClassVar[Template] = Template.DIGEST_CLUSTER
    cluster_id: int
    key: str
    apart: bool
    item_ids: tuple[int, ...]
    size: int


@dataclass(frozen=True, slots=True, kw_only=True)
class DigestClusterDecided(_TemplateRecord):
    """A digest group's reply once ``by`` decided the whole group (edited in place)."""

    template: ClassVar[Template] = Template.DIGEST_CLUSTER_DECIDED
    cluster_id: int
    key: str
    verdict: Verdict
    by: str
    size: int


@dataclass(frozen=True, slots=True, kw_only=True)
class PolicyInvalid(_TemplateRecord):
    """Compliance hears that an edited policy ``file`` is invalid; ``kept`` stays in force."""

    template: ClassVar[Template] = Template.POLICY_INVALID
    file: str
    problems: tuple[str, ...]
    kept: str


@dataclass(frozen=True, slots=True, kw_only=True)
class DeliveryFailed(_TemplateRecord):
    """Compliance hears that outbox row ``outbox_id`` was dead-lettered with ``error``."""

    template: ClassVar[Template] = Template.DELIVERY_FAILED
    outbox_id: int
    kind: NoticeKind
    target: str
    error: str


@dataclass(frozen=True, slots=True, kw_only=True)
class AuditCheckpoint(_TemplateRecord):
    """Compliance keeps a signed audit checkpoint (log ``log`` had ``size`` records...)."""

    template: ClassVar[Template] = Template.AUDIT_CHECKPOINT
    log: str
    size: int
    root: str
    time: datetime
    key_id: str
    signature: str


@dataclass(frozen=True, slots=True, kw_only=True)
class LedgerBreaker(_TemplateRecord):
    """Compliance hears that the ledger's circuit breaker opened (or closed again).

    ``state`` is the breaker's new state (``open`` or ``closed``); ``error`` the last
    failure that tripped it (empty when it closed).
    """

    template: ClassVar[Template] = Template.LEDGER_BREAKER
    state: str
    error: str


@dataclass(frozen=True, slots=True, kw_only=True)
class StatementCard(_TemplateRecord):
    """A bank statement's Stage 1 card in its team's channel, for one revision.

    The row that first shows ``revision`` posts the card; later rows of the same revision
    edit it in place (their ``update_of`` names the first). The notifier renders the
    statement as stored when it delivers, so a late row never shows an older state; a
    card of a revision the statement has left says so and offers no buttons.
    ``version`` is the statement's version that caused the row (what changed, for the
    record).
    """

    template: ClassVar[Template] = Template.STATEMENT_CARD
    statement_id: int
    revision: int
    version: int


@dataclass(frozen=True, slots=True, kw_only=True)
class MatchSummary(_TemplateRecord):
    """A statement's matching summary in its team's channel (Stage 2).

    One message per statement: the first row posts it, later rows (a later run, a
    resolved check, accepted matches) edit it in place (``update_of`` names the first).
    The notifier renders the statement's matches and checks as stored when it delivers,
    so the counts, the Resolve buttons and Accept all are never older than the row.
    ``cause`` says what queued the row (``run``, ``check``, ``decision``), for the record.
    """

    template: ClassVar[Template] = Template.MATCH_SUMMARY
    statement_id: int
    cause: str


@dataclass(frozen=True, slots=True, kw_only=True)
class MatchCard(_TemplateRecord):
    """A pending match's card in its statement's team channel (Stage 2).

    The row that first shows the match posts it; later rows (re-scored, accepted,
    rejected, dissolved) edit it in place. Rendered as stored when delivered: a decided
    match shows its outcome, who and when, and no buttons. ``version`` is the match's
    version that caused the row.
    """

    template: ClassVar[Template] = Template.MATCH_CARD
    match_id: int
    version: int

"""What each outbox message says, as stored: the JSON form of its record.

A notification's payload is one of the records of ``domain.notice_bodies`` (cards, App
Home, the ledger) and ``domain.alert_templates`` (one per template), re-exported here, or
an :class:`UnknownNotice`; the notifier renders it by type.
The outbox stores the JSON form (:func:`encode`), and :func:`decode` reads it back. The
JSON is the contract with rows already queued (by this version or the one before it):
the same ``template`` key and the same field names, so a row written before a deploy
still delivers after it. A row no record describes (an unknown template, a field
missing) decodes to :class:`UnknownNotice` and is delivered as a plain alert, the way
such rows always were, rather than failing the relay.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, assert_never

from domain.alert_templates import (
    Assigned,
    AuditCheckpoint,
    DeadLetter,
    DeliveryFailed,
    DigestCluster,
    DigestClusterDecided,
    DigestGroup,
    DigestSummary,
    DisputeOverdue,
    Escalated,
    LedgerBreaker,
    MatchCard,
    MatchSummary,
    PolicyInvalid,
    Reminder,
    ReminderUnclaimed,
    Severity,
    SlaEscalated,
    StatementCard,
    Template,
    TierReached,
    Unassigned,
    Verdict,
    _TemplateRecord,
)
from domain.notice_bodies import CardUpdate, HomeRefresh, LedgerPost, NoticeKind

__all__ = [
    "THREAD_OF",
    "UPDATE_OF",
    "AlertNotice",
    "AlertTemplate",
    "Assigned",
    "AuditCheckpoint",
    "CardUpdate",
    "DeadLetter",
    "DeliveryFailed",
    "DigestCluster",
    "DigestClusterDecided",
    "DigestGroup",
    "DigestSummary",
    "DigestTemplate",
    "DisputeOverdue",
    "Escalated",
    "HomeRefresh",
    "LedgerBreaker",
    "LedgerPost",
    "Links",
    "MatchCard",
    "MatchSummary",
    "NoticeBody",
    "NoticeKind",
    "PolicyInvalid",
    "Reminder",
    "ReminderUnclaimed",
    "Severity",
    "SlaEscalated",
    "StatementCard",
    "Template",
    "TemplateNotice",
    "TierReached",
    "Unassigned",
    "UnknownNotice",
    "Verdict",
    "decode",
    "encode",
    "fits",
    "template_of",
]


@dataclass(frozen=True, slots=True, kw_only=True)
class UnknownNotice:
    """An alert or DM row that no template record describes, kept as it was stored.

    Rows queued by another version, or malformed ones, still go out (as a plain alert
    whose text is their ``text`` field, else their template name), and are stored back
    unchanged when the relay copies them.
    """

    fields: Mapping[str, Any] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        """The stored form (exactly what was read)."""
        return dict(self.fields)


#: The templates drawn as one alert or DM (with the item's card when about an item).
AlertTemplate = (
    Reminder
    | ReminderUnclaimed
    | SlaEscalated
    | Escalated
    | Assigned
    | Unassigned
    | TierReached
    | DeadLetter
    | DisputeOverdue
    | PolicyInvalid
    | DeliveryFailed
    | AuditCheckpoint
    | LedgerBreaker
)
#: The digest's messages: its summary and its groups' thread replies.
DigestTemplate = DigestSummary | DigestCluster | DigestClusterDecided
#: The alerts and DMs (``NoticeKind.ALERT`` and ``NoticeKind.DM``), one record per template.
TemplateNotice = AlertTemplate | DigestTemplate | StatementCard | MatchSummary | MatchCard
#: What an ALERT or DM row carries.
AlertNotice = TemplateNotice | UnknownNotice
#: What any outbox row carries.
NoticeBody = CardUpdate | HomeRefresh | LedgerPost | AlertNotice

#: Keys of the stored JSON that refer to other messages (read by the relay, not a template).
THREAD_OF = "thread_of"
UPDATE_OF = "update_of"


@dataclass(frozen=True, slots=True, kw_only=True)
class Links:
    """References to earlier messages, by dedupe key.

    ``thread_of``: post in that message's thread. ``update_of``: edit that message in
    place instead of posting.
    """

    thread_of: str | None = None
    update_of: str | None = None


def template_of(body: NoticeBody) -> Template | None:
    """The template of an alert or DM body (None for cards, App Home and unknown rows)."""
    return body.template if isinstance(body, _TemplateRecord) else None


def fits(kind: NoticeKind, body: NoticeBody) -> bool:
    """Whether ``body`` is something a row of ``kind`` can carry."""
    match kind:
        case NoticeKind.CARD:
            return isinstance(body, CardUpdate)
        case NoticeKind.HOME:
            return isinstance(body, HomeRefresh)
        case NoticeKind.LEDGER:
            return isinstance(body, LedgerPost)
        case NoticeKind.ALERT | NoticeKind.DM:
            return not isinstance(body, CardUpdate | HomeRefresh | LedgerPost)
        case _:
            assert_never(kind)


def encode(body: NoticeBody, links: Links = Links()) -> dict[str, Any]:
    """The JSON the outbox stores for a row: the body's fields, then its links."""
    data = body.to_json()
    if links.thread_of is not None:
        data[THREAD_OF] = links.thread_of
    if links.update_of is not None:
        data[UPDATE_OF] = links.update_of
    return data


def decode(kind: NoticeKind, data: Mapping[str, Any]) -> tuple[NoticeBody, Links]:
    """Reads a stored row's JSON back; never raises (see :class:`UnknownNotice`)."""
    thread_of, update_of = data.get(THREAD_OF), data.get(UPDATE_OF)
    links = Links(
        thread_of=str(thread_of) if thread_of else None,
        update_of=str(update_of) if update_of else None,
    )
    rest = {k: v for k, v in data.items() if k not in (THREAD_OF, UPDATE_OF)}
    body: NoticeBody
    try:
        match kind:
            case NoticeKind.CARD:
                body = CardUpdate.from_json(rest)
            case NoticeKind.HOME:
                body = HomeRefresh.from_json(rest)
            case NoticeKind.LEDGER:
                body = LedgerPost.from_json(rest)
            case NoticeKind.ALERT | NoticeKind.DM:
                body = _decode_alert(rest)
                if body.to_json() != rest:  # a field it would lose, or a changed value
                    body = UnknownNotice(fields=rest)
            case _:
                assert_never(kind)
    except (KeyError, TypeError, ValueError):
        body = UnknownNotice(fields=rest)
    if isinstance(body, UnknownNotice):
        # Kept whole, links included, so that storing it again changes nothing.
        return UnknownNotice(fields=dict(data)), Links()
    return body, links


def _decode_alert(data: Mapping[str, Any]) -> AlertNotice:
    raw = data.get("template")
    if not isinstance(raw, str) or raw not in Template.__members__.values():
        return UnknownNotice(fields=data)
    template = Template(raw)
    match template:
        case Template.REMINDER:
            return Reminder.from_json(data)
        case Template.REMINDER_UNCLAIMED:
            return ReminderUnclaimed.from_json(data)
        case Template.SLA_ESCALATED:
            return SlaEscalated()
        case Template.ESCALATED:
            return Escalated()
        case Template.ASSIGNED:
            return Assigned.from_json(data)
        case Template.DEAD_LETTER:
            return DeadLetter.from_json(data)
        case Template.DIGEST:
            return DigestSummary.from_json(data)
        case Template.DIGEST_CLUSTER:
            return DigestCluster.from_json(data)
        case Template.DIGEST_CLUSTER_DECIDED:
            return DigestClusterDecided.from_json(data)
        case Template.POLICY_INVALID:
            return PolicyInvalid.from_json(data)
        case Template.DELIVERY_FAILED:
            return DeliveryFailed.from_json(data)
        case Template.AUDIT_CHECKPOINT:
            return AuditCheckpoint.from_json(data)
        case Template.DISPUTE_OVERDUE:
            return DisputeOverdue.from_json(data)
        case Template.LEDGER_BREAKER:
            return LedgerBreaker.from_json(data)
        case Template.STATEMENT_CARD:
            return StatementCard.from_json(data)
        case Template.MATCH_SUMMARY:
            return MatchSummary.from_json(data)
        case Template.MATCH_CARD:
            return MatchCard.from_json(data)
        case Template.UNASSIGNED:
            return Unassigned.from_json(data)
        case Template.TIER_REACHED:
            return TierReached.from_json(data)
        case _:
            assert_never(template)

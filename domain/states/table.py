"""The table of legal moves: which states each action starts from and may lead to.

Every state change of an item, including the ones the desk makes itself (approval by
policy, amendment by a re-import, a rung of the SLA ladder), is an :class:`Action` of
this table and a pure function in :mod:`domain.states` that returns a
:class:`Transition`. The property tests walk every action from every state against it.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Any

from domain.errors import IllegalTransition, InvalidCommand
from domain.items import Item, ReviewState

S = ReviewState
MIN_REASON_WORDS = 3
#: The actor of what the desk does by itself (policy, ladder, re-import).
SYSTEM = "system"


class Action(StrEnum):
    """Everything that can happen to an item."""

    CLAIM = "claim"
    ASSIGN = "assign"
    RELEASE = "release"
    APPROVE = "approve"
    REJECT = "reject"
    ESCALATE = "escalate"
    DISPUTE = "dispute"
    UPDATE_DISPUTE = "update_dispute"
    RESOLVE_DISPUTE = "resolve_dispute"
    NOTE_DISPUTE = "note_dispute"
    DEAD_LETTER = "dead_letter"
    POST = "post"
    AMEND = "amend"
    ACCEPT_BY_POLICY = "accept_by_policy"
    CLIMB_LADDER = "climb_ladder"
    REMIND_DISPUTE = "remind_dispute"
    CLOSE_MATCHED = "close_matched"


_OPEN = frozenset({S.PENDING, S.ASSIGNED, S.ESCALATED, S.AWAITING_SECOND_APPROVAL, S.DEAD_LETTER})
#: States the SLA ladder runs in: everything a person still has to settle.
_ON_THE_LADDER = _OPEN | {S.DISPUTED}

#: Which states each action may start from. Anything else is an IllegalTransition.
ALLOWED_FROM: dict[Action, frozenset[ReviewState]] = {
    Action.CLAIM: frozenset({S.PENDING, S.ESCALATED, S.DEAD_LETTER}),
    Action.ASSIGN: frozenset({S.PENDING, S.ASSIGNED, S.ESCALATED, S.DEAD_LETTER}),
    Action.RELEASE: frozenset({S.ASSIGNED}),
    Action.APPROVE: _OPEN,
    Action.REJECT: _OPEN,
    Action.ESCALATE: frozenset({S.PENDING, S.ASSIGNED, S.AWAITING_SECOND_APPROVAL}),
    Action.DISPUTE: frozenset({S.PENDING, S.ASSIGNED, S.ESCALATED, S.AWAITING_SECOND_APPROVAL}),
    Action.UPDATE_DISPUTE: frozenset({S.DISPUTED}),
    Action.RESOLVE_DISPUTE: frozenset({S.DISPUTED}),
    Action.NOTE_DISPUTE: frozenset({S.DISPUTED}),
    Action.DEAD_LETTER: frozenset({S.PENDING, S.ASSIGNED, S.ESCALATED, S.AWAITING_SECOND_APPROVAL}),
    Action.POST: frozenset({S.APPROVED}),
    # A posted item too: its entries are reversed (by the use case) and it is reviewed again.
    Action.AMEND: frozenset(S),
    # Only a freshly routed (or freshly amended) item, before any person has touched it.
    Action.ACCEPT_BY_POLICY: frozenset({S.PENDING}),
    Action.CLIMB_LADDER: _ON_THE_LADDER,
    # The desk reminds a dispute's owner that its expected resolution date passed.
    Action.REMIND_DISPUTE: frozenset({S.DISPUTED}),
    # A later matching run matched an unmatched item's line or entry. A dispute stays a
    # person's to resolve (its "matched" outcome).
    Action.CLOSE_MATCHED: _OPEN,
}

#: Every state an action can lead to (checked by the property tests).
LEADS_TO: dict[Action, frozenset[ReviewState]] = {
    Action.CLAIM: frozenset({S.ASSIGNED}),
    Action.ASSIGN: frozenset({S.ASSIGNED}),
    Action.RELEASE: frozenset({S.PENDING, S.ESCALATED, S.DEAD_LETTER}),
    Action.APPROVE: frozenset({S.APPROVED, S.AWAITING_SECOND_APPROVAL}),
    Action.REJECT: frozenset({S.REJECTED}),
    Action.ESCALATE: frozenset({S.ESCALATED}),
    Action.DISPUTE: frozenset({S.DISPUTED}),
    Action.UPDATE_DISPUTE: frozenset({S.DISPUTED}),
    Action.RESOLVE_DISPUTE: frozenset({S.PENDING, S.APPROVED, S.DISPUTED}),
    Action.NOTE_DISPUTE: frozenset({S.DISPUTED}),
    Action.DEAD_LETTER: frozenset({S.DEAD_LETTER}),
    Action.POST: frozenset({S.POSTED}),
    # An amended item returns to review; a disputed one stays disputed and a dead-lettered
    # one stays with compliance (acceptance by policy is its own, later, action).
    Action.AMEND: frozenset({S.PENDING, S.DISPUTED, S.DEAD_LETTER}),
    Action.ACCEPT_BY_POLICY: frozenset({S.APPROVED}),
    # A rung escalates or dead-letters where the state allows it, else the item stays put.
    Action.CLIMB_LADDER: _ON_THE_LADDER,
    Action.REMIND_DISPUTE: frozenset({S.DISPUTED}),
    Action.CLOSE_MATCHED: frozenset({S.MATCHED}),
}

TERMINAL = frozenset({S.POSTED, S.REJECTED, S.MATCHED})


@dataclass(frozen=True, slots=True, kw_only=True)
class Event:
    """Something to audit: name, actor, states and small JSON-safe details (no floats)."""

    name: str
    actor: str
    from_state: str | None
    to_state: str | None
    data: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, slots=True, kw_only=True)
class Transition:
    """The result of an action: the new item and what to audit."""

    item: Item
    events: tuple[Event, ...]
    noop: bool = False

    @classmethod
    def repeat(cls, item: Item) -> Transition:
        """An idempotent repeat (a double click): nothing changes, nothing is audited."""
        return cls(item=item, events=(), noop=True)


def check_allowed(item: Item, action: Action) -> None:
    """Raises IllegalTransition with a sentence a reviewer understands."""
    if item.state not in ALLOWED_FROM[action]:
        raise IllegalTransition(
            f"{item.human_id} is {item.state.label}; it cannot be {_PAST[action]} now"
        )


_PAST = {
    Action.CLAIM: "claimed",
    Action.ASSIGN: "assigned",
    Action.RELEASE: "released",
    Action.APPROVE: "approved",
    Action.REJECT: "rejected",
    Action.ESCALATE: "escalated",
    Action.DISPUTE: "disputed",
    Action.UPDATE_DISPUTE: "updated as a dispute",
    Action.RESOLVE_DISPUTE: "resolved as a dispute",
    Action.NOTE_DISPUTE: "given a dispute note",
    Action.DEAD_LETTER: "dead-lettered",
    Action.POST: "posted",
    Action.AMEND: "amended",
    Action.ACCEPT_BY_POLICY: "accepted by policy",
    Action.CLIMB_LADDER: "moved up the SLA ladder",
    Action.REMIND_DISPUTE: "reminded as a dispute",
    Action.CLOSE_MATCHED: "closed as matched",
}


def evolve(item: Item, now: datetime, **changes: Any) -> Item:
    """The item with ``changes``, its version bumped and ``updated_at`` set."""
    return dataclasses.replace(item, version=item.version + 1, updated_at=now, **changes)


def event_of(item: Item, new: Item, name: str, actor: str, **data: Any) -> Event:
    """The event of a move from ``item`` to ``new``."""
    return Event(
        name=name, actor=actor, from_state=item.state.value, to_state=new.state.value, data=data
    )


def require_reason(reason: str | None, *, what: str = "a reason") -> str:
    """A reason of at least a few words, stripped.

    Raises:
        InvalidCommand: missing or too short.
    """
    text = (reason or "").strip()
    if len(text.split()) < MIN_REASON_WORDS:
        raise InvalidCommand(f"give {what} of at least {MIN_REASON_WORDS} words")
    return text

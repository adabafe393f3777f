"""Automatic assignment: who may get an item, and who of them gets it. Pure.

An eligible reviewer is a reviewer of the item's team who is certified for it (their
level reaches the level the policy's certification rules ask for), under capacity (fewer
open items than their capacity), not its preparer, not one who already approved it, and
not away. Among them the best historical accuracy wins, then the least loaded, then the
user id (a deterministic tie-break: the same facts always pick the same person).

A reviewer with no decisions in the accuracy window has no accuracy to rank: they come
after everyone who has one (they still get work when the others are full or equal).
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence, Set
from dataclasses import dataclass
from datetime import datetime
from decimal import ROUND_HALF_UP, Decimal
from enum import StrEnum

from domain.audit.records import AuditEntry
from domain.policy import Policy, Team


@dataclass(frozen=True, slots=True, kw_only=True)
class Accuracy:
    """A reviewer's recent decisions and how many of them were later overturned."""

    decided: int
    overturned: int

    @property
    def share(self) -> Decimal | None:
        """The share not overturned (0..1), or None without any decision to judge."""
        if self.decided <= 0:
            return None
        kept = max(self.decided - self.overturned, 0)
        return Decimal(kept) / Decimal(self.decided)

    def label(self) -> str:
        """``accuracy 98%`` (whole percent, half up) or ``no decisions yet``."""
        share = self.share
        if share is None:
            return "no decisions yet"
        percent = (share * 100).quantize(Decimal(1), rounding=ROUND_HALF_UP)
        return f"accuracy {percent}%"


NO_HISTORY = Accuracy(decided=0, overturned=0)


@dataclass(frozen=True, slots=True, kw_only=True)
class Need:
    """What an item asks of its reviewer."""

    level: int
    preparer: str | None
    approvers: frozenset[str] = frozenset()
    #: Who just let the item's lease run out (not offered it again at once).
    let_go: str | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class Candidate:
    """One reviewer as the ranking sees them."""

    user: str
    certification: int
    capacity: int
    open_items: int
    accuracy: Accuracy

    def reasons(self) -> str:
        """``certified 2, 3 of 5 open, accuracy 98%``: what the audit keeps."""
        return (
            f"certified {self.certification}, {self.open_items} of {self.capacity} open, "
            f"{self.accuracy.label()}"
        )


@dataclass(frozen=True, slots=True, kw_only=True)
class Choice:
    """The chosen reviewer (None when nobody is eligible) and why each other was not."""

    assignee: Candidate | None
    passed_over: tuple[tuple[str, str], ...]

    @property
    def reasons(self) -> str:
        """The chosen reviewer's reasons, or why nobody was."""
        if self.assignee is not None:
            return self.assignee.reasons()
        return "; ".join(f"{user}: {why}" for user, why in self.passed_over) or "no reviewers"


def ineligibility(candidate: Candidate, need: Need, away: Set[str]) -> str | None:
    """Why ``candidate`` may not get the item, or None when they may."""
    if need.preparer is not None and candidate.user == need.preparer:
        return "prepared it"
    if candidate.user in need.approvers:
        return "already approved it"
    if candidate.user in away:
        return "away"
    if candidate.user == need.let_go:
        return "let its lease run out"
    if candidate.certification < need.level:
        return f"certified {candidate.certification}, needs {need.level}"
    if candidate.open_items >= candidate.capacity:
        return f"at capacity ({candidate.open_items} of {candidate.capacity} open)"
    return None


def rank_key(candidate: Candidate) -> tuple[int, Decimal, int, str]:
    """Sort key: known accuracy first, higher accuracy, fewer open items, then user id."""
    share = candidate.accuracy.share
    return (
        0 if share is not None else 1,
        -(share if share is not None else Decimal(0)),
        candidate.open_items,
        candidate.user,
    )


def choose(candidates: Sequence[Candidate], need: Need, away: Set[str]) -> Choice:
    """The best eligible candidate for an item with ``need``, and who was passed over."""
    eligible: list[Candidate] = []
    passed: list[tuple[str, str]] = []
    for candidate in sorted(candidates, key=lambda c: c.user):
        why = ineligibility(candidate, need, away)
        if why is None:
            eligible.append(candidate)
        else:
            passed.append((candidate.user, why))
    best = min(eligible, key=rank_key) if eligible else None
    return Choice(assignee=best, passed_over=tuple(passed))


def candidates_of(
    policy: Policy,
    team: Team,
    *,
    open_items: Mapping[str, int],
    accuracy: Mapping[str, Accuracy],
) -> list[Candidate]:
    """The team's reviewers as candidates (people not under ``people`` get the defaults)."""
    out = []
    for user in team.reviewers:
        if user in policy.compliance.auditors:
            continue  # validation forbids it; never hand work to a read-only person
        person = policy.person(user)
        out.append(
            Candidate(
                user=user,
                certification=person.certification,
                capacity=person.capacity,
                open_items=open_items.get(user, 0),
                accuracy=accuracy.get(user, NO_HISTORY),
            )
        )
    return out


# --- the decision record accuracy is computed from -------------------------------------


class Verdict(StrEnum):
    """A reviewer's decision, as accuracy counts it."""

    APPROVED = "approved"
    REJECTED = "rejected"


@dataclass(frozen=True, slots=True, kw_only=True)
class DecisionMark:
    """``user`` decided ``verdict`` on the item at ``at``."""

    item_id: int
    user: str
    verdict: Verdict
    at: datetime


@dataclass(frozen=True, slots=True, kw_only=True)
class Overturn:
    """Every standing ``verdict`` on the item, made before now, is overturned at ``at``."""

    item_id: int
    verdict: Verdict
    at: datetime


#: Dispute outcomes that undo an item's approval (the books were changed after it).
_REVERSING_OUTCOMES = frozenset({"adjusted", "written_off"})
_APPROVALS = frozenset({"item.approval_recorded", "item.approved_in_bulk"})
_RELEVANT = _APPROVALS | {"item.rejected", "item.amended", "item.reversed", "dispute.resolved"}


def decision_marks(
    entries: Sequence[AuditEntry],
) -> tuple[list[Overturn], list[DecisionMark]]:
    """What the audited events add to reviewers' records: overturns of earlier verdicts
    first, then the new verdicts (so an approval overturns earlier rejections, never
    itself).

    An approval is overturned when an amendment voids it (``item.amended`` with voided
    approvals, ``item.reversed``) or a dispute ends adjusted or written off; a rejection
    is overturned when the item is later approved.
    """
    overturns: list[Overturn] = []
    marks: list[DecisionMark] = []
    seen: set[tuple[int, str, Verdict]] = set()
    for entry in entries:
        item_id = entry.item_id
        if item_id is None:
            continue
        if entry.event not in _RELEVANT:
            continue
        data = entry.data if isinstance(entry.data, dict) else json.loads(entry.data.text)
        if entry.event in _APPROVALS:
            overturns.append(Overturn(item_id=item_id, verdict=Verdict.REJECTED, at=entry.time))
            verdict: Verdict | None = Verdict.APPROVED
        elif entry.event == "item.rejected":
            verdict = Verdict.REJECTED
        else:
            verdict = None
            voided = data.get("voided_approvals") if entry.event == "item.amended" else None
            reversing = entry.event == "item.reversed" or (
                entry.event == "dispute.resolved" and data.get("outcome") in _REVERSING_OUTCOMES
            )
            if voided or reversing:
                overturns.append(Overturn(item_id=item_id, verdict=Verdict.APPROVED, at=entry.time))
        if verdict is not None and (item_id, entry.actor, verdict) not in seen:
            seen.add((item_id, entry.actor, verdict))
            marks.append(
                DecisionMark(item_id=item_id, user=entry.actor, verdict=verdict, at=entry.time)
            )
    return overturns, marks

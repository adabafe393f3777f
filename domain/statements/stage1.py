"""The Stage 1 state machine of a statement: a table of legal moves and pure transitions.

``pending_review`` -> ``approved`` (a person, or the policy when the chain and continuity
both hold) or ``rejected`` (with a reason). Edits happen in ``pending_review`` and
re-validate. A new revision (a re-parse of the stored original, or a re-import with
different content) starts again in ``pending_review`` from any state, voiding the old
revision's approvals and edits: it is the only way back from ``rejected``.

Each function returns a :class:`StatementTransition`: the statement after the move and
the events to audit (the use case writes both in one transaction). A repeat of a move
already made (the same person approving twice, a second rejection) is a ``noop``.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal
from enum import StrEnum
from typing import Any, Final

from domain.errors import IllegalTransition, InvalidCommand, MoneyError, NotAuthorized
from domain.money import parse_amount
from domain.statements.records import (
    EDITABLE_FIELDS,
    Approval,
    Checks,
    Continuity,
    EditKind,
    LineEdit,
    Stage1Status,
    Statement,
    StatementLine,
    field_text,
)

S = Stage1Status
#: The actor of an approval by policy.
POLICY: Final = "policy"
#: The actor of what the desk does by itself (an import, checks computed again).
SYSTEM: Final = "system"


class StatementAction(StrEnum):
    """Everything that can happen to a statement in Stage 1."""

    APPROVE = "approve"
    AUTO_APPROVE = "auto_approve"
    EDIT = "edit"
    REJECT = "reject"
    REVISE = "revise"  # a re-parse or a changed re-import
    RECHECK = "recheck"  # the statement before it arrived or changed


ALLOWED_FROM: Final[dict[StatementAction, frozenset[Stage1Status]]] = {
    StatementAction.APPROVE: frozenset({S.PENDING_REVIEW}),
    StatementAction.AUTO_APPROVE: frozenset({S.PENDING_REVIEW}),
    StatementAction.EDIT: frozenset({S.PENDING_REVIEW}),
    StatementAction.REJECT: frozenset({S.PENDING_REVIEW}),
    StatementAction.REVISE: frozenset(S),
    StatementAction.RECHECK: frozenset({S.PENDING_REVIEW}),
}
LEADS_TO: Final[dict[StatementAction, frozenset[Stage1Status]]] = {
    StatementAction.APPROVE: frozenset({S.APPROVED}),
    StatementAction.AUTO_APPROVE: frozenset({S.APPROVED}),
    StatementAction.EDIT: frozenset({S.PENDING_REVIEW}),
    StatementAction.REJECT: frozenset({S.REJECTED}),
    StatementAction.REVISE: frozenset({S.PENDING_REVIEW}),
    StatementAction.RECHECK: frozenset({S.PENDING_REVIEW}),
}


@dataclass(frozen=True, slots=True, kw_only=True)
class StatementEvent:
    """One audited event of a statement."""

    name: str
    actor: str
    from_state: str | None  # None: the statement is new
    to_state: str
    data: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, slots=True, kw_only=True)
class StatementTransition:
    """The statement after a move, and its events (none for a noop)."""

    statement: Statement
    events: tuple[StatementEvent, ...] = ()
    noop: bool = False


#: Re-validates a statement after a change (the use case binds the previous statement
#: and the policy to :func:`domain.statements.checks.check`).
Recheck = Callable[[Statement], Checks]


def _refuse(statement: Statement, action: StatementAction) -> None:
    if statement.stage1_status not in ALLOWED_FROM[action]:
        raise IllegalTransition(
            f"{statement.human_id} is {statement.stage1_status.value}; it cannot be "
            f"{_DONE[action]} now"
            + (
                " (a re-parse or a re-import brings it back to review)"
                if statement.stage1_status is S.REJECTED
                else ""
            )
        )


_DONE: Final = {
    StatementAction.APPROVE: "approved",
    StatementAction.AUTO_APPROVE: "approved by policy",
    StatementAction.EDIT: "edited",
    StatementAction.REJECT: "rejected",
    StatementAction.REVISE: "revised",
    StatementAction.RECHECK: "checked again",
}


def _moved(statement: Statement, to: Stage1Status, now: datetime, **changes: Any) -> Statement:
    return dataclasses.replace(
        statement,
        stage1_status=to,
        version=statement.version + 1,
        updated_at=now,
        **changes,
    )


def _event(
    name: str, actor: str, before: Statement, after: Statement, **data: Any
) -> StatementEvent:
    return StatementEvent(
        name=name,
        actor=actor,
        from_state=before.stage1_status.value,
        to_state=after.stage1_status.value,
        data={"revision": after.revision, **data},
    )


def chain_refusal(statement: Statement) -> str | None:
    """Why the chain forbids approval now, or None when it does not."""
    checks = statement.checks
    if checks.chain_ok is False:
        return (
            f"{statement.human_id} cannot be approved: the balance chain is off by "
            f"{checks.delta} {statement.currency} (opening + entries - closing; tolerance "
            f"{checks.tolerance:f} {statement.currency}); edit the lines or reject it"
        )
    return None


def approve(
    statement: Statement, *, actor: str, now: datetime, edit_needs_other_approver: bool
) -> StatementTransition:
    """A person approves: refused while the chain is off, and (with
    ``edit_needs_other_approver``) refused to whoever edited this revision.

    Raises:
        IllegalTransition: not pending review, or the chain is off (the delta is named).
        NotAuthorized: the actor edited the statement and the policy wants someone else.
    """
    if statement.stage1_status is S.APPROVED and any(a.actor == actor for a in statement.approvals):
        return StatementTransition(statement=statement, noop=True)
    _refuse(statement, StatementAction.APPROVE)
    refusal = chain_refusal(statement)
    if refusal is not None:
        raise IllegalTransition(refusal)
    if edit_needs_other_approver and actor in statement.editors:
        raise NotAuthorized(
            f"you edited {statement.human_id}, so someone else must approve it (the policy's "
            "statements.edit_needs_other_approver)"
        )
    after = _moved(
        statement,
        S.APPROVED,
        now,
        approvals=(*statement.approvals, Approval(actor=actor, at=now)),
    )
    event = _event(
        "statement.approved",
        actor,
        statement,
        after,
        edited=bool(statement.edits),
        delta=None if statement.checks.delta is None else str(statement.checks.delta),
    )
    return StatementTransition(statement=after, events=(event,))


def auto_approval_withheld(statement: Statement) -> str | None:
    """Why the policy may not approve this statement by itself, or None when it may."""
    if statement.checks.chain_ok is not True:
        return "the balance chain does not hold (or cannot be checked)"
    if statement.checks.continuity is not Continuity.OK:
        return f"continuity is {statement.checks.continuity.value}"
    return None


def auto_approve(statement: Statement, *, now: datetime) -> StatementTransition:
    """The policy approves a statement whose chain AND continuity hold (recorded so).

    Raises:
        IllegalTransition: not pending review, or a check fails (never approved then).
    """
    _refuse(statement, StatementAction.AUTO_APPROVE)
    withheld = auto_approval_withheld(statement)
    if withheld is not None:
        raise IllegalTransition(f"{statement.human_id} is not approved by policy: {withheld}")
    after = _moved(
        statement,
        S.APPROVED,
        now,
        approvals=(Approval(actor=POLICY, at=now, by_policy=True),),
    )
    event = _event("statement.approved", POLICY, statement, after, by_policy=True)
    return StatementTransition(statement=after, events=(event,))


def reject(statement: Statement, *, actor: str, reason: str, now: datetime) -> StatementTransition:
    """A person rejects, with a reason; only a new revision brings it back.

    Raises:
        InvalidCommand: no reason.
        IllegalTransition: not pending review.
    """
    if statement.stage1_status is S.REJECTED:
        return StatementTransition(statement=statement, noop=True)
    text = " ".join(reason.split())
    if not text:
        raise InvalidCommand("give a reason to reject a statement")
    _refuse(statement, StatementAction.REJECT)
    after = _moved(statement, S.REJECTED, now, rejection=text, approvals=())
    return StatementTransition(
        statement=after,
        events=(_event("statement.rejected", actor, statement, after, reason=text),),
    )


@dataclass(frozen=True, slots=True, kw_only=True)
class Correct:
    """Correct one field of one line (``value`` as the reviewer typed it; "" clears a
    text field)."""

    line: int
    field: str
    value: str


@dataclass(frozen=True, slots=True, kw_only=True)
class AddLine:
    """Add a line missing from the file."""

    amount: str
    booking_date: date | None = None
    value_date: date | None = None
    reference: str | None = None
    counterparty: str | None = None
    description: str | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class RemoveLine:
    """Remove a duplicated line (it stays, struck out, and counts for nothing)."""

    line: int


Edit = Correct | AddLine | RemoveLine


def _amount(text: str, currency: str) -> Decimal:
    try:
        return parse_amount(text, currency)
    except MoneyError as exc:
        raise InvalidCommand(str(exc)) from None


def _value(name: str, text: str, currency: str) -> Any:
    raw = text.strip()
    if name == "amount":
        return _amount(raw, currency)
    if name in ("booking_date", "value_date"):
        if not raw:
            return None
        try:
            return date.fromisoformat(raw)
        except ValueError:
            raise InvalidCommand(f"{raw!r} is not a date (YYYY-MM-DD)") from None
    return raw or None


def _line(statement: Statement, number: int) -> StatementLine:
    for line in statement.lines:
        if line.number == number:
            return line
    raise InvalidCommand(f"{statement.human_id} has no line {number}")


def edit(
    statement: Statement, change: Edit, *, actor: str, now: datetime, recheck: Recheck
) -> StatementTransition:
    """Applies one edit on top of the parsed lines and re-validates.

    Raises:
        IllegalTransition: not pending review.
        InvalidCommand: no such line, a field that cannot be edited, a bad value, an
            edit of a removed line.
    """
    _refuse(statement, StatementAction.EDIT)
    lines = list(statement.lines)
    if isinstance(change, Correct):
        if change.field not in EDITABLE_FIELDS:
            raise InvalidCommand(
                f"{change.field!r} cannot be edited; edit one of {', '.join(EDITABLE_FIELDS)}"
            )
        line = _line(statement, change.line)
        if line.removed:
            raise InvalidCommand(f"line {line.number} was removed; it cannot be edited")
        new_value = _value(change.field, change.value, statement.currency)
        old_value = getattr(line, change.field)
        if new_value == old_value:
            return StatementTransition(statement=statement, noop=True)
        record = LineEdit(
            kind=EditKind.CORRECT,
            line=line.number,
            field=change.field,
            old=field_text(change.field, old_value),
            new=field_text(change.field, new_value),
            actor=actor,
            at=now,
        )
        index = lines.index(line)
        lines[index] = dataclasses.replace(line, **{change.field: new_value}, edited=True)
    elif isinstance(change, AddLine):
        number = max((ln.number for ln in lines), default=0) + 1
        added = StatementLine(
            number=number,
            amount=_amount(change.amount, statement.currency),
            booking_date=change.booking_date,
            value_date=change.value_date,
            reference=change.reference,
            counterparty=change.counterparty,
            description=change.description,
            where="added by a reviewer",
            added=True,
        )
        lines.append(added)
        record = LineEdit(
            kind=EditKind.ADD,
            line=number,
            field=None,
            old=None,
            new=f"{added.amount} {statement.currency}",
            actor=actor,
            at=now,
        )
    else:
        line = _line(statement, change.line)
        if line.removed:
            return StatementTransition(statement=statement, noop=True)
        index = lines.index(line)
        lines[index] = dataclasses.replace(line, removed=True)
        record = LineEdit(
            kind=EditKind.REMOVE,
            line=line.number,
            field=None,
            old=f"{line.amount} {statement.currency}",
            new=None,
            actor=actor,
            at=now,
        )
    changed = dataclasses.replace(statement, lines=tuple(lines), edits=(*statement.edits, record))
    after = _moved(changed, S.PENDING_REVIEW, now, checks=recheck(changed))
    data = record.to_data()
    del data["at"], data["actor"]
    event = _event(
        "statement.edited",
        actor,
        statement,
        after,
        **data,
        delta=None if after.checks.delta is None else str(after.checks.delta),
        chain_ok=after.checks.chain_ok,
    )
    return StatementTransition(statement=after, events=(event,))


def revise(
    statement: Statement, new: Statement, *, actor: str, cause: str, now: datetime
) -> StatementTransition:
    """A new revision (``cause``: ``reparse`` or ``reimport``) replaces the statement's
    content and starts Stage 1 again: approvals, edits and any rejection are void.

    ``new`` is the re-read statement (its lines, balances, file, hashes and checks);
    it keeps ``statement``'s id and identity.
    """
    after = dataclasses.replace(
        new,
        id=statement.id,
        revision=statement.revision + 1,
        stage1_status=S.PENDING_REVIEW,
        edits=(),
        approvals=(),
        rejection=None,
        version=statement.version + 1,
        created_at=statement.created_at,
        updated_at=now,
    )
    event = _event(
        "statement.revised",
        actor,
        statement,
        after,
        cause=cause,
        previous_revision=statement.revision,
        voided_approvals=[a.actor for a in statement.approvals],
        sha256=after.sha256,
        content_hash=after.content_hash,
        file=after.file_name,
        entries=len(after.lines),
        delta=None if after.checks.delta is None else str(after.checks.delta),
        chain_ok=after.checks.chain_ok,
        continuity=after.checks.continuity.value,
    )
    return StatementTransition(statement=after, events=(event,))


def recheck(
    statement: Statement, checks: Checks, *, cause: str, now: datetime
) -> StatementTransition:
    """The checks computed again because the statement before it arrived or changed
    (its continuity depends on that one's closing); a noop when nothing differs.

    Raises:
        IllegalTransition: not pending review (a decided statement keeps the checks it
            was decided on).
    """
    _refuse(statement, StatementAction.RECHECK)
    if checks == statement.checks:
        return StatementTransition(statement=statement, noop=True)
    after = _moved(statement, S.PENDING_REVIEW, now, checks=checks)
    event = _event(
        "statement.rechecked",
        SYSTEM,
        statement,
        after,
        cause=cause,
        continuity=checks.continuity.value,
        continuity_gap=None if checks.continuity_gap is None else str(checks.continuity_gap),
        previous_id=checks.previous_id,
    )
    return StatementTransition(statement=after, events=(event,))

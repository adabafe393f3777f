"""Stage 2 in Slack: the people's side of matching, and the messages matching causes.

:class:`MatchReview` is what a person does to matches and checks from Slack (accept,
reject, accept all, resolve a check) and what the cards and the summary show. It checks
the person first (an auditor is read-only; only reviewers and leads of the statement's
team act on its matches), then goes through :class:`~domain.usecases.matching.Matching`,
which guards the rest (the escalation tiers' permissions, state, version, open checks:
:mod:`domain.usecases.match_tiers`). A refusal is audited as every
decision's is (``decision.refused``) and raised.

The summary and the cards are queued by :mod:`domain.usecases.match_outbox`, in the
transaction of the change that causes them.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from domain.errors import DomainError, ItemNotFound, NotAuthorized, NotVisible
from domain.gl import StoredLedgerEntry
from domain.matching.stored import CheckRecord, CheckState, MatchRecord, MatchState, Resolution
from domain.permissions import (
    Person,
    Viewer,
    can_see,
    check_not_read_only,
    sees_everything,
    visible_teams,
)
from domain.ports import UnitOfWork
from domain.statements.records import MatchStatus, Statement, StatementLine, format_statement_id
from domain.usecases.matching import Matching, RunSummary
from domain.usecases.transaction import UseCase, refusal_entry

#: How many matches of a statement a summary or a list reads at most.
_MANY = 100_000


# --- what the cards and the summary show -------------------------------------------------------


@dataclass(frozen=True, slots=True, kw_only=True)
class MatchView:
    """A match with both its sides, as stored (what its card shows)."""

    match: MatchRecord
    statement: Statement
    bank_lines: tuple[StatementLine, ...]
    ledger_entries: tuple[StoredLedgerEntry, ...]


@dataclass(frozen=True, slots=True, kw_only=True)
class MatchOverview:
    """A statement's matching, as stored (what its summary shows)."""

    statement: Statement
    auto_accepted: int
    pending_review: int
    accepted: int
    rejected: int
    unmatched_bank: int
    unmatched_ledger: int
    gl_account: str | None
    open_checks: tuple[CheckRecord, ...]


class MatchReview(UseCase):
    """Matches and checks as people see and decide them (Slack)."""

    def __init__(self, *, matching: Matching, **deps: Any) -> None:
        super().__init__(**deps)
        self._matching = matching

    # -- reads --

    async def _statement(self, uow: UnitOfWork, statement_id: int, viewer: Viewer) -> Statement:
        statement = await uow.statements.get(statement_id, with_lines=False)
        policy = self._tx.policy().policy
        if statement is None and sees_everything(policy, viewer):
            raise ItemNotFound(f"there is no statement {format_statement_id(statement_id)}")
        if statement is None or not can_see(policy, viewer, statement.team):
            # The same answer whether it exists or not: ids cannot be probed.
            raise NotVisible(f"you cannot see {format_statement_id(statement_id)}")
        return statement

    async def view(self, match_id: int, *, viewer: Viewer) -> MatchView:
        """A match and both its sides.

        Raises:
            NotVisible: no such match, or one of a team the viewer does not see.
        """
        async with self._tx.uow(read_only=True) as uow:
            record = await uow.matches.get(match_id)
            if record is None:
                if sees_everything(self._tx.policy().policy, viewer):
                    raise ItemNotFound(f"there is no match {match_id}")
                raise NotVisible(f"you cannot see match {match_id}")
            statement = await self._statement(uow, record.statement_id, viewer)
            lines: list[StatementLine] = []
            for statement_id, number in record.bank_lines:
                head = (
                    statement
                    if statement_id == statement.id
                    else await uow.statements.get(statement_id, with_lines=False)
                )
                if head is None:
                    continue
                line = await uow.statements.line(statement_id, head.currency, number)
                if line is not None:
                    lines.append(line)
            found = await uow.gl.get_many([(k.entry_id, k.account) for k in record.ledger_entries])
            entries = [
                found[(k.entry_id, k.account)]
                for k in record.ledger_entries
                if (k.entry_id, k.account) in found
            ]
        return MatchView(
            match=record,
            statement=statement,
            bank_lines=tuple(lines),
            ledger_entries=tuple(entries),
        )

    async def check(self, check_id: int, *, viewer: Viewer) -> CheckRecord:
        """A check, to someone who sees its statement.

        Raises:
            NotVisible: no such check, or one of a team the viewer does not see.
        """
        async with self._tx.uow(read_only=True) as uow:
            check = await uow.matches.get_check(check_id)
            if check is None or check.statement_id is None:
                raise NotVisible(f"you cannot see check {check_id}")
            await self._statement(uow, check.statement_id, viewer)
        return check

    async def overview(self, statement_id: int, *, viewer: Viewer) -> MatchOverview:
        """A statement's matching counts and its open checks."""
        policy = self._tx.policy().policy
        async with self._tx.uow(read_only=True) as uow:
            head = await self._statement(uow, statement_id, viewer)
            records = await uow.matches.query(statement_id=statement_id, limit=_MANY)
            states = [r.state for r in records]
            whole = await uow.statements.get(statement_id, with_lines=True)
            lines = whole.lines if whole is not None else ()
            unmatched_bank = sum(
                1
                for line in lines
                if not line.removed and line.match_status is MatchStatus.UNMATCHED
            )
            account = policy.statements.account_for(head.account, head.currency)
            unmatched_ledger = 0
            if account is not None:
                unmatched_ledger = len(
                    await uow.gl.open_entries(account=account.gl_account, currency=head.currency)
                )
            checks = await uow.matches.checks(state=CheckState.OPEN, statement_id=statement_id)
        return MatchOverview(
            statement=head,
            auto_accepted=states.count(MatchState.AUTO_ACCEPTED),
            pending_review=states.count(MatchState.PENDING_REVIEW),
            accepted=states.count(MatchState.ACCEPTED),
            rejected=states.count(MatchState.REJECTED),
            unmatched_bank=unmatched_bank,
            unmatched_ledger=unmatched_ledger,
            gl_account=account.gl_account if account is not None else None,
            open_checks=tuple(checks),
        )

    async def pending(
        self, *, viewer: Viewer, statement: int | None = None, limit: int = 20
    ) -> tuple[list[MatchRecord], int]:
        """The pending matches the viewer's teams review (of one statement, or all), the
        first ``limit`` of them, and how many there are."""
        policy = self._tx.policy().policy
        teams = visible_teams(policy, viewer)
        async with self._tx.uow(read_only=True) as uow:
            if statement is not None:
                await self._statement(uow, statement, viewer)
            records = await uow.matches.query(
                state=MatchState.PENDING_REVIEW, statement_id=statement, limit=_MANY
            )
            heads: dict[int, Statement | None] = {}
            seen: list[MatchRecord] = []
            for record in records:
                if record.statement_id not in heads:
                    heads[record.statement_id] = await uow.statements.get(
                        record.statement_id, with_lines=False
                    )
                head = heads[record.statement_id]
                if head is not None and (teams is None or head.team in teams):
                    seen.append(record)
        return seen[:limit], len(seen)

    # -- decisions --

    async def _check_person(self, actor: str, statement_id: int, *, accepting: bool) -> None:
        """An auditor is read-only; only reviewers and leads of the statement's team act.

        Maker-checker (``accepting``), as in Stage 1 when the policy asks for it
        (``statements.edit_needs_other_approver``): who edited the statement's lines may
        not also accept the matches made of them; someone else does.
        """
        policy = self._tx.policy().policy
        check_not_read_only(policy, actor)
        async with self._tx.uow(read_only=True) as uow:
            statement = await self._statement(uow, statement_id, Person(actor))
        team = policy.team(statement.team)
        if team is None or (actor not in team.reviewers and actor not in team.leads):
            raise NotAuthorized(
                f"only reviewers and leads of team {statement.team} may decide on the "
                f"matches of {statement.human_id}"
            )
        edited = any(e.actor == actor for e in statement.edits)
        if accepting and edited and policy.statements.edit_needs_other_approver:
            raise NotAuthorized(
                f"you edited {statement.human_id} in Stage 1: someone else accepts the "
                "matches made of its lines (maker-checker)"
            )

    async def _statement_of(self, match_id: int, actor: str) -> int:
        async with self._tx.uow(read_only=True) as uow:
            record = await uow.matches.get(match_id)
        if record is None:
            policy = self._tx.policy().policy
            check_not_read_only(policy, actor)
            raise ItemNotFound(f"there is no match {match_id}")
        return record.statement_id

    async def _refused(
        self, refusal: DomainError, *, action: str, actor: str, now: datetime, **data: Any
    ) -> None:
        entry = refusal_entry(
            action=action, actor=actor, reason=refusal, now=now, item=None, data=data
        )
        await self._tx.refused(refusal, entry)

    async def accept(
        self, match_id: int, *, actor: str, now: datetime, expected_version: int | None
    ) -> MatchRecord:
        """A person accepts a pending match (the version they saw); refusals audited.

        Under dual control the first accept is kept and the match stays pending (returned
        as such); a second, different person's accept accepts it (see
        :meth:`Matching.accept`).
        """
        try:
            statement_id = await self._statement_of(match_id, actor)
            await self._check_person(actor, statement_id, accepting=True)
            return await self._matching.accept(
                match_id, actor=actor, now=now, expected_version=expected_version
            )
        except DomainError as refusal:
            await self._refused(
                refusal, action="match_accept", actor=actor, now=now, match=match_id
            )
            raise

    async def reject(
        self, match_id: int, *, actor: str, reason: str, now: datetime, expected_version: int | None
    ) -> MatchRecord:
        """A person rejects a pending match with a reason: both sides go back to the pool."""
        try:
            statement_id = await self._statement_of(match_id, actor)
            await self._check_person(actor, statement_id, accepting=False)
            return await self._matching.reject(
                match_id, actor=actor, now=now, expected_version=expected_version, reason=reason
            )
        except DomainError as refusal:
            await self._refused(
                refusal, action="match_reject", actor=actor, now=now, match=match_id
            )
            raise

    async def accept_all(
        self, statement_id: int, *, actor: str, now: datetime
    ) -> list[MatchRecord]:
        """Accepts every pending match of a statement in one transaction, refused while a
        check linked to it is open (the refusal lists them). Dual control applies per
        match: one that needs two approvers gets this person's accept and stays pending
        (returned as such) until a second, different person's; one this person already
        accepted is left for someone else (not returned).
        """
        try:
            await self._check_person(actor, statement_id, accepting=True)
            return await self._matching.accept_all(statement_id, actor=actor, now=now)
        except DomainError as refusal:
            await self._refused(
                refusal, action="match_accept_all", actor=actor, now=now, statement=statement_id
            )
            raise

    async def resolve_check(
        self, check_id: int, resolution: Resolution, *, note: str, actor: str, now: datetime
    ) -> CheckRecord:
        """Resolves an open check with a note."""
        try:
            async with self._tx.uow(read_only=True) as uow:
                check = await uow.matches.get_check(check_id)
            if check is None or check.statement_id is None:
                check_not_read_only(self._tx.policy().policy, actor)
                raise ItemNotFound(f"there is no check {check_id}")
            await self._check_person(actor, check.statement_id, accepting=False)
            return await self._matching.resolve_check(
                check_id, resolution, note=note, actor=actor, now=now
            )
        except DomainError as refusal:
            await self._refused(
                refusal, action="check_resolve", actor=actor, now=now, check=check_id
            )
            raise

    async def run(self, *, statement: int | None, now: datetime) -> RunSummary:
        """A matching run (the trigger after a Stage 1 approval, or the periodic one)."""
        return await self._matching.run(now=now, statement=statement)

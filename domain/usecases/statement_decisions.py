"""Stage 1 decisions on a statement: approve, reject, edit and re-parse, each in one
transaction that writes the statement, its audit records and its notices; a refusal
is audited in a transaction of its own and raised."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from datetime import datetime
from typing import Any, Final

from domain.audit.records import AuditEntry
from domain.errors import DomainError, InvalidCommand, NotAuthorized, NotVisible, StaleItem
from domain.escalation import check_statement_tier_permits
from domain.money import quantize
from domain.permissions import Person, can_see, sees_everything
from domain.ports import SpanValue, UnitOfWork
from domain.statements import stage1
from domain.statements.parsed import StatementFormat
from domain.statements.records import Statement, format_statement_id
from domain.usecases.statement_steps import (
    SYSTEM,
    StatementNotFound,
    StatementSteps,
    build_statement,
    known_account,
    with_identity,
)
from domain.usecases.transaction import SIGNOFF, record_refusal

#: The audit event of a statement decision the desk refused (nothing else changed).
REFUSED: Final = "statement.refused"


class NoParser(DomainError):
    """No parser was given to read bank files with."""


def _span(action: str, statement: Statement | None, outcome: str) -> dict[str, SpanValue]:
    """A statement decision's span attributes (names, counts and states; no reasons)."""
    attributes: dict[str, SpanValue] = {
        f"{SIGNOFF}.action": f"statement_{action}",
        f"{SIGNOFF}.outcome": outcome,
        f"{SIGNOFF}.kind": "statement",
    }
    if statement is not None:
        attributes[f"{SIGNOFF}.item"] = statement.human_id
        attributes[f"{SIGNOFF}.team"] = statement.team
        attributes[f"{SIGNOFF}.approvals"] = len(statement.approvals)
    return attributes


class StatementDecisions(StatementSteps):
    """A person's Stage 1 decisions on one statement: approve, reject, edit, re-parse;
    each refusal audited."""

    async def approve(
        self,
        *,
        statement_id: int,
        actor: str,
        now: datetime,
        expected_version: int | None = None,
    ) -> Statement:
        """A reviewer approves (refused with the delta while the chain is off).

        Returns the statement without its lines.

        Raises:
            StatementNotFound, NotAuthorized, IllegalTransition, StaleItem: nothing was
                changed; the refusal is audited.
        """
        others = self._policy().policy.statements.edit_needs_other_approver

        async def move(
            uow: UnitOfWork, statement: Statement
        ) -> tuple[stage1.StatementTransition, Sequence[int] | None]:
            return (
                stage1.approve(statement, actor=actor, now=now, edit_needs_other_approver=others),
                (),
            )

        return await self._decide(
            action="approve",
            statement_id=statement_id,
            actor=actor,
            now=now,
            expected_version=expected_version,
            with_lines=False,
            move=move,
        )

    async def reject(
        self,
        *,
        statement_id: int,
        actor: str,
        reason: str,
        now: datetime,
        expected_version: int | None = None,
    ) -> Statement:
        """A reviewer rejects with a reason; a re-parse or a re-import brings it back.

        Returns the statement without its lines.
        """

        async def move(
            uow: UnitOfWork, statement: Statement
        ) -> tuple[stage1.StatementTransition, Sequence[int] | None]:
            return stage1.reject(statement, actor=actor, reason=reason, now=now), ()

        return await self._decide(
            action="reject",
            statement_id=statement_id,
            actor=actor,
            now=now,
            expected_version=expected_version,
            with_lines=False,
            move=move,
        )

    async def edit(
        self,
        *,
        statement_id: int,
        change: stage1.Edit,
        actor: str,
        now: datetime,
        expected_version: int | None = None,
    ) -> Statement:
        """A reviewer corrects, adds or removes a line; the checks are computed again."""

        async def move(
            uow: UnitOfWork, statement: Statement
        ) -> tuple[stage1.StatementTransition, Sequence[int] | None]:
            recheck = await self._recheck(uow, statement)
            transition = stage1.edit(statement, change, actor=actor, now=now, recheck=recheck)
            touched = [] if transition.noop else [transition.statement.edits[-1].line]
            return transition, touched

        return await self._decide(
            action="edit",
            statement_id=statement_id,
            actor=actor,
            now=now,
            expected_version=expected_version,
            with_lines=True,
            move=move,
        )

    async def reparse(
        self,
        *,
        statement_id: int,
        now: datetime,
        actor: str = SYSTEM,
        format: StatementFormat | None = None,
    ) -> Statement:
        """Reads the stored original again (with ``format``, else the statement's own)
        and makes a new revision from what it finds for this statement.

        Raises:
            StatementNotFound: no such statement.
            InvalidCommand: the original is missing, or no longer holds this statement.
        """
        if self._parser is None:
            raise NoParser("no bank-file parser is available to re-parse with")
        loaded = self._policy()
        async with self._uow() as uow:
            statement = await self._load(uow, statement_id)
            kept = await uow.statements.original(statement.sha256)
            if kept is None:
                raise InvalidCommand(
                    f"the original file of {statement.human_id} ({statement.sha256[:12]}...) "
                    "is not stored"
                )
            file_name, data = kept
            result = self._parser(data, format=format or statement.format)
            match = None
            for parsed in result.statements:
                try:
                    account = known_account(parsed, loaded)
                except InvalidCommand:
                    continue
                candidate = build_statement(
                    parsed,
                    account,
                    file_name=file_name,
                    sha256=statement.sha256,
                    policy_version=loaded.version,
                    now=now,
                )
                if candidate.key.text == statement.key.text:
                    match = candidate
                    break
            if match is None:
                problems = "; ".join(f"{p.where}: {p.error}" for p in result.problems)
                raise InvalidCommand(
                    f"re-parsing {file_name} found no statement {statement.human_id}"
                    + (f" ({problems})" if problems else "")
                )
            renewed = await self._checked(uow, with_identity(match, statement))
            move = stage1.revise(statement, renewed, actor=actor, cause="reparse", now=now)
            after = await self._write(uow, statement, move, now, lines=None)
            after = await self._maybe_auto_approve(uow, after, now)
            await self._recheck_following(uow, after, now)
            await uow.commit()
            return after

    async def _refused(
        self,
        *,
        action: str,
        actor: str,
        statement_id: int,
        seen: Statement | None,
        reason: DomainError,
        now: datetime,
    ) -> None:
        """Records a refused decision in a transaction of its own (the refused one rolled
        back): ``statement.refused`` with the action and the sentence the actor was told.

        It names the statement by id only when it exists (``seen``), so the deep replay
        never expects a row the table cannot have. A failure to record goes with the
        refusal as a note (:func:`~domain.usecases.transaction.record_refusal`).
        """
        data: dict[str, Any] = {
            "action": action,
            "reason": str(reason),
            "statement": format_statement_id(statement_id),
        }
        if seen is not None:
            data["statement_id"] = seen.id
        entry = AuditEntry(
            time=now,
            event=REFUSED,
            actor=actor,
            policy_version=seen.policy_version if seen is not None else self._policy().version,
            data=data,
        )
        await record_refusal(self._uow, reason, entry)

    async def _decide(
        self,
        *,
        action: str,
        statement_id: int,
        actor: str,
        now: datetime,
        expected_version: int | None,
        with_lines: bool,
        move: Callable[
            [UnitOfWork, Statement],
            Awaitable[tuple[stage1.StatementTransition, Sequence[int] | None]],
        ],
    ) -> Statement:
        """A person's decision on one statement, in one transaction; a refusal is audited
        (:meth:`_refused`) and raised."""
        seen: list[Statement] = []
        with self._telemetry.decision(f"statement_{action}") as trace:
            try:
                async with self._uow() as uow:
                    try:
                        statement = await self._load(uow, statement_id, with_lines=with_lines)
                    except StatementNotFound:
                        policy = self._policy().policy
                        if actor == SYSTEM or sees_everything(policy, Person(actor)):
                            raise
                        raise NotVisible(
                            f"you cannot see {format_statement_id(statement_id)}"
                        ) from None
                    seen.append(statement)
                    self._check_actor(statement, actor)
                    await self._check_tier(uow, statement, actor, action)
                    _check_version(statement, expected_version)
                    transition, lines = await move(uow, statement)
                    after = await self._write(uow, statement, transition, now, lines=lines)
                    await uow.commit()
            except DomainError as refusal:
                trace.record(_span(action, seen[0] if seen else None, "refused"))
                await self._refused(
                    action=action,
                    actor=actor,
                    statement_id=statement_id,
                    seen=seen[0] if seen else None,
                    reason=refusal,
                    now=now,
                )
                raise
            trace.record(_span(action, after, after.stage1_status.value))
            self._tell_approved(seen[0].stage1_status, after)
            return after

    def _check_actor(self, statement: Statement, actor: str) -> None:
        policy = self._policy().policy
        if actor != SYSTEM and not can_see(policy, Person(actor), statement.team):
            # The same answer whether it exists or not, as for items: ids cannot be probed.
            raise NotVisible(f"you cannot see {statement.human_id}")
        team = policy.team(statement.team)
        if team is None or (actor not in team.reviewers and actor not in team.leads):
            raise NotAuthorized(
                f"only reviewers and leads of team {statement.team} may act on {statement.human_id}"
            )

    async def _check_tier(
        self, uow: UnitOfWork, statement: Statement, actor: str, action: str
    ) -> None:
        """The escalation tiers' permissions on a statement review (the graph's first
        tier, where a statement always sits): read-only tiers decide nothing, and an
        approval is capped by ``approve_up_to`` on the statement's turnover (money in
        plus money out over the lines that count, in the reporting currency; no rate:
        above any cap)."""
        if actor == SYSTEM:
            return
        policy = self._policy().policy
        amount = None
        if action == "approve":
            assert statement.id is not None
            totals = await uow.statements.line_totals(statement.id, statement.currency)
            rate = policy.rate(statement.currency)
            if rate is not None:
                turnover = (totals.credits + totals.debits) * rate
                amount = quantize(turnover, policy.reporting_currency)
        check_statement_tier_permits(
            policy,
            team=statement.team,
            user=actor,
            action=action,
            amount=amount,
            what=f"{statement.human_id} (money in and out)",
        )


def _check_version(statement: Statement, expected_version: int | None) -> None:
    if expected_version is not None and statement.version != expected_version:
        raise StaleItem(
            f"{statement.human_id} changed since you opened it (it is now "
            f"{statement.stage1_status.value}); nothing was changed — look again"
        )

"""The shared steps of the Stage 1 use cases: the statement's stored form, its audit
record, and loading, checking and writing a statement in a transaction (with its audit
records and notices), auto-approval and the re-check of the statement after it.

:mod:`domain.usecases.statement_decisions`, :mod:`domain.usecases.statement_reads` and
the import (:mod:`domain.usecases.statements`) build on :class:`StatementSteps`.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Final

from domain.audit.records import AuditEntry
from domain.errors import InvalidCommand, ItemNotFound, StaleItem
from domain.fx import RateBook
from domain.notifications import for_statement
from domain.policy import LoadedPolicy, StatementAccount
from domain.ports import NoTelemetry, StatementParser, Telemetry, UnitOfWork, UnitOfWorkFactory
from domain.statements import checks as statement_checks
from domain.statements import stage1
from domain.statements.parsed import ParsedStatement
from domain.statements.records import (
    Checks,
    Stage1Status,
    Statement,
    StatementLine,
    content_hash,
    format_statement_id,
    mask_account,
)
from domain.usecases.rates import load_rates
from domain.usecases.transaction import PolicySource

#: Who imports when the caller names nobody.
SYSTEM: Final = stage1.SYSTEM


@dataclass(frozen=True, slots=True, kw_only=True)
class PreloadedRates:
    """Dated rates loaded once for a batch's currencies and days (None: none apply)."""

    book: RateBook | None


class StatementNotFound(ItemNotFound):
    """No statement has that id."""


def statement_entry(
    statement: Statement, event: stage1.StatementEvent, now: datetime
) -> AuditEntry:
    """The audit record of one event of a statement (no item: the statement is in data)."""
    assert statement.id is not None
    return AuditEntry(
        time=now,
        event=event.name,
        actor=event.actor,
        from_state=event.from_state,
        to_state=event.to_state,
        policy_version=statement.policy_version,
        data={
            "statement_id": statement.id,
            "statement": statement.human_id,
            **event.data,
        },
    )


#: The checks of a statement not checked yet (replaced before it is stored).
_EMPTY_CHECKS: Final = Checks(delta=None, chain_ok=None, tolerance=Decimal(0), tolerance_rate=None)


def build_statement(
    parsed: ParsedStatement,
    account: StatementAccount,
    *,
    file_name: str,
    sha256: str,
    policy_version: str,
    now: datetime,
) -> Statement:
    """The stored form of a parsed statement of a known account (checks still empty)."""
    return Statement(
        id=None,
        account=account.account,
        file_account=parsed.account,
        entity=account.entity,
        team=account.team,
        gl_account=account.gl_account,
        currency=parsed.currency,
        format=parsed.format,
        bank=parsed.bank,
        statement_id=parsed.statement_id,
        sequence=parsed.sequence,
        period_start=parsed.period_start,
        period_end=parsed.period_end,
        opening=parsed.opening,
        closing=parsed.closing,
        opening_derived=parsed.opening_derived,
        control_total=parsed.control_total,
        control_count=parsed.control_count,
        lines=tuple(StatementLine.of(ln) for ln in parsed.lines),
        file_name=file_name,
        sha256=sha256,
        content_hash=content_hash(parsed),
        revision=1,
        stage1_status=Stage1Status.PENDING_REVIEW,
        checks=_EMPTY_CHECKS,
        policy_version=policy_version,
        created_at=now,
        updated_at=now,
    )


def known_account(parsed: ParsedStatement, loaded: LoadedPolicy) -> StatementAccount:
    """The policy's account of a parsed statement.

    Raises:
        InvalidCommand: the policy does not list the account, or lists it in another
            currency.
    """
    account = loaded.policy.statements.account_for(parsed.account, parsed.currency)
    if account is None:
        raise InvalidCommand(
            f"account {mask_account(parsed.account)} is not one the policy knows "
            "(statements.accounts)"
        )
    if account.currency != parsed.currency:
        raise InvalidCommand(
            f"account {mask_account(parsed.account)} is listed in {account.currency} in the "
            "policy but "
            f"this statement is in {parsed.currency}"
        )
    return account


class StatementSteps:
    """What every Stage 1 use case shares: the store, policy, parser and telemetry, the
    approval listeners, and the steps that load, check, write (with audit records and
    notices) and auto-approve a statement."""

    def __init__(
        self,
        *,
        uow: UnitOfWorkFactory,
        policy: PolicySource,
        parser: StatementParser | None = None,
        telemetry: Telemetry | None = None,
    ) -> None:
        self._uow = uow
        self._policy = policy
        self._parser = parser
        self._telemetry: Telemetry = telemetry if telemetry is not None else NoTelemetry()
        self._approved: list[Callable[[int], None]] = []

    def on_approved(self, listener: Callable[[int], None]) -> None:
        """Tells ``listener`` the id of each statement that becomes approved (by a person
        or automatically at import), after the approval commits. It must return at once
        (``serve`` starts matching in the background); it is never told of a rolled-back
        approval."""
        self._approved.append(listener)

    def _tell_approved(self, before: Stage1Status | None, after: Statement) -> None:
        if after.stage1_status is Stage1Status.APPROVED and before is not Stage1Status.APPROVED:
            assert after.id is not None
            for listener in self._approved:
                listener(after.id)

    # -- shared steps --

    async def _checked(
        self, uow: UnitOfWork, statement: Statement, rates: PreloadedRates | None = None
    ) -> Statement:
        """The statement with its checks computed against the one before it."""
        recheck = await self._recheck(uow, statement, rates)
        return dataclasses.replace(statement, checks=recheck(statement))

    async def _recheck(
        self, uow: UnitOfWork, statement: Statement, preloaded: PreloadedRates | None = None
    ) -> stage1.Recheck:
        """The checks of ``statement`` (as it may change) against the one before it;
        ``preloaded`` holds rates loaded already for a range of days that includes the
        statement's (a batch of an import loads them once)."""
        previous = await uow.statements.previous(
            account=statement.account,
            currency=statement.currency,
            before=statement.period_start,
            exclude_id=statement.id,
        )
        loaded = self._policy()
        # The tolerance converts at the dated rate of the statement's day (its period end).
        rates = (
            preloaded.book
            if preloaded is not None
            else await load_rates(uow, [(statement.currency, statement.period_end)], loaded)
        )

        def recheck(changed: Statement) -> Checks:
            return statement_checks.check(changed, previous=previous, loaded=loaded, rates=rates)

        return recheck

    @staticmethod
    async def _load(uow: UnitOfWork, statement_id: int, *, with_lines: bool = True) -> Statement:
        found = await uow.statements.get(statement_id, with_lines=with_lines)
        if found is None:
            raise StatementNotFound(f"there is no statement {format_statement_id(statement_id)}")
        return found

    async def _write(
        self,
        uow: UnitOfWork,
        before: Statement,
        move: stage1.StatementTransition,
        now: datetime,
        *,
        lines: Sequence[int] | None = (),
    ) -> Statement:
        if move.noop:
            return before
        if not await uow.statements.update(
            move.statement, expected_version=before.version, lines=lines
        ):
            raise StaleItem(
                f"{before.human_id} was changed by someone else at the same moment; nothing "
                "was changed — look again"
            )
        await uow.audit.append([statement_entry(move.statement, e, now) for e in move.events])
        await self._notify(uow, before, move.statement, now)
        return move.statement

    async def _notify(
        self, uow: UnitOfWork, before: Statement | None, after: Statement, now: datetime
    ) -> None:
        """Queues the card post or edit (and App Home refreshes) in the change's own
        transaction: exactly once with the change, never without it."""
        notices = for_statement(before, after, self._policy().policy, now)
        await uow.outbox.enqueue(notices, now=now)

    async def _maybe_auto_approve(
        self, uow: UnitOfWork, statement: Statement, now: datetime
    ) -> Statement:
        if not self._policy().policy.statements.auto_approve:
            return statement
        if stage1.auto_approval_withheld(statement) is not None:
            return statement
        return await self._write(uow, statement, stage1.auto_approve(statement, now=now), now)

    async def _recheck_following(
        self, uow: UnitOfWork, statement: Statement, now: datetime
    ) -> None:
        """Computes again the checks of the statement after ``statement`` (its continuity
        depends on this one's closing), when it still waits for review: a statement
        imported out of order, or a revision with another closing, changes them.

        Approved and rejected statements keep the checks they were decided on.
        """
        following = await uow.statements.following(
            account=statement.account,
            currency=statement.currency,
            after=statement.period_start,
            exclude_id=statement.id,
        )
        if following is None or following.stage1_status is not Stage1Status.PENDING_REVIEW:
            return
        assert following.id is not None
        whole = await self._load(uow, following.id)
        rechecked = await self._checked(uow, whole)
        move = stage1.recheck(
            whole, rechecked.checks, cause=f"{statement.human_id} before it changed", now=now
        )
        if move.noop:
            return
        after = await self._write(uow, whole, move, now)
        await self._maybe_auto_approve(uow, after, now)


def with_identity(fresh: Statement, existing: Statement) -> Statement:
    """``fresh`` as a revision of ``existing`` (same id and account naming)."""
    return dataclasses.replace(fresh, id=existing.id, account=existing.account)

"""The decisions people take in Stage 2: accept or reject a pending match, accept all
the pending matches of a statement, and resolve a consistency check; each in one
transaction that writes the match or check, its audit records and its notices.

Dual control applies per match, as routing rules it on the bank side's reporting
amount. ``accept_all`` is refused while any check linked to the statement is open (the
refusal is audited). A match's journal entry is made when it becomes accepted, never
while it is pending.
"""

from __future__ import annotations

import dataclasses
from datetime import datetime
from decimal import Decimal

from domain.audit.records import AuditEntry
from domain.errors import DomainError, InvalidCommand, ItemNotFound, StaleItem
from domain.items import Approval
from domain.matching.stored import (
    RESOLUTIONS,
    CheckRecord,
    CheckState,
    MatchRecord,
    MatchState,
    Resolution,
)
from domain.money import quantize
from domain.policy import LoadedPolicy
from domain.ports import UnitOfWork
from domain.routing import dual_control_required
from domain.statements.records import MatchStatus
from domain.usecases.match_outbox import enqueue_check_notice, enqueue_decision_notices
from domain.usecases.match_steps import MATCHING_SOURCE, MatchSteps, match_entry
from domain.usecases.match_tiers import check_match_tier


class MatchRefused(DomainError):
    """An operation on a match or a check that its state does not allow."""


class MatchDecisions(MatchSteps):
    """The decisions people take on matches and checks."""

    async def accept(
        self, match_id: int, *, actor: str, now: datetime, expected_version: int | None = None
    ) -> MatchRecord:
        """A person accepts a pending match: its journal entry is made now.
        ``expected_version``: the version the person saw (a card); a re-scored match is
        refused as stale, since the approval was given to what it no longer is."""
        loaded = self._tx.policy()
        async with self._tx.uow() as uow:
            record = await self._pending(uow, match_id, expected_version)
            done = await self._accept(uow, loaded, record, actor, now)
            await enqueue_decision_notices(uow, loaded.policy, [done], now)
            await uow.commit()
        return done

    async def _accept(
        self, uow: UnitOfWork, loaded: LoadedPolicy, record: MatchRecord, actor: str, now: datetime
    ) -> MatchRecord:
        """One person's accept. Dual control per match, as routing rules it on the bank
        side's reporting amount: a match that needs two keeps the first accept and stays
        pending; the second, distinct person's completes it (journal entry then).

        Raises:
            MatchRefused: the same person accepts a match twice.
        """
        if actor in {a.user for a in record.approvals}:
            raise MatchRefused(
                f"you already accepted match {record.id}; dual control needs a second, "
                "different person"
            )
        amount, code, entity = await self._amount(uow, loaded, record)
        rate = await self._rate(uow, loaded, code, now.date()) if code else None
        reporting = (
            None if rate is None else quantize(abs(amount) * rate, loaded.policy.reporting_currency)
        )
        await check_match_tier(
            uow,
            loaded.policy,
            statement_id=record.statement_id,
            actor=actor,
            action="approve",
            amount=reporting,
            what=f"match {record.id}",
        )
        needed = 2 if dual_control_required(reporting, loaded) else 1
        approvals = (*record.approvals, Approval(user=actor, at=now))
        if len(approvals) < needed:
            waiting = dataclasses.replace(record, approvals=approvals, updated_at=now)
            await self._write(uow, waiting, record.version)
            waiting = dataclasses.replace(waiting, version=record.version + 1)
            await uow.audit.append(
                [
                    match_entry(
                        "match.approval_recorded",
                        now,
                        loaded.version,
                        waiting,
                        f"dual control: accept {len(approvals)} of {needed}",
                        actor=actor,
                    )
                ]
            )
            return waiting
        accepted = dataclasses.replace(
            record,
            state=MatchState.ACCEPTED,
            decided_by=actor,
            decided_at=now,
            updated_at=now,
            approvals=approvals,
        )
        await self._write(uow, accepted, record.version)
        accepted = dataclasses.replace(accepted, version=record.version + 1)
        await self._post(uow, loaded, [(accepted, amount, code, entity)], now)
        await uow.audit.append(
            [match_entry("match.accepted", now, loaded.version, accepted, None, actor=actor)]
        )
        await self._close_unmatched(uow, [accepted], now)
        return accepted

    async def reject(
        self,
        match_id: int,
        *,
        actor: str,
        now: datetime,
        expected_version: int | None = None,
        reason: str | None = None,
    ) -> MatchRecord:
        """A person rejects a pending match (``reason``: why, audited): both sides go
        back to the pool."""
        loaded = self._tx.policy()
        async with self._tx.uow() as uow:
            record = await self._pending(uow, match_id, expected_version)
            await check_match_tier(
                uow,
                loaded.policy,
                statement_id=record.statement_id,
                actor=actor,
                action="reject",
                what=f"match {match_id}",
            )
            rejected = dataclasses.replace(
                record, state=MatchState.REJECTED, decided_by=actor, decided_at=now, updated_at=now
            )
            await self._write(uow, rejected, record.version)
            await uow.statements.set_line_match_statuses(record.bank_lines, MatchStatus.UNMATCHED)
            await uow.gl.set_match_statuses(
                [(k.entry_id, k.account) for k in record.ledger_entries],
                MatchStatus.UNMATCHED,
                now=now,
            )
            await uow.audit.append(
                [match_entry("match.rejected", now, loaded.version, rejected, reason, actor=actor)]
            )
            done = dataclasses.replace(rejected, version=record.version + 1)
            await enqueue_decision_notices(uow, loaded.policy, [done], now)
            await uow.commit()
        return done

    async def accept_all(self, statement: int, *, actor: str, now: datetime) -> list[MatchRecord]:
        """Accepts every pending match of the statement, refused while any check linked to
        it is open (the refusal lists them). Dual control applies per match: one needing
        two people keeps this accept and waits for another person's (the matches this
        person already accepted are left to them)."""
        loaded = self._tx.policy()
        async with self._tx.uow() as uow:
            # A read-only tier is refused before the checks are read; caps apply per match.
            await check_match_tier(
                uow,
                loaded.policy,
                statement_id=statement,
                actor=actor,
                action="accept_all",
                what=f"statement {statement}",
            )
            blocking = await uow.matches.checks(state=CheckState.OPEN, statement_id=statement)
            if blocking:
                listed = "; ".join(f"check {c.id} ({c.kind.value}): {c.detail}" for c in blocking)
                await uow.audit.append(
                    [
                        AuditEntry(
                            time=now,
                            event="match.accept_all_refused",
                            actor=actor,
                            policy_version=loaded.version,
                            data={"statement": statement, "checks": [c.id for c in blocking]},
                        )
                    ]
                )
                await uow.commit()
                raise MatchRefused(
                    f"accept-all of statement {statement} is refused while "
                    f"{len(blocking)} check(s) are open: {listed}"
                )
            pending = await uow.matches.query(
                state=MatchState.PENDING_REVIEW, statement_id=statement, limit=100_000
            )
            # A match this person already accepted waits for someone else (dual control).
            done = [
                await self._accept(uow, loaded, m, actor, now)
                for m in pending
                if actor not in {a.user for a in m.approvals}
            ]
            await enqueue_decision_notices(uow, loaded.policy, done, now)
            await uow.commit()
        return done

    async def resolve_check(
        self,
        check_id: int,
        resolution: Resolution,
        *,
        note: str | None,
        actor: str,
        now: datetime,
    ) -> CheckRecord:
        """Resolves an open check (a resolution that fits its kind; ``explained`` needs a
        note), audited."""
        loaded = self._tx.policy()
        async with self._tx.uow() as uow:
            check = await uow.matches.get_check(check_id)
            if check is None:
                raise ItemNotFound(f"there is no check {check_id}")
            await check_match_tier(
                uow,
                loaded.policy,
                statement_id=check.statement_id,
                actor=actor,
                action="resolve_check",
                what=f"check {check_id}",
            )
            if check.state is not CheckState.OPEN:
                raise MatchRefused(f"check {check_id} is already resolved ({check.resolution})")
            if resolution not in RESOLUTIONS[check.kind]:
                fits = ", ".join(sorted(r.value for r in RESOLUTIONS[check.kind]))
                raise InvalidCommand(f"a {check.kind.value} check is resolved as one of: {fits}")
            text = (note or "").strip() or None
            if resolution is Resolution.EXPLAINED and text is None:
                raise InvalidCommand("an explained check needs a note saying why")
            resolved = dataclasses.replace(
                check,
                state=CheckState.RESOLVED,
                resolution=resolution,
                note=text,
                resolved_by=actor,
                resolved_at=now,
            )
            if not await uow.matches.resolve_check(resolved):
                raise StaleItem(f"check {check_id} was resolved by someone else just now")
            await enqueue_check_notice(uow, loaded.policy, resolved, now)
            await uow.audit.append(
                [
                    AuditEntry(
                        time=now,
                        event="match.check_resolved",
                        actor=actor,
                        policy_version=loaded.version,
                        data={
                            "check": check_id,
                            "key": check.key,
                            "kind": check.kind.value,
                            "statement": check.statement_id,
                            "resolution": resolution.value,
                            "note": text,
                        },
                    )
                ]
            )
            await uow.commit()
        return resolved

    async def _pending(
        self, uow: UnitOfWork, match_id: int, expected_version: int | None = None
    ) -> MatchRecord:
        record = await uow.matches.get(match_id)
        if record is None:
            raise ItemNotFound(f"there is no match {match_id}")
        if expected_version is not None and record.version != expected_version:
            raise StaleItem(
                f"match {match_id} changed since you opened it (it is now "
                f"{record.state.value}, score {record.score}); nothing was changed — look again"
            )
        if record.state is not MatchState.PENDING_REVIEW:
            raise MatchRefused(f"match {match_id} is {record.state.value}, not pending_review")
        return record

    async def _amount(
        self, uow: UnitOfWork, loaded: LoadedPolicy, record: MatchRecord
    ) -> tuple[Decimal, str, str]:
        """The bank side's total of a stored match, its currency and its bank account's
        entity (read from the store and the policy)."""
        amount = Decimal(0)
        code = ""
        entity = MATCHING_SOURCE
        for sid, number in record.bank_lines:
            head = await uow.statements.get(sid, with_lines=False)
            if head is None:
                continue
            code = head.currency
            known = loaded.policy.statements.account_for(head.account, head.currency)
            if known is not None:
                entity = known.entity
            line = await uow.statements.line(sid, head.currency, number)
            if line is not None:
                amount += line.amount
        return amount, code, entity

"""A matching run: approved statements against the ledger, stored (Stage 2).

``run`` reads the lines of Stage-1-approved statements and the open entries of the GL
account each bank account maps to (``statements.accounts[].gl_account``), in the same
currency, and hands them with the previous matches to the pure matcher
(:func:`domain.matching.rerun.rematch`): accepted matches are never touched, a pending
match whose side changed is re-scored (its approval voided) or dissolved.

Bands: a score of 85 or more is accepted at once, with its journal entry (kind
``match``, through :meth:`Transactions.store_entry`), unless the routing guard holds it
for a person: its reporting amount reaches the policy's materiality (the one rule; the
aging and confidence gates do not apply to a match just found, and the score is the
confidence). 60-84 waits in ``pending_review``. Below 60, each side left becomes an
``unmatched`` item in today's review flow through item intake, with its reason.

Consistency checks are computed per run and stored once per stable key; people resolve
them (:mod:`domain.usecases.match_decisions`). Journal entries are made only on an
accepted transition, never for a pending match. Everything is audited.

A run that changes nothing (no match found, re-scored, dissolved or accepted, no check
opened, no ``unmatched`` item new or changed: the hourly sweep over data that did not
move) writes nothing: no ``matching.run`` record, no message, and no run number (see
:class:`_RunNumber`).

The sides as the matcher reads them, and the ``unmatched`` rows of the sides left alone,
are :mod:`domain.usecases.match_sides`.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

from domain import states
from domain.audit.records import AuditEntry
from domain.intake import IntakeRow
from domain.items import RiskTier
from domain.matching.checks import run_checks
from domain.matching.records import Band
from domain.matching.rerun import PreviousMatch, rematch
from domain.matching.settings import matching_policy
from domain.matching.stored import (
    CheckRecord,
    CheckState,
    LedgerKey,
    MatchRecord,
    MatchState,
    components_data,
)
from domain.policy import LoadedPolicy
from domain.ports import UnitOfWork
from domain.statements.records import MatchStatus, Statement, StatementLine
from domain.usecases.intake import Intake
from domain.usecases.match_outbox import enqueue_run_notices
from domain.usecases.match_sides import (
    bank_line,
    ledger_line,
    unmatched_bank_row,
    unmatched_changed,
    unmatched_ledger_row,
)
from domain.usecases.match_steps import (
    MatchSteps,
    match_entry,
)
from domain.usecases.transaction import system_entry

_PAGE = 1000


@dataclass(frozen=True, slots=True, kw_only=True)
class RunSummary:
    """What one run did (the ``match --json`` contract, without ``seconds``)."""

    auto_accepted: int
    pending_review: int
    unmatched_bank: int
    unmatched_ledger: int
    checks_open: int

    def as_dict(self) -> dict[str, int]:
        return dataclasses.asdict(self)


class _RunNumber:
    """A run's number, taken from the store when the run first writes something.

    A run that changes nothing takes none, so the numbers count exactly the runs the
    log records (``matching.run``) and that matches and closed items name ("matched by
    run N"), with no gap for each idle sweep. Taking it and then rolling back would not
    do: a PostgreSQL sequence keeps the number a rolled-back transaction took.
    """

    def __init__(self, *, uow: UnitOfWork, statement: int | None, now: datetime) -> None:
        self._uow = uow
        self._statement = statement
        self._now = now
        self._number: int | None = None

    async def __call__(self) -> int:
        if self._number is None:
            self._number = await self._uow.matches.start_run(
                statement_id=self._statement, now=self._now
            )
        return self._number


@dataclass(slots=True)
class _Group:
    """One bank account in one currency: its statements' lines and its GL account."""

    gl_account: str
    currency: str
    entity: str  # the bank account's entity (policy statements.accounts[].entity)
    statements: dict[int, Statement]
    lines: list[tuple[Statement, StatementLine]]


class MatchRun(MatchSteps):
    """Matching runs: see the module docstring."""

    async def run(self, *, now: datetime, statement: int | None = None) -> RunSummary:
        """Matches now (every approved statement, or one): see the module docstring."""
        loaded = self._tx.policy()
        unmatched_rows: list[IntakeRow] = []
        totals = {"auto": 0, "pending": 0, "bank": 0, "ledger": 0}
        async with self._tx.uow() as uow:
            run = _RunNumber(uow=uow, statement=statement, now=now)
            groups = await self._groups(uow, loaded, statement)
            live = await uow.matches.live()
            changed = False
            for group in groups.values():
                changed |= await self._run_group(
                    uow, loaded, group, live, run, now, totals, unmatched_rows
                )
            if statement is None:
                matched = {sid for g in groups.values() for sid in g.statements}
                changed |= await self._dissolve_orphans(uow, loaded, live, matched, now)
            open_checks = await uow.matches.checks(state=CheckState.OPEN)
            # The unmatched items are written after the commit (by intake): whether any
            # of them is new or changed is read here, so that it counts as a change too.
            changed = changed or await unmatched_changed(uow, unmatched_rows)
            if changed:
                await uow.audit.append(
                    [
                        system_entry(
                            "matching.run",
                            now,
                            loaded.version,
                            run=await run(),
                            statement=statement,
                            auto_accepted=totals["auto"],
                            pending_review=totals["pending"],
                            unmatched_bank=totals["bank"],
                            unmatched_ledger=totals["ledger"],
                        )
                    ]
                )
                # The statements read, and (a full run) those whose pending matches it
                # may have dissolved: their summaries and cards.
                told = {sid for g in groups.values() for sid in g.statements}
                if statement is None:
                    told |= {m.statement_id for m in live if m.state is MatchState.PENDING_REVIEW}
                await enqueue_run_notices(uow, loaded.policy, told, now)
                await uow.commit()
        if changed and unmatched_rows:
            intake = Intake(uow=self._tx.uow, policy=self._tx.policy)
            await intake.ingest(unmatched_rows, now=now)
        wanted = {sid for g in groups.values() for sid in g.statements if statement in (None, sid)}
        return RunSummary(
            auto_accepted=totals["auto"],
            pending_review=totals["pending"],
            unmatched_bank=totals["bank"],
            unmatched_ledger=totals["ledger"],
            checks_open=sum(1 for c in open_checks if c.statement_id in wanted),
        )

    async def _groups(
        self, uow: UnitOfWork, loaded: LoadedPolicy, statement: int | None
    ) -> dict[tuple[str, str], _Group]:
        groups: dict[tuple[str, str], _Group] = {}
        after: tuple[int, int] | None = None
        while True:
            page = await uow.statements.approved_lines(match_status=None, after=after, limit=_PAGE)
            for head, line in page:
                assert head.id is not None
                if statement is not None and head.id != statement:
                    continue
                account = loaded.policy.statements.account_for(head.account, head.currency)
                if account is None:
                    continue
                key = (account.gl_account, head.currency)
                group = groups.setdefault(
                    key, _Group(account.gl_account, head.currency, account.entity, {}, [])
                )
                group.statements[head.id] = head
                group.lines.append((head, line))
            if len(page) < _PAGE:
                break
            last = page[-1]
            assert last[0].id is not None
            after = (last[0].id, last[1].number)
        return groups

    async def _run_group(
        self,
        uow: UnitOfWork,
        loaded: LoadedPolicy,
        group: _Group,
        live: Sequence[MatchRecord],
        run: _RunNumber,
        now: datetime,
        totals: dict[str, int],
        unmatched_rows: list[IntakeRow],
    ) -> bool:
        """Matches one group; whether it changed anything (a match written, a check
        opened: each is audited). The sides left alone go to ``unmatched_rows``."""
        sids = set(group.statements)
        previous = [
            m
            for m in live
            if m.statement_id in sids
            and all(k.account == group.gl_account for k in m.ledger_entries)
        ]
        by_key = {m.key: m for m in previous}
        entries = {
            e.entry.entry_id: e
            for e in await uow.gl.open_entries(account=group.gl_account, currency=group.currency)
        }
        # The entries of earlier matches too: a pending one may be re-scored, and the
        # statistics compare matched bank against matched ledger totals.
        taken = [(k.entry_id, k.account) for m in previous for k in m.ledger_entries]
        for key, stored in (await uow.gl.get_many(taken)).items():
            entries.setdefault(key[0], stored)
        bank = [bank_line(head, line) for head, line in group.lines]
        lines_by_key = {(int(b.statement_id), b.line_number): b for b in bank}
        ledger = [ledger_line(e) for e in entries.values()]
        ledger_by_id = {e.entry_id: e for e in ledger}
        days = [b.booking_date for b in bank] or [now.date()]
        rate = await self._rate(uow, loaded, group.currency, max(days))
        mpolicy = matching_policy(
            loaded.policy, rates={group.currency: rate} if rate is not None else {}
        )
        rerun = rematch(
            [PreviousMatch(match=m.as_match(), accepted=m.state.accepted) for m in previous],
            bank,
            ledger,
            mpolicy,
        )
        version = loaded.version
        audit: list[AuditEntry] = []
        changed = {c.before.id: c for c in rerun.changed}
        # The risk tiers of every counterparty of the group, read once (routing guard).
        named = {b.counterparty for b in bank} | {e.counterparty for e in ledger}
        risk = await uow.matches.counterparty_risk(sorted(n for n in named if n))
        freed_bank: set[tuple[int, int]] = set()
        freed_ledger: set[str] = set()
        to_post: list[tuple[MatchRecord, Decimal, str, str]] = []
        taken_bank: list[tuple[int, int]] = []
        taken_ledger: list[tuple[str, str]] = []
        for before, change in changed.items():
            record = by_key[before]
            if change.after is not None:
                continue
            dissolved = dataclasses.replace(
                record,
                state=MatchState.REJECTED,
                held=f"dissolved: {change.reason}",
                decided_by=states.SYSTEM,
                decided_at=now,
                updated_at=now,
            )
            await self._write(uow, dissolved, record.version)
            freed_bank.update(record.bank_lines)
            freed_ledger.update(k.entry_id for k in record.ledger_entries)
            audit.append(match_entry("match.dissolved", now, version, dissolved, change.reason))
        for match in rerun.result.matches:
            old = by_key.get(match.id)
            if old is not None and old.state.accepted:
                continue
            if old is not None and match.id not in changed:
                totals["pending"] += 1
                continue
            bank_lines = tuple((int(k.statement), k.line) for k in match.bank_lines)
            amount = sum((lines_by_key[k].amount for k in bank_lines), Decimal(0))
            held = match.held
            if match.band is Band.AUTO_ACCEPTED:
                names = {lines_by_key[k].counterparty for k in bank_lines}
                names |= {ledger_by_id[e].counterparty for e in match.ledger_entries}
                tiers = {n: risk[n] for n in names if n is not None and n in risk}
                held = self._guard(loaded, amount, group.currency, rate, tiers)
            state = (
                MatchState.AUTO_ACCEPTED
                if match.band is Band.AUTO_ACCEPTED and held is None
                else MatchState.PENDING_REVIEW
            )
            band = Band.PENDING_REVIEW if state is MatchState.PENDING_REVIEW else Band.AUTO_ACCEPTED
            record = MatchRecord(
                id=None if old is None else old.id,
                key=match.id,
                band=band,
                score=match.score,
                state=state,
                components=components_data(match.components),
                statement_id=bank_lines[0][0],
                bank_lines=bank_lines,
                ledger_entries=tuple(
                    LedgerKey(entry_id=e, account=group.gl_account) for e in match.ledger_entries
                ),
                sides_digest=match.sides_digest,
                held=held,
                created_at=now if old is None else old.created_at,
                updated_at=now,
                run=await run(),
            )
            if old is None:
                record = await uow.matches.add(record)
                event = "match.found"
            else:
                # A re-scored pending match: any approval on it is void.
                record = dataclasses.replace(record, version=old.version)
                await self._write(uow, record, old.version)
                record = dataclasses.replace(record, version=old.version + 1)
                event = "match.rescored"
            audit.append(
                match_entry(
                    event,
                    now,
                    version,
                    record,
                    changed.get(match.id),
                    voided=() if old is None else old.approvals,
                )
            )
            taken_bank.extend(record.bank_lines)
            taken_ledger.extend((k.entry_id, k.account) for k in record.ledger_entries)
            if state is MatchState.AUTO_ACCEPTED:
                totals["auto"] += 1
                to_post.append((record, amount, group.currency, group.entity))
            else:
                totals["pending"] += 1
        await self._post(uow, loaded, to_post, now)
        await self._close_unmatched(uow, [r for r, *_ in to_post], now)
        # A line a dissolved match freed and a new match took again stays matched.
        freed_bank.difference_update(taken_bank)
        freed_ledger.difference_update(e for e, _ in taken_ledger)
        await uow.statements.set_line_match_statuses(taken_bank, MatchStatus.MATCHED)
        await uow.gl.set_match_statuses(taken_ledger, MatchStatus.MATCHED, now=now)
        await uow.statements.set_line_match_statuses(sorted(freed_bank), MatchStatus.UNMATCHED)
        await uow.gl.set_match_statuses(
            [(e, group.gl_account) for e in sorted(freed_ledger)], MatchStatus.UNMATCHED, now=now
        )
        totals["bank"] += len(rerun.result.unmatched_bank)
        totals["ledger"] += len(rerun.result.unmatched_ledger)
        for u in rerun.result.unmatched_bank:
            unmatched_rows.append(
                unmatched_bank_row(
                    lines_by_key[(int(u.line.statement), u.line.line)], u.reason, group.entity
                )
            )
        for lu in rerun.result.unmatched_ledger:
            unmatched_rows.append(
                unmatched_ledger_row(ledger_by_id[lu.entry_id], lu.reason, group.entity)
            )
        own = frozenset(s.account for s in group.statements.values())
        checks = run_checks(bank, ledger, rerun.result, mpolicy, own_accounts=own)
        first = min(sids)
        records = [
            CheckRecord(
                id=None,
                key=c.id,
                kind=c.kind,
                state=CheckState.OPEN,
                statement_id=int(c.statement) if c.statement is not None else first,
                detail=c.detail,
                created_at=now,
            )
            for c in checks
        ]
        added = await uow.matches.add_checks(records)
        if added:
            audit.append(system_entry("matching.checks_opened", now, version, opened=added))
        await uow.audit.append(audit)
        return bool(audit)

    async def _dissolve_orphans(
        self,
        uow: UnitOfWork,
        loaded: LoadedPolicy,
        live: Sequence[MatchRecord],
        statements: set[int],
        now: datetime,
    ) -> bool:
        """Dissolves the pending matches of statements no longer among the inputs (no
        longer approved, or their account no longer mapped): their lines are out of
        Stage 2 until the statement is approved again. Accepted matches stay. Whether
        it dissolved any."""
        reason = "its statement is no longer approved or mapped to a GL account"
        audit: list[AuditEntry] = []
        for record in live:
            if record.state is not MatchState.PENDING_REVIEW:
                continue
            if all(sid in statements for sid, _ in record.bank_lines):
                continue
            dissolved = dataclasses.replace(
                record,
                state=MatchState.REJECTED,
                held=f"dissolved: {reason}",
                decided_by=states.SYSTEM,
                decided_at=now,
                updated_at=now,
            )
            await self._write(uow, dissolved, record.version)
            await uow.statements.set_line_match_statuses(record.bank_lines, MatchStatus.UNMATCHED)
            await uow.gl.set_match_statuses(
                [(k.entry_id, k.account) for k in record.ledger_entries],
                MatchStatus.UNMATCHED,
                now=now,
            )
            audit.append(match_entry("match.dissolved", now, loaded.version, dissolved, reason))
        await uow.audit.append(audit)
        return bool(audit)

    @staticmethod
    def _guard(
        loaded: LoadedPolicy,
        amount: Decimal,
        currency: str,
        rate: Decimal | None,
        tiers: dict[str, RiskTier],
    ) -> str | None:
        """Why a match scoring in the auto band must still go to a person, or None:
        its reporting amount reaches materiality, or a counterparty of it carries a risk
        tier the policy sends to immediate review."""
        routing = loaded.policy.routing
        for name, tier in sorted(tiers.items()):
            if tier in routing.immediate_risk_tiers:
                return f"risk tier: counterparty {name} is {tier.value}"
        if rate is None:
            return f"no rate for {currency}: materiality cannot be checked"
        reported = abs(amount) * rate
        if reported >= routing.materiality:
            return (
                f"materiality: {abs(amount)} {currency} is {reported:.2f} "
                f"{loaded.policy.reporting_currency}, at or above {routing.materiality}"
            )
        return None

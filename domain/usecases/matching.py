"""Stage 2: matching approved statements against the ledger, stored, reviewed, posted.

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

Consistency checks are computed per run and stored once per stable key; ``accept_all``
is refused while any check linked to the statement is open. Journal entries are made
only on an accepted transition, never for a pending match. Everything is audited.

A run that changes nothing (no match found, re-scored, dissolved or accepted, no check
opened, no ``unmatched`` item new or changed: the hourly sweep over data that did not
move) writes nothing: no ``matching.run`` record, no message, and no run number (see
:class:`_RunNumber`).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from domain import states
from domain.audit.records import AuditEntry
from domain.errors import DomainError, InvalidCommand, ItemNotFound, StaleItem
from domain.gl import StoredLedgerEntry
from domain.intake import IntakeRow, same_content
from domain.items import (
    Approval,
    EntryKind,
    Item,
    ItemFacts,
    ItemKind,
    ReviewState,
    RiskTier,
    Route,
    RoutingDecision,
)
from domain.matching.checks import run_checks
from domain.matching.records import (
    Band,
    BankLine,
    LedgerLine,
)
from domain.matching.rerun import PreviousMatch, rematch
from domain.matching.settings import matching_policy
from domain.matching.stored import (
    RESOLUTIONS,
    CheckRecord,
    CheckState,
    LedgerKey,
    MatchRecord,
    MatchState,
    Resolution,
    components_data,
)
from domain.money import quantize
from domain.policy import LoadedPolicy
from domain.ports import UnitOfWork
from domain.routing import applied_rate, dual_control_required, routing_data, to_reporting
from domain.statements.records import MatchStatus, Statement, StatementLine
from domain.usecases.amendments import routed_item
from domain.usecases.intake import Intake
from domain.usecases.match_notices import (
    enqueue_check_notice,
    enqueue_decision_notices,
    enqueue_run_notices,
)
from domain.usecases.match_tiers import check_match_tier
from domain.usecases.posting import posting
from domain.usecases.rates import load_rates
from domain.usecases.transaction import (
    UseCase,
    item_entries,
    item_entry,
    marked,
    system_entry,
)

#: The ``source`` of the items matching makes (accepted matches, unmatched sides).
MATCHING_SOURCE = "matching"
_PAGE = 1000
_INGESTED = states.Event(
    name="item.ingested", actor=states.SYSTEM, from_state=None, to_state=ReviewState.PENDING.value
)


class MatchRefused(DomainError):
    """An operation on a match or a check that its state does not allow."""


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


class Matching(UseCase):
    """Matching runs, and the decisions people take on matches and checks."""

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
            changed = changed or await _unmatched_changed(uow, unmatched_rows)
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
        bank = [_bank_line(head, line) for head, line in group.lines]
        lines_by_key = {(int(b.statement_id), b.line_number): b for b in bank}
        ledger = [_ledger_line(e) for e in entries.values()]
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
            audit.append(_match_entry("match.dissolved", now, version, dissolved, change.reason))
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
                _match_entry(
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
                _unmatched_bank_row(
                    lines_by_key[(int(u.line.statement), u.line.line)], u.reason, group.entity
                )
            )
        for lu in rerun.result.unmatched_ledger:
            unmatched_rows.append(
                _unmatched_ledger_row(ledger_by_id[lu.entry_id], lu.reason, group.entity)
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
            audit.append(_match_entry("match.dissolved", now, loaded.version, dissolved, reason))
        await uow.audit.append(audit)
        return bool(audit)

    async def _rate(
        self, uow: UnitOfWork, loaded: LoadedPolicy, currency: str, day: date
    ) -> Decimal | None:
        book = await load_rates(uow, [(currency, day)], loaded)
        found = applied_rate(currency, loaded, rates=book, on=day)
        return found.rate if found is not None else None

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

    async def _write(self, uow: UnitOfWork, record: MatchRecord, expected: int) -> None:
        if not await uow.matches.update(record, expected_version=expected):
            raise StaleItem(f"match {record.id} changed during the run; run it again")

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

    async def _post(
        self,
        uow: UnitOfWork,
        loaded: LoadedPolicy,
        accepted: Sequence[tuple[MatchRecord, Decimal, str, str]],
        now: datetime,
    ) -> None:
        """Each accepted match's journal entry (kind ``match``), on an item of its own
        that records the acceptance (the one posting path every entry takes): all of them
        in one insert of items, one of audit records and one of entries.

        A match people accepted (its ``approvals``) makes an item approved by them, each
        approval in turn, so the item's approvals, its decider, its records and the
        entry's approvers are those people; one the policy accepted, an item accepted by
        policy.

        ``accepted``: (match, its bank side's total, currency, entity).
        """
        if not accepted:
            return
        ids = await uow.items.reserve_ids(len(accepted))
        fallback = await self._tx.fallback(uow)
        records: list[AuditEntry] = []
        finals = []
        for (record, amount, code, entity), reserved in zip(accepted, ids, strict=True):
            assert record.id is not None
            facts = ItemFacts(
                source=MATCHING_SOURCE,
                external_id=f"match-{record.id}",
                kind=ItemKind.MATCH,
                entity=entity,
                currency=code,
                amount=abs(amount),
                score=record.score,
                reference=record.key[:300],
            )
            people = record.approvals
            reasons = [f"match {record.id} scored {record.score}"]
            if people:
                reasons.append("accepted by " + ", ".join(a.user for a in people))
            decision = RoutingDecision(
                route=Route.IMMEDIATE if people else Route.AUTO_ACCEPTED,
                kind=ItemKind.MATCH,
                reasons=tuple(reasons),
                priority=0,
                team=None,
                required_approvals=len(people),
                policy_version=loaded.version,
                reporting_amount=to_reporting(abs(amount), code, loaded),
            )
            item = routed_item(facts, decision, now, item_id=reserved)
            # Audited as intake audits an item accepted by policy, so the log replays it.
            records.append(
                item_entry(
                    item,
                    _INGESTED,
                    now,
                    data=routing_data(item.facts, decision, item.content_hash),
                )
            )
            if people:
                moved, events = _approved_by(item, people)
            else:
                by_policy = states.accept_by_policy(item, now=now)
                moved, events = by_policy.item, list(by_policy.events)
            events = [marked(e) for e in events] if fallback else events
            records.extend(item_entries(moved, events, now))
            finals.append(self._tx.clocked(moved))
        await uow.items.add_many(finals)
        await uow.audit.append(records)
        entries = [posting(f, EntryKind.MATCH, now, loaded.policy.accounts) for f in finals]
        await self._tx.store_entries(uow, entries, items=finals)

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
                    _match_entry(
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
            [_match_entry("match.accepted", now, loaded.version, accepted, None, actor=actor)]
        )
        await self._close_unmatched(uow, [accepted], now)
        return accepted

    async def _close_unmatched(
        self, uow: UnitOfWork, accepted: Sequence[MatchRecord], now: datetime
    ) -> None:
        """Closes the open ``unmatched`` items (an earlier run's lone line or entry) that
        the ``accepted`` matches now cover, each through the audited ``close_matched``
        move, its card updated through the outbox ("matched by run N / match M"). A
        disputed one stays for a person to resolve."""
        covering: dict[str, MatchRecord] = {}
        for record in accepted:
            for sid, number in record.bank_lines:
                covering[_bank_external_id(sid, number)] = record
            for key in record.ledger_entries:
                covering[_ledger_external_id(key.account, key.entry_id)] = record
        if not covering:
            return
        found = await uow.items.get_many_by_external(MATCHING_SOURCE, sorted(covering))
        closable = states.ALLOWED_FROM[states.Action.CLOSE_MATCHED]
        for external_id, item in sorted(found.items()):
            if item.facts.kind is not ItemKind.UNMATCHED or item.state not in closable:
                continue
            record = covering[external_id]
            assert record.id is not None
            moved = states.close_matched(item, match_id=record.id, run=record.run, now=now)
            await self._tx.apply(uow, item, moved, now)

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
                [_match_entry("match.rejected", now, loaded.version, rejected, reason, actor=actor)]
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

    async def matches(
        self,
        *,
        band: Band | None = None,
        state: MatchState | None = None,
        statement: int | None = None,
        limit: int = 100,
    ) -> list[MatchRecord]:
        async with self._tx.uow(read_only=True) as uow:
            return await uow.matches.query(
                band=band, state=state, statement_id=statement, limit=limit
            )

    async def checks(
        self, *, state: CheckState | None = None, statement: int | None = None
    ) -> list[CheckRecord]:
        async with self._tx.uow(read_only=True) as uow:
            return await uow.matches.checks(state=state, statement_id=statement)

    async def line_references(
        self, keys: Sequence[tuple[int, int]]
    ) -> dict[tuple[int, int], str | None]:
        """The reference of each bank line (for the ``matches --json`` contract)."""
        out: dict[tuple[int, int], str | None] = {}
        async with self._tx.uow(read_only=True) as uow:
            heads: dict[int, Statement | None] = {}
            for sid, number in keys:
                if sid not in heads:
                    heads[sid] = await uow.statements.get(sid, with_lines=False)
                head = heads[sid]
                line = (
                    None if head is None else await uow.statements.line(sid, head.currency, number)
                )
                out[(sid, number)] = None if line is None else line.reference
        return out


async def _unmatched_changed(uow: UnitOfWork, rows: Sequence[IntakeRow]) -> bool:
    """Whether intake would write any of these ``unmatched`` rows: one without an item
    yet, or whose item holds other content (an amendment)."""
    if not rows:
        return False
    found = await uow.items.get_many_by_external(
        MATCHING_SOURCE, [row.facts.external_id for row in rows]
    )
    for row in rows:
        item = found.get(row.facts.external_id)
        if item is None or not same_content(item.content_hash, row.facts, hashed=row.content_hash):
            return True
    return False


def _approved_by(item: Item, people: Sequence[Approval]) -> tuple[Item, list[states.Event]]:
    """``item`` approved by each of ``people`` in turn (dual control, maker-checker and
    distinct approvers as :func:`domain.states.approve` rules them), and the events."""
    events: list[states.Event] = []
    for approval in people:
        moved = states.approve(item, actor=approval.user, now=approval.at)
        item = moved.item
        events.extend(moved.events)
    return item, events


def _bank_line(head: Statement, line: StatementLine) -> BankLine:
    assert head.id is not None
    return BankLine(
        statement_id=str(head.id),
        line_number=line.number,
        account=head.account,
        currency=head.currency,
        amount=line.amount,
        booking_date=line.booking_date or line.value_date or head.period_end,
        value_date=line.value_date,
        reference=line.reference,
        end_to_end_id=line.end_to_end_id,
        counterparty=line.counterparty,
        description=line.description,
    )


def _ledger_line(stored: StoredLedgerEntry) -> LedgerLine:
    e = stored.entry
    return LedgerLine(
        entry_id=e.entry_id,
        gl_account=e.account,
        currency=e.currency,
        amount=e.amount,
        entry_date=e.booked_on,
        reference=e.reference,
        counterparty=e.counterparty,
        description=e.description,
    )


def _bank_external_id(statement: int | str, number: int) -> str:
    """The external id of a bank line's ``unmatched`` item."""
    return f"bank:{statement}#{number}"


def _ledger_external_id(account: str, entry_id: str) -> str:
    """The external id of a ledger entry's ``unmatched`` item."""
    return f"ledger:{account}:{entry_id}"


def _unmatched_row(
    external_id: str,
    missing: str,
    *,
    entity: str,
    currency: str,
    amount: Decimal,
    counterparty: str | None,
    booked_on: date | None,
    reference: str | None,
) -> IntakeRow:
    """The ``unmatched`` item of one side left without a match (``missing``: why)."""
    facts = ItemFacts(
        source=MATCHING_SOURCE,
        external_id=external_id,
        kind=ItemKind.UNMATCHED,
        entity=entity,
        currency=currency,
        amount=amount,
        counterparty=counterparty,
        booked_on=booked_on,
        reference=reference,
        description=missing[:2000],
    )
    return IntakeRow(line=0, facts=facts)


def _unmatched_bank_row(line: BankLine, reason: str, entity: str) -> IntakeRow:
    return _unmatched_row(
        _bank_external_id(line.statement_id, line.line_number),
        f"bank line without a ledger match: {reason}",
        entity=entity,
        currency=line.currency,
        amount=line.amount,
        counterparty=line.counterparty,
        booked_on=line.booking_date,
        reference=line.reference,
    )


def _unmatched_ledger_row(entry: LedgerLine, reason: str, entity: str) -> IntakeRow:
    return _unmatched_row(
        _ledger_external_id(entry.gl_account, entry.entry_id),
        f"ledger entry without a bank match: {reason}",
        entity=entity,
        currency=entry.currency,
        amount=entry.amount,
        counterparty=entry.counterparty,
        booked_on=entry.entry_date,
        reference=entry.reference,
    )


def _match_entry(
    event: str,
    now: datetime,
    version: str,
    record: MatchRecord,
    why: object,
    *,
    actor: str = states.SYSTEM,
    voided: Sequence[Approval] = (),
) -> AuditEntry:
    data: dict[str, Any] = {
        "match": record.id,
        "key": record.key,
        "score": record.score,
        "band": record.band.value,
        "state": record.state.value,
        "statement": record.statement_id,
        "bank_lines": [list(k) for k in record.bank_lines],
        "ledger_entries": [k.entry_id for k in record.ledger_entries],
        "components": record.components,
    }
    if record.held is not None:
        data["held"] = record.held
    if record.approvals:
        data["approvals"] = [a.user for a in record.approvals]
    if voided:
        data["voided_approvals"] = [a.user for a in voided]
    if why is not None:
        data["why"] = getattr(why, "reason", str(why))
    return AuditEntry(time=now, event=event, actor=actor, policy_version=version, data=data)

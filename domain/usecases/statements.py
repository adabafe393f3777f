"""Bank statements in Stage 1: import, approve, edit, reject, re-parse, and the queries.

Each statement of a file is imported whole or not at all (small consecutive ones share a
transaction, redone one per transaction when it fails), so a bad statement never blocks
the good ones and nothing half-imports one: the statement row, all its lines,
the original file's bytes and the audit records commit together or not at all. Every
transition goes through :mod:`domain.statements.stage1` and is audited with the acting
user (an import's actor is the operator, ``system`` by default). Audit records of a
statement name no item: ``item_id`` and ``item`` stay empty (the deep replay skips them
as items) and ``data.statement_id``/``data.statement`` name the statement.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Awaitable, Callable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from typing import Any, Final

from domain.audit.records import AuditEntry
from domain.errors import (
    DomainError,
    InvalidCommand,
    ItemNotFound,
    NotAuthorized,
    NotVisible,
    StaleItem,
)
from domain.escalation import check_statement_tier_permits
from domain.fx import RateBook
from domain.gauges import STATEMENT_RUNS
from domain.money import quantize
from domain.notifications import for_statement
from domain.permissions import Person, Viewer, can_see, sees_everything, visible_teams
from domain.policy import LoadedPolicy, StatementAccount
from domain.ports import (
    NoTelemetry,
    SpanValue,
    StatementParser,
    Telemetry,
    UnitOfWork,
    UnitOfWorkFactory,
)
from domain.statements import checks as statement_checks
from domain.statements import stage1
from domain.statements.parsed import (
    ParsedStatement,
    ParseItem,
    ParseProblem,
    ParseResult,
    ParseStream,
    StatementFormat,
)
from domain.statements.records import (
    Checks,
    EntriesPage,
    LineTotals,
    MatchStatus,
    Original,
    Stage1Status,
    Statement,
    StatementLine,
    content_hash,
    format_statement_id,
    mask_account,
    page_count,
)
from domain.usecases.rates import load_rates
from domain.usecases.transaction import SIGNOFF, UNAUDITED, PolicySource

#: Who imports when the caller names nobody.
SYSTEM: Final = stage1.SYSTEM
#: The audit event of a statement decision the desk refused (nothing else changed).
REFUSED: Final = "statement.refused"

#: How much of the file names a run keeps (the run table's column).
_RUN_NAME_CHARS = 500


#: The outcome a statement that was not imported is counted under.
_REJECTED: Final = "rejected"


#: The most statements, and lines, one import transaction holds: consecutive small
#: statements (an MT940 file's days) share one, a big statement has one of its own.
BATCH_STATEMENTS: Final = 50
BATCH_LINES: Final = 5_000


@dataclass(slots=True, kw_only=True)
class _Upload:
    """The file being imported, as kept, and whether it is kept yet (committed)."""

    file_name: str
    original: Original
    now: datetime
    kept: bool = False


@dataclass(frozen=True, slots=True, kw_only=True)
class _Rates:
    """Dated rates loaded once for a batch's currencies and days (None: none apply)."""

    book: RateBook | None


@dataclass(frozen=True, slots=True, kw_only=True)
class _Done:
    """One statement's import: its outcome and the statement stored, or its rejection."""

    outcome: str
    stored: Statement | None = None
    rejection: Rejection | None = None
    #: The stage the statement was in before (None: new), to tell of a fresh approval.
    before: Stage1Status | None = None


class StatementNotFound(ItemNotFound):
    """No statement has that id."""


class NoParser(DomainError):
    """No parser was given to read bank files with."""


@dataclass(frozen=True, slots=True, kw_only=True)
class Rejection:
    """A statement (or a whole file) that was not imported, in one sentence."""

    file: str
    statement: str | None
    where: str
    error: str

    def to_json(self) -> dict[str, Any]:
        """The ``rejected`` entry of ``statements import --json``."""
        return {
            "file": self.file,
            "statement": self.statement,
            "where": self.where,
            "error": self.error,
        }


@dataclass(slots=True)
class ImportReport:
    """What imports did, file by file (added up over several files)."""

    files: int = 0
    statements: int = 0
    imported: int = 0
    unchanged: int = 0
    revised: int = 0
    auto_approved: int = 0
    rejected: list[Rejection] = field(default_factory=list)
    ids: list[int] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        """The ``statements import --json`` contract."""
        return {
            "files": self.files,
            "statements": self.statements,
            "imported": self.imported,
            "unchanged": self.unchanged,
            "revised": self.revised,
            "rejected": [r.to_json() for r in self.rejected],
        }

    def outcomes(self) -> dict[str, int]:
        """Statements by outcome (a run's summary; a file refused whole counts one)."""
        return {
            "imported": self.imported,
            "unchanged": self.unchanged,
            "revised": self.revised,
            "rejected": len(self.rejected),
        }

    def reject_file(self, file: str, error: str) -> None:
        """A file that gave no statement at all (unreadable, not a statement)."""
        self.files += 1
        self.rejected.append(Rejection(file=file, statement=None, where="", error=error))


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


def _label(parsed: ParsedStatement) -> str:
    return (
        parsed.statement_id
        or parsed.sequence
        or (f"{parsed.period_start.isoformat()}..{parsed.period_end.isoformat()}")
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


class Statements:
    """The Stage 1 use cases over one store, policy and parser."""

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
        self, uow: UnitOfWork, statement: Statement, rates: _Rates | None = None
    ) -> Statement:
        """The statement with its checks computed against the one before it."""
        recheck = await self._recheck(uow, statement, rates)
        return dataclasses.replace(statement, checks=recheck(statement))

    async def _recheck(
        self, uow: UnitOfWork, statement: Statement, preloaded: _Rates | None = None
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
        never expects a row the table cannot have. Never raises: a failure to record goes
        with the refusal as a note (like the items' refusals).
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
        try:
            async with self._uow() as uow:
                await uow.audit.append([entry])
                await uow.commit()
        except Exception as failure:
            reason.add_note(f"{UNAUDITED}: {type(failure).__name__}")

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

    # -- import --

    async def import_file(
        self,
        *,
        file_name: str,
        data: bytes | Original,
        result: ParseResult | ParseStream,
        now: datetime,
        actor: str = SYSTEM,
        report: ImportReport | None = None,
    ) -> ImportReport:
        """Imports every statement of one file as the parser hands them out (a
        :class:`ParseStream`: one statement, or one small batch, in memory at a time; a
        :class:`ParseResult` is read as one). ``data`` is the file's bytes, or the file as
        :meth:`Original.read` packed it from disk (the file is then never whole in memory).

        Unknown account: rejected with that reason. The same statement (identity) with
        the same content: unchanged. With different content: a new revision back in
        ``pending_review``, voiding any approval. New: imported (``pending_review``, or
        approved by policy when ``statements.auto_approve`` and its checks hold).

        Consecutive small statements share a transaction (up to :data:`BATCH_STATEMENTS`
        statements or :data:`BATCH_LINES` lines), each still checked against the one
        before it (in the same batch or not) and audited on its own; a batch that fails
        is rolled back and its statements imported again one per transaction, so a bad
        statement never loses the others and nothing half-imports one.

        The file is kept once, under its SHA-256, in the transaction of the first
        statement stored from it; every statement names that SHA-256 (what a reviewer
        verifies against is the whole file as the bank sent it).
        """
        report = report if report is not None else ImportReport()
        report.files += 1
        stream = result if isinstance(result, ParseStream) else ParseStream.of(result)
        upload = _Upload(
            file_name=file_name,
            original=data if isinstance(data, Original) else Original.of(data),
            now=now,
        )
        batch: list[ParsedStatement] = []
        lines = 0
        for item in _read(stream.items):
            if isinstance(item, ParseProblem):
                await self._import_batch(batch, upload, now, actor, report)
                lines = 0
                # A problem that names a statement is one; one about the whole file is not.
                if item.statement is not None:
                    report.statements += 1
                self._count(_REJECTED)
                report.rejected.append(
                    Rejection(
                        file=file_name, statement=item.statement, where=item.where, error=item.error
                    )
                )
                continue
            report.statements += 1
            batch.append(item)
            lines += len(item.lines)
            # Let go of this statement (the batch holds it) before the parser reads on.
            del item
            if len(batch) >= BATCH_STATEMENTS or lines >= BATCH_LINES:
                await self._import_batch(batch, upload, now, actor, report)
                lines = 0
        await self._import_batch(batch, upload, now, actor, report)
        return report

    async def record_run(
        self, *, report: ImportReport, file_names: Sequence[str], started: datetime, now: datetime
    ) -> None:
        """Keeps what one ``statements import`` did as a run (source ``statements``, its
        statements by outcome), so ``serve``'s metrics count imports made by other
        processes (``recon_import_rows_total``). Each statement has its own audit records;
        the run adds no other."""
        names = list(file_names)
        label = names[0] if len(names) == 1 else f"{names[0]} and {len(names) - 1} more"
        async with self._uow() as uow:
            run_id = await uow.intake.start_run(
                source=STATEMENT_RUNS,
                file_name=label[:_RUN_NAME_CHARS],
                policy_version=self._policy().version,
                now=started,
            )
            await uow.intake.finish_run(run_id=run_id, summary=report.outcomes(), now=now)
            await uow.commit()

    def _count(self, outcome: str) -> None:
        self._telemetry.imported(source="statement", outcome=outcome, rows=1)

    async def _import_batch(
        self,
        batch: list[ParsedStatement],
        upload: _Upload,
        now: datetime,
        actor: str,
        report: ImportReport,
    ) -> None:
        """Imports the statements of ``batch`` (then empties it) in one transaction; when
        that fails anywhere, rolls it back and imports them one per transaction."""
        if len(batch) > 1:
            done: list[_Done] = []
            try:
                async with self._uow() as uow:
                    kept, wrote = upload.kept, False
                    # The rates of all its days at once: the latest on or before each day
                    # is the same in a book of the batch's days as in one of that day.
                    needs = [(p.currency, p.period_end) for p in batch]
                    rates = _Rates(book=await load_rates(uow, needs, self._policy()))
                    for parsed in batch:
                        try:
                            fresh = self._fresh(parsed, upload)
                        except (DomainError, ValueError, ArithmeticError) as exc:
                            # Refused before anything is written: the batch goes on.
                            done.append(_rejected(parsed, upload, exc))
                            continue
                        done.append(
                            await self._import_in(uow, fresh, upload, now, actor, kept, rates)
                        )
                        wrote = wrote or done[-1].outcome != "unchanged"
                        kept = kept or wrote
                    if wrote:  # an unchanged batch writes (and commits) nothing
                        await uow.commit()
            except Exception:  # the batch rolled back: each statement again on its own
                pass
            else:
                for one in done:
                    self._done(one, upload, report)
                batch.clear()
        for parsed in batch:
            self._done(await self._import_single(parsed, upload, now, actor), upload, report)
        batch.clear()

    async def _import_single(
        self, parsed: ParsedStatement, upload: _Upload, now: datetime, actor: str
    ) -> _Done:
        """Imports one statement in a transaction of its own (a rejection is its outcome)."""
        try:
            try:
                return await self._import_committed(parsed, upload, now, actor)
            except StaleItem:
                # Another import stored it first: look again (unchanged or revised).
                return await self._import_committed(parsed, upload, now, actor)
        except (DomainError, ValueError, ArithmeticError) as exc:
            return _rejected(parsed, upload, exc)

    async def _import_committed(
        self, parsed: ParsedStatement, upload: _Upload, now: datetime, actor: str
    ) -> _Done:
        fresh = self._fresh(parsed, upload)
        async with self._uow() as uow:
            done = await self._import_in(uow, fresh, upload, now, actor, upload.kept)
            if done.outcome != "unchanged":
                await uow.commit()
        return done

    def _done(self, done: _Done, upload: _Upload, report: ImportReport) -> None:
        """Counts a committed (or rejected) statement into the report and the metrics."""
        self._count(done.outcome)
        if done.rejection is not None:
            report.rejected.append(done.rejection)
            return
        assert done.stored is not None and done.stored.id is not None
        report.ids.append(done.stored.id)
        if done.outcome == "unchanged":
            report.unchanged += 1
            return
        upload.kept = True
        if done.outcome == "imported":
            report.imported += 1
        else:
            report.revised += 1
        if done.stored.stage1_status is Stage1Status.APPROVED:
            report.auto_approved += 1
        self._tell_approved(done.before, done.stored)

    def _fresh(self, parsed: ParsedStatement, upload: _Upload) -> Statement:
        """The stored form of a parsed statement (checks still empty).

        Raises:
            InvalidCommand: the policy does not know its account (or its currency).
        """
        loaded = self._policy()
        return build_statement(
            parsed,
            known_account(parsed, loaded),
            file_name=upload.file_name,
            sha256=upload.original.sha256,
            policy_version=loaded.version,
            now=upload.now,
        )

    async def _import_in(
        self,
        uow: UnitOfWork,
        fresh: Statement,
        upload: _Upload,
        now: datetime,
        actor: str,
        kept: bool,
        rates: _Rates | None = None,
    ) -> _Done:
        """Imports one statement in ``uow`` (not committed): ``imported``, ``unchanged``
        (nothing written) or ``revised``; ``kept`` says whether the file is kept already
        (committed, or earlier in this transaction); ``rates`` are the batch's."""
        existing = await uow.statements.get_by_key(fresh.key)
        if existing is not None and existing.content_hash == fresh.content_hash:
            return _Done(outcome="unchanged", stored=existing)
        if not kept:
            await uow.statements.keep_original(
                file_name=upload.file_name, original=upload.original, now=now
            )
        if existing is None:
            stored = await uow.statements.add(await self._checked(uow, fresh, rates))
            event = stage1.StatementEvent(
                name="statement.imported",
                actor=actor,
                from_state=None,
                to_state=stored.stage1_status.value,
                data=_import_data(stored),
            )
            await uow.audit.append([statement_entry(stored, event, now)])
            await self._notify(uow, None, stored, now)
            outcome = "imported"
        else:
            renewed = await self._checked(uow, _with_identity(fresh, existing), rates)
            move = stage1.revise(existing, renewed, actor=actor, cause="reimport", now=now)
            stored = await self._write(uow, existing, move, now, lines=None)
            outcome = "revised"
        stored = await self._maybe_auto_approve(uow, stored, now)
        await self._recheck_following(uow, stored, now)
        before = existing.stage1_status if existing is not None else None
        return _Done(outcome=outcome, stored=stored, before=before)

    # -- decisions --

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
            renewed = await self._checked(uow, _with_identity(match, statement))
            move = stage1.revise(statement, renewed, actor=actor, cause="reparse", now=now)
            after = await self._write(uow, statement, move, now, lines=None)
            after = await self._maybe_auto_approve(uow, after, now)
            await self._recheck_following(uow, after, now)
            await uow.commit()
            return after

    # -- queries --

    async def get(self, statement_id: int, *, viewer: Viewer, with_lines: bool = True) -> Statement:
        """One statement (with its lines unless ``with_lines`` is False), if ``viewer``
        may see its team's work.

        Raises:
            StatementNotFound: no such statement (told only to who sees every team).
            NotVisible: ``you cannot see S-5``, whether S-5 exists or not, as for items.
        """
        async with self._uow(read_only=True) as uow:
            found = await uow.statements.get(statement_id, with_lines=with_lines)
        policy = self._policy().policy
        if found is None and sees_everything(policy, viewer):
            raise StatementNotFound(f"there is no statement {format_statement_id(statement_id)}")
        if found is None or not can_see(policy, viewer, found.team):
            raise NotVisible(f"you cannot see {format_statement_id(statement_id)}")
        return found

    async def card(self, statement_id: int, *, viewer: Viewer) -> tuple[Statement, LineTotals]:
        """What a statement's card shows: the statement without its lines, and their
        totals summed in the store (a card of 100,000 lines reads none of them).

        Raises:
            StatementNotFound, NotVisible: as :meth:`get`.
        """
        statement = await self.get(statement_id, viewer=viewer, with_lines=False)
        async with self._uow(read_only=True) as uow:
            totals = await uow.statements.line_totals(statement_id, statement.currency)
        return statement, totals

    async def entries(
        self, statement_id: int, *, viewer: Viewer, page: int, page_size: int
    ) -> EntriesPage:
        """One page of a statement's lines (``page`` from 0, clamped to the pages there
        are), read from the store page by page, if ``viewer`` may see it.

        Raises:
            StatementNotFound, NotVisible: as :meth:`get`.
        """
        statement, totals = await self.card(statement_id, viewer=viewer)
        pages = page_count(totals.counted + totals.removed, page_size)
        page = min(max(page, 0), pages - 1)
        async with self._uow(read_only=True) as uow:
            lines = await uow.statements.lines_page(
                statement_id, statement.currency, offset=page * page_size, limit=page_size
            )
        return EntriesPage(
            statement=statement,
            lines=lines,
            page=page,
            pages=pages,
            page_size=page_size,
            totals=totals,
        )

    async def line(
        self, statement_id: int, number: int, *, viewer: Viewer
    ) -> tuple[Statement, StatementLine | None]:
        """The statement (without its lines) and its line ``number`` (None when it has
        none), if ``viewer`` may see it: what an edit form is checked against.

        Raises:
            StatementNotFound, NotVisible: as :meth:`get`.
        """
        statement = await self.get(statement_id, viewer=viewer, with_lines=False)
        async with self._uow(read_only=True) as uow:
            return statement, await uow.statements.line(statement_id, statement.currency, number)

    async def listing(
        self,
        *,
        viewer: Viewer,
        status: Stage1Status | None = None,
        account: str | None = None,
        limit: int = 100,
        offset: int = 0,
    ) -> list[tuple[Statement, int]]:
        """Statements (without lines) of the teams ``viewer`` sees, and how many lines
        count in each (paged in the store, so a page is full whatever the teams)."""
        policy = self._policy().policy
        teams = visible_teams(policy, viewer)
        async with self._uow(read_only=True) as uow:
            found = await uow.statements.query(
                status=status, account=account, teams=teams, limit=limit, offset=offset
            )
            counts = await uow.statements.line_counts([s.id for s in found if s.id is not None])
        return [(s, counts.get(s.id or 0, 0)) for s in found]

    async def waiting(
        self, *, viewer: Viewer, limit: int, offset: int = 0
    ) -> tuple[list[tuple[Statement, int]], int]:
        """One page of the statements waiting for review that ``viewer`` sees (with their
        counted lines), and how many there are in all."""
        rows = await self.listing(
            viewer=viewer, status=Stage1Status.PENDING_REVIEW, limit=limit, offset=offset
        )
        teams = visible_teams(self._policy().policy, viewer)
        async with self._uow(read_only=True) as uow:
            total = await uow.statements.count(status=Stage1Status.PENDING_REVIEW, teams=teams)
        return rows, total

    async def approved_lines(
        self, *, after: tuple[int, int] | None = None, limit: int = 1000
    ) -> list[tuple[Statement, StatementLine]]:
        """Unmatched lines of approved statements: the input of Stage 2."""
        async with self._uow(read_only=True) as uow:
            return await uow.statements.approved_lines(
                match_status=MatchStatus.UNMATCHED, after=after, limit=limit
            )


def _read(items: Iterator[ParseItem]) -> Iterator[ParseItem]:
    """The stream's items; a parser that fails while reading ends the file with one
    problem in its words (the statements before stay imported, as with a broken file)."""
    try:
        yield from items
    except Exception as exc:  # any parser failure is this file's, in one sentence
        yield ParseProblem(where="", error=str(exc) or type(exc).__name__)


def _rejected(parsed: ParsedStatement, upload: _Upload, exc: Exception) -> _Done:
    """A statement not imported, in the sentence of what refused it."""
    rejection = Rejection(
        file=upload.file_name, statement=_label(parsed), where=parsed.where, error=str(exc)
    )
    return _Done(outcome=_REJECTED, rejection=rejection)


def _check_version(statement: Statement, expected_version: int | None) -> None:
    if expected_version is not None and statement.version != expected_version:
        raise StaleItem(
            f"{statement.human_id} changed since you opened it (it is now "
            f"{statement.stage1_status.value}); nothing was changed — look again"
        )


def _with_identity(fresh: Statement, existing: Statement) -> Statement:
    """``fresh`` as a revision of ``existing`` (same id and account naming)."""
    return dataclasses.replace(fresh, id=existing.id, account=existing.account)


def _import_data(statement: Statement) -> dict[str, Any]:
    checks = statement.checks
    return {
        "revision": statement.revision,
        "account": statement.account,
        "currency": statement.currency,
        "format": statement.format.value,
        "period_start": statement.period_start.isoformat(),
        "period_end": statement.period_end.isoformat(),
        "file": statement.file_name,
        "sha256": statement.sha256,
        "content_hash": statement.content_hash,
        "entries": len(statement.lines),
        "delta": None if checks.delta is None else str(checks.delta),
        "chain_ok": checks.chain_ok,
        "continuity": checks.continuity.value,
    }

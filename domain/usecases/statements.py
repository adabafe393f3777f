"""Bank statements in Stage 1: import, approve, edit, reject, re-parse, and the queries.

Each statement of a file is imported whole or not at all (small consecutive ones share a
transaction, redone one per transaction when it fails), so a bad statement never blocks
the good ones and nothing half-imports one: the statement row, all its lines,
the original file's bytes and the audit records commit together or not at all. Every
transition goes through :mod:`domain.statements.stage1` and is audited with the acting
user (an import's actor is the operator, ``system`` by default). Audit records of a
statement name no item: ``item_id`` and ``item`` stay empty (the deep replay skips them
as items) and ``data.statement_id``/``data.statement`` name the statement.

This module imports files and batches their statements, and is where
:class:`Statements` comes together: the decisions are in
:mod:`domain.usecases.statement_decisions`, the reads in
:mod:`domain.usecases.statement_reads`, and the steps they share in
:mod:`domain.usecases.statement_steps`.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Final

from domain.errors import DomainError, StaleItem
from domain.gauges import STATEMENT_RUNS
from domain.ports import UnitOfWork
from domain.statements import stage1
from domain.statements.parsed import (
    ParsedStatement,
    ParseItem,
    ParseProblem,
    ParseResult,
    ParseStream,
)
from domain.statements.records import Original, Stage1Status, Statement
from domain.usecases.rates import load_rates
from domain.usecases.statement_decisions import REFUSED, NoParser, StatementDecisions
from domain.usecases.statement_reads import StatementReads
from domain.usecases.statement_steps import (
    SYSTEM,
    PreloadedRates,
    StatementNotFound,
    build_statement,
    known_account,
    statement_entry,
    with_identity,
)

__all__ = [
    "BATCH_LINES",
    "BATCH_STATEMENTS",
    "REFUSED",
    "SYSTEM",
    "ImportReport",
    "NoParser",
    "Rejection",
    "StatementNotFound",
    "Statements",
    "build_statement",
    "known_account",
    "statement_entry",
]


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
class _Done:
    """One statement's import: its outcome and the statement stored, or its rejection."""

    outcome: str
    stored: Statement | None = None
    rejection: Rejection | None = None
    #: The stage the statement was in before (None: new), to tell of a fresh approval.
    before: Stage1Status | None = None


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


def _label(parsed: ParsedStatement) -> str:
    return (
        parsed.statement_id
        or parsed.sequence
        or (f"{parsed.period_start.isoformat()}..{parsed.period_end.isoformat()}")
    )


class Statements(StatementDecisions, StatementReads):
    """The Stage 1 use cases over one store, policy and parser."""

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
                    rates = PreloadedRates(book=await load_rates(uow, needs, self._policy()))
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
        rates: PreloadedRates | None = None,
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
            renewed = await self._checked(uow, with_identity(fresh, existing), rates)
            move = stage1.revise(existing, renewed, actor=actor, cause="reimport", now=now)
            stored = await self._write(uow, existing, move, now, lines=None)
            outcome = "revised"
        stored = await self._maybe_auto_approve(uow, stored, now)
        await self._recheck_following(uow, stored, now)
        before = existing.stage1_status if existing is not None else None
        return _Done(outcome=outcome, stored=stored, before=before)


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

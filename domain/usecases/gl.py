"""Ledger import: general-ledger entries from an ERP export, stored and audited in batches.

The rules are item intake's: bad rows are reported and quarantined while the good ones
land; the same entry (entry id + account) again with the same content changes nothing;
changed content becomes the entry's next version, the old content kept in the audit
record. An entry Stage 2 already matched is never rewritten by an import: its changed
row is refused with that reason (and quarantined) until the match is reversed.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from domain.audit.records import AuditEntry
from domain.errors import StaleItem
from domain.gl import LedgerRow, MatchStatus, StoredLedgerEntry
from domain.intake import RowError
from domain.ports import UnitOfWork
from domain.usecases.intake import IngestResult, close_run, open_run
from domain.usecases.transaction import UseCase, system_entry

#: The ``source`` of a ledger import's run, beside item intake's runs.
LEDGER_SOURCE = "ledger"


class LedgerImport(UseCase):
    """Ledger import runs and their batches."""

    async def start(self, *, file_name: str, policy_text: str, now: datetime) -> int:
        """Opens an import run (an ingest run whose source is ``ledger``)."""
        return await open_run(
            self._tx, source=LEDGER_SOURCE, file_name=file_name, policy_text=policy_text, now=now
        )

    async def finish(
        self, *, run_id: int, result: IngestResult, file_sha256: str, file_name: str, now: datetime
    ) -> None:
        """Closes the run with its summary, audited (the provenance of every entry)."""
        await close_run(
            self._tx,
            event="ledger.import_completed",
            run_id=run_id,
            result=result,
            file_sha256=file_sha256,
            file_name=file_name,
            now=now,
            omit=("rejected_rows", "routes", "reversed"),
        )

    async def import_rows(
        self,
        rows: Sequence[LedgerRow],
        *,
        now: datetime,
        rejected: Sequence[tuple[RowError, str]] = (),
        run_id: int | None = None,
    ) -> IngestResult:
        """Stores one batch of validated rows in one transaction (see module docstring).

        Raises:
            StaleItem: an entry changed while the batch was stored (nothing of it is).
        """
        result = IngestResult(read=len(rows) + len(rejected), rejected=len(rejected))
        result.rejected_rows.extend(err for err, _ in rejected)
        quarantined = list(rejected)
        async with self._tx.uow() as uow:
            # A key repeated within the batch must see its first occurrence stored first.
            segment: list[LedgerRow] = []
            seen: set[tuple[str, str]] = set()
            for row in rows:
                if row.entry.key in seen:
                    await self._segment(uow, segment, now, run_id, result, quarantined)
                    segment, seen = [], set()
                segment.append(row)
                seen.add(row.entry.key)
            await self._segment(uow, segment, now, run_id, result, quarantined)
            if run_id is not None:
                await uow.intake.quarantine(run_id=run_id, rows=quarantined, now=now)
            await uow.commit()
        result.rejected_rows.sort(key=lambda r: r.line)
        return result

    async def _segment(
        self,
        uow: UnitOfWork,
        rows: Sequence[LedgerRow],
        now: datetime,
        run_id: int | None,
        result: IngestResult,
        quarantined: list[tuple[RowError, str]],
    ) -> None:
        if not rows:
            return
        version = self._tx.policy().version
        stored = await uow.gl.get_many([r.entry.key for r in rows])
        fresh: list[LedgerRow] = []
        entries: list[AuditEntry] = []
        for row in rows:
            current = stored.get(row.entry.key)
            if current is None:
                fresh.append(row)
                continue
            hashed = row.entry.content_hash()
            if current.content_hash == hashed:
                result.unchanged += 1
                continue
            if current.match_status is not MatchStatus.UNMATCHED:
                refusal = _matched_refusal(row, current)
                quarantined.append((refusal, row.raw))
                result.rejected += 1
                result.rejected_rows.append(refusal)
                continue
            if not await uow.gl.revise(
                row.entry, expected_version=current.version, run_id=run_id, now=now
            ):
                raise StaleItem(
                    f"ledger entry {row.entry.entry_id} on account {row.entry.account} changed "
                    "during the import; run the import again"
                )
            entries.append(
                system_entry(
                    "ledger.entry_revised",
                    now,
                    version,
                    run_id=run_id,
                    line=row.line,
                    entry_id=row.entry.entry_id,
                    account=row.entry.account,
                    version=current.version + 1,
                    content=row.entry.content(),
                    content_hash=hashed,
                    previous=current.entry.content(),
                    previous_hash=current.content_hash,
                )
            )
            result.amended += 1
        if fresh:
            await uow.gl.add_many([r.entry for r in fresh], run_id=run_id, now=now)
            entries.extend(
                system_entry(
                    "ledger.entry_imported",
                    now,
                    version,
                    run_id=run_id,
                    line=row.line,
                    entry_id=row.entry.entry_id,
                    account=row.entry.account,
                    version=1,
                    content=row.entry.content(),
                    content_hash=row.entry.content_hash(),
                )
                for row in fresh
            )
            result.inserted += len(fresh)
        if entries:
            await uow.audit.append(entries)


def _matched_refusal(row: LedgerRow, current: StoredLedgerEntry) -> RowError:
    return RowError(
        line=row.line,
        field="entry_id",
        error=(
            f"entry {row.entry.entry_id} on account {row.entry.account} is "
            f"{current.match_status.value} (version {current.version}): an import does not "
            "rewrite a matched entry; reverse the match first"
        ),
    )

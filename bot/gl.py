"""Streams an ERP ledger export (CSV or JSON Lines) through validation into the store.

The file is read with item intake's reader (:func:`bot.files.read_rows`: UTF-8 checks,
rows that cannot be read reported by line), each row validated with the policy's
``ledger.columns`` and stored batch by batch (:class:`domain.usecases.gl.LedgerImport`):
bad rows are reported and quarantined, the good rows of each batch commit together.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from bot.batches import HashingReader
from bot.errors import BotError
from bot.files import DEFAULT_BATCH, RawRow, check_readable, detect_format, read_rows
from domain.gl import LedgerRow, missing_columns, parse_ledger_row
from domain.intake import RowError
from domain.policy import LoadedPolicy
from domain.ports import Clock
from domain.usecases.gl import LedgerImport
from domain.usecases.intake import IngestResult


@dataclass(frozen=True, slots=True, kw_only=True)
class LedgerRun:
    """What one ``recon-bot ledger import`` did."""

    run_id: int
    result: IngestResult
    sha256: str


class MissingColumns(BotError, ValueError):
    """The export lacks a column a required field is mapped to: nothing was written."""


def _raw_text(row: RawRow) -> str:
    return row.raw or json.dumps(row.values, ensure_ascii=False)


def ledger_batches(
    rows: Iterator[RawRow], columns: dict[str, str], batch_size: int, *, header: bool
) -> Iterator[tuple[list[LedgerRow], list[tuple[RowError, str]]]]:
    """Validated rows in batches of ``batch_size``: (good, bad with their raw text).

    Raises:
        MissingColumns: ``header`` (a CSV file, whose header names every column of every
            row) and the first row lacks a column a required field is mapped to.
    """
    good: list[LedgerRow] = []
    bad: list[tuple[RowError, str]] = []
    first = True
    for row in rows:
        if row.problem is not None:
            field, error = row.problem
            bad.append((RowError(line=row.line, field=field, error=error), _raw_text(row)))
        else:
            if first and header:
                missing = missing_columns(list(row.values), columns)
                if missing:
                    raise MissingColumns(
                        "the file's header has no column for "
                        + ", ".join(missing)
                        + " (the policy's ledger.columns names the column of each field)"
                    )
            first = False
            parsed = parse_ledger_row(row.values, line=row.line, columns=columns)
            if isinstance(parsed, RowError):
                bad.append((parsed, _raw_text(row)))
            else:
                good.append(LedgerRow(line=row.line, entry=parsed, raw=_raw_text(row)))
        if len(good) + len(bad) >= batch_size:
            yield good, bad
            good, bad = [], []
    if good or bad:
        yield good, bad


async def import_ledger_file(
    *,
    path: Path,
    usecase: LedgerImport,
    loaded: LoadedPolicy,
    policy_text: str,
    clock: Clock,
    batch_size: int = DEFAULT_BATCH,
) -> LedgerRun:
    """Imports one export, one transaction per batch stamped with the clock at its commit.

    Raises:
        ValueError: unsupported file type, not UTF-8 text, or none of the mapped columns
            (:class:`MissingColumns`); nothing was written.
        OSError: the file cannot be read; nothing was written.
    """
    fmt = detect_format(path)
    check_readable(path, fmt)
    columns = loaded.policy.ledger.columns.mapping()
    started = clock.now()
    total = IngestResult()
    run_id: int | None = None
    with path.open("rb") as raw:
        stream = HashingReader(raw)
        for good, bad in ledger_batches(
            read_rows(stream, fmt),  # type: ignore[arg-type]
            columns,
            batch_size,
            header=fmt == "csv",
        ):
            if run_id is None:
                run_id = await usecase.start(
                    file_name=path.name, policy_text=policy_text, now=started
                )
            total.add(await usecase.import_rows(good, rejected=bad, run_id=run_id, now=clock.now()))
        digest = stream.sha256.hexdigest()
    if run_id is None:  # an empty file is a run too
        run_id = await usecase.start(file_name=path.name, policy_text=policy_text, now=started)
    await usecase.finish(
        run_id=run_id, result=total, file_sha256=digest, file_name=path.name, now=clock.now()
    )
    return LedgerRun(run_id=run_id, result=total, sha256=digest)

"""Streams an intake file through validation into the store, batch by batch.

Bad rows never stop the good ones: each is reported with its line, field and reason and
kept in the quarantine; the good rows of the same batch commit together.
"""

from __future__ import annotations

import contextlib
import gc
import hashlib
import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import IO

from bot.files import RawRow, detect_format, read_rows
from domain.intake import IntakeRow, RowError, parse_row
from domain.ports import Clock
from domain.services import IngestResult, ReviewService

DEFAULT_BATCH = 1000
DEFAULT_SOURCE = "default"


class _HashingReader:
    """Reads a binary stream while hashing it (the run's provenance) in one pass."""

    def __init__(self, stream: IO[bytes]) -> None:
        self._stream = stream
        self.sha256 = hashlib.sha256()

    def readable(self) -> bool:
        return True

    def read(self, size: int = -1) -> bytes:
        data = self._stream.read(size)
        self.sha256.update(data)
        return data

    def read1(self, size: int = -1) -> bytes:
        return self.read(size)

    def readinto(self, buffer: bytearray | memoryview) -> int:
        data = self.read(len(buffer))
        buffer[: len(data)] = data
        return len(data)

    def tell(self) -> int:
        return self._stream.tell()

    @property
    def closed(self) -> bool:
        return self._stream.closed

    def close(self) -> None:
        self._stream.close()

    def flush(self) -> None:
        return None

    def seekable(self) -> bool:
        return False

    def writable(self) -> bool:
        return False


@dataclass(frozen=True, slots=True, kw_only=True)
class IngestRun:
    """What one ``recon-bot ingest`` did."""

    run_id: int
    result: IngestResult
    sha256: str


@contextlib.contextmanager
def batch_gc() -> Iterator[None]:
    """Collects garbage less often while a batch job runs, then restores the settings.

    Ingest allocates about a hundred short-lived, acyclic objects per row, which
    reference counting frees; the default threshold (a collection every 700 net
    allocations) spent about a tenth of ingest time traversing them. Cycles still get
    collected, every 10,000 allocations instead.
    """
    before = gc.get_threshold()
    gc.set_threshold(10_000, 50, 1_000)
    try:
        yield
    finally:
        gc.set_threshold(*before)


def _raw_text(row: RawRow) -> str:
    return row.raw or json.dumps(row.values, ensure_ascii=False)


async def ingest_file(
    *,
    path: Path,
    source: str | None,
    service: ReviewService,
    clock: Clock,
    policy_text: str,
    batch_size: int = DEFAULT_BATCH,
    on_progress: Callable[[int], None] | None = None,
) -> IngestRun:
    """Ingests one file. The clock is read once per batch (its ``now`` stamps the batch).

    Raises:
        ValueError: unsupported file type.
        OSError: the file cannot be read.
    """
    fmt = detect_format(path)
    # Not the file name: a dated export must amend yesterday's items, not duplicate them.
    default_source = source or DEFAULT_SOURCE
    run_id = await service.start_ingest(
        source=default_source, file_name=path.name, policy_text=policy_text, now=clock.now()
    )
    total = IngestResult()
    with path.open("rb") as raw_stream:
        stream = _HashingReader(raw_stream)
        good: list[IntakeRow] = []
        bad: list[tuple[RowError, str]] = []
        today = clock.now().date()

        async def flush() -> None:
            nonlocal today
            now = clock.now()
            today = now.date()
            total.add(await service.ingest(good, now=now, rejected=bad, run_id=run_id))
            good.clear()
            bad.clear()

        for row in read_rows(stream, fmt, on_progress):  # type: ignore[arg-type]
            if row.problem is not None:
                field, error = row.problem
                bad.append((RowError(line=row.line, field=field, error=error), _raw_text(row)))
            else:
                parsed = parse_row(
                    row.values, line=row.line, default_source=default_source, today=today
                )
                if isinstance(parsed, RowError):
                    bad.append((parsed, _raw_text(row)))
                else:
                    good.append(IntakeRow(line=row.line, facts=parsed, raw=_raw_text(row)))
            if len(good) + len(bad) >= batch_size:
                await flush()
        if good or bad:
            await flush()
    digest = stream.sha256.hexdigest()
    await service.finish_ingest(
        run_id=run_id, result=total, file_sha256=digest, file_name=path.name, now=clock.now()
    )
    return IngestRun(run_id=run_id, result=total, sha256=digest)

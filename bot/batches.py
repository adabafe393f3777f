"""Intake files read as batches of validated, hashed and routed rows, here or in a worker.

The state-free half of ingest (reading, validating, hashing and routing each row) needs
no database, so on a machine with a spare core it runs in a second process while the
writer stores the previous batch. That process is this module run as
``python -m bot.batches``: it reads its job as JSON on stdin and writes frames to stdout,
each an 8-byte big-endian length and a pickle. Rows travel as flat tuples of text and
numbers (:func:`encode_row`), which unpickle in a third of the time of the dataclasses
with their Decimals. The module imports only what parsing needs, so the worker starts
in a fraction of the CLI's start-up.

Both ways share :func:`parse_batches`, so a file gives the same batches either way.
"""

from __future__ import annotations

import hashlib
import json
import pickle
import struct
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from pathlib import Path
from typing import IO, Any, BinaryIO

from bot.files import RawRow, read_rows
from domain.audit.records import CanonicalData
from domain.fx import AppliedRate
from domain.intake import IntakeRow, RowError, parse_row
from domain.items import ItemFacts, ItemKind, RiskTier, Route, RoutingDecision
from domain.policy import LoadedPolicy, parse_policy
from domain.routing import prepare

#: Frame header: the pickle's length.
HEADER = struct.Struct(">Q")


@dataclass(frozen=True, slots=True)
class Batch:
    """Rows to ingest in one transaction, and how far into the file they reach."""

    good: list[IntakeRow]
    bad: list[tuple[RowError, str]]
    position: int  # bytes of the file read so far


@dataclass(frozen=True, slots=True, kw_only=True)
class Job:
    """What to parse: everything :func:`parse_batches` needs, as JSON-safe values."""

    path: str
    fmt: str
    default_source: str
    today: str  # ISO date: aging from booked_on counts to the run's start date
    batch_size: int
    policy_text: str

    def to_json(self) -> bytes:
        """The job as the worker reads it on stdin."""
        return json.dumps({name: getattr(self, name) for name in self.__slots__}).encode()


class HashingReader:
    """Reads a binary stream while hashing it (the run's provenance) in one pass."""

    def __init__(self, stream: IO[bytes]) -> None:
        self._stream = stream
        self.sha256 = hashlib.sha256()
        self.bytes_read = 0  # still known once the text reader on top has closed us

    def readable(self) -> bool:
        return True

    def read(self, size: int = -1) -> bytes:
        data = self._stream.read(size)
        self.sha256.update(data)
        self.bytes_read += len(data)
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


def _raw_text(row: RawRow) -> str:
    return row.raw or json.dumps(row.values, ensure_ascii=False)


def parse_batches(stream: HashingReader, job: Job, loaded: LoadedPolicy) -> Iterator[Batch]:
    """Validates, hashes and routes the rows of ``stream``, ``job.batch_size`` at a time."""
    today = date.fromisoformat(job.today)
    good: list[IntakeRow] = []
    bad: list[tuple[RowError, str]] = []
    for row in read_rows(stream, job.fmt):  # type: ignore[arg-type]
        if row.problem is not None:
            field, error = row.problem
            bad.append((RowError(line=row.line, field=field, error=error), _raw_text(row)))
        else:
            parsed = parse_row(
                row.values,
                line=row.line,
                default_source=job.default_source,
                today=today,
                plain_text=row.plain,
            )
            if isinstance(parsed, RowError):
                bad.append((parsed, _raw_text(row)))
            else:
                intake = IntakeRow(line=row.line, facts=parsed, raw=_raw_text(row))
                good.append(prepare(intake, loaded))
        if len(good) + len(bad) >= job.batch_size:
            yield Batch(good=good, bad=bad, position=stream.bytes_read)
            good, bad = [], []
    if good or bad:
        yield Batch(good=good, bad=bad, position=stream.bytes_read)


# --- rows as flat tuples -----------------------------------------------------------------

_KINDS = {k.value: k for k in ItemKind}
_TIERS = {t.value: t for t in RiskTier}
_ROUTES = {r.value: r for r in Route}


def _text(value: Decimal | None) -> str | None:
    return None if value is None else str(value)


def _dec(text: str | None) -> Decimal | None:
    return None if text is None else Decimal(text)


def encode_row(row: IntakeRow) -> tuple[Any, ...]:
    """A prepared row as a tuple of str, int and None (plus the extra columns' dict)."""
    f, d = row.facts, row.decision
    assert d is not None and row.content_hash is not None, "encode prepared rows only"
    return (
        row.line,
        row.raw,
        row.content_hash,
        f.source,
        f.external_id,
        f.kind.value,
        f.entity,
        f.currency,
        str(f.amount),
        f.counterparty,
        f.risk_tier.value if f.risk_tier else None,
        f.aging_days,
        f.booked_on.isoformat() if f.booked_on else None,
        _text(f.confidence),
        f.score,
        _text(f.matched_value),
        _text(f.variance),
        f.record_count,
        _text(f.entity_risk_score),
        f.prepared_by,
        f.reference,
        f.description,
        f.extra,
        d.route.value,
        d.kind.value,
        d.reasons,
        d.priority,
        d.team,
        d.required_approvals,
        d.policy_version,
        _text(d.reporting_amount),
        row.routing_record.text if row.routing_record is not None else None,
        _fx_values(d.fx),
    )


def _fx_values(fx: AppliedRate | None) -> tuple[str, ...] | None:
    if fx is None:
        return None
    on = fx.on.isoformat() if fx.on is not None else ""
    return (fx.currency, fx.reporting_currency, str(fx.rate), on, fx.source, fx.basis)


def _fx_of(values: tuple[str, ...] | None) -> AppliedRate | None:
    if values is None:
        return None
    currency, reporting, rate, on, source, basis = values
    return AppliedRate(
        currency=currency,
        reporting_currency=reporting,
        rate=Decimal(rate),
        on=date.fromisoformat(on) if on else None,
        source=source,
        basis=basis,
    )


def decode_row(values: tuple[Any, ...]) -> IntakeRow:
    """The prepared row :func:`encode_row` was given (Decimals keep their exact digits)."""
    (
        line,
        raw,
        hashed,
        source,
        external_id,
        kind,
        entity,
        currency,
        amount,
        counterparty,
        tier,
        aging_days,
        booked_on,
        confidence,
        score,
        matched_value,
        variance,
        record_count,
        entity_risk_score,
        prepared_by,
        reference,
        description,
        extra,
        route,
        routed_kind,
        reasons,
        priority,
        team,
        required_approvals,
        policy_version,
        reporting_amount,
        routing_record,
        fx,
    ) = values
    facts = ItemFacts(
        source=source,
        external_id=external_id,
        kind=_KINDS[kind],
        entity=entity,
        currency=currency,
        amount=Decimal(amount),
        counterparty=counterparty,
        risk_tier=_TIERS[tier] if tier is not None else None,
        aging_days=aging_days,
        booked_on=date.fromisoformat(booked_on) if booked_on is not None else None,
        confidence=_dec(confidence),
        score=score,
        matched_value=_dec(matched_value),
        variance=_dec(variance),
        record_count=record_count,
        entity_risk_score=_dec(entity_risk_score),
        prepared_by=prepared_by,
        reference=reference,
        description=description,
        extra=extra,
    )
    decision = RoutingDecision(
        route=_ROUTES[route],
        kind=_KINDS[routed_kind],
        reasons=reasons,
        priority=priority,
        team=team,
        required_approvals=required_approvals,
        policy_version=policy_version,
        reporting_amount=_dec(reporting_amount),
        fx=_fx_of(fx),
    )
    return IntakeRow(
        line=line,
        facts=facts,
        raw=raw,
        content_hash=hashed,
        decision=decision,
        routing_record=CanonicalData(routing_record) if routing_record is not None else None,
    )


def encode_batch(batch: Batch) -> tuple[Any, ...]:
    """A batch as plain tuples."""
    return (
        "batch",
        [encode_row(row) for row in batch.good],
        [(e.line, e.field, e.error, raw) for e, raw in batch.bad],
        batch.position,
    )


def decode_batch(frame: tuple[Any, ...]) -> Batch:
    """The batch :func:`encode_batch` was given."""
    _, good, bad, position = frame
    return Batch(
        good=[decode_row(values) for values in good],
        bad=[(RowError(line=line, field=f, error=e), raw) for line, f, e, raw in bad],
        position=position,
    )


# --- the worker process ------------------------------------------------------------------


def _send(out: BinaryIO, frame: tuple[Any, ...]) -> None:
    data = pickle.dumps(frame, protocol=pickle.HIGHEST_PROTOCOL)
    out.write(HEADER.pack(len(data)))
    out.write(data)


def run_worker(job: Job, out: BinaryIO) -> None:
    """Parses the job's file, writing one frame per batch, then ``("done", sha256)``.

    A failure is reported as ``("error", kind, message)``: ``kind`` is ``"os"`` for a
    file that cannot be read, ``"value"`` for contents that cannot be decoded.
    """
    try:
        loaded = parse_policy(job.policy_text)
        with Path(job.path).open("rb") as raw_stream:
            stream = HashingReader(raw_stream)
            for batch in parse_batches(stream, job, loaded):
                _send(out, encode_batch(batch))
        _send(out, ("done", stream.sha256.hexdigest()))
    except OSError as exc:
        _send(out, ("error", "os", f"{exc.strerror or exc}: {exc.filename or job.path}"))
    except ValueError as exc:  # UnicodeDecodeError included
        _send(out, ("error", "value", f"{Path(job.path).name}: {exc}"))
    out.flush()


def main() -> None:
    """``python -m bot.batches``: the job on stdin, frames on stdout."""
    job = Job(**json.loads(sys.stdin.buffer.read()))
    run_worker(job, sys.stdout.buffer)


if __name__ == "__main__":
    main()

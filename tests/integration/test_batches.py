"""Intake batches: the same rows parsed here or in the worker process, and its failures."""

from __future__ import annotations

import asyncio
import dataclasses
import pickle
import sys
from datetime import date
from decimal import Decimal
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from bot.batches import (
    Batch,
    HashingReader,
    Job,
    decode_batch,
    decode_row,
    encode_batch,
    encode_row,
    parse_batches,
)
from bot.ingest import ParserDied, WorkerBatches
from domain.intake import IntakeRow, RowError
from domain.items import ItemKind, RiskTier
from domain.policy import parse_policy
from domain.routing import prepare
from tests.builders import make_facts
from tests.conftest import EXAMPLE_POLICY, ROOT

SAMPLE = ROOT / "samples" / "items.csv"
LOADED = parse_policy(EXAMPLE_POLICY.read_text())


def _job(path: Path, batch_size: int = 100) -> Job:
    return Job(
        path=str(path),
        fmt="csv",
        default_source="default",
        today="2026-11-21",
        batch_size=batch_size,
        policy_text=EXAMPLE_POLICY.read_text(),
    )


def _local(job: Job) -> tuple[list[Batch], str]:
    with Path(job.path).open("rb") as raw:
        stream = HashingReader(raw)
        batches = list(parse_batches(stream, job, LOADED))
    return batches, stream.sha256.hexdigest()


def test_the_sample_file_survives_the_trip_to_the_writer() -> None:
    batches, _ = _local(_job(SAMPLE))

    assert [len(b.good) + len(b.bad) for b in batches] == [100, 100, 100, 100]
    assert batches[-1].position == SAMPLE.stat().st_size
    for batch in batches:
        assert decode_batch(pickle.loads(pickle.dumps(encode_batch(batch)))) == batch
    kinds = {row.facts.kind for b in batches for row in b.good}
    assert kinds == set(ItemKind)
    assert all(row.decision is not None and row.content_hash for b in batches for row in b.good)


decimals = st.none() | st.decimals(allow_nan=False, allow_infinity=False, places=4)


@given(
    confidence=decimals,
    entity_risk_score=decimals,
    tier=st.none() | st.sampled_from(list(RiskTier)),
    booked_on=st.none() | st.dates(max_value=date(2026, 11, 21)),
    text=st.none() | st.text(),
    extra=st.dictionaries(st.text(), st.text(), max_size=3),
    kind=st.sampled_from(list(ItemKind)),
)
def test_any_prepared_row_decodes_to_itself(
    confidence: Decimal | None,
    entity_risk_score: Decimal | None,
    tier: RiskTier | None,
    booked_on: date | None,
    text: str | None,
    extra: dict[str, str],
    kind: ItemKind,
) -> None:
    facts = make_facts(
        kind=kind,
        score=70 if kind is ItemKind.MATCH else None,
        confidence=confidence,
        entity_risk_score=entity_risk_score,
        risk_tier=tier,
        booked_on=booked_on,
        counterparty=text,
        description=text,
        extra=extra,
    )
    row = prepare(IntakeRow(line=7, facts=facts, raw=text or ""), LOADED)

    assert decode_row(pickle.loads(pickle.dumps(encode_row(row)))) == row


async def _started(job: Job) -> WorkerBatches:
    worker = await WorkerBatches.spawn()
    await worker.send(job)
    return worker


async def test_the_worker_gives_the_same_batches_and_file_hash(tmp_path: Path) -> None:
    job = _job(SAMPLE, batch_size=64)
    expected, sha256 = _local(job)

    worker = await _started(job)
    try:
        got = []
        while (batch := await worker.next_batch()) is not None:
            got.append(batch)
    finally:
        await worker.close()

    assert got == expected
    assert worker.sha256 == sha256


async def test_a_worker_spawned_ahead_waits_for_its_job_and_can_be_closed_unused(
    tmp_path: Path,
) -> None:
    # ingest spawns the worker before it opens the store: given the job later it
    # parses as if started with it, and when the store cannot open it is just closed.
    job = _job(SAMPLE, batch_size=64)
    expected, sha256 = _local(job)
    worker = await WorkerBatches.spawn()
    try:
        await asyncio.sleep(0.2)  # it is importing, then waiting on stdin
        assert worker._proc.returncode is None
        await worker.send(job)
        got = []
        while (batch := await worker.next_batch()) is not None:
            got.append(batch)
    finally:
        await worker.close()
    assert got == expected and worker.sha256 == sha256

    unused = await WorkerBatches.spawn()
    await unused.close()
    await unused.close()  # closing twice is harmless
    assert unused._proc.returncode is not None


async def test_a_missing_file_is_an_os_error_naming_it(tmp_path: Path) -> None:
    worker = await _started(_job(tmp_path / "gone.csv"))
    try:
        with pytest.raises(OSError, match=r"gone\.csv"):
            await worker.next_batch()
    finally:
        await worker.close()


async def test_a_worker_that_dies_is_reported_not_waited_for(tmp_path: Path) -> None:
    big = tmp_path / "big.csv"
    big.write_text(SAMPLE.read_text() + "".join(f"x{i},ACME-US,USD,1.00\n" for i in range(5000)))
    worker = await _started(dataclasses.replace(_job(big), batch_size=10))
    try:
        assert await worker.next_batch() is not None
        worker._proc.kill()
        with pytest.raises(ParserDied, match=r"parsing process stopped \(exit -9"):
            async with asyncio.timeout(30):
                while await worker.next_batch() is not None:
                    pass
    finally:
        await worker.close()


def test_bad_rows_keep_line_field_and_raw_text_through_the_trip() -> None:
    batch = Batch(good=[], bad=[(RowError(line=3, field="amount", error="bad"), "a,b")], position=9)

    assert decode_batch(pickle.loads(pickle.dumps(encode_batch(batch)))) == batch


async def test_a_chatty_worker_cannot_stall_on_its_stderr(tmp_path: Path) -> None:
    # 1 MB on stderr (a full pipe holds 64 KB) before the first frame.
    script = tmp_path / "chatty.py"
    script.write_text(
        "import sys\n"
        "sys.stderr.write('x' * 1_000_000 + '\\nlast words\\n'); sys.stderr.flush()\n"
        "sys.exit(3)\n"
    )
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        str(script),
        stdin=asyncio.subprocess.PIPE,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    async with asyncio.timeout(60):  # a regression here would hang, not fail
        worker = WorkerBatches(proc)
        try:
            with pytest.raises(ParserDied, match="exit 3: last words"):
                await worker.next_batch()
        finally:
            await worker.close()

"""Intake batches: the same rows parsed here or in the worker process, and its failures."""

from __future__ import annotations

import asyncio
import dataclasses
import io
import json
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
from bot.files import MAX_RAW, read_rows
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


def _problems(data: bytes, fmt: str) -> list[tuple[int, tuple[str, str] | None, str]]:
    return [(row.line, row.problem, row.raw) for row in read_rows(io.BytesIO(data), fmt)]


@pytest.mark.parametrize("fmt", ["csv", "jsonl"])
def test_a_line_that_is_not_utf8_is_a_row_with_a_problem_and_the_next_lines_are_read(
    fmt: str,
) -> None:
    # It raised UnicodeDecodeError ("position 5952" of a chunk, no line) and ended the file.
    if fmt == "csv":
        data = b"external_id,entity,currency,amount\nA,ACME,USD,1\nB,Caf\xe9,USD,2\nC,X,USD,3\n"
    else:
        data = b'{"external_id":"A"}\n{"external_id":"Caf\xe9"}\n{"external_id":"C"}\n'

    rows = _problems(data, fmt)

    assert [(line, problem is None) for line, problem, _ in rows] == [
        (2 if fmt == "csv" else 1, True),
        (3 if fmt == "csv" else 2, False),
        (4 if fmt == "csv" else 3, True),
    ]
    _, problem, raw = rows[1]
    assert problem is not None and problem[0] == "(line)"
    assert "not UTF-8" in problem[1] and "0xE9" in problem[1]
    assert "Caf\\xe9" in raw  # kept, the byte shown as an escape: the store holds text


def test_a_json_line_nested_too_deep_is_a_row_with_a_problem() -> None:
    data = b'{"external_id":"A"}\n' + b'{"a":' * 5000 + b"1" + b"}" * 5000 + b'\n{"b":"2"}\n'

    rows = _problems(data, "jsonl")

    assert [line for line, _, _ in rows] == [1, 2, 3]
    assert rows[1][1] == ("(line)", "is nested too deeply to read (a row is one flat JSON object)")


def test_a_json_key_given_twice_rejects_the_row_instead_of_keeping_the_last() -> None:
    data = (
        b'{"external_id":"A","amount":"1.00","amount":"999999.00"}\n'
        b'{"external_id":"B","amount":"1.00","note":{"x":1,"x":2}}\n'
        b'{"external_id":"C","amount":"1.00"}\n'
    )

    rows = _problems(data, "jsonl")

    assert rows[0][1] == (
        "amount",
        "the key 'amount' is given twice in one object; which value is meant is not clear",
    )
    assert rows[1][1] is not None and rows[1][1][0] == "x"
    assert rows[2][1] is None


def test_a_csv_field_past_the_limit_keeps_its_raw_text_cut_with_a_marker() -> None:
    # The quarantine held "{}" for it.
    huge = "y" * 200_000
    data = f"external_id,entity,currency,amount\nA,{huge},USD,1\nB,ACME,USD,2\n".encode()

    rows = _problems(data, "csv")

    assert [line for line, _, _ in rows] == [2, 3]
    _, problem, raw = rows[0]
    assert problem is not None and "field larger than field limit" in problem[1]
    assert raw.startswith("A,yyyy")
    assert raw.endswith(f"[cut: {len(huge) + 8:,} characters in all, {MAX_RAW:,} kept]")
    assert len(raw) < MAX_RAW + 100


@pytest.mark.parametrize("fmt", ["csv", "jsonl"])
def test_the_plain_text_fast_path_lets_no_control_or_bidi_character_through(
    tmp_path: Path, fmt: str
) -> None:
    # The reader vouches for ASCII lines with no control character (parse_row skips its
    # own look then): an ASCII control, an escape or a non-ASCII override must not pass.
    rows = [
        ("A-1", "Esc\x1b[2J Ltd"),
        ("A-0", "Del\x7fCorp"),  # JSON may hold a raw DEL
        ("A-2", "Evil\u202eCorp"),
        ("A-3\u202e", "x"),
        ("A-4\x00", "x"),
        ("A-5", "Plain Corp"),
    ]
    path = tmp_path / f"items.{fmt}"
    if fmt == "csv":
        body = "".join(f"{ext},ACME-US,USD,1.00,{cp}\n" for ext, cp in rows)
        path.write_text("external_id,entity,currency,amount,counterparty\n" + body)
    else:
        keys = ("external_id", "entity", "currency", "amount", "counterparty")
        path.write_text(
            "".join(
                # A DEL stays raw, as JSON allows (json.dumps escapes it).
                json.dumps(
                    dict(zip(keys, (ext, "ACME-US", "USD", "1.00", cp), strict=True))
                ).replace("\\u007f", "\x7f")
                + "\n"
                for ext, cp in rows
            )
        )
    job = dataclasses.replace(_job(path), fmt=fmt)

    [batch] = _local(job)[0]

    assert [row.facts.counterparty for row in batch.good] == [
        "Esc\ufffd[2J Ltd",
        "Del\ufffdCorp",
        "Evil\ufffdCorp",
        "Plain Corp",
    ]
    assert [(e.field, e.error[:14]) for e, _ in batch.bad] == [
        ("external_id", "holds U+202E ("),
        ("external_id", "holds U+0000 ("),
    ]

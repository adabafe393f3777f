"""Whatever bytes come in, a parser answers with a ParseResult, never an exception.

Mutations of the hand-written sample files (bytes replaced, deleted, inserted, lines
dropped or doubled) reach the corners a well-formed file never does: every one must end
as statements and problems, each problem one sentence with a place.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from domain.statements.parsed import ParseResult
from statements import bai2, mt940

DATA = Path(__file__).resolve().parents[1] / "data" / "statements"
SAMPLES = {
    "mt940": [
        (DATA / name).read_bytes()
        for name in ("mt940_month.sta", "mt940_blocks.sta", "mt940_bad_among_good.sta")
    ],
    "bai2": [
        (DATA / name).read_bytes()
        for name in ("bai2_two_days.bai", "bai2_bad_among_good.bai", "bai2_truncated.bai")
    ],
}
PARSERS = {"mt940": mt940, "bai2": bai2}
# bytes that matter to the formats, and some that should not be there at all
ALPHABET = b":/,-{}?+\r\n 0123456789CDRNTFEURJPYKWDX\x00\xff\xe4"


@st.composite
def mutated(draw: st.DrawFn, kind: str) -> bytes:
    data = bytearray(draw(st.sampled_from(SAMPLES[kind])))
    for _ in range(draw(st.integers(1, 8))):
        if not data:
            break
        at = draw(st.integers(0, len(data) - 1))
        action = draw(st.sampled_from(["replace", "delete", "insert", "cut", "line"]))
        byte = draw(st.sampled_from(list(ALPHABET)))
        if action == "replace":
            data[at] = byte
        elif action == "delete":
            del data[at]
        elif action == "insert":
            data.insert(at, byte)
        elif action == "cut":
            del data[at:]
        else:  # drop or double a whole line
            lines = bytes(data).split(b"\n")
            index = at % len(lines)
            if draw(st.booleans()):
                del lines[index]
            else:
                lines.insert(index, lines[index])
            data = bytearray(b"\n".join(lines))
    return bytes(data)


def _check(result: ParseResult) -> None:
    assert isinstance(result, ParseResult)
    for problem in result.problems:
        assert problem.where and problem.error
        assert "\n" not in problem.error
    for statement in result.statements:
        assert statement.period_start <= statement.period_end
        assert [line.number for line in statement.lines] == list(range(1, len(statement.lines) + 1))


@given(mutated("mt940"))
def test_mt940_answers_every_mutated_file(data: bytes) -> None:
    _check(mt940.parse(data))
    mt940.sniff(data)


@given(mutated("bai2"))
def test_bai2_answers_every_mutated_file(data: bytes) -> None:
    _check(bai2.parse(data))
    bai2.sniff(data)


@pytest.mark.parametrize("kind", sorted(PARSERS))
@given(data=st.binary(max_size=400))
def test_random_bytes_are_problems_not_exceptions(kind: str, data: bytes) -> None:
    _check(PARSERS[kind].parse(data))
    PARSERS[kind].sniff(data)

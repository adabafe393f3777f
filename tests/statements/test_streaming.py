"""Parsers as streams: statements handed out one at a time in file order, a file broken
late keeps what was read whole before, a truncated or hostile file is still refused whole."""

from __future__ import annotations

import gc
import hashlib
import io
import tracemalloc
from pathlib import Path

import pytest

import statements
from domain.statements.parsed import ParsedStatement, ParseProblem, StatementFormat
from domain.statements.records import Original
from statements import camt053, mt940, safexml
from tests.statements.conftest import read


def test_camt053_hands_out_the_first_statement_before_the_second_is_found_broken() -> None:
    data = read("camt053_v02_two_accounts.xml")
    # A byte that is not UTF-8 in the second statement, well after the first one ends
    # (lxml reads in chunks: an error in the chunk of </Stmt> would come first); the file
    # still ends closed.
    cut = data.index(b"</Stmt>") + len(b"</Stmt>")
    broken = data[:cut] + b"\n" + b" " * 200_000 + data[cut:]
    broken = broken.replace(b"Rent Tokyo office", b"Rent T\xffkyo office")
    items = camt053.stream(broken)
    first = next(items)
    assert isinstance(first, ParsedStatement) and first.statement_id == "STMT-EUR-0334"
    (problem,) = list(items)
    assert isinstance(problem, ParseProblem)
    assert problem.error.startswith("wrong encoding: the bytes at line ")
    result = camt053.parse(broken)  # parse collects the same stream
    assert [s.statement_id for s in result.statements] == ["STMT-EUR-0334"]
    assert result.problems == (problem,)


@pytest.mark.parametrize("cut", [b"274.50", b"</BkToCstmrStmt>"])
def test_camt053_truncated_is_refused_whole_before_anything_is_handed_out(cut: bytes) -> None:
    data = read("camt053_v02_two_accounts.xml")
    (only,) = list(camt053.stream(data[: data.index(cut)]))
    assert isinstance(only, ParseProblem)
    assert only.error.startswith("the file is truncated: the XML ends at line ")


def test_hostile_xml_is_refused_through_the_stream_too() -> None:
    (only,) = list(
        statements.stream(read("billion_laughs.xml"), format=StatementFormat.CAMT053).items
    )
    assert isinstance(only, ParseProblem)
    assert "document type" in only.error


def test_the_registry_stream_is_detected_lazily_and_collects_to_parse() -> None:
    data = read("camt053_v08_eur_usd.xml")
    stream = statements.stream(data)
    assert stream.format is StatementFormat.CAMT053
    assert stream.collect() == statements.parse(data)


def test_mt940_streams_its_messages_in_file_order() -> None:
    data = read("mt940_bad_among_good.sta")
    items = list(mt940.stream(data))
    result = mt940.parse(data)
    assert [i for i in items if isinstance(i, ParsedStatement)] == list(result.statements)
    assert [i for i in items if isinstance(i, ParseProblem)] == list(result.problems)
    assert any(isinstance(i, ParseProblem) for i in items[:-1])  # file order, not sorted


@pytest.mark.parametrize(
    ("text", "closed"),
    [
        (b"<Document><a/></Document>", True),
        (b"<?xml version='1.0'?>\n<Document xmlns='x'>\n<a/>\n</Document >\n\n", True),
        (b"<ns:Document xmlns:ns='x'><a/></ns:Document><!-- end -->\n<?pi x?>  ", True),
        (b"<Document><a/></Document", False),
        (b"<Document><a/>", False),
        (b"<Document><a/></a>", False),
        (b"<Document><a/></Document>trailing", False),
        (b"<Document/>", False),
        (b"<Document></Document><!-- open", False),
        (b"   ", False),
    ],
)
def test_ends_closed_looks_only_at_the_root_and_the_end(text: bytes, closed: bool) -> None:
    assert safexml.ends_closed(text) is closed


@pytest.mark.parametrize("end", [b"\r\n", b"\r"])
def test_mt940_reads_crlf_and_bare_cr_lines_as_lf(end: bytes) -> None:
    data = read("mt940_month.sta").replace(b"\r\n", b"\n")
    assert mt940.parse(data.replace(b"\n", end)) == mt940.parse(data)


# -- files on disk: read in slices, never whole ------------------------------------------


class _CountingFile(io.FileIO):
    """A file on disk that remembers the largest read asked of it."""

    largest = 0

    def read(self, size: int | None = -1, /) -> bytes:
        data = super().read(size)
        self.largest = max(self.largest, len(data or b""))
        return data or b""


def _big_camt(path: Path, entries: int) -> Path:
    """The two-account camt.053 file with its first entry repeated ``entries`` times."""
    data = read("camt053_v02_two_accounts.xml")
    start = data.index(b"<Ntry>")
    end = data.index(b"</Ntry>") + len(b"</Ntry>")
    with path.open("wb") as out:
        out.write(data[:end])
        for _ in range(entries):
            out.write(b"\n      " + data[start:end])
        out.write(data[end:])
    return path


def test_a_camt_file_on_disk_is_packed_and_parsed_in_slices_never_whole(tmp_path: Path) -> None:
    path = _big_camt(tmp_path / "big.xml", 12_000)
    size = path.stat().st_size
    assert size > 8 * (1 << 20)
    with _CountingFile(path) as file:
        original = Original.read(file)
        counted = [
            len(item.lines)
            for item in statements.stream(file).items
            if isinstance(item, ParsedStatement)
        ]
        assert file.largest <= 1 << 20  # slices, for a file of many MB
    assert original.size == size and original.unpack() == path.read_bytes()
    assert original.sha256 == hashlib.sha256(path.read_bytes()).hexdigest()
    whole = statements.parse(path.read_bytes())
    assert counted == [len(s.lines) for s in whole.statements]
    assert counted[0] > 12_000


def _many_statements(path: Path, statements: int) -> Path:
    """The two-account camt.053 file with its first statement repeated."""
    data = read("camt053_v02_two_accounts.xml")
    start = data.index(b"<Stmt>")
    end = data.index(b"</Stmt>") + len(b"</Stmt>")
    with path.open("wb") as out:
        out.write(data[:end])
        for _ in range(statements):
            out.write(b"\n    " + data[start:end])
        out.write(data[end:])
    return path


def _peaks(path: Path) -> tuple[int, int]:
    """The traced peak of packing the file, and of packing then reading it through."""
    gc.collect()
    tracemalloc.start()
    try:
        with path.open("rb") as file:
            Original.read(file)
            packed = tracemalloc.get_traced_memory()[1]
            for item in statements.stream(file).items:
                del item  # an importer lets each statement go
        return packed, tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


def test_reading_a_camt_file_on_disk_holds_far_less_than_the_file(tmp_path: Path) -> None:
    small = _many_statements(tmp_path / "small.xml", 1_000)
    big = _many_statements(tmp_path / "big.xml", 4_000)
    grown = big.stat().st_size - small.stat().st_size
    assert grown > 8 * (1 << 20)
    _peaks(small)  # warm lxml's and the parser's caches, whatever ran before this test
    small_packed, small_read = _peaks(small)
    big_packed, big_read = _peaks(big)
    # A reader holding the file would grow by the 9 MB more (and its parsed statements by
    # far more); one holding a statement and a slice at a time stays near where it was
    # (lxml's buffers and the code's own: up to about 3 MB seen after other tests ran).
    assert big_packed - small_packed < grown // 16, (small_packed, big_packed)
    assert big_read - small_read < grown // 2, (small_read, big_read)
    assert big_read < big.stat().st_size // 2


def test_hostile_xml_is_refused_on_the_file_path(tmp_path: Path) -> None:
    path = tmp_path / "laughs.xml"
    path.write_bytes(read("billion_laughs.xml"))
    with path.open("rb") as file:
        (only,) = list(statements.stream(file, format=StatementFormat.CAMT053).items)
    assert isinstance(only, ParseProblem) and "document type" in only.error


@pytest.mark.parametrize("cut", [b"274.50", b"</BkToCstmrStmt>"])
def test_a_truncated_big_file_on_disk_is_refused_whole(tmp_path: Path, cut: bytes) -> None:
    whole = _big_camt(tmp_path / "big.xml", 2_000).read_bytes()
    assert len(whole) > 2 * safexml.EDGE_BYTES  # the end is read apart from the start
    path = tmp_path / "cut.xml"
    path.write_bytes(whole[: whole.rindex(cut)])
    with path.open("rb") as file:
        assert not safexml.ends_closed(file)
        (only,) = list(statements.stream(file).items)
    assert isinstance(only, ParseProblem)
    assert only.error.startswith("the file is truncated: the XML ends at line ")


def test_a_big_file_on_disk_ending_closed_is_streamed(tmp_path: Path) -> None:
    path = _big_camt(tmp_path / "big.xml", 2_000)
    with path.open("ab") as out:
        out.write(b"\n<!-- sent by the bank -->\n")
    with path.open("rb") as file:
        assert safexml.ends_closed(file)
        assert file.tell() == 0

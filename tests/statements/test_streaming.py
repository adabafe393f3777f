"""Parsers as streams: statements handed out one at a time in file order, a file broken
late keeps what was read whole before, a truncated or hostile file is still refused whole."""

from __future__ import annotations

import pytest

import statements
from domain.statements.parsed import ParsedStatement, ParseProblem, StatementFormat
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

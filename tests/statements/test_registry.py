"""Format detection and the parser registry (``statements.detect`` / ``statements.parse``)."""

from __future__ import annotations

import pytest

import statements
from domain.statements.parsed import StatementFormat
from statements import camt053, ofx
from tests.statements.conftest import read

MT940_HEAD = (
    b":20:STARTUMSE\r\n:25:10020030/1234567\r\n:28C:00001/001\r\n:60F:C261130EUR1000,00\r\n"
)
BAI2_HEAD = b"01,122099999,123456789,261201,0200,1,,,2/\n02,031001234,122099999,1,261130,,USD,/\n"


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("camt053_v02_two_accounts.xml", StatementFormat.CAMT053),
        ("camt053_v05_kwd_broken_chain.xml", StatementFormat.CAMT053),
        ("camt053_v08_eur_usd.xml", StatementFormat.CAMT053),
        ("camt054_notification.xml", StatementFormat.CAMT053),
        ("ofx1_sgml_two_accounts.ofx", StatementFormat.OFX),
        ("ofx2_xml_eur.ofx", StatementFormat.OFX),
    ],
)
def test_detect_each_file(name: str, expected: StatementFormat) -> None:
    assert statements.detect(read(name)) is expected


def test_each_module_has_the_shape_and_a_format_of_its_own() -> None:
    formats = [module.FORMAT for module in statements.FORMATS]
    assert len(set(formats)) == len(formats)
    for module in statements.FORMATS:
        assert isinstance(module.FORMAT, StatementFormat)
        assert module.sniff(b"") is False
        assert callable(module.parse)


@pytest.mark.parametrize("head", [MT940_HEAD, BAI2_HEAD, b"%PDF-1.7\n", b"date,amount\n"])
def test_our_sniffs_do_not_claim_other_formats(head: bytes) -> None:
    assert camt053.sniff(head) is False
    assert ofx.sniff(head) is False


@pytest.mark.parametrize(
    ("data", "error"),
    [
        (b"%PDF-1.7\n%...", "not a bank statement: the start of the file matches none"),
        (b"  \n", "not a bank statement: the file is empty"),
        (b"<html><body>hi</body></html>", "not a bank statement: the start of the file"),
    ],
)
def test_unknown_content_raises_a_clear_problem(data: bytes, error: str) -> None:
    with pytest.raises(statements.NotAStatementError) as caught:
        statements.parse(data)
    assert caught.value.problem.where == "file"
    assert caught.value.problem.error.startswith(error)


def test_an_explicit_format_skips_detection() -> None:
    # camt bytes read as OFX: the OFX parser answers, with its own problem.
    result = statements.parse(read("camt053_v02_two_accounts.xml"), format=StatementFormat.OFX)
    assert result.format is StatementFormat.OFX
    assert result.statements == ()
    assert result.problems
    result = statements.parse(read("ofx2_xml_eur.ofx"), format=StatementFormat.CAMT053)
    (problem,) = result.problems
    assert problem.error.startswith("not a camt.053 statement")


def test_detection_reads_only_the_head() -> None:
    data = b"x" * statements.HEAD_BYTES + read("camt053_v02_two_accounts.xml")
    assert statements.detect(data) is None

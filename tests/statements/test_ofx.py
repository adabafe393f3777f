"""OFX 1 (SGML) and OFX 2 (XML): statements, a derived opening, and bad files."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest

import statements
from domain.statements.parsed import StatementFormat
from statements import ofx
from tests.statements.conftest import read


def test_ofx1_sgml_two_bank_accounts_and_a_card() -> None:
    result = statements.parse(read("ofx1_sgml_two_accounts.ofx"))
    assert result.format is StatementFormat.OFX
    assert result.problems == ()
    checking, savings, card = result.statements

    assert (checking.account, checking.currency, checking.bank) == (
        "000123456789",
        "USD",
        "021000021",
    )
    assert (checking.period_start, checking.period_end) == (date(2026, 11, 1), date(2026, 11, 30))
    assert [ln.amount for ln in checking.lines] == [
        Decimal("2500.00"),
        Decimal("-410.25"),
        Decimal("-12.00"),
    ]
    # No opening in OFX: closing minus the entries, and said so.
    assert checking.closing == Decimal("5077.75")
    assert checking.opening == Decimal("3000.00")
    assert checking.opening_derived is True
    deposit, check, fee = checking.lines
    assert deposit.counterparty == "Smith & Wesson Supply"  # &amp; unescaped
    assert deposit.description == "Invoice 7781"
    assert deposit.bank_reference == "202611030001"  # FITID
    assert deposit.booking_date == date(2026, 11, 3)  # DTPOSTED, with time and zone
    assert deposit.value_date == date(2026, 11, 2)  # DTUSER
    assert deposit.type_code == "CREDIT"
    assert check.reference == "1042"  # CHECKNUM
    assert check.description is None  # an empty <MEMO> swallows nothing
    assert check.counterparty == "City Water Dept"
    assert fee.reference == "FEE-NOV"  # REFNUM
    assert fee.where.startswith("STMTTRNRS[1]/STMTTRN[3] (line ")

    assert savings.account == "000987654321"
    assert (savings.opening, savings.closing) == (Decimal("12000.00"), Decimal("12003.17"))

    assert card.account == "4111111111111111"
    assert card.bank == "Lakeside Credit Union"  # the FI ORG when no BANKID
    assert (card.opening, card.closing) == (Decimal("-555.46"), Decimal("-120.45"))


def test_ofx2_xml_with_payee_comma_decimals_and_a_failed_response() -> None:
    result = statements.parse(read("ofx2_xml_eur.ofx"))
    (statement,) = result.statements
    assert (statement.account, statement.currency) == ("FR7630004000031234567890143", "EUR")
    assert [ln.amount for ln in statement.lines] == [Decimal("-1200.00"), Decimal("3450.50")]
    assert (statement.opening, statement.closing) == (Decimal("6000.00"), Decimal("8250.50"))
    rent, invoice = statement.lines
    assert rent.counterparty == "Bureaux & Cie"  # PAYEE/NAME
    assert invoice.counterparty == "Client Lumière SA"
    assert invoice.reference == "FAC-2026-311"
    (problem,) = result.problems
    assert (
        problem.error == "the bank reports the statement failed (STATUS 2000: Account unavailable)"
    )
    assert problem.where.startswith("STMTTRNRS[2] (line ")


def _sgml(body: str, header: str = "ENCODING:USASCII\r\nCHARSET:1252") -> bytes:
    return f"OFXHEADER:100\r\nDATA:OFXSGML\r\nVERSION:102\r\n{header}\r\n\r\n{body}".encode(
        "latin-1"
    )


def _one_statement(amount: str = "-5.00", currency: str = "USD", extra: str = "") -> str:
    return (
        "<OFX><BANKMSGSRSV1><STMTTRNRS><STATUS><CODE>0</STATUS><STMTRS>"
        f"<CURDEF>{currency}<BANKACCTFROM><ACCTID>42</BANKACCTFROM>"
        "<BANKTRANLIST><DTSTART>20261101<DTEND>20261130"
        f"<STMTTRN><TRNTYPE>DEBIT<DTPOSTED>20261102<TRNAMT>{amount}<FITID>F1{extra}</STMTTRN>"
        "</BANKTRANLIST><LEDGERBAL><BALAMT>95.00<DTASOF>20261130</LEDGERBAL>"
        "</STMTRS></STMTTRNRS></BANKMSGSRSV1></OFX>"
    )


def test_an_amount_with_too_many_decimals_is_a_problem() -> None:
    (problem,) = ofx.parse(_sgml(_one_statement(amount="-5.001"))).problems
    assert problem.error.startswith(
        "the amount (TRNAMT) -5.001 has more decimals than USD allows (2)"
    )
    assert problem.where.startswith("STMTTRNRS[1]/STMTTRN[1] (line ")


def test_a_jpy_statement_reads_whole_yen() -> None:
    data = _sgml(_one_statement(amount="-500", currency="JPY").replace("95.00", "9500"))
    (statement,) = ofx.parse(data).statements
    assert statement.lines[0].amount == Decimal("-500")
    assert statement.opening == Decimal("10000")


def test_a_foreign_currency_transaction_is_a_problem() -> None:
    extra = "<CURRENCY><CURRATE>1.1<CURSYM>EUR</CURRENCY>"
    (problem,) = ofx.parse(_sgml(_one_statement(extra=extra))).problems
    assert "another currency (CURRENCY)" in problem.error


def test_truncated_sgml_is_refused() -> None:
    data = _sgml(_one_statement())
    (problem,) = ofx.parse(data[: data.index(b"</BANKTRANLIST>")]).problems
    assert problem.error.startswith("the file is truncated: <")


def test_wrong_encoding_in_utf8_declared_sgml() -> None:
    data = _sgml(_one_statement(extra="<MEMO>Caf\u00e9"), header="ENCODING:UTF-8\r\nCHARSET:NONE")
    (problem,) = ofx.parse(data).problems
    assert problem.error.startswith("wrong encoding: the bytes at line ")


def test_cp1252_sgml_decodes_as_declared() -> None:
    (statement,) = ofx.parse(_sgml(_one_statement(extra="<MEMO>Caf\u00e9"))).statements
    assert statement.lines[0].description == "Café"


def test_a_stray_end_tag_is_a_problem() -> None:
    (problem,) = ofx.parse(_sgml(_one_statement().replace("</STMTRS>", "</STMTRS></FOO>"))).problems
    assert problem.error == "</FOO> closes an element that is not open"


@pytest.mark.parametrize(
    ("missing", "error"),
    [
        ("<CURDEF>USD", "the statement states no currency (CURDEF)"),
        ("<ACCTID>42", "the statement names no account (BANKACCTFROM/ACCTID)"),
        ("<BALAMT>95.00", "the closing balance is missing"),
    ],
)
def test_missing_essentials_are_problems(missing: str, error: str) -> None:
    (problem,) = ofx.parse(_sgml(_one_statement().replace(missing, ""))).problems
    assert problem.error == error


def test_ofx_without_statements_says_so() -> None:
    (problem,) = ofx.parse(_sgml("<OFX><SIGNONMSGSRSV1></SIGNONMSGSRSV1></OFX>")).problems
    assert problem.error == "the OFX file holds no statement (STMTRS or CCSTMTRS)"


def test_ofx2_with_a_byte_order_mark_reads_as_xml() -> None:
    data = b"\xef\xbb\xbf" + read("ofx2_xml_eur.ofx")
    assert statements.detect(data) is StatementFormat.OFX
    (statement,) = statements.parse(data).statements
    assert statement.closing == Decimal("8250.50")

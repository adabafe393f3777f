"""camt.053: what each version's statements say, and one clear problem per bad statement."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest

import statements
from domain.statements.parsed import ParsedStatement, ParseResult, StatementFormat
from statements import camt053
from tests.statements.conftest import read


def _parse(name: str) -> ParseResult:
    result = statements.parse(read(name))
    assert result.format is StatementFormat.CAMT053
    return result


def _chain_delta(statement: ParsedStatement) -> Decimal:
    assert statement.opening is not None and statement.closing is not None
    return statement.opening + sum(ln.amount for ln in statement.lines) - statement.closing


def test_v02_two_accounts_eur_by_iban_and_jpy_by_other_id() -> None:
    result = _parse("camt053_v02_two_accounts.xml")
    assert result.problems == ()
    eur, jpy = result.statements

    assert (eur.account, eur.currency, eur.statement_id, eur.sequence, eur.bank) == (
        "NL81ASNB9999999999",
        "EUR",
        "STMT-EUR-0334",
        "334",
        "ASNBNL21",
    )
    assert (eur.period_start, eur.period_end) == (date(2026, 11, 30), date(2026, 11, 30))
    assert (eur.opening, eur.closing) == (Decimal("10000.00"), Decimal("11225.50"))
    assert (eur.control_count, eur.control_total) == (2, Decimal("1225.50"))
    # The pending card payment (Sts PDNG) is not booked: two lines, not three.
    assert [ln.amount for ln in eur.lines] == [Decimal("1500.00"), Decimal("-274.50")]
    assert _chain_delta(eur) == 0
    credit, debit = eur.lines
    assert credit.number == 1 and debit.number == 2
    assert credit.end_to_end_id == "E2E-INV-2026-0456"
    assert credit.reference == "RF18539007547034"  # structured creditor reference first
    assert credit.counterparty == "Koffiebranderij De Boon B.V."  # the debtor of a credit
    assert credit.counterparty_account == "NL02ABNA0123456789"
    assert credit.description == "Invoice 2026-0456"
    assert credit.bank_reference == "ASNB-20261130-0001"
    assert credit.type_code == "PMNT/RCDT/ESCT"
    assert credit.where.startswith("Stmt[1]/Ntry[1] (line ")
    assert debit.end_to_end_id is None  # NOTPROVIDED means none
    assert debit.counterparty == "Energiebedrijf Noord"  # the creditor of a debit
    assert debit.counterparty_account == "4455667788"
    assert debit.value_date == date(2026, 11, 29)
    assert debit.description == "Direct debit November electricity"

    # JPY: no Acct/Ccy (the balances give it), 0 decimals, PRCD as the opening, FrToDt.
    assert (jpy.account, jpy.currency, jpy.sequence) == ("0012-3456789", "JPY", "112")
    assert (jpy.opening, jpy.closing) == (Decimal("2500000"), Decimal("2380000"))
    assert jpy.opening is not None and jpy.opening.as_tuple().exponent == 0
    assert (jpy.period_start, jpy.period_end) == (date(2026, 11, 30), date(2026, 11, 30))
    assert [ln.amount for ln in jpy.lines] == [Decimal("-120000")]


def test_v05_kwd_three_decimals_and_a_broken_chain_still_parses() -> None:
    result = _parse("camt053_v05_kwd_broken_chain.xml")
    assert result.problems == ()
    first, second = result.statements
    assert first.currency == second.currency == "KWD"
    assert first.bank == "CBKUKWKW"  # BICFI
    assert [ln.amount for ln in first.lines] == [Decimal("-300.000"), Decimal("49.625")]
    assert all(ln.amount.as_tuple().exponent == -3 for ln in first.lines)
    assert first.lines[0].booking_date == date(2026, 11, 25)  # from a DtTm
    assert (first.control_count, first.control_total) == (2, Decimal("-250.375"))
    assert _chain_delta(first) == 0
    # The second statement does not add up: checking that is the import's job.
    assert _chain_delta(second) == Decimal("-0.005")
    # No FrToDt: the period comes from the balance dates.
    assert (second.period_start, second.period_end) == (date(2026, 11, 26), date(2026, 11, 26))


def test_v08_eur_and_usd_with_the_newer_shapes() -> None:
    result = _parse("camt053_v08_eur_usd.xml")
    assert result.problems == ()
    eur, usd = result.statements
    assert eur.opening == Decimal("-250.00")  # a DBIT opening balance is negative
    assert eur.closing == Decimal("4750.00")
    assert eur.bank == "COBADEFFXXX"
    assert [ln.amount for ln in eur.lines] == [Decimal("5200.00"), Decimal("-200.00")]
    assert _chain_delta(eur) == 0
    order, batch = eur.lines
    assert order.counterparty == "Müller & Söhne GmbH"  # Dbtr/Pty/Nm, entity unescaped
    assert order.reference == "I-9"  # no structured reference: the instruction id
    assert order.type_code == "NTRF+166"  # proprietary bank transaction code
    assert batch.end_to_end_id is None  # a batch of two: no single reference
    assert batch.description == "Collective transfer / batch of 2 transactions"
    assert usd.account == "987654321" and usd.currency == "USD"
    # A reversal is booked with the direction CdtDbtInd gives.
    assert [ln.amount for ln in usd.lines] == [Decimal("1234.56")]
    assert usd.lines[0].booking_date == date(2026, 12, 1)  # local date of the DtTm


def test_a_bad_statement_is_one_problem_and_the_others_still_parse() -> None:
    result = _parse("camt053_v04_errors.xml")
    assert [s.statement_id for s in result.statements] == ["GOOD-1"]
    decimals, no_currency = result.problems
    assert decimals.statement == "JPY-DECIMALS"
    assert decimals.where.startswith("Stmt[2]/Ntry[2]/Amt (line ")
    assert "500.50 has more decimals than JPY allows (0)" in decimals.error
    assert no_currency.statement == "NO-CCY"
    assert no_currency.where.startswith("Stmt[3]/Bal[2]/Amt (line ")
    assert no_currency.error == "the CLBD balance has no currency (Amt/@Ccy)"


def _document(version: str, statement: str) -> bytes:
    return (
        '<?xml version="1.0" encoding="UTF-8"?>\n'
        f'<Document xmlns="urn:iso:std:iso:20022:tech:xsd:camt.053.{version}">'
        f"<BkToCstmrStmt><GrpHdr><MsgId>M</MsgId></GrpHdr>{statement}</BkToCstmrStmt>"
        "</Document>"
    ).encode()


def _statement_in_shape_of(version: str) -> str:
    """One statement in the element shapes of ``version`` (BIC/BICFI, Sts, parties)."""
    number = int(version[-2:])
    bic = "BIC" if number <= 3 else "BICFI"
    status = "<Sts>BOOK</Sts>" if number <= 7 else "<Sts><Cd>BOOK</Cd></Sts>"
    party = (
        "<Dbtr><Nm>Payer</Nm></Dbtr>" if number <= 7 else "<Dbtr><Pty><Nm>Payer</Nm></Pty></Dbtr>"
    )
    return (
        f"<Stmt><Id>S-{version}</Id><Acct><Id><IBAN>BE68539007547034</IBAN></Id><Ccy>EUR</Ccy>"
        f"<Svcr><FinInstnId><{bic}>GEBABEBB</{bic}></FinInstnId></Svcr></Acct>"
        "<Bal><Tp><CdOrPrtry><Cd>OPBD</Cd></CdOrPrtry></Tp><Amt Ccy='EUR'>1.00</Amt>"
        "<CdtDbtInd>CRDT</CdtDbtInd><Dt><Dt>2026-12-01</Dt></Dt></Bal>"
        "<Bal><Tp><CdOrPrtry><Cd>CLBD</Cd></CdOrPrtry></Tp><Amt Ccy='EUR'>3.50</Amt>"
        "<CdtDbtInd>CRDT</CdtDbtInd><Dt><Dt>2026-12-01</Dt></Dt></Bal>"
        f"<Ntry><Amt Ccy='EUR'>2.50</Amt><CdtDbtInd>CRDT</CdtDbtInd>{status}"
        "<BookgDt><Dt>2026-12-01</Dt></BookgDt><NtryDtls><TxDtls>"
        f"<RltdPties>{party}</RltdPties></TxDtls></NtryDtls></Ntry></Stmt>"
    )


@pytest.mark.parametrize("version", camt053.SUPPORTED_VERSIONS)
def test_every_claimed_version_reads(version: str) -> None:
    result = camt053.parse(_document(version, _statement_in_shape_of(version)))
    assert result.problems == ()
    (statement,) = result.statements
    assert statement.statement_id == f"S-{version}"
    assert statement.bank == "GEBABEBB"
    assert [(ln.amount, ln.counterparty) for ln in statement.lines] == [(Decimal("2.50"), "Payer")]


def test_camt053_versions_claimed_run_from_001_02_to_001_08() -> None:
    assert camt053.SUPPORTED_VERSIONS[0] == "001.02"
    assert camt053.SUPPORTED_VERSIONS[-1] == "001.08"


def test_an_unsupported_version_is_refused_with_the_range() -> None:
    result = camt053.parse(_document("001.01", _statement_in_shape_of("001.02")))
    assert result.statements == ()
    (problem,) = result.problems
    assert problem.error == ("camt.053.001.01 is not a version recon-bot reads (001.02 to 001.08)")


def test_camt054_is_refused_with_the_reason() -> None:
    data = read("camt054_notification.xml")
    assert statements.detect(data) is StatementFormat.CAMT053  # claimed, to say why
    result = statements.parse(data)
    assert result.statements == ()
    (problem,) = result.problems
    assert problem.error.startswith(
        "camt.054 (debit/credit notification) carries no booked opening and closing balance"
    )
    assert "import camt.053 statements" in problem.error


def test_camt052_is_refused_with_the_reason() -> None:
    data = (
        b'<Document xmlns="urn:iso:std:iso:20022:tech:xsd:camt.052.001.02">'
        b"<BkToCstmrAcctRpt><Rpt><Id>R</Id></Rpt></BkToCstmrAcctRpt></Document>"
    )
    (problem,) = statements.parse(data).problems
    assert problem.error.startswith("camt.052 (intraday account report) carries no booked")


def test_another_iso20022_message_is_not_a_statement() -> None:
    data = b'<Document xmlns="urn:iso:std:iso:20022:tech:xsd:pain.001.001.09"><x/></Document>'
    (problem,) = camt053.parse(data).problems
    assert problem.error.startswith("not a camt.053 statement: the document's namespace is")


@pytest.mark.parametrize("cut", ["middle of an entry", "after the first statement"])
def test_a_truncated_file_is_refused_whole(cut: str) -> None:
    data = read("camt053_v02_two_accounts.xml")
    at = data.index(b"274.50") if cut == "middle of an entry" else data.index(b"</Stmt>") + 7
    result = camt053.parse(data[:at])
    assert result.statements == ()  # nothing of a broken file is imported
    (problem,) = result.problems
    assert problem.error.startswith("the file is truncated: the XML ends at line ")
    assert problem.where.startswith("line ")


def test_wrong_encoding_says_where_and_which() -> None:
    result = statements.parse(read("camt053_wrong_encoding.xml"))
    assert result.statements == ()
    (problem,) = result.problems
    assert problem.where == "line 12"
    assert problem.error == (
        "wrong encoding: the bytes at line 12, column 26 are not valid UTF-8 "
        "(the encoding the file declares)"
    )


def test_utf16_is_refused_as_the_wrong_encoding() -> None:
    data = read("camt053_v02_two_accounts.xml").decode().replace("UTF-8", "UTF-16")
    (problem,) = camt053.parse(data.encode("utf-16")).problems
    assert problem.error.startswith("wrong encoding: the file is UTF-16 or UTF-32")


def test_a_statement_without_closing_balance_is_a_problem() -> None:
    statement = _statement_in_shape_of("001.02").replace(">CLBD<", ">CLAV<")
    result = camt053.parse(_document("001.02", statement))
    assert result.statements == ()
    (problem,) = result.problems
    assert problem.error == "the statement has no booked closing (CLBD) balance"
    assert problem.statement == "S-001.02"


def test_a_signed_amount_and_a_bad_indicator_are_problems() -> None:
    signed = _statement_in_shape_of("001.02").replace(">2.50<", ">-2.50<")
    (problem,) = camt053.parse(_document("001.02", signed)).problems
    assert problem.error == "the amount -2.50 is signed; camt gives the sign in CdtDbtInd"
    bad = _statement_in_shape_of("001.02").replace(
        "<Amt Ccy='EUR'>2.50</Amt><CdtDbtInd>CRDT", "<Amt Ccy='EUR'>2.50</Amt><CdtDbtInd>CREDIT"
    )
    (problem,) = camt053.parse(_document("001.02", bad)).problems
    assert problem.error == "the credit/debit indicator is 'CREDIT', expected CRDT or DBIT"
    assert "/Ntry[1]/CdtDbtInd" in problem.where


def test_an_entry_in_another_currency_than_the_statement_is_a_problem() -> None:
    other = _statement_in_shape_of("001.02").replace("<Amt Ccy='EUR'>2.50", "<Amt Ccy='USD'>2.50")
    (problem,) = camt053.parse(_document("001.02", other)).problems
    assert problem.error == "the entry is in USD but the statement is in EUR"


def test_an_unknown_currency_is_a_problem() -> None:
    other = _statement_in_shape_of("001.02").replace("<Amt Ccy='EUR'>2.50", "<Amt Ccy='EUX'>2.50")
    (problem,) = camt053.parse(_document("001.02", other)).problems
    assert "unknown currency 'EUX'" in problem.error


def test_a_file_without_statements_says_so() -> None:
    (problem,) = camt053.parse(_document("001.02", "")).problems
    assert problem.error == "the camt.053 file holds no statement (Stmt)"


def test_many_statements_each_keep_their_own_lines() -> None:
    body = "".join(
        _statement_in_shape_of("001.08").replace("<Id>S-001.08</Id>", f"<Id>S{i}</Id>")
        for i in range(25)
    )
    result = camt053.parse(_document("001.08", body))
    assert [s.statement_id for s in result.statements] == [f"S{i}" for i in range(25)]
    assert all(len(s.lines) == 1 and s.lines[0].number == 1 for s in result.statements)
    assert [s.where.split(" ")[0] for s in result.statements][-1] == "Stmt[25]"


def test_details_read_past_addresses_agents_and_several_remittance_lines() -> None:
    entry = (
        "<Ntry><Amt Ccy='EUR'>2.50</Amt><CdtDbtInd>CRDT</CdtDbtInd><Sts>BOOK</Sts>"
        "<BookgDt><Dt>2026-12-01</Dt></BookgDt><NtryDtls><TxDtls>"
        "<Refs><AcctSvcrRef>TX-REF</AcctSvcrRef><EndToEndId>E-1</EndToEndId></Refs>"
        "<AmtDtls><TxAmt><Amt Ccy='EUR'>2.50</Amt></TxAmt></AmtDtls>"
        "<RltdPties><Dbtr><Nm>Payer Ltd</Nm><PstlAdr><AdrLine>1 Main St</AdrLine></PstlAdr>"
        "</Dbtr><DbtrAcct><Id><Othr><Id>ACC-9</Id></Othr></Id></DbtrAcct></RltdPties>"
        "<RltdAgts><DbtrAgt><FinInstnId><Nm>Agent Bank</Nm></FinInstnId></DbtrAgt></RltdAgts>"
        "<RmtInf><Ustrd>Invoice 1</Ustrd><Ustrd>Invoice 2</Ustrd></RmtInf>"
        "<AddtlTxInf>Thanks</AddtlTxInf>"
        "</TxDtls></NtryDtls><AddtlNtryInf>Transfer</AddtlNtryInf></Ntry>"
    )
    statement = _statement_in_shape_of("001.02")
    start = statement.index("<Ntry>")
    statement = statement[:start] + entry + "</Stmt>"
    (parsed,) = camt053.parse(_document("001.02", statement)).statements
    (line,) = parsed.lines
    assert line.end_to_end_id == "E-1"
    assert line.counterparty == "Payer Ltd"
    assert line.counterparty_account == "ACC-9"
    assert line.description == "Transfer / Invoice 1 / Invoice 2 / Thanks"
    assert line.bank_reference is None  # only the entry's own AcctSvcrRef counts
    assert line.amount == Decimal("2.50")


def test_a_byte_order_mark_is_fine() -> None:
    data = b"\xef\xbb\xbf" + read("camt053_v08_eur_usd.xml")
    result = statements.parse(data)
    assert result.problems == ()
    assert [s.statement_id for s in result.statements] == ["DE-2026-12-01", "US-2026-12-01"]


@pytest.mark.parametrize(
    ("damage", "error"),
    [
        (("<Id>S-001.02</Id>", "<Id>&foo;</Id>"), "Entity 'foo' not defined"),
        (
            ("<Id>S-001.02</Id>", "<Id>S</Idx>"),
            "Opening and ending tag mismatch: Id line 2 and Idx",
        ),
    ],
)
def test_xml_that_is_not_well_formed_names_the_cause(damage: tuple[str, str], error: str) -> None:
    statement = _statement_in_shape_of("001.02").replace(*damage)
    result = camt053.parse(_document("001.02", statement))
    assert result.statements == ()
    (problem,) = result.problems
    assert problem.where == "line 2"
    assert problem.error.startswith("the file is not well-formed XML at line 2, column ")
    assert problem.error.endswith(error)

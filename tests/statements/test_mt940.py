"""The MT940 parser on files written for these tests (tests/data/statements/mt940_*)."""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from domain.statements.parsed import ParsedStatement, StatementFormat
from statements import mt940
from tests.statements.mt940_writer import Entry, Statement, write

DATA = Path(__file__).resolve().parents[1] / "data" / "statements"


def _read(name: str) -> bytes:
    return (DATA / name).read_bytes()


def _chain_delta(statement: ParsedStatement) -> Decimal:
    assert statement.opening is not None and statement.closing is not None
    return (
        statement.opening
        + sum((ln.amount for ln in statement.lines), Decimal(0))
        - (statement.closing)
    )


# --- a month of daily statements, several accounts and currencies -----------------------


def test_a_file_of_daily_statements_for_three_accounts_in_three_currencies() -> None:
    result = mt940.parse(_read("mt940_month.sta"))

    assert result.format is StatementFormat.MT940
    assert result.problems == ()
    assert [
        (s.statement_id, s.account, s.currency, s.sequence, len(s.lines)) for s in result.statements
    ] == [
        ("STMT231229", "BANKDEFFXXX/DE89370400440532013000", "EUR", "250/1", 2),
        ("STMT231231", "BANKDEFFXXX/DE89370400440532013000", "EUR", "251/1", 3),
        ("STMT240102", "BANKDEFFXXX/DE89370400440532013000", "EUR", "1/1", 2),
        ("JPY240102", "12345678/0987654321", "JPY", "5", 2),
        ("KWD240102", "KW81CBKU0000000000001234560101", "KWD", "12/1", 2),
    ]
    assert all(s.format is StatementFormat.MT940 for s in result.statements)
    # the file's balances chain: a sign or scale slip anywhere would show here
    assert [_chain_delta(s) for s in result.statements] == [0, 0, 0, 0, 0]
    assert [s.where for s in result.statements] == [
        "statement 1 (line 1)",
        "statement 2 (line 14)",
        "statement 3 (line 27)",
        "statement 4 (line 36)",
        "statement 5 (line 45)",
    ]


def test_period_runs_from_the_opening_to_the_closing_balance_date() -> None:
    statements = mt940.parse(_read("mt940_month.sta")).statements

    assert [(s.period_start, s.period_end) for s in statements] == [
        (date(2023, 12, 28), date(2023, 12, 29)),
        (date(2023, 12, 29), date(2024, 1, 2)),
        (date(2024, 1, 2), date(2024, 1, 2)),
        (date(2024, 1, 1), date(2024, 1, 2)),
        (date(2024, 1, 1), date(2024, 1, 2)),
    ]


def test_balances_are_signed_exact_decimals_at_the_currency_scale() -> None:
    eur, _, _, jpy, kwd = mt940.parse(_read("mt940_month.sta")).statements

    assert (eur.opening, eur.closing) == (Decimal("12500.00"), Decimal("13749.25"))
    assert (jpy.opening, jpy.closing) == (Decimal(-150000), Decimal(825000))
    assert (kwd.opening, kwd.closing) == (Decimal("1000.500"), Decimal("1020.625"))
    # the scale is the currency's, whatever the file wrote ("20,25" KWD is 20.250)
    assert [ln.amount.as_tuple().exponent for ln in kwd.lines] == [-3, -3]
    assert [ln.amount.as_tuple().exponent for ln in jpy.lines] == [0, 0]
    assert [ln.amount for ln in kwd.lines] == [Decimal("-0.125"), Decimal("20.250")]
    assert (eur.credits, eur.debits) == (Decimal("1500.00"), Decimal("250.75"))


def test_a_bank_code_prefixed_account_is_kept_as_stated_and_names_the_bank() -> None:
    statements = mt940.parse(_read("mt940_month.sta")).statements

    assert [(s.account, s.bank) for s in statements] == [
        ("BANKDEFFXXX/DE89370400440532013000", "BANKDEFFXXX"),
        ("BANKDEFFXXX/DE89370400440532013000", "BANKDEFFXXX"),
        ("BANKDEFFXXX/DE89370400440532013000", "BANKDEFFXXX"),
        ("12345678/0987654321", "12345678"),
        ("KW81CBKU0000000000001234560101", None),
    ]


def test_structured_86_gives_counterparty_iban_end_to_end_id_and_remittance() -> None:
    first = mt940.parse(_read("mt940_month.sta")).statements[0].lines[0]

    assert first.amount == Decimal("1500.00")
    assert first.reference == "INV-2023-118"
    assert first.bank_reference == "BK0001"
    assert first.type_code == "166"  # the GVC of the :86:, not the :61: type
    # ?32/?33 and ?31 continue over line breaks mid-word: joined without a space
    assert first.counterparty == "Muster Handelsgesellschaft mbH"
    assert first.counterparty_account == "DE44500105175407324931"
    assert first.end_to_end_id == "E2E-118"
    assert first.description == "Invoice 2023-118 thank you"
    assert first.where == "line 5"


def test_structured_86_without_an_end_to_end_id_says_none() -> None:
    rent = mt940.parse(_read("mt940_month.sta")).statements[1].lines[0]

    assert rent.end_to_end_id is None  # EREF+NOTPROVIDED
    assert rent.counterparty == "Landlord AG"
    assert rent.counterparty_account == "DE02120300000000202051"
    assert rent.description == "Rent January"
    assert rent.type_code == "177"


def test_free_text_86_and_supplementary_details_become_the_description() -> None:
    statements = mt940.parse(_read("mt940_month.sta")).statements
    card = statements[0].lines[1]
    refund = statements[1].lines[2]

    assert card.description == "Card payment OFFICE SUPPLIES berlin store 12"
    assert card.reference is None  # NONREF
    assert card.type_code == "NMSC"
    assert card.counterparty is None
    assert refund.description == "REFUND OF CHARGE"  # the :61: second line, no :86:


def test_reversals_rc_is_money_out_and_rd_money_in() -> None:
    lines = mt940.parse(_read("mt940_month.sta")).statements[1].lines

    assert [(ln.bank_reference, ln.amount) for ln in lines] == [
        ("BK0003", Decimal("-1000.00")),
        ("BK0004", Decimal("-200.00")),  # RC: the credit of 29 December reversed
        ("BK0005", Decimal("50.00")),  # RD: a charge given back
    ]


def test_a_funds_code_after_the_mark_is_not_part_of_the_amount() -> None:
    body = (
        HEAD
        + ":60F:C240102EUR100,00\n"
        + ":61:2401020102DR12,50NCHGNONREF\n"  # D, funds code R
        + ":61:240102RCE7,50NTRFNONREF\n"  # RC, funds code E
        + ":61:240102CR1,00NTRFNONREF\n"  # C, funds code R
        + ":62F:C240102EUR81,00\n"
    )
    (statement,) = mt940.parse(body.encode()).statements
    assert [ln.amount for ln in statement.lines] == [
        Decimal("-12.50"),
        Decimal("-7.50"),
        Decimal("1.00"),
    ]


def test_entry_dates_take_their_year_across_new_year() -> None:
    statements = mt940.parse(_read("mt940_month.sta")).statements
    valued_31_dec = statements[1].lines[0]
    valued_2_jan = statements[2].lines[0]
    no_entry_date = statements[2].lines[1]

    assert valued_31_dec.value_date == date(2023, 12, 31)
    assert valued_31_dec.booking_date == date(2024, 1, 2)  # "0102" is next year
    assert valued_2_jan.value_date == date(2024, 1, 2)
    assert valued_2_jan.booking_date == date(2023, 12, 31)  # "1231" is the year before
    assert no_entry_date.booking_date is None


def test_lines_are_numbered_from_one_in_each_statement() -> None:
    statements = mt940.parse(_read("mt940_month.sta")).statements

    assert [[ln.number for ln in s.lines] for s in statements] == [
        [1, 2],
        [1, 2, 3],
        [1, 2],
        [1, 2],
        [1, 2],
    ]


# --- the SWIFT block wrapper, CRLF ------------------------------------------------------


def test_statements_in_swift_blocks_with_crlf() -> None:
    data = _read("mt940_blocks.sta")
    assert b"\r\n" in data
    result = mt940.parse(data)

    assert result.problems == ()
    first, second = result.statements
    assert (first.statement_id, first.sequence, first.opening, first.closing) == (
        "BLK1",
        "7/1",
        Decimal("0.00"),
        Decimal("100.00"),
    )
    # intermediate balances (:60M:/:62M:) read like final ones
    assert (second.statement_id, second.opening, second.closing) == (
        "BLK2",
        Decimal("100.00"),
        Decimal("70.00"),
    )
    # the sender's BIC from the {2:O940...} header; the :25: has no prefix
    assert first.bank == second.bank == "COBADEFF"
    # the SWIFT keyworded :86:
    assert (first.lines[0].end_to_end_id, first.lines[0].description) == (
        "X1",
        "payment for order 42",
    )
    assert second.lines[0].bank_reference == "BK77"
    assert second.lines[0].where == "line 15"
    assert not any("\r" in (ln.description or "") for ln in first.lines)


def test_a_block_header_may_carry_the_first_field_on_its_line() -> None:
    data = _read("mt940_blocks.sta").replace(b"{4:\r\n:20:", b"{4::20:")
    assert data.count(b"{4::20:") == 2

    def read(raw: bytes) -> list[tuple[object, ...]]:
        result = mt940.parse(raw)
        assert result.problems == ()
        return [
            (s.statement_id, s.bank, s.opening, s.closing, [ln.amount for ln in s.lines])
            for s in result.statements
        ]

    assert read(data) == read(_read("mt940_blocks.sta"))
    assert [s.where for s in mt940.parse(data).statements] == [
        "statement 1 (line 1)",
        "statement 2 (line 9)",
    ]


def test_the_same_statements_read_alike_bare_or_wrapped_lf_or_crlf() -> None:
    bare = mt940.parse(_read("mt940_month.sta"))
    text = _read("mt940_month.sta").decode()
    # wrap every statement in blocks and switch to CRLF
    wrapped_text = text.replace(
        "-\n:20:", "-}\r\n{1:F01BANKBEBBAXXX0000000000}{2:I940COBADEFFXXXXN}{4:\r\n:20:"
    )
    wrapped_text = "{1:F01BANKBEBBAXXX0000000000}{2:I940COBADEFFXXXXN}{4:\n" + wrapped_text
    wrapped = mt940.parse(wrapped_text.replace("\n", "\r\n").encode())

    def essence(s: ParsedStatement) -> tuple[object, ...]:
        return (s.statement_id, s.account, s.opening, s.closing, s.period_end, s.bank)

    def lines(s: ParsedStatement) -> list[tuple[object, ...]]:
        return [
            (ln.amount, ln.value_date, ln.booking_date, ln.description, ln.counterparty)
            for ln in s.lines
        ]

    assert wrapped.problems == ()
    assert [essence(s) for s in wrapped.statements] == [essence(s) for s in bare.statements]
    assert [lines(s) for s in wrapped.statements] == [lines(s) for s in bare.statements]


# --- bad statements among good ones -----------------------------------------------------


def test_a_bad_statement_is_a_problem_and_the_good_ones_still_parse() -> None:
    result = mt940.parse(_read("mt940_bad_among_good.sta"))

    assert [s.statement_id for s in result.statements] == ["GOOD1", "GOOD2"]
    assert [(p.statement, p.where, p.error) for p in result.problems] == [
        (
            "BADMARK",
            "statement 2, line 12, field :61:",
            "the debit/credit mark 'EC' is not C, D, RC or RD",
        ),
        (
            "EURDECIMALS",
            "statement 4, line 26, field :61:",
            "the amount 10,005 has more decimals than EUR allows (2)",
        ),
        (
            "JPYDECIMALS",
            "statement 5, line 32, field :60F:",
            "the amount 100,5 has more decimals than JPY allows (0)",
        ),
        (
            "KWDDECIMALS",
            "statement 6, line 38, field :60F:",
            "the amount 1,2345 has more decimals than KWD allows (3)",
        ),
        (
            "NOCURRENCY",
            "statement 7, line 44, field :60F:",
            "the balance has no currency (expected a D/C mark, a YYMMDD date, "
            "a 3-letter currency and an amount)",
        ),
        ("BADCURRENCY", "statement 8, line 50, field :60F:", "unknown currency 'XYZ'"),
        (
            "TRUNCATED",
            "statement 9, line 57",
            "the statement has no closing balance (:62F: or :62M:); the file may be truncated",
        ),
    ]


def _one(body: str) -> tuple[str, str]:
    """The (where, error) of the one problem of a one-statement file."""
    result = mt940.parse(body.encode())
    assert result.statements == ()
    (problem,) = result.problems
    return problem.where, problem.error


HEAD = ":20:S1\n:25:NL91ABNA0417164300\n:28C:1/1\n"


@pytest.mark.parametrize(
    ("body", "where", "error"),
    [
        (
            HEAD + ":60F:C240102EUR1,00\n:61:240102C1,001NTRFNONREF\n:62F:C240102EUR2,00\n",
            "statement 1, line 5, field :61:",
            "the amount 1,001 has more decimals than EUR allows (2)",
        ),
        (
            HEAD + ":60F:C240102EUR1,00\n:61:240102C1,0,0NTRF\n:62F:C240102EUR2,00\n",
            "statement 1, line 5, field :61:",
            "the amount 1,0,0 has more than one decimal comma",
        ),
        (
            HEAD + ":60F:C240102EUR1,00\n:61:241302C1,00NTRF\n:62F:C240102EUR2,00\n",
            "statement 1, line 5, field :61:",
            "241302 is not a valid YYMMDD date",
        ),
        (
            HEAD + ":60F:C240102EUR1,00\n:61:2401021332C1,00NTRF\n:62F:C240102EUR2,00\n",
            "statement 1, line 5, field :61:",
            "the entry date 1332 is not a valid MMDD date",
        ),
        (
            HEAD + ":60F:C240102EUR1,00\n:61:C1,00NTRF\n:62F:C240102EUR2,00\n",
            "statement 1, line 5, field :61:",
            "the statement line does not start with a YYMMDD value date",
        ),
        (
            HEAD + ":60F:C240102EUR1,00\n:61:240102CNTRF\n:62F:C240102EUR2,00\n",
            "statement 1, line 5, field :61:",
            "the statement line has no amount after its debit/credit mark",
        ),
        (
            HEAD + ":60F:C240102EUR1,00\n:61:240102C1,00\n:62F:C240102EUR2,00\n",
            "statement 1, line 5, field :61:",
            "the statement line has no transaction type (a letter and three characters, "
            "such as NTRF) after its amount",
        ),
        (
            HEAD + ":60F:C240102EUR1,00\n:61:240102CR1,00//BK1\n:62F:C240102EUR2,00\n",
            "statement 1, line 5, field :61:",
            "the statement line has no transaction type (a letter and three characters, "
            "such as NTRF) after its amount",
        ),
        (
            HEAD + ":61:240102C1,00NTRF\n:60F:C240102EUR1,00\n:62F:C240102EUR2,00\n",
            "statement 1, line 4, field :61:",
            "a statement line comes before the opening balance",
        ),
        (
            HEAD + ":60F:C240102EUR1,00\n:62F:C240102EUR1,00\n:61:240102C1,00NTRF\n",
            "statement 1, line 6, field :61:",
            "a statement line comes after the closing balance",
        ),
        (
            HEAD + ":60F:C240102EUR1,00\n:60F:C240102EUR1,00\n:62F:C240102EUR1,00\n",
            "statement 1, line 5, field :60F:",
            "the statement has a second opening balance",
        ),
        (
            HEAD + ":60F:X240102EUR1,00\n:62F:C240102EUR1,00\n",
            "statement 1, line 4, field :60F:",
            "the balance's debit/credit mark 'X' is not D or C",
        ),
        (
            HEAD + ":60F:C2401EUR1,00\n:62F:C240102EUR1,00\n",
            "statement 1, line 4, field :60F:",
            "the balance has no YYMMDD date (expected a D/C mark, a YYMMDD date, "
            "a 3-letter currency and an amount)",
        ),
        (
            HEAD + ":60F:C240102EUR1.00\n:62F:C240102EUR1,00\n",
            "statement 1, line 4, field :60F:",
            "the balance amount '1.00' is not a number with a decimal comma",
        ),
        (
            HEAD + ":60F:C240102EUR1,00\n:62F:C240102USD1,00\n",
            "statement 1, line 5",
            "the closing balance is in USD but the opening balance in EUR",
        ),
        (
            HEAD + ":60F:C240102EUR1,00\n:62F:C240101EUR1,00\n",
            "statement 1, line 5",
            "the closing balance date 2024-01-01 is before the opening balance date 2024-01-02",
        ),
        (
            ":20:S1\n:28C:1/1\n:60F:C240102EUR1,00\n:62F:C240102EUR1,00\n",
            "statement 1, line 1",
            "the statement has no account identification (:25:)",
        ),
        (
            HEAD + ":62F:C240102EUR1,00\n",
            "statement 1, line 1",
            "the statement has no opening balance (:60F: or :60M:)",
        ),
        (
            HEAD + ":34F:EURD0,\n:13D:2401021200+0100\n:61:240102C1,00NTRFNONREF\n:90C:1EUR1,00\n",
            "statement 1, line 1",
            "this is an MT942 interim report, not a statement: it has no booked balances",
        ),
        (
            HEAD + ":60F:C240102EUR99999999999999999999,00\n:62F:C240102EUR1,00\n",
            "statement 1, line 4, field :60F:",
            "the amount 99999999999999999999,00 EUR is too large",
        ),
    ],
)
def test_each_fault_is_one_sentence_with_statement_line_and_field(
    body: str, where: str, error: str
) -> None:
    assert _one(body) == (where, error)


def test_a_file_without_any_statement_is_one_problem_for_the_file() -> None:
    for data in (b"", b"\r\n\r\n", b"hello\nworld\n", _read("foreign_camt053.xml")):
        result = mt940.parse(data)
        assert result.statements == ()
        assert [(p.where, p.error) for p in result.problems] == [
            ("file", "no MT940 statement found: the file has no :20: field to start one")
        ]


def test_latin1_text_is_read_and_utf8_too() -> None:
    body = HEAD + ":60F:C240102EUR1,00\n:61:240102C1,00NTRFNONREF\n:86:{}\n:62F:C240102EUR2,00\n"
    for encoding in ("latin-1", "utf-8"):
        (statement,) = mt940.parse(body.format("Zahlung Müller").encode(encoding)).statements
        assert statement.lines[0].description == "Zahlung Müller"


@pytest.mark.parametrize(
    ("info", "expected"),
    [
        (
            # Dutch style: CNTP is account/BIC/name/city, REMI starts with USTD//
            [
                "/EREF/E2E-771//CNTP/NL32INGB0000012345/INGBNL2A/Acme Wholesale B.V./Amste",
                "rdam///REMI/USTD//Invoice 2024-17 and 2024-18/",
            ],
            ("E2E-771", "Acme Wholesale B.V.", "NL32INGB0000012345", "Invoice 2024-17 and 2024-18"),
        ),
        (
            # ABN style: IBAN, BIC, NAME keywords; EREF NOTPROVIDED
            [
                "/TRTP/SEPA OVERBOEKING/IBAN/NL46ABNA0499998748/BIC/ABNANL2A/NAME/J. Jansen/RE",
                "MI/Huur januari/EREF/NOTPROVIDED",
            ],
            (None, "J. Jansen", "NL46ABNA0499998748", "Huur januari"),
        ),
        (
            # one slash-word only: free text, kept as written
            ["/ordered by phone, see letter 12"],
            (None, None, None, "/ordered by phone, see letter 12"),
        ),
        (
            # keywords but no REMI: the whole text is the description
            ["/TRTP/CASH WITHDRAWAL/CSID/ATM 42"],
            (None, None, None, "/TRTP/CASH WITHDRAWAL/CSID/ATM 42"),
        ),
    ],
)
def test_swift_keyworded_86(info: list[str], expected: tuple[object, ...]) -> None:
    body = (
        HEAD
        + ":60F:C240102EUR1,00\n:61:240102C1,00NTRFNONREF\n"
        + ":86:"
        + "\n".join(info)
        + "\n:62F:C240102EUR2,00\n"
    )
    (statement,) = mt940.parse(body.encode()).statements
    (line,) = statement.lines
    assert (line.end_to_end_id, line.counterparty, line.counterparty_account, line.description) == (
        expected
    )


def test_an_86_before_any_line_or_after_the_closing_is_about_the_statement() -> None:
    body = (
        HEAD
        + ":60F:C240102EUR1,00\n:86:statement note\n:61:240102C1,00NTRFNONREF\n"
        + ":62F:C240102EUR2,00\n:86:closing note\n"
    )
    (statement,) = mt940.parse(body.encode()).statements
    (line,) = statement.lines
    assert line.description is None


def test_statements_without_separators_start_at_each_20() -> None:
    one = HEAD + ":60F:C240102EUR1,00\n:62F:C240102EUR1,00\n"
    result = mt940.parse((one + one.replace("S1", "S2")).encode())
    assert [s.statement_id for s in result.statements] == ["S1", "S2"]


# --- sniff ------------------------------------------------------------------------------


@pytest.mark.parametrize("name", ["mt940_month.sta", "mt940_blocks.sta"])
def test_sniff_knows_mt940_bare_and_wrapped(name: str) -> None:
    assert mt940.sniff(_read(name)[:512])


def test_sniff_knows_mt940_with_a_byte_order_mark() -> None:
    assert mt940.sniff(b"\xef\xbb\xbf" + _read("mt940_month.sta"))


@pytest.mark.parametrize("name", ["foreign_camt053.xml", "foreign_ofx.ofx"])
def test_sniff_refuses_camt_and_ofx(name: str) -> None:
    assert not mt940.sniff(_read(name))


def test_sniff_refuses_text_that_merely_mentions_a_tag() -> None:
    assert not mt940.sniff(b"notes\n:20: is the reference field\nno account follows\n\n\n\n")


# --- round trip ------------------------------------------------------------------------

CURRENCIES = st.sampled_from(["EUR", "JPY", "KWD", "USD"])
SCALE = {"EUR": 2, "JPY": 0, "KWD": 3, "USD": 2}


@st.composite
def statements(draw: st.DrawFn) -> list[Statement]:
    out = []
    for index in range(draw(st.integers(1, 4))):
        currency = draw(CURRENCIES)
        scale = SCALE[currency]
        start = draw(st.dates(date(2001, 1, 1), date(2070, 12, 1)))
        end = start + timedelta(days=draw(st.integers(0, 40)))

        def money(low: int, high: int, scale: int = scale) -> Decimal:
            return Decimal(draw(st.integers(low, high))).scaleb(-scale)

        entries = []
        for _ in range(draw(st.integers(0, 5))):
            value = start + timedelta(days=draw(st.integers(0, (end - start).days)))
            booked = draw(st.none() | st.integers(-5, 5))
            value_amount = money(-(10**9), 10**9)
            entries.append(
                Entry(
                    amount=value_amount if value_amount != 0 else Decimal(1),
                    value_date=value,
                    booking_date=None if booked is None else value + timedelta(days=booked),
                    reversal=draw(st.booleans()),
                    reference=draw(st.none() | st.from_regex(r"[A-Z0-9-]{1,16}", fullmatch=True)),
                    bank_reference=draw(
                        st.none() | st.from_regex(r"[A-Z0-9]{1,16}", fullmatch=True)
                    ),
                    info=draw(
                        st.lists(
                            st.from_regex(
                                r"[A-Za-z]([A-Za-z0-9 .]{0,40}[A-Za-z0-9.])?", fullmatch=True
                            ),
                            max_size=3,
                        )
                    ),
                )
            )
        out.append(
            Statement(
                reference=f"R{index}",
                account=draw(st.sampled_from(["DE89370400440532013000", "12345678/1234567"])),
                sequence=f"{index + 1}/1",
                currency=currency,
                opening_date=start,
                opening=money(-(10**12), 10**12),
                closing_date=end,
                entries=entries,
            )
        )
    return out


@given(
    statements(),
    st.booleans(),
    st.sampled_from(["\n", "\r\n"]),
)
def test_what_is_written_reads_back(written: list[Statement], blocks: bool, newline: str) -> None:
    result = mt940.parse(write(written, blocks=blocks, newline=newline))

    assert result.problems == ()
    assert len(result.statements) == len(written)
    for parsed, source in zip(result.statements, written, strict=True):
        assert (parsed.statement_id, parsed.account, parsed.currency, parsed.sequence) == (
            source.reference,
            source.account,
            source.currency,
            source.sequence,
        )
        assert (parsed.opening, parsed.closing) == (source.opening, source.closing)
        assert (parsed.period_start, parsed.period_end) == (
            source.opening_date,
            source.closing_date,
        )
        assert [
            (ln.amount, ln.value_date, ln.booking_date, ln.reference, ln.bank_reference)
            for ln in parsed.lines
        ] == [
            (e.amount, e.value_date, e.booking_date, e.reference, e.bank_reference)
            for e in source.entries
        ]
        assert [ln.description for ln in parsed.lines] == [
            " ".join(e.info) if e.info else None for e in source.entries
        ]

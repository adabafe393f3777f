"""The BAI2 parser on files written for these tests (tests/data/statements/bai2_*)."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from domain.statements.parsed import ParsedStatement, StatementFormat
from statements import bai2
from tests.statements.bai2_writer import Account, Detail, Group, write

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


# --- two groups (days), several accounts, continuations -------------------------------


def test_one_statement_per_account_per_group() -> None:
    result = bai2.parse(_read("bai2_two_days.bai"))

    assert result.format is StatementFormat.BAI2
    assert result.problems == ()
    assert [
        (s.account, s.currency, s.period_start, s.period_end, len(s.lines))
        for s in result.statements
    ] == [
        ("1234567890", "USD", date(2024, 1, 2), date(2024, 1, 2), 3),
        ("9876543210", "CAD", date(2024, 1, 2), date(2024, 1, 2), 1),
        # no currency on the 03: the group's
        ("1234567890", "USD", date(2024, 1, 3), date(2024, 1, 3), 1),
        ("5555555555", "JPY", date(2024, 1, 3), date(2024, 1, 3), 1),
    ]
    assert all(s.format is StatementFormat.BAI2 for s in result.statements)
    assert {(s.statement_id, s.sequence, s.bank) for s in result.statements} == {
        ("1", None, "121000248")
    }
    assert [s.where for s in result.statements] == [
        "group 1, account 1 (line 3)",
        "group 1, account 2 (line 10)",
        "group 2, account 1 (line 15)",
        "group 2, account 2 (line 18)",
    ]


def test_ledger_balances_have_the_currency_implied_decimals_and_their_sign() -> None:
    statements = bai2.parse(_read("bai2_two_days.bai")).statements

    assert [(s.opening, s.closing) for s in statements] == [
        (Decimal("10000.00"), Decimal("11500.00")),
        (Decimal("5000.00"), Decimal("4500.00")),
        (Decimal("11500.00"), Decimal("11000.00")),
        (Decimal(100000), Decimal(-5000)),  # JPY has no decimals; "-5000" is overdrawn
    ]
    assert [_chain_delta(s) for s in statements] == [0, 0, 0, 0]


def test_detail_codes_100_to_399_are_credits_and_400_to_699_debits() -> None:
    first = bai2.parse(_read("bai2_two_days.bai")).statements[0]

    assert [(ln.type_code, ln.amount) for ln in first.lines] == [
        ("165", Decimal("2000.00")),
        ("175", Decimal("1000.00")),
        ("475", Decimal("-1500.00")),
    ]
    assert (first.credits, first.debits) == (Decimal("3000.00"), Decimal("1500.00"))


def test_detail_fields_after_each_funds_type() -> None:
    usd, cad, _, jpy = bai2.parse(_read("bai2_two_days.bai")).statements
    immediate, value_dated, distributed = usd.lines

    assert (immediate.bank_reference, immediate.reference, immediate.description) == (
        "BR0001",
        "CUST-1",
        "ACH CREDIT FROM CUSTOMER ONE",
    )
    # funds type V: a value date (and time) come before the references
    assert value_dated.value_date == date(2024, 1, 3)
    assert value_dated.booking_date == date(2024, 1, 2)
    assert (value_dated.bank_reference, value_dated.reference) == ("BR0002", "CUST-2")
    # the text runs on into the 88 record
    assert value_dated.description == "LOCKBOX DEPOSIT CONTINUED TEXT FOR LOCKBOX"
    # funds type S: three availability amounts come before the references
    assert (distributed.bank_reference, distributed.reference) == ("BR0003", "CHK-1001")
    assert distributed.description == "CHECK PAID"
    # the text may hold commas; an empty customer reference is None
    (wire,) = cad.lines
    assert (wire.reference, wire.description) == (None, "OUTGOING WIRE, FEE INCLUDED")
    assert [ln.where for ln in usd.lines] == ["line 5", "line 6", "line 8"]
    assert jpy.lines[0].amount == Decimal(-105000)


def test_control_totals_are_given_for_the_entries_and_match_a_whole_file() -> None:
    statements = bai2.parse(_read("bai2_two_days.bai")).statements

    # 49 totals less the 03 amounts; 49 record counts less 03, 49 and 88 records
    assert [(s.control_total, s.control_count) for s in statements] == [
        (Decimal("4500.00"), 3),
        (Decimal("500.00"), 1),
        (Decimal("500.00"), 1),
        (Decimal(105000), 1),
    ]
    assert all(s.control_total == s.credits + s.debits for s in statements)
    assert all(s.control_count == len(s.lines) for s in statements)


def test_control_totals_show_a_missing_detail() -> None:
    text = _read("bai2_two_days.bai").decode()
    without = text.replace("16,495,50000,Z,BR0004,,OUTGOING WIRE, FEE INCLUDED/\r\n", "")
    cad = bai2.parse(without.encode()).statements[1]

    assert cad.lines == ()
    assert (cad.control_total, cad.control_count) == (Decimal("500.00"), 1)


def test_lf_and_crlf_read_alike() -> None:
    crlf = _read("bai2_two_days.bai")
    assert b"\r\n" in crlf
    assert bai2.parse(crlf.replace(b"\r\n", b"\n")) == bai2.parse(crlf)


def test_fixed_length_physical_records_without_line_ends() -> None:
    lines = _read("bai2_two_days.bai").decode().split("\r\n")
    fixed = "".join(line.ljust(80) for line in lines if line)

    assert "\n" not in fixed
    assert bai2.parse(fixed.encode()) == bai2.parse(_read("bai2_two_days.bai"))


# --- bad accounts among good ones, truncation ------------------------------------------


def test_a_bad_account_is_a_problem_and_the_good_ones_still_parse() -> None:
    result = bai2.parse(_read("bai2_bad_among_good.bai"))

    # a problem names the file id as its statement (as ParsedStatement.statement_id does)
    # and the account by its place, never by its number
    assert [s.account for s in result.statements] == ["1111111111", "5555555555"]
    assert [(p.statement, p.where, p.error) for p in result.problems] == [
        (
            "7",
            "group 1, account 2, line 7, amount",
            "the amount '20X0' is not a whole number of minor units",
        ),
        ("7", "group 1, account 3, line 9, currency", "unknown currency 'XYZ'"),
        (
            "7",
            "group 1, account 4, line 12, record code",
            "the record code '17' is not a BAI2 record (01, 02, 03, 16, 49, 88, 98 or 99)",
        ),
    ]


def test_a_truncated_file_keeps_the_whole_accounts_before_the_cut() -> None:
    result = bai2.parse(_read("bai2_truncated.bai"))

    assert [s.account for s in result.statements] == ["1111111111"]
    assert [(p.statement, p.where, p.error) for p in result.problems] == [
        (
            "9",
            "group 1, account 2, line 7",
            "the account has no trailer (49): the file is truncated",
        ),
        (None, "line 7", "the file ends without its trailer (99): it is truncated"),
    ]


GROUP = "02,CUST,BANK,1,240102,,USD,2/\n"


def _file(*groups: str) -> str:
    """A file around groups (02 to the last 49), with trailers that agree with them."""
    out = ["01,BANK,CUST,240103,0600,1,,,2/\n"]
    file_total, records = 0, 1
    for body in groups:
        lines = body.splitlines()
        totals = [line.split(",")[1] for line in lines if line.startswith("49,")]
        total = sum(int(t) for t in totals if t.lstrip("+-").isdigit())
        accounts = sum(line.startswith("03,") for line in lines)
        out.append(f"{body}98,{total},{accounts},{len(lines) + 1}/\n")
        file_total += total
        records += len(lines) + 1
    out.append(f"99,{file_total},{len(groups)},{records + 1}/\n")
    return "".join(out)


def _problems(body: str) -> list[tuple[str, str]]:
    result = bai2.parse(body.encode())
    assert result.statements == ()
    return [(p.where, p.error) for p in result.problems]


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        (
            _file(GROUP + "03,1,USD,010,100,/\n16,165,1.50,0,R,C,T/\n49,250,3/\n"),
            [
                (
                    "group 1, account 1, line 4, amount",
                    "the amount '1.50' is not a whole number of minor units",
                )
            ],
        ),
        (
            _file(GROUP + "03,1,USD,010,10O,/\n49,100,2/\n"),
            [
                (
                    "group 1, account 1, line 3, amount",
                    "the amount '10O' is not a whole number of minor units",
                )
            ],
        ),
        (
            _file(GROUP + "03,1,USD,010,100,/\n16,165,+100,0,R,C,T/\n49,200,3/\n"),
            [("group 1, account 1, line 4, amount", "the amount +100 of a detail takes no sign")],
        ),
        (
            _file(GROUP + "03,1,USD,010,100,/\n16,165,,0,R,C,T/\n49,100,3/\n"),
            [("group 1, account 1, line 4, amount", "the transaction detail has no amount")],
        ),
        (
            _file(GROUP + "03,1,USD,010,100,/\n16,890,0,0,R,C,T/\n49,100,3/\n"),
            [
                (
                    "group 1, account 1, line 4, type code",
                    "the type code 890 is neither a credit (100-399) nor a debit (400-699)",
                )
            ],
        ),
        (
            _file(GROUP + "03,1,USD,010,100,/\n16,165,100,X,R,C,T/\n49,200,3/\n"),
            [
                (
                    "group 1, account 1, line 4, funds type",
                    "the funds type 'X' is not Z, 0, 1, 2, V, S or D",
                )
            ],
        ),
        (
            _file(GROUP + "03,1,USD,010,100,/\n49,1x0,2/\n"),
            [
                (
                    "group 1, account 1, line 4, control total",
                    "the control total '1x0' is not a whole number of minor units",
                )
            ],
        ),
        (
            _file(GROUP + "03,1,USD,010,100,/\n49,100,two/\n"),
            [
                (
                    "group 1, account 1, line 4, number of records",
                    "the number of records 'two' is not a number",
                )
            ],
        ),
        (
            _file(
                "02,CUST,BANK,1,241302,,USD,2/\n03,1,USD,010,100,/\n16,165,5,0,R,C,T/\n49,105,3/\n"
            ),
            [("line 2, as-of date", "the as-of date 241302 is not a valid date")],
        ),
        (
            _file("02,CUST,BANK,1,240102,,EUX,2/\n03,1,USD,010,100,/\n49,100,2/\n"),
            [("line 2, currency", "unknown currency 'EUX'")],
        ),
        (
            "01,BANK,CUST,240103,0600,1,,,2/\n03,1,USD,010,100,/\n16,165,5,0,R,C,T/\n"
            "49,105,3/\n99,105,0,5/\n",
            [("line 2", "an account (03) is outside any group (02)")],
        ),
        (
            "01,BANK,CUST,240103,0600,1,,,2/\n02,CUST,BANK,1,240102,,USD,2/\n98,0,0,2/\n"
            "99,0,1,4/\n",
            [("file", "no BAI2 account found: the file has no 03 record")],
        ),
        ("", [("line 1", "not a BAI2 file: it does not start with a file header (01)")]),
    ],
)
def test_each_fault_is_one_sentence_with_where(body: str, expected: list[tuple[str, str]]) -> None:
    assert _problems(body) == expected


def test_group_and_file_trailers_show_a_whole_account_gone_missing() -> None:
    text = _read("bai2_two_days.bai").decode()
    cad = (
        "03,9876543210,CAD,010,500000,,,015,450000,/\r\n"
        "16,495,50000,Z,BR0004,,OUTGOING WIRE, FEE INCLUDED/\r\n"
        "49,1000000,3/\r\n"
    )
    assert cad in text
    result = bai2.parse(text.replace(cad, "").encode())

    # every account left agrees with its own 49: only the trailers can tell
    assert [s.account for s in result.statements] == ["1234567890", "1234567890", "5555555555"]
    assert [(p.where, p.error) for p in result.problems] == [
        (
            "group 1, line 10, control total",
            "the group trailer (98) control total 5040000 is not the sum of its accounts' "
            "(4040000)",
        ),
        (
            "group 1, line 10, number of accounts",
            "the group trailer (98) counts 2 accounts but the group has 1",
        ),
        (
            "group 1, line 10, number of records",
            "the group trailer (98) counts 12 records but the group has 9",
        ),
        (
            "line 19, control total",
            "the file trailer (99) control total 7540000 is not the sum of its groups' (6540000)",
        ),
        (
            "line 19, number of records",
            "the file trailer (99) counts 22 records but the file has 19",
        ),
    ]


def test_a_group_without_its_trailer_is_a_problem() -> None:
    text = _file(GROUP + "03,1,USD,010,100,/\n49,100,2/\n")
    result = bai2.parse(text.replace("98,100,1,4/\n", "").encode())

    assert [s.account for s in result.statements] == ["1"]
    assert [(p.where, p.error) for p in result.problems] == [
        ("group 1, line 5", "the group has no trailer (98) before the file trailer (99)"),
        ("line 5, number of records", "the file trailer (99) counts 6 records but the file has 5"),
    ]


def test_an_account_without_its_trailer_is_a_problem_and_the_next_one_reads() -> None:
    body = _file(GROUP + "03,1,USD,010,100,/\n03,2,USD,010,100,/\n49,100,2/\n")
    result = bai2.parse(body.encode())

    assert [s.account for s in result.statements] == ["2"]
    assert [(p.statement, p.where, p.error) for p in result.problems] == [
        ("1", "group 1, account 1, line 4", "the account has no trailer (49) before the next 03")
    ]


def test_the_continuation_of_an_03_starts_a_new_field() -> None:
    body = _file(GROUP + "03,1,USD,010,100,,/\n88,015,175,,/\n16,165,75,0,R,C,T/\n49,350,4/\n")
    (statement,) = bai2.parse(body.encode()).statements

    assert (statement.opening, statement.closing) == (Decimal("1.00"), Decimal("1.75"))
    assert (statement.control_total, statement.control_count) == (Decimal("0.75"), 1)


def test_distributed_availability_d_is_stepped_over() -> None:
    body = _file(GROUP + "03,1,USD,010,100,/\n16,165,75,D,2,0,50,1,25,R9,C9,SPLIT/\n49,175,3/\n")
    (statement,) = bai2.parse(body.encode()).statements

    (line,) = statement.lines
    assert (line.amount, line.bank_reference, line.reference, line.description) == (
        Decimal("0.75"),
        "R9",
        "C9",
        "SPLIT",
    )


def test_a_utf16_file_is_refused_for_its_encoding() -> None:
    result = bai2.parse(_read("bai2_two_days.bai").decode().encode("utf-16"))
    assert [(p.where, p.error) for p in result.problems] == [
        ("file", "the file is UTF-16 text: BAI2 files are ASCII")
    ]


# --- sniff ------------------------------------------------------------------------------


@pytest.mark.parametrize("name", ["bai2_two_days.bai", "bai2_truncated.bai"])
def test_sniff_knows_bai2(name: str) -> None:
    assert bai2.sniff(_read(name)[:256])


@pytest.mark.parametrize(
    "name", ["foreign_camt053.xml", "foreign_ofx.ofx", "mt940_month.sta", "mt940_blocks.sta"]
)
def test_sniff_refuses_other_formats(name: str) -> None:
    assert not bai2.sniff(_read(name))


def test_sniff_refuses_a_csv_that_starts_with_01() -> None:
    assert not bai2.sniff(b"01,2,3\n04,5,6\n")


# --- round trip -------------------------------------------------------------------------

CURRENCY_SCALES = {"USD": 2, "CAD": 2, "JPY": 0, "KWD": 3}
FUNDS = st.sampled_from(
    [("0",), ("Z",), ("1",), ("V", "240105", ""), ("S", "100", "0", "5"), ("D", "1", "0", "7")]
)
TEXT = st.from_regex(r"([A-Z0-9][A-Z0-9 ,.]{0,30}[A-Z0-9.])?", fullmatch=True)
REF = st.from_regex(r"[A-Z0-9-]{0,10}", fullmatch=True)


@st.composite
def groups(draw: st.DrawFn) -> list[Group]:
    out = []
    for day in range(draw(st.integers(1, 3))):
        group_currency = draw(st.none() | st.sampled_from(sorted(CURRENCY_SCALES)))
        accounts = []
        for index in range(draw(st.integers(1, 3))):
            currency = draw(st.none() | st.sampled_from(sorted(CURRENCY_SCALES)))
            scale = CURRENCY_SCALES[currency or group_currency or "USD"]

            def scaled(value: int, scale: int = scale) -> Decimal:
                return Decimal(value).scaleb(-scale)

            summaries = [
                (code, draw(st.none() | st.integers(-(10**10), 10**10).map(scaled)))
                for code in draw(st.sampled_from([["010", "015"], ["010", "015", "040"], []]))
            ]
            details = [
                Detail(
                    type_code=draw(st.integers(100, 699)),
                    amount=scaled(draw(st.integers(0, 10**9))),
                    funds=draw(FUNDS),
                    bank_reference=draw(REF),
                    customer_reference=draw(REF),
                    text=draw(TEXT),
                )
                for _ in range(draw(st.integers(0, 4)))
            ]
            accounts.append(
                Account(
                    number=f"{day}{index}00012345",
                    currency=currency,
                    summaries=summaries,
                    details=details,
                )
            )
        out.append(Group(as_of=date(2024, 1, 2 + day), currency=group_currency, accounts=accounts))
    return out


@given(groups(), st.lists(st.integers(1, 12), max_size=3), st.sampled_from(["\n", "\r\n"]))
def test_what_is_written_reads_back(written: list[Group], cuts: list[int], newline: str) -> None:
    result = bai2.parse(write(written, cuts=cuts, newline=newline))

    assert result.problems == ()
    expected = [(group, account) for group in written for account in group.accounts]
    assert len(result.statements) == len(expected)
    for parsed, (group, account) in zip(result.statements, expected, strict=True):
        currency = account.currency or group.currency or "USD"
        balances = dict(account.summaries)
        assert (parsed.account, parsed.currency, parsed.period_start) == (
            account.number,
            currency,
            group.as_of,
        )
        assert (parsed.opening, parsed.closing) == (balances.get("010"), balances.get("015"))
        assert [
            (ln.type_code, ln.amount, ln.bank_reference, ln.reference, ln.description)
            for ln in parsed.lines
        ] == [
            (
                f"{d.type_code:03d}",
                d.amount if d.type_code < 400 else -d.amount,
                d.bank_reference or None,
                d.customer_reference or None,
                d.text.strip() or None,
            )
            for d in account.details
        ]
        assert [ln.value_date for ln in parsed.lines] == [
            date(2024, 1, 5) if d.funds[0] == "V" else group.as_of for d in account.details
        ]
        # the controls, translated to the entries, agree with the entries read
        assert parsed.control_total == parsed.credits + parsed.debits
        assert parsed.control_count == len(parsed.lines)

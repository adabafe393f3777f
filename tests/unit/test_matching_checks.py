"""Consistency checks: duplicates, internal transfers, statistics; ids stable across runs."""

from __future__ import annotations

from decimal import Decimal

from domain.matching.checks import (
    CheckKind,
    duplicate_bank_lines,
    duplicate_ledger_entries,
    internal_transfers,
    run_checks,
)
from domain.matching.matcher import match_lines
from domain.matching.records import MatchingPolicy
from tests.matching_lines import bank, ledger

POLICY = MatchingPolicy()
OWN = frozenset({"ACC1", "ACC2"})


def checks_of(banks, ledgers, *, movements=None):
    result = match_lines(banks, ledgers, POLICY)
    return run_checks(banks, ledgers, result, POLICY, own_accounts=OWN, movements=movements)


def test_a_statement_imported_twice_shows_its_lines_as_duplicates():
    original = bank(4, "120.00", statement="S1", reference="INV 1", day=2)
    again = bank(1, "120.00", statement="S1-r2", reference="inv-001", day=2)
    (check,) = duplicate_bank_lines([original, again, bank(5, "120.00", reference="INV 2")])
    assert check.kind is CheckKind.DUPLICATE_BANK
    assert check.bank_lines == (original.key, again.key)
    assert check.statement == "S1-r2"
    assert "2 bank lines" in check.detail and "in 2 statements" in check.detail
    # The same data in another order, or with a third copy, is the same check.
    (same,) = duplicate_bank_lines([again, original])
    assert same.id == check.id
    third = bank(2, "120.00", statement="S1-r3", reference="INV-1", day=2)
    (grown,) = duplicate_bank_lines([third, again, original])
    assert grown.id == check.id
    assert len(grown.bank_lines) == 3


def test_lines_differing_in_account_date_amount_or_reference_are_not_duplicates():
    base = bank(1, "120.00", reference="INV 1")
    others = [
        bank(2, "120.00", reference="INV 1", account="ACC2"),
        bank(3, "120.00", reference="INV 1", day=1),
        bank(4, "120.01", reference="INV 1"),
        bank(5, "120.00", reference="INV 11"),
    ]
    assert duplicate_bank_lines([base, *others]) == []


def test_duplicate_ledger_entries_are_found_by_content_not_by_id():
    one = ledger("E1", "-75.00", reference="PO-9", day=1)
    two = ledger("E2", "-75.00", reference="po 9", day=1)
    (check,) = duplicate_ledger_entries([one, two, ledger("E3", "-75.00", reference="PO-9")])
    assert (check.kind, check.ledger_entries, check.statement) == (
        CheckKind.DUPLICATE_LEDGER,
        ("E1", "E2"),
        None,
    )
    assert duplicate_ledger_entries([two, one])[0].id == check.id


def test_a_transfer_between_own_accounts_is_one_pair():
    out = bank(1, "-500.00", account="ACC1", statement="A")
    into = bank(1, "500.00", account="ACC2", statement="B", day=1)
    (check,) = internal_transfers([into, out], own_accounts=OWN, window_days=3)
    assert check.kind is CheckKind.INTERNAL_TRANSFER
    assert check.bank_lines == (out.key, into.key)
    assert check.id == "internal_transfer:A#1>B#1"
    assert check.statement == "A"


def test_no_transfer_within_one_account_outside_the_window_or_to_a_stranger():
    out = bank(1, "-500.00", account="ACC1", statement="A")
    same_account = bank(2, "500.00", account="ACC1", statement="A")
    too_late = bank(1, "500.00", account="ACC2", statement="B", day=4)
    stranger = bank(1, "500.00", account="ELSEWHERE", statement="C")
    other_currency = bank(2, "500.00", account="ACC2", statement="B", currency="EUR")
    lines = [out, same_account, too_late, stranger, other_currency]
    assert internal_transfers(lines, own_accounts=OWN, window_days=3) == []


def test_each_debit_takes_the_nearest_credit_once():
    out1 = bank(1, "-80.00", account="ACC1", statement="A", day=0)
    out2 = bank(2, "-80.00", account="ACC1", statement="A", day=2)
    in1 = bank(1, "80.00", account="ACC2", statement="B", day=2)
    in2 = bank(2, "80.00", account="ACC2", statement="B", day=0)
    pairs = {
        c.bank_lines
        for c in internal_transfers([out1, out2, in1, in2], own_accounts=OWN, window_days=3)
    }
    assert pairs == {(out1.key, in2.key), (out2.key, in1.key)}


def test_matched_transfer_lines_raise_no_transfer_check():
    out = bank(
        1, "-500.00", account="ACC1", statement="A", reference="TRF-123456", counterparty="US"
    )
    into = bank(1, "500.00", account="ACC2", statement="B", reference="TRF-123456")
    booked = ledger("T1", "-500.00", reference="TRF-123456", counterparty="Us")
    kinds = [c.kind for c in checks_of([out, into], [booked])]
    assert kinds == []  # the matched debit leaves the credit alone: no pair, no check
    assert [c.kind for c in checks_of([out, into], [])] == [CheckKind.INTERNAL_TRANSFER]


def test_statistics_pass_silently_when_everything_adds_up():
    banks = [bank(1, "100.00", reference="INV-500001"), bank(2, "-40.00")]
    ledgers = [ledger("E1", "100.00", reference="INV-500001")]
    assert checks_of(banks, ledgers) == ()


def test_statistics_flag_a_statement_whose_lines_do_not_make_its_movement():
    banks = [bank(1, "100.00", reference="INV-500001"), bank(2, "-40.00")]
    ledgers = [ledger("E1", "100.00", reference="INV-500001")]
    (check,) = checks_of(banks, ledgers, movements={"S1": Decimal("70.00")})
    assert (check.kind, check.id, check.statement) == (
        CheckKind.STATISTICS,
        "statistics:S1:movement",
        "S1",
    )
    assert "statement moved 70.00" in check.detail
    assert checks_of(banks, ledgers, movements={"S1": Decimal("60.30")}) == ()  # within 1%


def test_statistics_flag_matched_totals_more_than_one_percent_apart():
    small = [bank(1, "5.00", reference="INV-500002", counterparty="ACME")]
    off = [ledger("E1", "4.92", reference="INV-500002", counterparty="Acme")]
    (check,) = checks_of(small, off)
    assert check.id == "statistics:S1:matched"
    assert "5.00" in check.detail and "4.92" in check.detail
    large = [bank(1, "500.00", reference="INV-500002", counterparty="ACME")]
    close = [ledger("E1", "499.92", reference="INV-500002", counterparty="Acme")]
    assert checks_of(large, close) == ()


def test_run_checks_is_sorted_and_the_same_for_any_input_order():
    banks = [
        bank(1, "120.00", reference="INV 1"),
        bank(1, "120.00", reference="INV 1", statement="S1-r2"),
        bank(2, "-300.00", account="ACC1"),
        bank(3, "300.00", account="ACC2", statement="S2"),
    ]
    ledgers = [ledger("E1", "9.00", reference="X"), ledger("E2", "9.00", reference="X")]
    first = checks_of(banks, ledgers)
    assert [c.kind for c in first] == [
        CheckKind.DUPLICATE_BANK,
        CheckKind.DUPLICATE_LEDGER,
        CheckKind.INTERNAL_TRANSFER,
    ]
    assert checks_of(banks[::-1], ledgers[::-1]) == first

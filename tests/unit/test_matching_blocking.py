"""Blocking: a bank line is compared only with entries near it in amount and date."""

from __future__ import annotations

from decimal import Decimal

from domain.matching.candidates import LedgerIndex
from domain.matching.matcher import match_lines
from domain.matching.records import MatchingPolicy
from domain.matching.scoring import prepare_bank, prepare_ledger
from tests.matching_lines import bank, ledger

POLICY = MatchingPolicy()


def candidate_ids(b, entries, *, accounts=None, window=3):
    index = LedgerIndex.build(
        [prepare_ledger(e) for e in entries],
        tolerances={"USD": 10},
        window=window,
        accounts=accounts,
    )
    return sorted(e.entry_id for e in index.candidates(prepare_bank(b))), index.examined


def test_it_does_not_compare_everything_with_everything():
    n = 400
    lines = [
        bank(i, f"{1000 + 7 * i}.{i % 100:02d}", day=i % 60, reference=f"INV-{i:06d}")
        for i in range(1, n + 1)
    ]
    entries = [
        ledger(
            f"L{i:04d}",
            f"{1000 + 7 * i}.{i % 100:02d}",
            day=i % 60 + (i % 4) - 1,
            reference=f"INV-{i:06d}",
        )
        for i in range(1, n + 1)
    ]
    result = match_lines(lines, entries, POLICY)
    assert len(result.matches) == n  # every true pair is still found...
    assert result.comparisons <= 2 * n  # ...with a handful of comparisons, not n * n
    assert all(m.ledger_entries == (f"L{m.bank_lines[0].line:04d}",) for m in result.matches)


def test_the_tolerance_edge_is_in_and_one_minor_unit_past_it_is_out():
    entries = [ledger("IN-UP", "100.10"), ledger("IN-DOWN", "99.90"), ledger("OUT", "100.11")]
    found, _ = candidate_ids(bank(1, "100.00"), entries)
    assert found == ["IN-DOWN", "IN-UP"]


def test_the_date_window_counts_from_the_nearer_of_booking_and_value_date():
    entries = [
        ledger("BEFORE-3", "5.00", day=-3),
        ledger("BEFORE-4", "5.00", day=-4),
        ledger("AFTER-VALUE-3", "5.00", day=5),
        ledger("AFTER-VALUE-4", "5.00", day=6),
    ]
    found, examined = candidate_ids(bank(1, "5.00", day=0, value_day=2), entries)
    assert found == ["AFTER-VALUE-3", "BEFORE-3"]
    assert examined == 2  # the ones outside the window were never looked at


def test_other_currencies_and_far_amounts_are_never_looked_at():
    entries = [
        ledger("EUR", "5.00", currency="EUR"),
        ledger("FAR", "500.00"),
        ledger("NEAR", "5.00"),
    ]
    index = LedgerIndex.build(
        [prepare_ledger(e) for e in entries],
        tolerances={"USD": 10, "EUR": 9},
        window=3,
        accounts=None,
    )
    assert [e.entry_id for e in index.candidates(prepare_bank(bank(1, "5.00")))] == ["NEAR"]
    assert index.examined == 1


def test_with_an_account_map_a_line_sees_only_its_own_gl_account():
    entries = [ledger("MINE", "5.00", gl="1010"), ledger("THEIRS", "5.00", gl="1020")]
    accounts = {"ACC1": "1010", "ACC2": "1020"}
    assert candidate_ids(bank(1, "5.00"), entries, accounts=accounts)[0] == ["MINE"]
    assert candidate_ids(bank(1, "5.00", account="ACC9"), entries, accounts=accounts)[0] == []


def test_small_amounts_of_opposite_sign_within_the_tolerance_are_not_candidates():
    found, _ = candidate_ids(bank(1, "0.04"), [ledger("NEG", "-0.04"), ledger("POS", "0.04")])
    assert found == ["POS"]


def test_a_wider_tolerance_widens_the_buckets():
    lines, entries = [bank(1, "100.00")], [ledger("L", "100.99")]
    assert match_lines(lines, entries, POLICY).comparisons == 0
    wide = MatchingPolicy(amount_tolerance=Decimal("1.00"))
    assert match_lines(lines, entries, wide).comparisons == 1

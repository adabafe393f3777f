"""Determinism: the same inputs in any order give the same matches, reasons and counts."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from domain.matching.matcher import match_lines
from domain.matching.records import MatchingPolicy
from tests.matching_lines import bank, ledger

POLICY = MatchingPolicy(max_group_size=4)

amounts = st.sampled_from(["10.00", "10.04", "15.00", "25.00", "25.09", "40.00", "-10.00"])
refs = st.sampled_from([None, "INV-700001", "INV-700002", "INV-700012"])
names = st.sampled_from([None, "ACME", "ACME LTD", "GLOBEX"])


@st.composite
def shuffled_inputs(draw):
    banks = [
        bank(
            i,
            draw(amounts),
            statement=draw(st.sampled_from(["S1", "S2"])),
            day=draw(st.integers(0, 3)),
            reference=draw(refs),
            counterparty=draw(names),
            description=draw(st.sampled_from([None, "PAYMENT INV-700001 INV-700002"])),
        )
        for i in range(1, draw(st.integers(0, 14)) + 1)
    ]
    ledgers = [
        ledger(
            f"E{i}",
            draw(amounts),
            day=draw(st.integers(0, 3)),
            reference=draw(refs),
            counterparty=draw(names),
        )
        for i in range(1, draw(st.integers(0, 14)) + 1)
    ]
    return banks, ledgers, draw(st.permutations(banks)), draw(st.permutations(ledgers))


@given(shuffled_inputs())
def test_any_input_order_gives_the_same_result(data):
    banks, ledgers, banks_shuffled, ledgers_shuffled = data
    first = match_lines(banks, ledgers, POLICY)
    again = match_lines(list(reversed(banks_shuffled)), ledgers_shuffled, POLICY)
    assert again == first
    assert list(first.matches) == sorted(first.matches, key=lambda m: m.id)


def test_a_tie_resolves_the_same_way_whatever_the_order():
    banks = [bank(1, "10.00", counterparty="ACME"), bank(2, "10.00", counterparty="ACME")]
    ledgers = [ledger("X", "10.00", counterparty="Acme"), ledger("Y", "10.00", counterparty="Acme")]
    one = match_lines(banks, ledgers, POLICY)
    other = match_lines(banks[::-1], ledgers[::-1], POLICY)
    assert one == other
    assert [(m.bank_lines[0].line, m.ledger_entries) for m in one.matches] == [
        (1, ("X",)),
        (2, ("Y",)),
    ]

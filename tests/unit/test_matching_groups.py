"""Groups: one bank line for several entries (1:n), several bank lines for one entry (n:1)."""

from __future__ import annotations

from decimal import Decimal
from itertools import combinations

from hypothesis import example, given
from hypothesis import strategies as st

from domain.matching.groups import subset_sums
from domain.matching.matcher import match_lines
from domain.matching.records import STEPS_PER_MS, Band, MatchingPolicy
from tests.matching_lines import bank, ledger

POLICY = MatchingPolicy()


def test_one_payout_for_three_invoices_is_one_match():
    result = match_lines(
        [
            bank(
                1,
                "300.00",
                counterparty="ACME",
                description="PAYMENT INV-200001 INV-200002 INV-200003",
            )
        ],
        [
            ledger("I1", "100.00", reference="INV-200001", counterparty="Acme Ltd", day=-1),
            ledger("I2", "120.00", reference="INV-200002", counterparty="Acme Ltd", day=-2),
            ledger("I3", "80.00", reference="INV-200003", counterparty="Acme Ltd"),
            ledger("OTHER", "50.00", reference="INV-200009", counterparty="Acme Ltd"),
        ],
        POLICY,
    )
    (m,) = result.matches
    assert m.ledger_entries == ("I1", "I2", "I3")
    assert m.components.date_distance_days == 2
    assert (m.score, m.band) == (40 + 5 + 30 + 20, Band.AUTO_ACCEPTED)
    assert [u.entry_id for u in result.unmatched_ledger] == ["OTHER"]
    assert result.group_steps > 0


def test_several_card_settlements_for_one_entry_are_one_match():
    result = match_lines(
        [
            bank(1, "40.00", reference="STL-77001/1", counterparty="VISA ACQUIRER"),
            bank(2, "35.50", reference="STL-77001/2", counterparty="VISA ACQUIRER", day=1),
            bank(3, "24.45", reference="STL-77001/3", counterparty="VISA ACQUIRER", day=2),
            bank(4, "12.00", reference="STL-77002/1", counterparty="VISA ACQUIRER"),
        ],
        [ledger("SETTLE", "100.00", reference="STL-77001", counterparty="Card acquirer Visa")],
        POLICY,
    )
    (m,) = result.matches
    assert [k.line for k in m.bank_lines] == [1, 2, 3]
    assert m.ledger_entries == ("SETTLE",)
    c = m.components
    assert c.amount_difference == Decimal("-0.05")  # within the tolerance: 30 of 40 points
    assert (c.amount_points, c.date_distance_days, c.reference_similarity) == (30, 2, 100)
    assert c.reference_basis == "reference"
    assert m.score == 30 + 5 + 30 + c.counterparty_points
    assert [u.line.line for u in result.unmatched_bank] == [4]


SIX_PARTS = ["10.00", "20.00", "40.00", "80.00", "160.00", "320.00"]  # only all six make 630


def six_part_payout(policy):
    return match_lines(
        [bank(1, "630.00", counterparty="GLOBEX", description="PAYMENT")],
        [
            ledger(f"P{i}", amount, counterparty="Globex", reference=f"INV-{i}")
            for i, amount in enumerate(SIX_PARTS, 1)
        ],
        policy,
    )


def test_the_group_size_limit_holds():
    assert six_part_payout(MatchingPolicy(max_group_size=5)).matches == ()
    (m,) = six_part_payout(MatchingPolicy(max_group_size=6)).matches
    assert len(m.ledger_entries) == 6
    assert m.band is Band.PENDING_REVIEW  # no reference ties them: a person looks


def test_a_zero_budget_or_a_group_size_of_one_searches_nothing():
    for policy in (MatchingPolicy(group_time_budget_ms=0), MatchingPolicy(max_group_size=1)):
        result = six_part_payout(policy)
        assert result.matches == ()
        assert result.group_steps == 0


def test_the_time_budget_is_a_step_budget():
    assert MatchingPolicy(group_time_budget_ms=200).group_step_budget == 200 * STEPS_PER_MS
    magnitudes = sorted(range(100, 160), reverse=True)
    capped = subset_sums(magnitudes, target=601, tolerance=0, max_size=5, budget=50)
    assert (capped.steps, capped.exhausted) == (50, True)
    full = subset_sums([50, 30, 20], target=50, tolerance=0, max_size=5, budget=1000)
    assert full.exhausted is False
    assert full.subsets == ((1, 2),)  # 30 + 20; 50 alone is not a group


@example(values=[1, 1], target=1, tolerance=1, size=2, budget=0)  # a zero budget is no proof
@given(
    st.lists(st.integers(1, 500), min_size=0, max_size=14),
    st.integers(1, 1500),
    st.integers(0, 5),
    st.integers(2, 5),
    st.integers(0, 3000),
)
def test_subset_sums_are_exact_within_budget_and_size(values, target, tolerance, size, budget):
    magnitudes = sorted(values, reverse=True)
    outcome = subset_sums(
        magnitudes, target=target, tolerance=tolerance, max_size=size, budget=budget
    )
    assert outcome.steps <= budget
    for subset in outcome.subsets:
        assert 2 <= len(subset) <= size
        assert list(subset) == sorted(set(subset))
        assert abs(sum(magnitudes[i] for i in subset) - target) <= tolerance
    again = subset_sums(
        magnitudes, target=target, tolerance=tolerance, max_size=size, budget=budget
    )
    assert again == outcome
    if not outcome.exhausted and not outcome.subsets:  # a finished search missed nothing
        for k in range(2, min(size, len(magnitudes)) + 1):
            for combo in combinations(magnitudes, k):
                assert abs(sum(combo) - target) > tolerance


def test_lines_with_nothing_in_common_with_the_anchor_are_not_grouped_on_amount_alone():
    result = match_lines(
        [bank(1, "300.00", description="PAYMENT")],
        [
            ledger("I1", "100.00", reference="INV-200001", counterparty="Acme Ltd"),
            ledger("I2", "200.00", reference="INV-200002", counterparty="Globex"),
        ],
        POLICY,
    )
    assert result.matches == ()
    assert result.group_steps == 0  # the pool was empty: no name or reference in common
    assert result.unmatched_bank[0].reason.endswith("no group of up to 5 entries adds up")

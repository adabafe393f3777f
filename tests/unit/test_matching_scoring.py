"""Scoring: each component, the sum, the sign convention and the policy's checks."""

from __future__ import annotations

from decimal import Decimal

import pytest

from domain.errors import MoneyError
from domain.matching.matcher import match_lines
from domain.matching.records import (
    AmountFit,
    Band,
    MatchingError,
    MatchingPolicy,
    Weights,
)
from domain.matching.scoring import prepare_bank, prepare_ledger, score_group
from domain.matching.similarity import (
    ReferenceTexts,
    name_similarity,
    normalize_name,
    normalize_reference,
    reference_similarity,
)
from tests.matching_lines import bank, ledger

POLICY = MatchingPolicy()


def score(b, e, policy=POLICY):
    return score_group([prepare_bank(b)], [prepare_ledger(e)], policy, tolerance=10)


def texts(reference="", e2e="", description=""):
    return ReferenceTexts(
        normalize_reference(reference), normalize_reference(e2e), normalize_reference(description)
    )


@pytest.mark.parametrize("text", ["INV-000123", "inv 123", "Inv.0123", " INV/123 "])
def test_references_normalise_case_spaces_punctuation_and_leading_zeros(text):
    assert normalize_reference(text) == "INV123"


def test_leading_zeros_go_per_number_not_across_the_joined_text():
    assert normalize_reference("2024-0012") == "202412"
    assert normalize_reference("A-100") == "A100"  # inner zeros stay


def test_an_invoice_number_inside_the_remittance_text_counts_in_full():
    similarity, basis = reference_similarity(
        texts(description="Payment for invoice INV-0004711, thanks"), texts("INV 4711")
    )
    assert (similarity, basis) == (100, "found in description")


def test_an_end_to_end_id_is_compared_with_the_ledger_reference():
    similarity, basis = reference_similarity(texts(e2e="E2E-77812-AB"), texts("e2e 77812 ab"))
    assert (similarity, basis) == (100, "end-to-end id")


def test_the_bank_reference_found_in_the_ledger_description_counts():
    similarity, basis = reference_similarity(
        texts("PO-558812"), texts("X-1", description="settles PO 558812 in full")
    )
    assert similarity == 100
    assert basis == "bank reference in ledger description"


def test_a_typo_scores_high_but_not_full_and_a_truncation_at_least_90():
    typo, _ = reference_similarity(texts("INV-0012345"), texts("INV-0012346"))
    assert 80 <= typo < 100
    cut, _ = reference_similarity(texts("INV-00123"), texts("INV-0012345"))
    assert cut >= 90


def test_a_word_or_short_number_in_free_text_is_not_taken_for_an_id():
    assert reference_similarity(texts(description="PAYMENT 2024"), texts("2024"))[0] < 100
    assert reference_similarity(texts(description="MONTHLY PAYMENT"), texts("PAYMENT"))[0] < 100


def test_reference_similarity_under_50_gives_no_points():
    c = score(bank(1, "1.00", reference="INV-555001"), ledger("L1", "1.00", reference="INV-98877"))
    assert 0 < c.reference_similarity < 50
    assert c.reference_points == 0


def test_different_references_score_low_and_missing_ones_zero():
    assert reference_similarity(texts("INV-555001"), texts("PO-98877"))[0] < 40
    assert reference_similarity(texts(), texts("INV-1")) == (0, "none")


def test_counterparty_names_drop_legal_forms_and_order():
    assert normalize_name("Acme Trading GmbH") == "ACME TRADING"
    assert (
        name_similarity(normalize_name("ACME TRADING"), normalize_name("Acme Trading GmbH")) == 100
    )
    assert name_similarity(normalize_name("Globex Ltd"), normalize_name("Initech Inc.")) < 50
    # A name whose words are a subset of the other's is close, not the same.
    assert 70 <= name_similarity("BRIVEL", "MIVELKA BRIVEL") < 90
    assert name_similarity("", "ACME") == 0


def test_a_perfect_pair_scores_100_from_its_four_points():
    c = score(
        bank(1, "250.00", reference="INV-9", counterparty="ACME"),
        ledger("L1", "250.00", reference="inv 9", counterparty="Acme Ltd"),
    )
    assert c.amount_fit is AmountFit.EXACT
    assert (c.amount_points, c.date_points, c.reference_points, c.counterparty_points) == (
        40,
        10,
        30,
        20,
    )
    assert c.score == 100


def test_amount_points_fall_to_half_at_the_tolerance():
    at_edge = score(bank(1, "100.10"), ledger("L1", "100.00"))
    assert at_edge.amount_fit is AmountFit.WITHIN_TOLERANCE
    assert at_edge.amount_difference == Decimal("0.10")
    assert at_edge.amount_points == 20
    halfway = score(bank(1, "100.00"), ledger("L1", "100.05"))
    assert halfway.amount_difference == Decimal("-0.05")
    assert halfway.amount_points == 30
    off = score(bank(1, "100.11"), ledger("L1", "100.00"))
    assert (off.amount_fit, off.amount_points) == (AmountFit.OFF, 0)


def test_date_points_shrink_with_days_to_the_nearer_of_booking_and_value_date():
    assert score(bank(1, "1.00", day=0), ledger("L1", "1.00", day=1)).date_points == 8  # 7.5
    assert score(bank(1, "1.00", day=0), ledger("L1", "1.00", day=3)).date_points == 3  # 2.5
    late = score(bank(1, "1.00", day=0, value_day=3), ledger("L1", "1.00", day=4))
    assert late.date_distance_days == 1
    assert score(bank(1, "1.00", day=0), ledger("L1", "1.00", day=5)).date_points == 0


def test_the_score_is_explained_by_its_components_alone():
    c = score(
        bank(1, "99.97", day=2, reference="INV-1234567", counterparty="GLOBEX"),
        ledger("L1", "100.00", reference="INV-1234576", counterparty="Globex Corporation"),
    )
    assert c.score == c.amount_points + c.date_points + c.reference_points + c.counterparty_points
    assert 50 < c.reference_similarity < 100
    assert c.reference_points == (2 * 30 * (c.reference_similarity - 50) + 50) // 100


def test_sign_convention_a_bank_credit_matches_a_ledger_debit_to_cash():
    money_in = bank(1, "500.00", reference="INV-100200", counterparty="ACME")
    result = match_lines(
        [money_in], [ledger("DEBIT", "500.00", reference="INV-100200", counterparty="ACME")], POLICY
    )
    assert [m.ledger_entries for m in result.matches] == [("DEBIT",)]
    # The same amount credited to cash (money out) is never a candidate for money in.
    result = match_lines(
        [money_in],
        [ledger("CREDIT", "-500.00", reference="INV-100200", counterparty="ACME")],
        POLICY,
    )
    assert result.matches == ()
    assert result.comparisons == 0
    assert [u.entry_id for u in result.unmatched_ledger] == ["CREDIT"]


def test_bands_follow_the_score():
    result = match_lines(
        [
            bank(1, "10.00", reference="INV-100001", counterparty="ACME"),
            bank(2, "20.00", counterparty="GLOBEX", day=1),
            bank(3, "30.00", reference="XYZ", day=3),
        ],
        [
            ledger("A", "10.00", reference="INV-100001", counterparty="Acme"),
            ledger("B", "20.00", reference="INV-100002", counterparty="Globex"),
            ledger("C", "30.00", reference="INV-100003", counterparty="Initech"),
        ],
        POLICY,
    )
    bands = {m.ledger_entries: (m.score, m.band) for m in result.matches}
    assert bands[("A",)] == (100, Band.AUTO_ACCEPTED)
    assert bands[("B",)] == (40 + 8 + 0 + 20, Band.PENDING_REVIEW)  # a day apart, no reference
    assert ("C",) not in bands
    (lone,) = result.unmatched_bank
    assert lone.best_score is not None and lone.best_score < 60
    assert lone.reason.startswith(f"best candidate C scored {lone.best_score}: ")
    assert "reference differs" in lone.reason


def test_weights_must_sum_to_100_and_bands_be_ordered():
    with pytest.raises(MatchingError, match="sum to 100"):
        Weights(amount=50, date=10, reference=30, counterparty=20)
    with pytest.raises(MatchingError):
        MatchingPolicy(auto_accept_at=60, review_at=85)


def test_a_currency_needs_its_converted_tolerance():
    policy = MatchingPolicy(tolerances={"eur": Decimal("0.09")})
    assert policy.tolerance_for("EUR") == Decimal("0.09")
    assert policy.tolerance_for("USD") == Decimal("0.10")  # the reporting currency
    with pytest.raises(MatchingError, match="no amount tolerance in GBP"):
        policy.tolerance_for("GBP")
    with pytest.raises(MoneyError):
        policy.tolerance_for("XXZ")

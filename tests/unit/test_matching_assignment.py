"""Assignment: best score first, no line in two matches, every line accounted for once."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from domain.matching.matcher import match_lines
from domain.matching.records import Band, MatchingPolicy
from tests.matching_lines import bank, ledger

POLICY = MatchingPolicy()


def test_two_lines_wanting_one_entry_the_better_one_gets_it():
    result = match_lines(
        [
            bank(1, "75.00", counterparty="ACME", reference="INV-300001"),
            bank(2, "75.00", counterparty="ACME"),
        ],
        [ledger("L1", "75.00", counterparty="Acme", reference="INV-300001")],
        POLICY,
    )
    (m,) = result.matches
    assert m.bank_lines[0].line == 1
    assert m.band is Band.AUTO_ACCEPTED
    (loser,) = result.unmatched_bank
    assert loser.line.line == 2
    assert loser.reason == "best candidate L1 (scored 70) went to a better match"


def test_ties_break_on_amount_difference_then_days_then_keys():
    result = match_lines(
        [bank(1, "10.00", day=0), bank(2, "10.00", day=0)],
        [ledger("B", "10.00", day=0), ledger("A", "10.00", day=0)],
        MatchingPolicy(review_at=40, auto_accept_at=90),
    )
    pairs = sorted((m.bank_lines[0].line, m.ledger_entries[0]) for m in result.matches)
    assert pairs == [(1, "A"), (2, "B")]


def test_an_unmatched_line_with_no_candidate_says_what_was_searched():
    result = match_lines([bank(1, "10.00")], [ledger("L1", "99.00")], POLICY)
    assert result.unmatched_bank[0].reason == (
        "no ledger entry within 0.10 USD and 3 days, and no group of up to 5 entries adds up"
    )
    assert result.unmatched_ledger[0].reason.startswith("no bank line within 0.10 USD and 3 days")


amounts = st.sampled_from(["10.00", "10.05", "10.10", "20.00", "-10.00", "30.00"])
refs = st.sampled_from([None, "INV-100001", "INV-100002", "INV-100003"])
names = st.sampled_from([None, "ACME", "GLOBEX"])


@st.composite
def inputs(draw):
    n = draw(st.integers(0, 12))
    m = draw(st.integers(0, 12))
    banks = [
        bank(
            i,
            draw(amounts),
            day=draw(st.integers(0, 4)),
            reference=draw(refs),
            counterparty=draw(names),
        )
        for i in range(1, n + 1)
    ]
    ledgers = [
        ledger(
            f"L{i}",
            draw(amounts),
            day=draw(st.integers(0, 4)),
            reference=draw(refs),
            counterparty=draw(names),
        )
        for i in range(1, m + 1)
    ]
    return banks, ledgers


@given(inputs())
def test_no_line_is_ever_in_two_matches_and_every_line_is_accounted_for(data):
    banks, ledgers = data
    result = match_lines(banks, ledgers, MatchingPolicy(max_group_size=3))
    matched_bank = [k for m in result.matches for k in m.bank_lines]
    matched_ledger = [e for m in result.matches for e in m.ledger_entries]
    assert len(matched_bank) == len(set(matched_bank))
    assert len(matched_ledger) == len(set(matched_ledger))
    unmatched_bank = [u.line for u in result.unmatched_bank]
    unmatched_ledger = [u.entry_id for u in result.unmatched_ledger]
    assert sorted(matched_bank + unmatched_bank) == sorted(b.key for b in banks)
    assert sorted(matched_ledger + unmatched_ledger) == sorted(e.entry_id for e in ledgers)
    for m in result.matches:
        assert m.score == m.components.score >= 60
        expected = Band.AUTO_ACCEPTED if m.score >= 85 and m.held is None else Band.PENDING_REVIEW
        assert m.band is expected
        assert m.held is None or m.score >= 85
        assert 1 in (len(m.bank_lines), len(m.ledger_entries))


def test_a_match_with_a_twin_line_waits_for_review_however_high_it_scores():
    original = bank(1, "640.00", reference="INV-600001", counterparty="ACME", value_day=1)
    copy = bank(1, "640.00", statement="S1-r2", reference="INV-600001", counterparty="ACME")
    entry = ledger("E1", "640.00", reference="INV-600001", counterparty="Acme", day=1)
    result = match_lines([original, copy], [entry], POLICY)
    (m,) = result.matches
    assert m.score >= 85
    assert m.band is Band.PENDING_REVIEW
    assert m.held is not None and "has a twin" in m.held
    # Without the copy the same pair is auto-accepted.
    (alone,) = match_lines([original], [entry], POLICY).matches
    assert (alone.score, alone.band, alone.held) == (m.score, Band.AUTO_ACCEPTED, None)


def test_with_an_account_map_lines_meet_only_their_gl_account_and_say_so():
    accounts = {"ACC1": "1010", "ACC2": "1020"}
    result = match_lines(
        [bank(1, "42.00", reference="INV-800001"), bank(2, "42.00", account="ACC3")],
        [
            ledger("WRONG-GL", "42.00", reference="INV-800001", gl="1020"),
            ledger("RIGHT-GL", "42.00", reference="INV-800001", gl="1010"),
        ],
        POLICY,
        accounts=accounts,
    )
    (m,) = result.matches
    assert m.ledger_entries == ("RIGHT-GL",)
    (unmapped,) = result.unmatched_bank
    assert unmapped.line.line == 2
    assert unmapped.reason == "account ACC3 maps to no GL cash account"
    (other,) = result.unmatched_ledger
    assert other.entry_id == "WRONG-GL"

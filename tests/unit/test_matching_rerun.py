"""Re-runs: accepted matches are never touched; changed pending matches are re-scored."""

from __future__ import annotations

from dataclasses import replace

from domain.matching.matcher import match_lines
from domain.matching.records import Band, MatchingPolicy
from domain.matching.rerun import PreviousMatch, rematch
from tests.matching_lines import bank, ledger

POLICY = MatchingPolicy()

AUTO_BANK = bank(1, "100.00", reference="INV-400001", counterparty="ACME")
AUTO_LEDGER = ledger("A", "100.00", reference="INV-400001", counterparty="Acme")
PENDING_BANK = bank(2, "55.00", counterparty="GLOBEX", day=1)
PENDING_LEDGER = ledger("P", "55.00", counterparty="Globex")


def first_run():
    result = match_lines([AUTO_BANK, PENDING_BANK], [AUTO_LEDGER, PENDING_LEDGER], POLICY)
    by_band = {m.band: m for m in result.matches}
    return by_band[Band.AUTO_ACCEPTED], by_band[Band.PENDING_REVIEW]


def previous(accepted, pending):
    return [
        PreviousMatch(match=accepted, accepted=True),
        PreviousMatch(match=pending, accepted=False),
    ]


def test_nothing_changed_gives_the_same_matches_and_nothing_to_void():
    accepted, pending = first_run()
    rerun = rematch(
        previous(accepted, pending),
        [AUTO_BANK, PENDING_BANK],
        [AUTO_LEDGER, PENDING_LEDGER],
        POLICY,
    )
    assert rerun.result.matches == tuple(sorted([accepted, pending], key=lambda m: m.id))
    assert rerun.changed == ()
    assert rerun.new == ()


def test_an_accepted_match_is_never_touched_even_when_its_line_changed():
    accepted, pending = first_run()
    changed_bank = replace(AUTO_BANK, reference="SOMETHING ELSE", counterparty="OTHER")
    rerun = rematch(
        previous(accepted, pending),
        [changed_bank, PENDING_BANK],
        [AUTO_LEDGER, PENDING_LEDGER],
        POLICY,
    )
    assert accepted in rerun.result.matches
    assert rerun.changed == ()


def test_a_pending_match_whose_side_changed_is_rescored_and_reported():
    accepted, pending = first_run()
    better = replace(PENDING_LEDGER, reference="INV-400777")
    bank_side = replace(PENDING_BANK, reference="INV-400777")
    rerun = rematch(
        previous(accepted, pending), [AUTO_BANK, bank_side], [AUTO_LEDGER, better], POLICY
    )
    (change,) = rerun.changed
    assert change.before == pending
    assert change.after is not None
    assert change.after.id == pending.id
    assert change.after.score > pending.score
    assert change.after.band is Band.AUTO_ACCEPTED
    assert change.after in rerun.result.matches
    assert pending not in rerun.result.matches


def test_a_pending_match_that_no_longer_holds_is_dissolved_and_its_lines_go_back():
    accepted, pending = first_run()
    moved = replace(PENDING_LEDGER, amount=PENDING_LEDGER.amount + 1)
    newcomer = bank(3, "56.00", counterparty="GLOBEX", statement="S2")
    rerun = rematch(
        previous(accepted, pending),
        [AUTO_BANK, PENDING_BANK, newcomer],
        [AUTO_LEDGER, moved],
        POLICY,
    )
    (change,) = rerun.changed
    assert change.after is None
    assert "now scores" in change.reason
    # The changed entry went back to the pool and met the new line there.
    (new,) = rerun.new
    assert new.ledger_entries == ("P",)
    assert new.bank_lines == (newcomer.key,)
    assert [u.line for u in rerun.result.unmatched_bank] == [PENDING_BANK.key]


def test_a_pending_match_with_a_line_gone_is_dissolved():
    accepted, pending = first_run()
    rerun = rematch(previous(accepted, pending), [AUTO_BANK, PENDING_BANK], [AUTO_LEDGER], POLICY)
    (change,) = rerun.changed
    assert (change.after, change.reason) == (None, "a line is gone")
    assert [u.line for u in rerun.result.unmatched_bank] == [PENDING_BANK.key]


def test_new_lines_are_matched_and_old_accepted_lines_stay_out_of_the_pool():
    accepted, pending = first_run()
    twin = bank(9, "100.00", reference="INV-400001", counterparty="ACME", statement="S3")
    rerun = rematch(
        previous(accepted, pending),
        [AUTO_BANK, PENDING_BANK, twin],
        [AUTO_LEDGER, PENDING_LEDGER],
        POLICY,
    )
    assert rerun.new == ()  # the twin cannot take the accepted match's entry
    assert [u.line for u in rerun.result.unmatched_bank] == [twin.key]


def test_a_rescored_match_with_a_twin_line_is_held_for_review():
    accepted, pending = first_run()
    bank_side = replace(PENDING_BANK, reference="INV-400777")
    twin = replace(bank_side, statement_id="S1-r2", line_number=1)
    ledger_side = replace(PENDING_LEDGER, reference="INV-400777")
    rerun = rematch(
        previous(accepted, pending),
        [AUTO_BANK, bank_side, twin],
        [AUTO_LEDGER, ledger_side],
        POLICY,
    )
    (change,) = rerun.changed
    assert change.after is not None
    assert change.after.score >= 85
    assert change.after.band is Band.PENDING_REVIEW
    assert change.after.held is not None and "twin" in change.after.held

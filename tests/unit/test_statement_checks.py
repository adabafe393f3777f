"""The checks of a statement: chain arithmetic and tolerance, continuity, control totals,
dates outside the period; and the policy's statements section."""

from __future__ import annotations

import dataclasses
from datetime import date
from decimal import Decimal
from typing import Any

import pytest

from domain.errors import PolicyError
from domain.policy import LoadedPolicy
from domain.statements.checks import (
    DERIVED_NOTE,
    chain_delta,
    check,
    tolerance_for,
    within,
)
from domain.statements.records import Continuity, Statement, StatementLine, mask_account
from domain.usecases.statements import build_statement, known_account
from tests.builders import make_policy
from tests.fakes import T0
from tests.statement_files import (
    EUR_ACCOUNT,
    JPY_ACCOUNT,
    KWD_ACCOUNT,
    USD_ACCOUNT,
    JsonStatementParser,
    line,
    statement,
    statement_file,
    statement_policy_overrides,
)


def policy(**statements: Any) -> LoadedPolicy:
    return make_policy(**statement_policy_overrides(**statements))


def stored(raw: dict[str, Any], loaded: LoadedPolicy | None = None, **changes: Any) -> Statement:
    """A statement of the JSON test format as the import builds it (not checked yet)."""
    loaded = loaded or policy()
    (parsed,) = JsonStatementParser()(statement_file(raw)).statements
    built = build_statement(
        parsed,
        known_account(parsed, loaded),
        file_name="f.json",
        sha256="0" * 64,
        policy_version=loaded.version,
        now=T0,
    )
    return dataclasses.replace(built, **changes)


# --- the chain ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("delta", "ok"),
    [("0", True), ("0.001", True), ("-0.001", True), ("0.0011", False), ("-0.0011", False)],
)
def test_the_verdict_holds_at_the_tolerance_and_fails_just_past_it(delta: str, ok: bool) -> None:
    assert within(Decimal(delta), Decimal("0.001")) is ok


def test_a_three_decimal_statement_off_by_one_fils_passes_and_by_two_fails() -> None:
    loaded = policy(balance_tolerance="0.001")
    # No KWD rate in the test policy: the tolerance applies in KWD's own units.
    base: dict[str, Any] = {"account": KWD_ACCOUNT, "currency": "KWD", "opening": "10.000"}
    off_by_one = stored(statement(**base, closing="10.001", lines=[]), loaded)
    off_by_two = stored(statement(**base, closing="10.002", lines=[]), loaded)
    one = check(off_by_one, previous=None, loaded=loaded)
    two = check(off_by_two, previous=None, loaded=loaded)
    assert (one.delta, one.chain_ok) == (Decimal("-0.001"), True)
    assert (two.delta, two.chain_ok) == (Decimal("-0.002"), False)
    assert one.tolerance == Decimal("0.001") and one.tolerance_rate is None


def test_a_two_decimal_statement_holds_only_to_the_cent_under_the_default_tolerance() -> None:
    loaded = policy()
    exact = stored(statement(account=USD_ACCOUNT, currency="USD"), loaded)
    cent = stored(statement(account=USD_ACCOUNT, currency="USD", closing="1150.01"), loaded)
    assert check(exact, previous=None, loaded=loaded).chain_ok is True
    off = check(cent, previous=None, loaded=loaded)
    assert (off.delta, off.chain_ok) == (Decimal("-0.01"), False)
    assert off.tolerance == Decimal("0.001")  # never 0.10


def test_a_zero_decimal_statement_is_checked_against_the_converted_tolerance() -> None:
    # 10 USD at 0.0067 USD per JPY is 1492.5... JPY: 1492 JPY off passes, 1493 fails.
    loaded = policy(balance_tolerance="10")
    base: dict[str, Any] = {
        "account": JPY_ACCOUNT,
        "currency": "JPY",
        "opening": "100000",
        "lines": [],
    }
    passes = stored(statement(**base, closing="101492"), loaded)
    fails = stored(statement(**base, closing="101493"), loaded)
    assert check(passes, previous=None, loaded=loaded).chain_ok is True
    assert check(fails, previous=None, loaded=loaded).chain_ok is False


def test_the_tolerance_is_converted_to_the_statement_currency_at_the_policy_rate() -> None:
    loaded = policy(balance_tolerance="0.001")
    eur = tolerance_for("EUR", date(2025, 3, 3), loaded)
    assert eur.rate is not None and eur.rate.rate == Decimal("1.08")
    assert (eur.rate.on, eur.rate.source) == (None, "policy fx_rates")  # static: no date
    assert eur.amount == Decimal("0.001") / Decimal("1.08")
    usd = tolerance_for("USD", date(2025, 3, 3), loaded)
    assert usd.rate is not None
    assert (usd.amount, usd.rate.rate) == (Decimal("0.001"), Decimal(1))


def test_with_no_rate_the_tolerance_applies_in_the_statement_own_units() -> None:
    loaded = policy(balance_tolerance="0.005")
    kwd = tolerance_for("KWD", date(2025, 3, 3), loaded)
    assert (kwd.amount, kwd.rate) == (Decimal("0.005"), None)


def test_the_delta_counts_removed_lines_for_nothing() -> None:
    lines = [
        StatementLine(number=1, amount=Decimal("5.00")),
        StatementLine(number=2, amount=Decimal("5.00"), removed=True),
    ]
    assert chain_delta(Decimal("10.00"), lines, Decimal("15.00")) == 0


def test_a_derived_opening_has_no_chain_verdict_and_says_why() -> None:
    loaded = policy()
    raw = statement(opening_derived=True, closing="1150.01")
    result = check(stored(raw, loaded), previous=None, loaded=loaded)
    assert (result.delta, result.chain_ok, result.chain_note) == (None, None, DERIVED_NOTE)


def test_a_statement_without_balances_has_no_chain_verdict() -> None:
    loaded = policy()
    result = check(stored(statement(opening=None), loaded), previous=None, loaded=loaded)
    assert result.delta is None and result.chain_ok is None


# --- continuity --------------------------------------------------------------------------


def test_the_first_statement_of_an_account_has_unknown_continuity() -> None:
    loaded = policy()
    result = check(stored(statement(), loaded), previous=None, loaded=loaded)
    assert result.continuity is Continuity.UNKNOWN and result.previous_id is None


def test_an_opening_equal_to_the_previous_closing_is_continuous() -> None:
    loaded = policy()
    before = stored(statement(start="2025-03-02", end="2025-03-02", closing="1000.00"), loaded)
    before = dataclasses.replace(before, id=7, closing=Decimal("1000.00"))
    result = check(stored(statement(), loaded), previous=before, loaded=loaded)
    assert (result.continuity, result.continuity_gap, result.previous_id) == (
        Continuity.OK,
        None,
        7,
    )
    assert result.overlap is False


def test_a_gap_names_its_amount() -> None:
    loaded = policy()
    before = dataclasses.replace(
        stored(statement(start="2025-03-02", end="2025-03-02"), loaded),
        id=7,
        closing=Decimal("990.00"),
    )
    result = check(stored(statement(), loaded), previous=before, loaded=loaded)
    assert (result.continuity, result.continuity_gap) == (Continuity.GAP, Decimal("10.00"))


def test_overlapping_periods_are_flagged() -> None:
    loaded = policy()
    before = dataclasses.replace(
        stored(statement(start="2025-03-01", end="2025-03-03"), loaded),
        id=7,
        closing=Decimal("1000.00"),
    )
    later = stored(statement(start="2025-03-03", end="2025-03-05"), loaded)
    result = check(later, previous=before, loaded=loaded)
    assert result.overlap is True and result.continuity is Continuity.OK


# --- control totals and dates ------------------------------------------------------------


def test_control_totals_that_agree_with_the_lines_pass() -> None:
    loaded = policy()
    signed = stored(statement(control_total="150.00", control_count=2), loaded)
    unsigned = stored(statement(control_total="250.00", control_count=2), loaded)
    assert check(signed, previous=None, loaded=loaded).control_ok is True
    assert check(unsigned, previous=None, loaded=loaded).control_ok is True


def test_control_totals_that_disagree_say_how() -> None:
    loaded = policy()
    bad = stored(statement(control_total="151.00", control_count=3), loaded)
    result = check(bad, previous=None, loaded=loaded)
    assert result.control_ok is False
    assert result.control_problems == (
        "the file says 3 entries but 2 were read",
        "the file's control total is 151.00 but the entries sum to 150.00",
    )


def test_a_statement_without_control_totals_has_no_control_verdict() -> None:
    loaded = policy()
    assert check(stored(statement(), loaded), previous=None, loaded=loaded).control_ok is None


def test_lines_dated_outside_the_period_are_listed() -> None:
    loaded = policy()
    raw = statement(
        start="2025-03-03",
        end="2025-03-04",
        closing="1150.00",
        lines=[line("200.00", "2025-03-02"), line("-50.00", "2025-03-04"), line("0.00", None)],
    )
    assert check(stored(raw, loaded), previous=None, loaded=loaded).out_of_period == (1,)


# --- the policy section ------------------------------------------------------------------


def test_the_statements_section_has_its_defaults() -> None:
    section = make_policy().policy.statements
    assert section.balance_tolerance == Decimal("0.001")
    assert section.auto_approve is False and section.edit_needs_other_approver is True
    assert section.accounts == []


@pytest.mark.parametrize(
    ("stated", "found"),
    [
        (EUR_ACCOUNT, True),
        ("nl81 asnb 9999 9999 99", True),
        ("ASNBNL2A/" + EUR_ACCOUNT, True),
        ("12345678/" + EUR_ACCOUNT.lower(), True),
        (EUR_ACCOUNT + "0", False),
        ("/" + EUR_ACCOUNT, False),
    ],
)
def test_an_account_is_matched_normalised_and_behind_a_bank_code(stated: str, found: bool) -> None:
    hit = policy().policy.statements.account_for(stated, "EUR")
    assert (hit is not None) is found


@pytest.mark.parametrize(
    ("section", "problem"),
    [
        ({"balance_tolerance": "-0.01"}, "statements.balance_tolerance: "),
        ({"balance_tolerance": 0.01}, "statements.balance_tolerance: "),
        ({"accounts": [{"account": "X", "entity": "E", "currency": "EUR", "gl_account": "1"}]},
         "statements.accounts[0].team: Field required"),
        ({"accounts": [{"account": "X", "entity": "E", "currency": "EUX", "gl_account": "1",
                        "team": "treasury"}]}, "statements.accounts[0].currency: "),
        ({"accounts": [{"account": "X", "entity": "E", "currency": "EUR", "gl_account": "1",
                        "team": "nobody"}]}, "statements.accounts[0].team: no team named"),
        ({"accounts": [{"account": "x 1", "entity": "E", "currency": "EUR", "gl_account": "1",
                        "team": "treasury"},
                       {"account": "X1", "entity": "F", "currency": "EUR", "gl_account": "2",
                        "team": "treasury"}]}, "statements.accounts: "),
        ({"auto_approve": "maybe"}, "statements.auto_approve: "),
    ],
)  # fmt: skip
def test_a_bad_statements_section_names_the_field(section: dict[str, Any], problem: str) -> None:
    with pytest.raises(PolicyError) as raised:
        make_policy(statements=section)
    assert any(problem in p for p in raised.value.problems), raised.value.problems


@pytest.mark.parametrize(
    ("account", "shown"),
    [("NL81 ASNB 9999 9999 99", "NL81…9999"), ("123456789", "1234…6789"),
     ("12345678", "…5678"), ("1234", "1234")],
)  # fmt: skip
def test_account_numbers_are_masked_in_messages(account: str, shown: str) -> None:
    assert mask_account(account) == shown

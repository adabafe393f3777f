"""The policy's ``matching:`` section: defaults, field-named errors, the matcher's view."""

from __future__ import annotations

import copy
from decimal import Decimal
from typing import Any

import pytest
import yaml

from domain.errors import PolicyError
from domain.matching.records import MatchingError
from domain.matching.settings import matching_policy
from domain.policy import Matching, parse_policy, policy_version
from tests.builders import make_policy, policy_data


def _parse(matching: dict[str, Any] | None) -> Any:
    data = copy.deepcopy(policy_data())
    if matching is not None:
        data["matching"] = matching
    return parse_policy(yaml.safe_dump(data, sort_keys=False))


def _problems(matching: dict[str, Any]) -> list[str]:
    with pytest.raises(PolicyError) as info:
        _parse(matching)
    return info.value.problems


def test_the_defaults_are_the_issues() -> None:
    section = _parse(None).policy.matching
    assert section.date_window_days == 3
    assert section.amount_tolerance == Decimal("0.10")
    assert section.max_group_size == 5
    assert section.group_time_budget_ms == 200
    w = section.weights
    assert (w.amount, w.date, w.reference, w.counterparty) == (40, 10, 30, 20)


def test_a_policy_without_the_section_keeps_its_version() -> None:
    bare = _parse(None)
    spelled = _parse({"date_window_days": 3, "amount_tolerance": "0.10"})
    assert bare.version == spelled.version
    changed = _parse({"date_window_days": 4})
    assert changed.version != bare.version
    assert policy_version(changed.policy) == changed.version


@pytest.mark.parametrize(
    ("section", "where"),
    [
        ({"date_window_days": -1}, "matching.date_window_days"),
        ({"amount_tolerance": "-0.01"}, "matching.amount_tolerance"),
        ({"amount_tolerance": 0.1}, "matching.amount_tolerance"),
        ({"max_group_size": 0}, "matching.max_group_size"),
        ({"group_time_budget_ms": -5}, "matching.group_time_budget_ms"),
        ({"weights": {"amount": 50}}, "matching.weights"),
        ({"weights": {"amount": -10, "date": 60}}, "matching.weights.amount"),
        ({"surprise": 1}, "matching.surprise"),
    ],
)
def test_errors_name_the_field(section: dict[str, Any], where: str) -> None:
    problems = _problems(section)
    assert [p.partition(": ")[0] for p in problems] == [where]


def test_mapped_onto_the_matchers_policy_with_converted_tolerances() -> None:
    policy = make_policy().policy.model_copy(
        update={
            "matching": Matching.model_validate(
                {"date_window_days": 2, "max_group_size": 3, "weights": {"amount": 50, "date": 0}}
            )
        }
    )
    mapped = matching_policy(policy, rates={"EUR": Decimal("1.08"), "JPY": Decimal("0.0067")})
    assert mapped.date_window_days == 2
    assert mapped.max_group_size == 3
    assert (mapped.weights.amount, mapped.weights.date) == (50, 0)
    assert mapped.auto_accept_at == policy.routing.match_auto_accept_score
    assert mapped.review_at == policy.routing.match_review_score
    # 0.10 USD / 1.08 = 0.0926 EUR, rounded up to the cent; JPY has no minor unit.
    assert mapped.tolerance_for("EUR") == Decimal("0.10")
    assert mapped.tolerance_for("JPY") == Decimal("15")
    assert mapped.tolerance_for(policy.reporting_currency) == Decimal("0.10")
    with pytest.raises(MatchingError):
        mapped.tolerance_for("GBP")

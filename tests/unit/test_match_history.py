"""A counterparty's historical match rate (pure): its edges and its reason."""

from __future__ import annotations

from decimal import Decimal

import pytest

from domain.matching.history import NEUTRAL_MATCH_RATE, MatchHistory, MatchRate, MatchTally


@pytest.mark.parametrize(
    ("lines", "matched", "rate"),
    [
        (14, 10, Decimal(10) / 14),
        (1, 1, Decimal(1)),
        (3, 0, Decimal(0)),
        # Counts from elsewhere never give a rate outside 0..1.
        (2, 5, Decimal(1)),
        (2, -1, Decimal(0)),
    ],
)
def test_the_rate_is_the_matched_share_of_the_lines(
    lines: int, matched: int, rate: Decimal
) -> None:
    found = MatchRate(counterparty="Globex", days=90, lines=lines, matched=matched)
    assert found.rate == rate
    assert found.value == rate


@pytest.mark.parametrize("lines", [0, -3])
def test_no_lines_is_no_rate_and_the_neutral_value(lines: int) -> None:
    found = MatchRate(counterparty="Globex", days=90, lines=lines, matched=0)
    assert found.rate is None
    assert found.value == NEUTRAL_MATCH_RATE == Decimal("0.5")


def test_the_history_gives_each_counterparty_its_own_rate() -> None:
    history = MatchHistory(
        days=30,
        tallies={"Globex": MatchTally(lines=4, matched=3), "Hooli": MatchTally(lines=0, matched=0)},
    )
    assert history.rate_for("Globex") == MatchRate(
        counterparty="Globex", days=30, lines=4, matched=3
    )
    assert history.rate_for("Globex").reason() == "match rate 75% over 30 days, 4 lines"
    assert history.rate_for("Initech").rate is None
    assert history.rate_for(None).reason() == "no counterparty: match rate neutral 50%"
    assert history.knows("Globex")
    assert not history.knows("Hooli") and not history.knows("Initech")
    assert not history.knows(None)


def test_the_percentage_rounds_half_up() -> None:
    assert (
        MatchRate(counterparty="A", days=90, lines=8, matched=1)
        .reason()
        .startswith(
            "match rate 13% "  # 12.5%
        )
    )
    assert (
        MatchRate(counterparty="A", days=90, lines=3, matched=2)
        .reason()
        .startswith("match rate 67% ")
    )

"""Ids and numbers people type or Slack sends back are ASCII digits, nothing else.

``str.isdigit`` accepts superscript two (which ``int`` then refuses: "Something went
wrong" in Slack, ``invalid literal for int()`` on the command line) and Arabic-Indic one
(which ``int`` reads as 1, so R- and that digit opened R-1); both are refused as ids now.
"""

from __future__ import annotations

import pytest

from domain.items import MAX_ITEM_ID, parse_ascii_number, parse_human_id
from handlers.command_line import Usage, parse
from handlers.forms import PayloadError, parse_home_page
from handlers.ids import ItemAction, item_action_id, item_action_pattern, parse_item_value

# superscript two, Arabic-Indic, fullwidth, extended Arabic-Indic, NKo, mathematical bold...
NOT_ASCII = ["²", "\u0661", "\u0663\u0664", "\uff11", "\u06f1", "\u07c1", "\U0001d7cf"]
NOT_ASCII += ["1²", "½", "Ⅻ"]


@pytest.mark.parametrize("digits", NOT_ASCII)
def test_an_id_in_other_digits_is_not_an_id(digits: str) -> None:
    assert parse_human_id(f"R-{digits}") is None
    assert parse_human_id(digits) is None


@pytest.mark.parametrize(
    ("text", "expected"),
    [("R-1042", 1042), ("r-7", 7), ("1042", 1042), (" R-0012 ", 12), ("R-0", None), ("R-", None)],
)
def test_ascii_ids_still_parse(text: str, expected: int | None) -> None:
    assert parse_human_id(text) == expected


def test_an_id_too_long_for_int_is_refused_without_an_error() -> None:
    assert parse_human_id("R-" + "9" * 5000) is None  # int() refuses over 4,300 digits
    assert parse_human_id("R-99999999999999999999") == 99999999999999999999  # unknown, not bad


@pytest.mark.parametrize("digits", NOT_ASCII)
def test_slash_commands_with_other_digits_get_usage(digits: str) -> None:
    for verb in ("show", "approve", "escalate", "dispute"):
        parsed = parse(f"{verb} R-{digits}")
        assert isinstance(parsed, Usage), (verb, digits)
        assert "is not an item id" in parsed.problem


@pytest.mark.parametrize("digits", NOT_ASCII)
def test_button_values_and_action_ids_with_other_digits_are_not_ours(digits: str) -> None:
    assert parse_item_value(f"{digits}:1") is None
    assert parse_item_value(f"1:{digits}") is None
    assert not item_action_pattern(ItemAction.APPROVE).match(f"recon.approve:{digits}")
    with pytest.raises(PayloadError):
        parse_home_page(digits)


def test_ascii_button_values_still_parse() -> None:
    assert parse_item_value("1042:7") == (1042, 7)
    assert parse_item_value(f"{MAX_ITEM_ID + 1}:1") is None
    assert item_action_pattern(ItemAction.APPROVE).match(item_action_id(ItemAction.APPROVE, 9))
    assert parse_home_page(" 3 ") == 3


def test_parse_ascii_number_bounds() -> None:
    assert parse_ascii_number("0", maximum=5) == 0
    assert parse_ascii_number("5", maximum=5) == 5
    assert parse_ascii_number("6", maximum=5) is None
    assert parse_ascii_number("", maximum=5) is None
    assert parse_ascii_number("+1", maximum=5) is None
    assert parse_ascii_number("1_0", maximum=100) is None

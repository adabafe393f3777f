"""Reading MT940 field values strictly: balances (``:60F:``/``:62F:``), YYMMDD and MMDD
dates, amounts at their currency's scale; and the error (:class:`_Bad`) naming the line
and field a statement cannot be read at.
"""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass
from datetime import date
from decimal import Decimal

from domain.errors import MoneyError
from domain.money import MAX_MINOR_DIGITS, minor_units, normalize_currency
from statements.mt940_messages import _Field

#: A balance field: D/C mark, YYMMDD, currency, amount.
_BALANCE = re.compile(r"([DC])(\d{6})([A-Z]{3})(\d[\d,]*)")


class _Bad(Exception):
    """One statement that cannot be read: the line, the field and the reason."""

    def __init__(self, line: int, tag: str | None, reason: str) -> None:
        super().__init__(reason)
        self.line = line
        self.tag = tag
        self.reason = reason


@dataclass(frozen=True, slots=True)
class _Balance:
    date: date
    currency: str
    amount: Decimal


def _balance(f: _Field) -> _Balance:
    value = f.lines[0].strip()
    match = _BALANCE.fullmatch(value)
    if match is None:
        raise _Bad(f.line, f.tag, _balance_fault(value))
    mark, when, currency, amount = match.groups()
    try:
        code = normalize_currency(currency)
    except MoneyError:
        raise _Bad(f.line, f.tag, f"unknown currency {currency!r}") from None
    value_date = _date(when, f)
    signed = _amount(amount, code, f)
    return _Balance(date=value_date, currency=code, amount=-signed if mark == "D" else signed)


def _balance_fault(value: str) -> str:
    """Says what is wrong with a balance that does not match ``1!a6!n3!a15d``."""
    expected = "(expected a D/C mark, a YYMMDD date, a 3-letter currency and an amount)"
    if not value:
        return f"the balance is empty {expected}"
    if value[0] not in "DC":
        return f"the balance's debit/credit mark {value[0]!r} is not D or C"
    if not (len(value) >= 7 and value[1:7].isdigit()):
        return f"the balance has no YYMMDD date {expected}"
    currency = value[7:10]
    if not (len(currency) == 3 and currency.isalpha() and currency.isupper()):
        return f"the balance has no currency {expected}"
    return f"the balance amount {value[10:]!r} is not a number with a decimal comma"


def _date(text: str, f: _Field) -> date:
    found = _yymmdd(text)
    if found is None:
        raise _Bad(f.line, f.tag, f"{text} is not a valid YYMMDD date")
    return found


@functools.lru_cache(maxsize=4096)  # pure; a file has few distinct dates, read per line
def _yymmdd(text: str) -> date | None:
    year = int(text[0:2])
    try:
        return date(year + (2000 if year < 80 else 1900), int(text[2:4]), int(text[4:6]))
    except ValueError:
        return None


def _entry_date(text: str, value_date: date, f: _Field) -> date:
    """The MMDD entry date in the year that puts it nearest the value date.

    A line valued on 31 December and booked on 2 January (``1231`` ``0102``) is booked
    in the next year; one valued on 2 January and booked on 31 December in the year before.
    """
    month, day = int(text[0:2]), int(text[2:4])
    try:
        same_year = date(value_date.year, month, day)
    except ValueError:
        pass  # 29 February in another year, or no such date: try all three below
    else:
        days = (same_year - value_date).days
        if -183 <= days <= 183:
            return same_year
    best: date | None = None
    for year in (value_date.year - 1, value_date.year, value_date.year + 1):
        try:
            candidate = date(year, month, day)
        except ValueError:
            continue
        if best is None or abs(candidate - value_date) < abs(best - value_date):
            best = candidate
    if best is None:
        raise _Bad(f.line, f.tag, f"the entry date {text} is not a valid MMDD date")
    return best


def _amount(text: str, currency: str, f: _Field) -> Decimal:
    """An unsigned MT940 amount (``1234,56``) at the currency's scale, strictly.

    The scale and the storage limit are ``domain.money``'s; more decimals than the
    currency allows is an error, never rounded ("10,500" EUR is 10.50, "10,505" is not).
    """
    whole, comma, fraction = text.partition(",")
    if "," in fraction:
        raise _Bad(f.line, f.tag, f"the amount {text} has more than one decimal comma")
    scale = minor_units(currency)
    if len(fraction) > scale and fraction[scale:].strip("0"):
        raise _Bad(
            f.line, f.tag, f"the amount {text} has more decimals than {currency} allows ({scale})"
        )
    if len(whole.lstrip("0")) + scale > MAX_MINOR_DIGITS:
        raise _Bad(f.line, f.tag, f"the amount {text} {currency} is too large")
    # Exact: at most MAX_MINOR_DIGITS significant digits, inside Decimal's context.
    return Decimal(f"{whole}.{fraction}" if comma else whole).quantize(_exponent(scale))


@functools.lru_cache(maxsize=8)
def _exponent(scale: int) -> Decimal:
    return Decimal(1).scaleb(-scale)

"""Rows of a plain FX rate CSV -> :class:`~domain.fx.FxRate`, each problem named (pure).

Columns: ``date`` (YYYY-MM-DD), ``currency`` (ISO 4217), ``rate`` (a positive plain
decimal: units of ``currency`` per one unit of ``base``), ``source`` (optional: the file's
default), ``base`` (optional: the policy's reporting currency).
"""

from __future__ import annotations

from datetime import date

from domain.errors import MoneyError
from domain.fx import FxRate
from domain.intake import UNSAFE, RowError
from domain.money import normalize_currency, parse_decimal

#: Longest rate text accepted (the store keeps it as exact text).
MAX_RATE_CHARS = 40
MAX_SOURCE_CHARS = 100


class _Bad(Exception):
    def __init__(self, field: str, error: str) -> None:
        super().__init__(error)
        self.field = field
        self.error = error


def _text(row: dict[str, str], name: str) -> str:
    value = row.get(name)
    return value.strip() if isinstance(value, str) else ""


def _currency(row: dict[str, str], name: str, default: str | None = None) -> str:
    raw = _text(row, name)
    if not raw:
        if default is None:
            raise _Bad(name, "is required")
        return default
    try:
        return normalize_currency(raw)
    except MoneyError as exc:
        raise _Bad(name, str(exc)) from None


def parse_rate_row(
    row: dict[str, str], *, line: int, default_base: str, default_source: str
) -> FxRate | RowError:
    """Validates one CSV row (``line`` is its line in the file, for the error)."""
    try:
        return _parse(row, default_base=default_base, default_source=default_source)
    except _Bad as bad:
        return RowError(line=line, field=bad.field, error=bad.error)


def _parse(row: dict[str, str], *, default_base: str, default_source: str) -> FxRate:
    raw_date = _text(row, "date")
    if not raw_date:
        raise _Bad("date", "is required")
    try:
        on = date.fromisoformat(raw_date)
    except ValueError:
        raise _Bad("date", f"{raw_date!r} is not a date (YYYY-MM-DD)") from None
    currency = _currency(row, "currency")
    base = _currency(row, "base", default_base)
    if base == currency:
        raise _Bad("currency", f"is the base currency {base}: a rate needs two currencies")
    raw_rate = _text(row, "rate")
    if not raw_rate:
        raise _Bad("rate", "is required")
    if len(raw_rate) > MAX_RATE_CHARS:
        raise _Bad("rate", f"is longer than {MAX_RATE_CHARS} characters")
    try:
        rate = parse_decimal(raw_rate)
    except MoneyError as exc:
        raise _Bad("rate", str(exc)) from None
    if rate <= 0:
        raise _Bad("rate", f"{raw_rate} must be positive")
    source = _text(row, "source") or default_source
    if len(source) > MAX_SOURCE_CHARS:
        raise _Bad("source", f"is longer than {MAX_SOURCE_CHARS} characters")
    if UNSAFE.search(source):
        raise _Bad("source", "holds a control or bidirectional character, not plain text")
    return FxRate(on=on, base=base, currency=currency, rate=rate, source=source)

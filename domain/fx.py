"""Dated FX rates and the rate book routing reads them from (pure).

A rate says how many units of ``currency`` one unit of ``base`` buys on ``on``: the
European Central Bank's reference rates have base EUR (``1 EUR = 1.0850 USD`` is
``FxRate(base="EUR", currency="USD", rate=Decimal("1.0850"))``).

:class:`RateBook` holds the rates a batch needs (loaded by the shell from the store) and
answers "reporting-currency units per one unit of X on day D" with the latest rate on or
before D, and where it came from (:class:`AppliedRate`). The same currency is 1; else
there are three ways to the rate: quoted from X into the reporting currency (used as
is), quoted from the reporting currency into X (its inverse), or a cross rate through
EUR, ``rate(X->R) = rate(EUR->R) / rate(EUR->X)`` (dated by its older leg). The most
recent of those wins (a month-old CSV quote does not beat yesterday's ECB cross rate);
on the same date, in that order. Inverses and cross rates are divided in a decimal
context of :data:`CROSS_PRECISION` significant digits (ROUND_HALF_EVEN); a rate used as
quoted is exact. Between two sources with a rate on the same latest day, the source
whose name sorts first wins, so the choice never depends on load order.
"""

from __future__ import annotations

import bisect
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date
from decimal import ROUND_HALF_EVEN, Context, Decimal
from typing import Any

from domain.money import canonical_decimal

#: Significant digits of an inverse or cross rate (a quoted rate is used exactly).
CROSS_PRECISION = 12
#: The currency cross rates go through (the ECB publishes every rate against it).
PIVOT = "EUR"
_DIVIDE = Context(prec=CROSS_PRECISION, rounding=ROUND_HALF_EVEN)


@dataclass(frozen=True, slots=True, kw_only=True)
class FxRate:
    """One dated rate: ``1 base = rate currency`` on ``on``, as ``source`` published it."""

    on: date
    base: str
    currency: str
    rate: Decimal
    source: str

    @property
    def key(self) -> tuple[date, str, str, str]:
        """What identifies it in the store: a second rate for the same key replaces it."""
        return (self.on, self.base, self.currency, self.source)


@dataclass(frozen=True, slots=True, kw_only=True)
class AppliedRate:
    """The rate a decision used: reporting units per one unit of ``currency``.

    ``on`` is the rate's own date (the older leg's for a cross rate), None for the
    policy's static fallback rate, which has no date; ``basis`` says how it was found.
    """

    currency: str
    reporting_currency: str
    rate: Decimal
    on: date | None
    source: str
    basis: str

    @classmethod
    def from_audit_data(cls, data: dict[str, Any]) -> AppliedRate:
        """The rate :meth:`audit_data` described (how the store keeps an item's rate)."""
        return cls(
            currency=data["currency"],
            reporting_currency=data["to"],
            rate=Decimal(data["rate"]),
            on=date.fromisoformat(data["date"]) if data.get("date") else None,
            source=data["source"],
            basis=data["basis"],
        )

    def audit_data(self) -> dict[str, Any]:
        """What a decision's audit record says about the rate (exact decimal text)."""
        return {
            "currency": self.currency,
            "to": self.reporting_currency,
            "rate": canonical_decimal(self.rate),
            "date": self.on.isoformat() if self.on else None,
            "source": self.source,
            "basis": self.basis,
        }


@dataclass(frozen=True, slots=True)
class _Quote:
    on: date
    source: str
    rate: Decimal


@dataclass(frozen=True, slots=True)
class RateBook:
    """Rates by (base, currency), each list sorted by date then source (see module doc)."""

    _quotes: dict[tuple[str, str], tuple[_Quote, ...]] = field(default_factory=dict)

    @classmethod
    def of(cls, rates: Iterable[FxRate]) -> RateBook:
        """A book of ``rates`` (any order; a repeated key keeps the last one given)."""
        by_key: dict[tuple[date, str, str, str], FxRate] = {r.key: r for r in rates}
        grouped: dict[tuple[str, str], list[_Quote]] = {}
        for rate in by_key.values():
            grouped.setdefault((rate.base, rate.currency), []).append(
                _Quote(rate.on, rate.source, rate.rate)
            )
        # Date ascending; on one date the first source by name last, so it is the one found.
        return cls(
            {
                pair: tuple(sorted(quotes, key=lambda q: (q.on, _reverse(q.source))))
                for pair, quotes in grouped.items()
            }
        )

    def __len__(self) -> int:
        return sum(len(q) for q in self._quotes.values())

    def _latest(self, base: str, currency: str, on: date) -> _Quote | None:
        quotes = self._quotes.get((base, currency))
        if not quotes:
            return None
        at = bisect.bisect_right(quotes, on, key=lambda q: q.on)
        return quotes[at - 1] if at else None

    def lookup(self, currency: str, reporting: str, on: date) -> AppliedRate | None:
        """Reporting units per unit of ``currency`` on ``on`` (latest rate on or before it).

        Of the ways to find it (quoted, inverse, cross through EUR), the one whose rate is
        the most recent wins; on the same date, in that order.
        """
        if currency == reporting:
            return AppliedRate(
                currency=currency,
                reporting_currency=reporting,
                rate=Decimal(1),
                on=on,
                source="identity",
                basis="same currency",
            )
        found = [
            rate
            for rate in (
                self._quoted(currency, reporting, on),
                self._inverse(currency, reporting, on),
                self._cross(currency, reporting, on),
            )
            if rate is not None
        ]
        if not found:
            return None
        newest = max(rate.on or on for rate in found)
        return next(rate for rate in found if rate.on == newest)

    def _quoted(self, currency: str, reporting: str, on: date) -> AppliedRate | None:
        quoted = self._latest(currency, reporting, on)
        if quoted is None:
            return None
        return AppliedRate(
            currency=currency,
            reporting_currency=reporting,
            rate=quoted.rate,
            on=quoted.on,
            source=quoted.source,
            basis=f"1 {currency} = {canonical_decimal(quoted.rate)} {reporting}",
        )

    def _inverse(self, currency: str, reporting: str, on: date) -> AppliedRate | None:
        inverse = self._latest(reporting, currency, on)
        if inverse is None:
            return None
        return AppliedRate(
            currency=currency,
            reporting_currency=reporting,
            rate=_DIVIDE.divide(Decimal(1), inverse.rate),
            on=inverse.on,
            source=inverse.source,
            basis=f"1 / ({reporting}->{currency} {canonical_decimal(inverse.rate)})",
        )

    def _cross(self, currency: str, reporting: str, on: date) -> AppliedRate | None:
        if PIVOT in (currency, reporting):
            return None  # the quoted or inverse rate already is the euro's
        to_reporting = self._latest(PIVOT, reporting, on)
        to_currency = self._latest(PIVOT, currency, on)
        if to_reporting is None or to_currency is None:
            return None
        sources = sorted({to_reporting.source, to_currency.source})
        return AppliedRate(
            currency=currency,
            reporting_currency=reporting,
            rate=_DIVIDE.divide(to_reporting.rate, to_currency.rate),
            on=min(to_reporting.on, to_currency.on),
            source="+".join(sources),
            basis=(
                f"{PIVOT}->{reporting} {canonical_decimal(to_reporting.rate)} "
                f"({to_reporting.on.isoformat()}) / {PIVOT}->{currency} "
                f"{canonical_decimal(to_currency.rate)} ({to_currency.on.isoformat()})"
            ),
        )


def _reverse(text: str) -> tuple[int, ...]:
    """A sort key that orders strings backwards (so the first name by order sorts last)."""
    return (*(-ord(c) for c in text), 1)


def currencies_needed(currencies: Iterable[str], reporting: str) -> set[str]:
    """The currencies whose rates a batch in ``currencies`` may use (the pivot included)."""
    return {*currencies, reporting, PIVOT}

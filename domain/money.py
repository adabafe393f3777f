"""Money: Decimal amounts quantized to each currency's ISO 4217 minor units.

Floats never enter: amounts arrive as text and leave as integer minor units (for storage)
or canonical strings (for display and audit records).
"""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation

from domain.errors import MoneyError

#: Amounts are stored as integer minor units in a signed 64-bit column; stay below 10**18
#: (well inside 2**63) so every stored amount also fits Decimal's 28-digit context.
MAX_MINOR_DIGITS = 18
MAX_MINOR = 10**MAX_MINOR_DIGITS

# ASCII digits only: Decimal() itself also takes "1_000" and Arabic-Indic or full-width
# digits, which no ledger export means as a plain amount.
_PLAIN_DECIMAL = re.compile(r"^[+-]?([0-9]+(\.[0-9]*)?|\.[0-9]+)$")

# ISO 4217 minor units for currencies that do not use two decimals. Every other
# well-formed three-letter code in KNOWN_CURRENCIES uses two.
_MINOR_UNITS_EXCEPTIONS: dict[str, int] = {
    # zero decimals
    "BIF": 0,
    "CLP": 0,
    "DJF": 0,
    "GNF": 0,
    "ISK": 0,
    "JPY": 0,
    "KMF": 0,
    "KRW": 0,
    "PYG": 0,
    "RWF": 0,
    "UGX": 0,
    "UYI": 0,
    "VND": 0,
    "VUV": 0,
    "XAF": 0,
    "XOF": 0,
    "XPF": 0,
    # three decimals
    "BHD": 3,
    "IQD": 3,
    "JOD": 3,
    "KWD": 3,
    "LYD": 3,
    "OMR": 3,
    "TND": 3,
    # four decimals
    "CLF": 4,
    "UYW": 4,
}

KNOWN_CURRENCIES: frozenset[str] = frozenset(
    {
        "AED",
        "AFN",
        "ALL",
        "AMD",
        "ANG",
        "AOA",
        "ARS",
        "AUD",
        "AWG",
        "AZN",
        "BAM",
        "BBD",
        "BDT",
        "BGN",
        "BHD",
        "BIF",
        "BMD",
        "BND",
        "BOB",
        "BRL",
        "BSD",
        "BTN",
        "BWP",
        "BYN",
        "BZD",
        "CAD",
        "CDF",
        "CHF",
        "CLF",
        "CLP",
        "CNY",
        "COP",
        "CRC",
        "CUP",
        "CVE",
        "CZK",
        "DJF",
        "DKK",
        "DOP",
        "DZD",
        "EGP",
        "ERN",
        "ETB",
        "EUR",
        "FJD",
        "FKP",
        "GBP",
        "GEL",
        "GHS",
        "GIP",
        "GMD",
        "GNF",
        "GTQ",
        "GYD",
        "HKD",
        "HNL",
        "HTG",
        "HUF",
        "IDR",
        "ILS",
        "INR",
        "IQD",
        "IRR",
        "ISK",
        "JMD",
        "JOD",
        "JPY",
        "KES",
        "KGS",
        "KHR",
        "KMF",
        "KPW",
        "KRW",
        "KWD",
        "KYD",
        "KZT",
        "LAK",
        "LBP",
        "LKR",
        "LRD",
        "LSL",
        "LYD",
        "MAD",
        "MDL",
        "MGA",
        "MKD",
        "MMK",
        "MNT",
        "MOP",
        "MRU",
        "MUR",
        "MVR",
        "MWK",
        "MXN",
        "MYR",
        "MZN",
        "NAD",
        "NGN",
        "NIO",
        "NOK",
        "NPR",
        "NZD",
        "OMR",
        "PAB",
        "PEN",
        "PGK",
        "PHP",
        "PKR",
        "PLN",
        "PYG",
        "QAR",
        "RON",
        "RSD",
        "RUB",
        "RWF",
        "SAR",
        "SBD",
        "SCR",
        "SDG",
        "SEK",
        "SGD",
        "SHP",
        "SLE",
        "SOS",
        "SRD",
        "SSP",
        "STN",
        "SVC",
        "SYP",
        "SZL",
        "THB",
        "TJS",
        "TMT",
        "TND",
        "TOP",
        "TRY",
        "TTD",
        "TWD",
        "TZS",
        "UAH",
        "UGX",
        "USD",
        "UYI",
        "UYU",
        "UYW",
        "UZS",
        "VES",
        "VND",
        "VUV",
        "WST",
        "XAF",
        "XCD",
        "XOF",
        "XPF",
        "YER",
        "ZAR",
        "ZMW",
        "ZWL",
    }
)


@functools.lru_cache(maxsize=512)  # pure, and called for every amount
def minor_units(currency: str) -> int:
    """Number of decimals the currency allows.

    Raises:
        MoneyError: the code is not an ISO 4217 currency.
    """
    code = normalize_currency(currency)
    return _MINOR_UNITS_EXCEPTIONS.get(code, 2)


@functools.lru_cache(maxsize=512)  # pure, and called for every amount
def normalize_currency(currency: str) -> str:
    """Upper-cases and checks a currency code.

    Raises:
        MoneyError: the code is not an ISO 4217 currency.
    """
    code = currency.strip().upper()
    if code not in KNOWN_CURRENCIES:
        raise MoneyError(f"unknown currency {currency!r} (expected an ISO 4217 code)")
    return code


@functools.lru_cache(maxsize=512)  # pure, and called for every amount
def _exponent(currency: str) -> Decimal:
    return Decimal(1).scaleb(-minor_units(currency))


def parse_decimal(text: str) -> Decimal:
    """Parses a plain decimal string: ASCII digits, an optional sign and decimal point.

    No exponent, no thousands separators or ``_`` grouping, no non-ASCII digits.

    Raises:
        MoneyError: the text is not a finite plain decimal.
    """
    raw = text.strip()
    if _PLAIN_DECIMAL.match(raw):
        return Decimal(raw)  # exact: the constructor does not round to the context
    try:
        Decimal(raw)
    except InvalidOperation:
        raise MoneyError(f"{text!r} is not a decimal number") from None
    raise MoneyError(
        f"{text!r} is not a plain decimal number (digits 0-9, an optional sign and '.')"
    )


def canonical_decimal(value: Decimal) -> str:
    """One spelling per value, exactly: ``0.85``, ``0.850`` and ``00.85`` all give ``0.85``.

    String work only (no context rounding), never an exponent; for hashing values, not
    for display.
    """
    text = format(value, "f")
    if "." in text:
        text = text.rstrip("0").rstrip(".")
    return "0" if text in ("-0", "") else text


@functools.lru_cache(maxsize=512)  # pure, and called for every amount
def _limit(code: str) -> Decimal:
    return Decimal(MAX_MINOR).scaleb(-minor_units(code))


def _check_range(value: Decimal, code: str, shown: str | None = None) -> None:
    """Refuses amounts that are not finite or whose minor units would not fit storage.

    Runs before any quantize of a stored amount: past Decimal's 28-digit context,
    ``quantize`` raises ``decimal.InvalidOperation``, which must never escape the money
    contract (intake turns only ``MoneyError`` into a row error).

    Raises:
        MoneyError: not finite, or ``|minor units|`` of 10**18 or more.
    """
    what = shown if shown is not None else value
    if not value.is_finite():
        raise MoneyError(f"{what} is not a finite amount")
    limit = _limit(code)
    if abs(value) >= limit:
        raise MoneyError(
            f"{what} {code} is too large: amounts must be below {limit:,f} {code} "
            f"(at most {MAX_MINOR_DIGITS} digits of minor units)"
        )


def quantize(value: Decimal, currency: str) -> Decimal:
    """Rounds to the currency's minor units, ROUND_HALF_UP (for computed amounts only).

    Only rounds: the storage range is checked by ``Money``, so a reporting-currency
    figure may be larger than one stored amount.

    Raises:
        MoneyError: unknown currency, or a value that is not finite or has more digits
            than Decimal's context can round (never ``decimal.InvalidOperation``).
    """
    code = normalize_currency(currency)
    if not value.is_finite():
        raise MoneyError(f"{value} is not a finite amount")
    try:
        return value.quantize(_exponent(code), rounding=ROUND_HALF_UP)
    except InvalidOperation:
        raise MoneyError(f"{value} has too many digits to round to {code}") from None


def _at_scale(amount: Decimal, code: str) -> Decimal:
    _check_range(amount, code)
    scaled = amount.quantize(_exponent(code))
    if amount != scaled:
        raise MoneyError(f"{amount} has more decimals than {code} allows ({minor_units(code)})")
    return scaled


def to_minor(amount: Decimal, currency: str) -> int:
    """Integer minor units of an amount (the storage form), checked like ``Money``.

    ``Money(amount=..., currency=...).minor`` without building the object.

    Raises:
        MoneyError: unknown currency, more decimals than the currency allows, or 10**18
            minor units or more.
    """
    code = normalize_currency(currency)
    return int(_at_scale(amount, code).scaleb(minor_units(code)))


def parse_amount(text: str, currency: str) -> Decimal:
    """The exact amount of user input at the currency's scale, strictly.

    ``Money.parse`` without building the object: intake checks every amount of every row.

    Raises:
        MoneyError: not a decimal, unknown currency, more decimals than allowed, or
            10**18 minor units or more.
    """
    value = parse_decimal(text)
    code = normalize_currency(currency)
    _check_range(value, code, shown=text.strip())
    exponent = _exponent(code)
    scaled = value.quantize(exponent)
    # Trailing zeros beyond the scale are harmless ("10.500" USD is 10.50).
    if value != scaled:
        raise MoneyError(
            f"{text.strip()} has more decimals than {code} allows ({minor_units(code)}); "
            "it is not rounded silently"
        )
    return scaled


@dataclass(frozen=True, slots=True, kw_only=True)
class Money:
    """An exact amount in one currency, always at the currency's scale."""

    amount: Decimal
    currency: str

    def __post_init__(self) -> None:
        code = normalize_currency(self.currency)
        object.__setattr__(self, "currency", code)
        object.__setattr__(self, "amount", _at_scale(self.amount, code))

    @classmethod
    def parse(cls, text: str, currency: str) -> Money:
        """Parses user input strictly: too many decimals is an error, never rounded.

        Raises:
            MoneyError: not a decimal, unknown currency, more decimals than allowed, or
                10**18 minor units or more.
        """
        return cls(amount=parse_amount(text, currency), currency=currency)

    @classmethod
    def of(cls, value: Decimal, currency: str) -> Money:
        """Builds from a computed value, rounding half-up to the currency's scale."""
        return cls(amount=quantize(value, currency), currency=currency)

    @classmethod
    def from_minor(cls, minor: int, currency: str) -> Money:
        """Builds from integer minor units (the storage form).

        Raises:
            MoneyError: unknown currency, or ``|minor|`` of 10**18 or more.
        """
        if abs(minor) >= MAX_MINOR:
            raise MoneyError(
                f"{minor} minor units is out of range (at most {MAX_MINOR_DIGITS} digits)"
            )
        return cls(amount=Decimal(minor).scaleb(-minor_units(currency)), currency=currency)

    @property
    def minor(self) -> int:
        """Integer minor units (the storage form)."""
        return int(self.amount.scaleb(minor_units(self.currency)))

    def __str__(self) -> str:
        return f"{self.amount} {self.currency}"

    def display(self) -> str:
        """Human form with thousands separators, e.g. ``12,500.00 USD``."""
        return f"{self.amount:,} {self.currency}"

    def convert(self, rate: Decimal, to_currency: str) -> Money:
        """Converts with ``rate`` target units per one unit of this currency."""
        return Money.of(self.amount * rate, to_currency)

    def __neg__(self) -> Money:
        return Money(amount=-self.amount, currency=self.currency)

    def __abs__(self) -> Money:
        return Money(amount=abs(self.amount), currency=self.currency)

"""The policy document's value types: durations, decimals, team currencies, and the
strict base every section is built on (unknown keys refused, values frozen)."""

from __future__ import annotations

import re
from datetime import timedelta
from decimal import Decimal
from typing import Annotated

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    PlainSerializer,
    SerializationInfo,
    WithJsonSchema,
)

from domain.errors import MoneyError
from domain.money import canonical_decimal, normalize_currency, parse_decimal

_DURATION = re.compile(r"^\s*(\d+)\s*([smhd])\s*$")
_UNIT_SECONDS = {"s": 1, "m": 60, "h": 3600, "d": 86400}


def parse_duration(value: object) -> timedelta:
    """Parses ``90s``, ``15m``, ``24h`` or ``3d`` (or a bare number of seconds).

    Raises:
        ValueError: anything else.
    """
    if isinstance(value, timedelta):
        return value
    if isinstance(value, int) and not isinstance(value, bool):
        return timedelta(seconds=value)
    if isinstance(value, str):
        match = _DURATION.match(value)
        if match:
            return timedelta(seconds=int(match.group(1)) * _UNIT_SECONDS[match.group(2)])
    raise ValueError(f"{value!r} is not a duration; use a number with s, m, h or d (e.g. 24h)")


def format_duration(value: timedelta) -> str:
    """The shortest exact ``<n><unit>`` form of a duration."""
    seconds = int(value.total_seconds())
    for unit in ("d", "h", "m"):
        size = _UNIT_SECONDS[unit]
        if seconds and seconds % size == 0:
            return f"{seconds // size}{unit}"
    return f"{seconds}s"


def _to_decimal(value: object) -> Decimal:
    if isinstance(value, float):
        raise ValueError('write decimals as quoted strings (e.g. "0.85"), never floats')
    if isinstance(value, Decimal):
        return value
    if isinstance(value, int) and not isinstance(value, bool):
        return Decimal(value)
    if isinstance(value, str):
        try:
            return parse_decimal(value)
        except MoneyError as exc:
            raise ValueError(str(exc)) from None
    raise ValueError(f"{value!r} is not a decimal")


def _serialize_decimal(value: Decimal, info: SerializationInfo) -> str:
    # The version hash asks for the canonical spelling; everything else keeps the
    # document's own ("10000.00" stays as written).
    if isinstance(info.context, dict) and info.context.get("canonical"):
        return canonical_decimal(value)
    return str(value)


Dec = Annotated[
    Decimal,
    BeforeValidator(_to_decimal),
    PlainSerializer(_serialize_decimal, return_type=str),
    WithJsonSchema({"type": "string", "pattern": r"^-?\d+(\.\d+)?$"}),
]
Duration = Annotated[
    timedelta,
    BeforeValidator(parse_duration),
    PlainSerializer(format_duration, return_type=str),
    WithJsonSchema({"type": "string", "pattern": r"^\d+[smhd]$", "examples": ["24h"]}),
]


def _team_currency(value: str) -> str:
    if value == "*":
        return value
    try:
        return normalize_currency(value)
    except MoneyError as exc:
        raise ValueError(str(exc)) from None


#: A team's currency: an ISO 4217 code (upper-cased) or ``*`` for any.
TeamCurrency = Annotated[str, AfterValidator(_team_currency)]


class StrictModel(BaseModel):
    """The base of every policy section: unknown keys are refused, values frozen."""

    model_config = ConfigDict(extra="forbid", frozen=True)

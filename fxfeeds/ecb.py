"""The European Central Bank's euro foreign exchange reference rates (XML).

The daily file (``eurofxref-daily.xml``) and the historical ones (``eurofxref-hist.xml``,
``eurofxref-hist-90d.xml``) share one shape::

    <gesmes:Envelope xmlns:gesmes="http://www.gesmes.org/xml/2002-08-01"
                     xmlns="http://www.ecb.int/vocabulary/2002-08-01/eurofxref">
      <Cube>
        <Cube time="2026-12-04">
          <Cube currency="USD" rate="1.0850"/> ...

``1 EUR = rate`` units of the currency on that day. The parser is hardened: a DTD,
entity declarations and external references are refused (``defusedxml``, so neither an
external entity nor an entity expansion bomb is ever resolved), and the file is read as
a stream, each day's elements dropped once read.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date
from typing import IO
from xml.etree.ElementTree import Element, ParseError

import defusedxml
import defusedxml.ElementTree as SafeTree

from domain.errors import MoneyError
from domain.fx import FxRate
from domain.money import normalize_currency, parse_decimal

GESMES = "http://www.gesmes.org/xml/2002-08-01"
EUROFXREF = "http://www.ecb.int/vocabulary/2002-08-01/eurofxref"
_ENVELOPE = f"{{{GESMES}}}Envelope"
_CUBE = f"{{{EUROFXREF}}}Cube"
#: The source name rates from these files are stored under.
SOURCE = "ECB"
BASE = "EUR"


class EcbFileError(ValueError):
    """The file is not an ECB reference rate file, or is refused whole (one sentence)."""


@dataclass(frozen=True, slots=True, kw_only=True)
class EcbProblem:
    """One rate element that could not be read (the others still are)."""

    where: str
    field: str
    error: str


@dataclass(frozen=True, slots=True, kw_only=True)
class EcbRates:
    """What a file held: its rates and the elements refused."""

    rates: list[FxRate]
    problems: list[EcbProblem]


def looks_like_ecb(head: bytes) -> bool:
    """Whether the first bytes of a file look like the ECB's XML (for format detection)."""
    return b"<" in head[:200] and b"gesmes" in head and b"eurofxref" in head


def parse_ecb(stream: IO[bytes], *, source: str = SOURCE) -> EcbRates:
    """Reads every rate of an ECB daily or historical file.

    Raises:
        EcbFileError: not well-formed XML, a DTD or entity in it, or not the ECB's shape.
    """
    rates: list[FxRate] = []
    problems: list[EcbProblem] = []
    try:
        for day, cube in _rate_cubes(stream):
            parsed = _rate(day, cube, source)
            if isinstance(parsed, EcbProblem):
                problems.append(parsed)
            else:
                rates.append(parsed)
    except defusedxml.DTDForbidden:
        raise EcbFileError("the file declares a DTD, which an ECB rate file never does") from None
    except defusedxml.EntitiesForbidden:
        raise EcbFileError(
            "the file declares an entity (a way to expand or fetch content): refused"
        ) from None
    except defusedxml.ExternalReferenceForbidden:
        raise EcbFileError("the file references an external resource: refused") from None
    except ParseError as exc:
        raise EcbFileError(f"the file is not well-formed XML ({exc})") from None
    return EcbRates(rates=rates, problems=problems)


def _rate_cubes(stream: IO[bytes]) -> Iterator[tuple[str, Element]]:
    """(day as written, rate element) for each rate, checking the envelope on the way."""
    events = SafeTree.iterparse(
        stream, events=("start", "end"), forbid_dtd=True, forbid_entities=True
    )
    depth = 0
    day: str | None = None
    saw_envelope = False
    for event, element in events:
        if event == "start":
            depth += 1
            if depth == 1:
                if element.tag != _ENVELOPE:
                    raise EcbFileError(
                        f"the root element is {_plain(element.tag)}, not gesmes:Envelope: "
                        "not an ECB reference rate file"
                    )
                saw_envelope = True
            elif element.tag == _CUBE and "time" in element.attrib:
                day = element.attrib["time"]
            continue
        depth -= 1
        if element.tag == _CUBE and "currency" in element.attrib:
            if day is None:
                raise EcbFileError("a rate Cube sits outside any Cube time=.. (not the ECB shape)")
            yield day, element
        elif element.tag == _CUBE and "time" in element.attrib:
            element.clear()  # the day is read: keep memory flat on a historical file
            day = None
    if not saw_envelope:
        raise EcbFileError("the file is empty")


def _plain(tag: str) -> str:
    return tag.rsplit("}", 1)[-1]


def _rate(day: str, cube: Element, source: str) -> FxRate | EcbProblem:
    code = cube.attrib.get("currency", "")
    where = f"Cube time={day} currency={code}"
    try:
        on = date.fromisoformat(day)
    except ValueError:
        return EcbProblem(where=where, field="time", error=f"{day!r} is not a date (YYYY-MM-DD)")
    try:
        currency = normalize_currency(code)
    except MoneyError as exc:
        return EcbProblem(where=where, field="currency", error=str(exc))
    raw = cube.attrib.get("rate")
    if raw is None:
        return EcbProblem(where=where, field="rate", error="is missing")
    try:
        rate = parse_decimal(raw)
    except MoneyError as exc:
        return EcbProblem(where=where, field="rate", error=str(exc))
    if rate <= 0:
        return EcbProblem(where=where, field="rate", error=f"{raw} must be positive")
    if currency == BASE:
        return EcbProblem(where=where, field="currency", error="is the base currency EUR")
    return FxRate(on=on, base=BASE, currency=currency, rate=rate, source=source)

"""Dated FX rates: the ECB XML reader (hostile files refused), the CSV rows, the rate book
(latest on or before a day, inverse and cross rates, exact), and routing with them."""

from __future__ import annotations

import dataclasses
import io
from datetime import date
from decimal import Decimal
from pathlib import Path

import pytest

from domain.digest import plan_digest
from domain.fx import CROSS_PRECISION, AppliedRate, FxRate, RateBook
from domain.fx_rows import parse_rate_row
from domain.intake import RowError
from domain.items import ItemKind, Route
from domain.routing import (
    POLICY_SOURCE,
    applied_rate,
    item_rate_day,
    route_item,
    routing_data,
    to_reporting,
)
from fxfeeds.ecb import EcbFileError, parse_ecb
from tests.builders import make_facts, make_item, make_policy
from tests.fakes import T0

DATA = Path(__file__).parent.parent / "data" / "fx"
FRI, SAT, SUN, MON = date(2026, 12, 4), date(2026, 12, 5), date(2026, 12, 6), date(2026, 12, 7)


def ecb(on: date, currency: str, rate: str, source: str = "ECB") -> FxRate:
    return FxRate(on=on, base="EUR", currency=currency, rate=Decimal(rate), source=source)


def read(name: str) -> list[FxRate]:
    with (DATA / name).open("rb") as stream:
        return parse_ecb(stream).rates


# --- the ECB's XML ---------------------------------------------------------------------


def test_the_daily_file_gives_one_day_of_euro_rates_exactly() -> None:
    rates = read("eurofxref-daily.xml")
    assert [(r.on, r.base, r.currency, str(r.rate), r.source) for r in rates] == [
        (MON, "EUR", "USD", "1.0912", "ECB"),
        (MON, "EUR", "JPY", "163.21", "ECB"),
        (MON, "EUR", "GBP", "0.85120", "ECB"),
        (MON, "EUR", "CHF", "0.9401", "ECB"),
    ]


def test_the_historical_file_gives_every_day_and_names_each_bad_element() -> None:
    with (DATA / "eurofxref-hist.xml").open("rb") as stream:
        parsed = parse_ecb(stream)
    assert sorted({r.on for r in parsed.rates}) == [date(2026, 12, 2), date(2026, 12, 3), FRI]
    assert len(parsed.rates) == 12
    assert [(p.where, p.field) for p in parsed.problems] == [
        ("Cube time=2026-12-02 currency=XYZ", "currency"),
        ("Cube time=2026-12-02 currency=SEK", "rate"),
    ]
    assert "must be positive" in parsed.problems[1].error


XXE = b"""<?xml version="1.0"?>
<!DOCTYPE r [<!ENTITY secret SYSTEM "file:///etc/passwd">]>
<gesmes:Envelope xmlns:gesmes="http://www.gesmes.org/xml/2002-08-01"
  xmlns="http://www.ecb.int/vocabulary/2002-08-01/eurofxref">
<Cube><Cube time="2026-12-04"><Cube currency="USD" rate="&secret;"/></Cube></Cube>
</gesmes:Envelope>"""

BOMB = b"""<?xml version="1.0"?>
<!DOCTYPE lolz [
 <!ENTITY lol "lol">
 <!ENTITY lol1 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">
 <!ENTITY lol2 "&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;">
 <!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">
]>
<gesmes:Envelope xmlns:gesmes="http://www.gesmes.org/xml/2002-08-01">&lol3;</gesmes:Envelope>"""

# No DOCTYPE at all: an entity reference to nothing declared is not well-formed.
UNDECLARED = b"""<gesmes:Envelope xmlns:gesmes="http://www.gesmes.org/xml/2002-08-01">
&lol;</gesmes:Envelope>"""


@pytest.mark.parametrize(
    ("document", "says"),
    [
        (XXE, "DTD"),
        (BOMB, "DTD"),
        (UNDECLARED, "not well-formed"),
        (b"<rates><rate/></rates>", "not gesmes:Envelope"),
        (b"<gesmes:Envelope xmlns:gesmes='http://www.gesmes.org/xml/2002-08-01'>", "well-formed"),
        (b"", "well-formed"),
    ],
)
def test_hostile_or_foreign_xml_is_refused_whole(document: bytes, says: str) -> None:
    with pytest.raises(EcbFileError, match=says):
        parse_ecb(io.BytesIO(document))


def test_a_rate_outside_any_day_is_not_the_ecb_shape() -> None:
    document = b"""<gesmes:Envelope xmlns:gesmes="http://www.gesmes.org/xml/2002-08-01"
      xmlns="http://www.ecb.int/vocabulary/2002-08-01/eurofxref">
      <Cube><Cube currency="USD" rate="1.1"/></Cube></gesmes:Envelope>"""
    with pytest.raises(EcbFileError, match="outside any Cube time"):
        parse_ecb(io.BytesIO(document))


# --- CSV rows --------------------------------------------------------------------------


def row(**values: str) -> dict[str, str]:
    return {"date": "2026-12-04", "currency": "CAD", "rate": "1.3981", **values}


@pytest.mark.parametrize(
    ("values", "field", "says"),
    [
        (row(date="2026-02-30"), "date", "is not a date"),
        (row(date=""), "date", "is required"),
        (row(currency="ZZZ"), "currency", "unknown currency"),
        (row(base="EUR", currency="EUR"), "currency", "is the base currency"),
        (row(rate="0"), "rate", "must be positive"),
        (row(rate="-1.2"), "rate", "must be positive"),
        (row(rate="1,40"), "rate", "not a decimal"),
        (row(rate="1e3"), "rate", "not a plain decimal"),
        (row(rate=""), "rate", "is required"),
        (row(source="a\u202eb"), "source", "not plain text"),
    ],
)
def test_a_bad_csv_row_names_its_field(values: dict[str, str], field: str, says: str) -> None:
    got = parse_rate_row(values, line=7, default_base="USD", default_source="rates.csv")
    assert isinstance(got, RowError)
    assert (got.line, got.field) == (7, field)
    assert says in got.error


def test_a_csv_row_defaults_to_the_reporting_currency_and_the_file_as_source() -> None:
    got = parse_rate_row(row(), line=2, default_base="USD", default_source="rates.csv")
    assert got == FxRate(
        on=FRI, base="USD", currency="CAD", rate=Decimal("1.3981"), source="rates.csv"
    )
    got = parse_rate_row(
        row(base="gbp", source="bank"), line=2, default_base="USD", default_source="x"
    )
    assert isinstance(got, FxRate) and (got.base, got.source) == ("GBP", "bank")


# --- the rate book ---------------------------------------------------------------------


BOOK = RateBook.of(
    [
        ecb(date(2026, 12, 3), "USD", "1.0795"),
        ecb(FRI, "USD", "1.0850"),
        ecb(MON, "USD", "1.0912"),
        ecb(FRI, "GBP", "0.8569"),
        ecb(FRI, "CHF", "0.96"),
        ecb(FRI, "JPY", "162.50"),
    ]
)


def test_a_saturday_and_a_sunday_take_fridays_rate() -> None:
    for day in (SAT, SUN):
        got = BOOK.lookup("EUR", "USD", day)
        assert got is not None and got.rate == Decimal("1.0850") and got.on == FRI
    monday = BOOK.lookup("EUR", "USD", MON)
    assert monday is not None and monday.rate == Decimal("1.0912") and monday.on == MON


def test_a_day_before_the_first_rate_has_none() -> None:
    assert BOOK.lookup("EUR", "USD", date(2026, 12, 2)) is None
    assert BOOK.lookup("EUR", "SEK", MON) is None


def test_a_quoted_rate_is_exact_and_its_inverse_is_rounded_to_the_stated_precision() -> None:
    direct = BOOK.lookup("EUR", "USD", FRI)
    assert direct is not None and direct.rate == Decimal("1.0850")
    assert direct.source == "ECB" and direct.basis == "1 EUR = 1.085 USD"
    # 1 / 1.0850 = 0.921658986175115...: 12 significant digits, half-even.
    inverse = BOOK.lookup("USD", "EUR", FRI)
    assert inverse is not None and inverse.rate == Decimal("0.921658986175")
    assert len(inverse.rate.as_tuple().digits) == CROSS_PRECISION


def test_a_cross_rate_goes_through_the_euro_exactly() -> None:
    # CHF -> USD = (EUR->USD) / (EUR->CHF) = 1.0850 / 0.96 = 1.13020833333...
    chf = BOOK.lookup("CHF", "USD", SAT)
    assert chf is not None
    assert chf.rate == Decimal("1.13020833333")
    assert chf.on == FRI and chf.source == "ECB"
    assert chf.basis == "EUR->USD 1.085 (2026-12-04) / EUR->CHF 0.96 (2026-12-04)"
    # A cross rate that divides evenly stays exact: 1.0850 / 0.8680 = 1.25.
    even = RateBook.of([ecb(FRI, "USD", "1.0850"), ecb(FRI, "NOK", "0.8680")])
    got = even.lookup("NOK", "USD", FRI)
    assert got is not None and got.rate == Decimal("1.25")
    # Converting JPY 1,000,000 to USD: 1.0850 / 162.50 = 0.00667692307692 (12 digits).
    jpy = BOOK.lookup("JPY", "USD", FRI)
    assert jpy is not None and jpy.rate == Decimal("0.00667692307692")
    assert to_reporting(Decimal(1_000_000), "JPY", make_policy(), rate=jpy) == Decimal("6676.92")


def test_the_cross_rates_date_is_its_older_leg() -> None:
    book = RateBook.of([ecb(MON, "USD", "1.0912"), ecb(FRI, "GBP", "0.8569")])
    got = book.lookup("GBP", "USD", MON)
    assert got is not None and got.on == FRI


def test_between_sources_on_one_day_the_first_by_name_wins_whatever_the_order() -> None:
    rates = [ecb(FRI, "USD", "1.0850", source="zeta"), ecb(FRI, "USD", "1.0999", source="alpha")]
    for order in (rates, list(reversed(rates))):
        got = RateBook.of(order).lookup("EUR", "USD", FRI)
        assert got is not None and (got.source, got.rate) == ("alpha", Decimal("1.0999"))


# --- routing with dated rates ----------------------------------------------------------


def test_routing_uses_the_dated_rate_of_the_booked_day_and_records_it() -> None:
    loaded = make_policy(fx_rates={"EUR": "1.10"})
    facts = make_facts(currency="EUR", amount=Decimal("9500.00"), booked_on=SAT, aging_days=1)
    static = route_item(facts, loaded)
    dated = route_item(facts, loaded, rates=BOOK, today=MON)
    # 9,500 EUR at the policy's 1.10 is 10,450 USD: material; at Friday's 1.0850, 10,307.50.
    assert static.reporting_amount == Decimal("10450.00")
    assert dated.reporting_amount == Decimal("10307.50")
    assert dated.fx == AppliedRate(
        currency="EUR",
        reporting_currency="USD",
        rate=Decimal("1.0850"),
        on=FRI,
        source="ECB",
        basis="1 EUR = 1.085 USD",
    )
    assert static.fx is not None and static.fx.source == POLICY_SOURCE and static.fx.on is None
    record = routing_data(facts, dated, "h")
    assert record["fx"] == {
        "currency": "EUR",
        "to": "USD",
        "rate": "1.085",
        "date": "2026-12-04",
        "source": "ECB",
        "basis": "1 EUR = 1.085 USD",
    }
    assert record["reporting_amount"] == "10307.50"


def test_the_dated_rate_can_decide_the_route() -> None:
    loaded = make_policy(fx_rates={"EUR": "1.10"})
    facts = make_facts(currency="EUR", amount=Decimal("9200.00"), booked_on=FRI, aging_days=1)
    # 9,200 x 1.10 = 10,120 (material, immediate); x 1.0850 = 9,982 (below: digest).
    assert route_item(facts, loaded).route is Route.IMMEDIATE
    assert route_item(facts, loaded, rates=BOOK, today=MON).route is Route.DIGEST


def test_without_booked_on_the_ingest_day_is_the_rate_date() -> None:
    loaded = make_policy()
    facts = make_facts(currency="EUR", amount=Decimal("100.00"), booked_on=None)
    saturday = route_item(facts, loaded, rates=BOOK, today=SAT)
    assert saturday.fx is not None and saturday.fx.on == FRI
    monday = route_item(facts, loaded, rates=BOOK, today=MON)
    assert monday.reporting_amount == Decimal("109.12")


def test_the_static_rate_is_the_fallback_when_the_book_has_no_rate_for_the_day() -> None:
    loaded = make_policy(fx_rates={"EUR": "1.10"})
    facts = make_facts(currency="EUR", amount=Decimal("100.00"), booked_on=date(2026, 11, 2))
    got = applied_rate("EUR", loaded, rates=BOOK, on=date(2026, 11, 2))
    assert got is not None and got.source == POLICY_SOURCE and got.rate == Decimal("1.10")
    assert route_item(facts, loaded, rates=BOOK, today=MON).reporting_amount == Decimal("110.00")


def test_an_amount_with_no_rate_at_all_is_never_auto_accepted() -> None:
    loaded = make_policy()  # no static SEK rate either
    facts = make_facts(
        kind=ItemKind.MATCH, score=99, currency="SEK", amount=Decimal("10.00"), booked_on=FRI
    )
    decision = route_item(facts, loaded, rates=BOOK, today=MON)
    assert decision.route is Route.IMMEDIATE
    assert decision.reporting_amount is None and decision.fx is None
    assert any("no FX rate for SEK on or before 2026-12-04" in r for r in decision.reasons)
    assert "fx" not in routing_data(facts, decision, "h")


def test_an_item_in_the_reporting_currency_records_no_rate() -> None:
    facts = make_facts(currency="USD", amount=Decimal("100.00"), booked_on=FRI)
    decision = route_item(facts, make_policy(), rates=BOOK, today=MON)
    assert decision.fx is None and decision.reporting_amount == Decimal("100.00")


def test_the_digest_sets_an_item_apart_by_the_same_dated_rate_routing_used() -> None:
    loaded = make_policy(fx_rates={"EUR": "1.10"})
    # 9,200 EUR: 10,120 USD at the static rate (material: apart), 9,982 at Friday's.
    booked = make_item(facts=make_facts(currency="EUR", amount="9200.00", booked_on=FRI))
    # No booked_on: the ingest day (T0) is the rate date; the book has nothing that early.
    undated = make_item(id=2, facts=make_facts(external_id="E-2", currency="EUR", amount="9200.00"))
    assert item_rate_day(undated) == T0.date()
    static = plan_digest("treasury", "w", [booked, undated], loaded)
    dated = plan_digest("treasury", "w", [booked, undated], loaded, rates=BOOK)
    assert static.apart == (1, 2)
    assert dated.apart == (2,) and [c.item_ids for c in dated.clusters] == [(1,)]


def test_the_most_recent_way_to_a_rate_wins_and_on_one_day_a_quote_beats_a_cross_rate() -> None:
    old_quote = FxRate(on=date(2026, 11, 2), base="USD", currency="CAD", rate=Decimal("1.25"),
                       source="treasury")  # fmt: skip
    book = RateBook.of([old_quote, ecb(FRI, "USD", "1.0850"), ecb(FRI, "CAD", "1.5190")])
    fresh = book.lookup("CAD", "USD", FRI)
    # Friday's ECB cross rate, 1.0850 / 1.5190 = 0.714285714286, not November's 1 / 1.25.
    assert fresh is not None and fresh.rate == Decimal("0.714285714286") and fresh.on == FRI
    same_day = dataclasses.replace(old_quote, on=FRI)
    quoted = RateBook.of([same_day, ecb(FRI, "USD", "1.0850"), ecb(FRI, "CAD", "1.5190")])
    got = quoted.lookup("CAD", "USD", FRI)
    assert got is not None and got.rate == Decimal("0.8") and got.source == "treasury"

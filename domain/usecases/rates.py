"""Loading the dated FX rates a batch of decisions needs, as a pure :class:`RateBook`."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date

from domain.fx import RateBook, currencies_needed
from domain.items import ItemFacts
from domain.policy import LoadedPolicy
from domain.ports import UnitOfWork
from domain.routing import rate_date


async def load_rates(
    uow: UnitOfWork, facts: Iterable[ItemFacts], loaded: LoadedPolicy, *, today: date
) -> RateBook | None:
    """The stored rates for the items' currencies and dates (see :func:`rate_date`).

    None when every item is in the reporting currency or no dated rate applies, so the
    caller routes exactly as without the rate store (the policy's static rates).
    """
    reporting = loaded.policy.reporting_currency
    foreign = [f for f in facts if f.currency != reporting]
    if not foreign:
        return None
    days = [rate_date(f, today) or today for f in foreign]
    stored = await uow.fx.for_book(
        currencies=currencies_needed({f.currency for f in foreign}, reporting),
        since=min(days),
        until=max(days),
    )
    return RateBook.of(stored) if stored else None

"""Loading the dated FX rates a batch of decisions needs, as a pure :class:`RateBook`."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date

from domain.fx import RateBook, currencies_needed
from domain.policy import LoadedPolicy
from domain.ports import UnitOfWork


async def load_rates(
    uow: UnitOfWork, needs: Iterable[tuple[str, date]], loaded: LoadedPolicy
) -> RateBook | None:
    """The stored rates for ``needs``: (currency, the day its amount is converted at).

    None when every currency is the reporting currency or no dated rate applies, so the
    caller decides exactly as without the rate store (the policy's static rates).
    """
    reporting = loaded.policy.reporting_currency
    foreign = [(currency, day) for currency, day in needs if currency != reporting]
    if not foreign:
        return None
    days = [day for _, day in foreign]
    stored = await uow.fx.for_book(
        currencies=currencies_needed({currency for currency, _ in foreign}, reporting),
        since=min(days),
        until=max(days),
    )
    return RateBook.of(stored) if stored else None

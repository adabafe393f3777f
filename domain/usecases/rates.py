"""Loading what a batch of routing decisions needs from the store, as pure values: the
dated FX rates (a :class:`RateBook`) and the counterparties' historical match rates (a
:class:`MatchHistory`)."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date, timedelta

from domain.fx import RateBook, currencies_needed
from domain.matching.history import MatchHistory
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


async def load_history(
    uow: UnitOfWork, counterparties: Iterable[str | None], loaded: LoadedPolicy, *, today: date
) -> MatchHistory:
    """The match history of ``counterparties`` over the policy's ``matching.history_days``
    up to ``today``, in one query (none when no item names a counterparty): a line counts
    as matched when a match scoring at least ``routing.match_auto_accept_score`` covers it.
    """
    days = loaded.policy.matching.history_days
    names = sorted({name for name in counterparties if name})
    if not names:
        return MatchHistory(days=days)
    tallies = await uow.matches.match_history(
        names,
        since=today - timedelta(days=days),
        until=today,
        min_score=loaded.policy.routing.match_auto_accept_score,
    )
    return MatchHistory(days=days, tallies=tallies)

"""General-ledger entries and dated FX rates over the unit of work's connection."""

from __future__ import annotations

from collections.abc import Collection, Sequence
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import and_, func, select, update
from sqlalchemy.engine import RowMapping
from sqlalchemy.ext.asyncio import AsyncConnection

from domain.fx import FxRate
from domain.gl import LedgerEntry, MatchStatus, StoredLedgerEntry
from domain.money import Money, canonical_decimal, to_minor
from store.bulk import insert_rows
from store.tables import fx_rates, ledger_entries

_IN_CHUNK = 300
#: FX keys per range query (a chunk spans a few weeks of a daily file's rates).
_RANGE_CHUNK = 2000


def _entry_values(entry: LedgerEntry) -> dict[str, Any]:
    return {
        "booked_on": entry.booked_on,
        "currency": entry.currency,
        "amount_minor": to_minor(entry.amount, entry.currency),
        "reference": entry.reference,
        "counterparty": entry.counterparty,
        "description": entry.description,
        "content_hash": entry.content_hash(),
    }


def _stored(row: RowMapping) -> StoredLedgerEntry:
    currency = str(row["currency"])
    entry = LedgerEntry(
        entry_id=row["entry_id"],
        account=row["account"],
        booked_on=row["booked_on"],
        amount=Money.from_minor(int(row["amount_minor"]), currency).amount,
        currency=currency,
        reference=row["reference"],
        counterparty=row["counterparty"],
        description=row["description"],
    )
    return StoredLedgerEntry(
        entry=entry,
        version=int(row["version"]),
        match_status=MatchStatus(row["match_status"]),
        content_hash=row["content_hash"],
    )


class SqlLedgerRepository:
    """Ledger entries (see :class:`domain.ports.LedgerRepository`)."""

    def __init__(self, conn: AsyncConnection) -> None:
        self._conn = conn

    async def get_many(
        self, keys: Sequence[tuple[str, str]]
    ) -> dict[tuple[str, str], StoredLedgerEntry]:
        unique = list(dict.fromkeys(keys))
        found: dict[tuple[str, str], StoredLedgerEntry] = {}
        for start in range(0, len(unique), _IN_CHUNK):
            chunk = unique[start : start + _IN_CHUNK]
            # By entry id (indexed through the unique key), then the exact pairs in Python.
            ids = sorted({entry_id for entry_id, _ in chunk})
            wanted = set(chunk)
            rows = await self._conn.execute(
                select(ledger_entries).where(ledger_entries.c.entry_id.in_(ids))
            )
            for row in rows.mappings():
                key = (row["entry_id"], row["account"])
                if key in wanted:
                    found[key] = _stored(row)
        return found

    async def add_many(
        self, entries: Sequence[LedgerEntry], *, run_id: int | None, now: datetime
    ) -> None:
        await insert_rows(
            self._conn,
            ledger_entries,
            [
                {
                    "entry_id": e.entry_id,
                    "account": e.account,
                    "version": 1,
                    **_entry_values(e),
                    "match_status": MatchStatus.UNMATCHED.value,
                    "run_id": run_id,
                    "created_at": now,
                    "updated_at": now,
                }
                for e in entries
            ],
        )

    async def revise(
        self, entry: LedgerEntry, *, expected_version: int, run_id: int | None, now: datetime
    ) -> bool:
        result = await self._conn.execute(
            update(ledger_entries)
            .where(
                ledger_entries.c.entry_id == entry.entry_id,
                ledger_entries.c.account == entry.account,
                ledger_entries.c.version == expected_version,
                ledger_entries.c.match_status == MatchStatus.UNMATCHED.value,
            )
            .values(
                **_entry_values(entry),
                version=expected_version + 1,
                run_id=run_id,
                updated_at=now,
            )
        )
        return bool(result.rowcount == 1)

    async def set_match_status(
        self, key: tuple[str, str], status: MatchStatus, *, now: datetime
    ) -> bool:
        result = await self._conn.execute(
            update(ledger_entries)
            .where(ledger_entries.c.entry_id == key[0], ledger_entries.c.account == key[1])
            .values(match_status=status.value, updated_at=now)
        )
        return bool(result.rowcount == 1)

    async def set_match_statuses(
        self, keys: Sequence[tuple[str, str]], status: MatchStatus, *, now: datetime
    ) -> int:
        by_account: dict[str, list[str]] = {}
        for entry_id, account in sorted(set(keys)):
            by_account.setdefault(account, []).append(entry_id)
        done = 0
        for account, ids in by_account.items():
            for start in range(0, len(ids), _IN_CHUNK):
                result = await self._conn.execute(
                    update(ledger_entries)
                    .where(
                        ledger_entries.c.account == account,
                        ledger_entries.c.entry_id.in_(ids[start : start + _IN_CHUNK]),
                    )
                    .values(match_status=status.value, updated_at=now)
                )
                done += int(result.rowcount)
        return done

    async def open_entries(self, *, account: str, currency: str) -> list[StoredLedgerEntry]:
        rows = await self._conn.execute(
            select(ledger_entries)
            .where(
                ledger_entries.c.account == account,
                ledger_entries.c.currency == currency,
                ledger_entries.c.match_status == MatchStatus.UNMATCHED.value,
            )
            .order_by(ledger_entries.c.entry_id)
        )
        return [_stored(r) for r in rows.mappings()]


def _rate(row: RowMapping) -> FxRate:
    return FxRate(
        on=row["rate_date"],
        base=row["base"],
        currency=row["currency"],
        rate=Decimal(row["rate"]),
        source=row["source"],
    )


class SqlFxRateRepository:
    """Dated FX rates (see :class:`domain.ports.FxRateRepository`)."""

    def __init__(self, conn: AsyncConnection) -> None:
        self._conn = conn

    async def get_many(
        self, keys: Sequence[tuple[date, str, str, str]]
    ) -> dict[tuple[date, str, str, str], FxRate]:
        # Keys in date order, a few thousand at a time: one range scan of the unique
        # index (it leads with the date) per chunk, the exact keys picked in Python.
        unique = sorted(set(keys))
        found: dict[tuple[date, str, str, str], FxRate] = {}
        for start in range(0, len(unique), _RANGE_CHUNK):
            chunk = unique[start : start + _RANGE_CHUNK]
            wanted = set(chunk)
            rows = await self._conn.execute(
                select(fx_rates).where(
                    fx_rates.c.rate_date >= chunk[0][0], fx_rates.c.rate_date <= chunk[-1][0]
                )
            )
            for row in rows.mappings():
                rate = _rate(row)
                if rate.key in wanted:
                    found[rate.key] = rate
        return found

    async def add_many(self, rates: Sequence[FxRate], *, now: datetime) -> None:
        await insert_rows(
            self._conn,
            fx_rates,
            [
                {
                    "rate_date": r.on,
                    "base": r.base,
                    "currency": r.currency,
                    "rate": canonical_decimal(r.rate),
                    "source": r.source,
                    "imported_at": now,
                }
                for r in rates
            ],
        )

    async def replace(self, rate: FxRate, *, now: datetime) -> bool:
        result = await self._conn.execute(
            update(fx_rates)
            .where(
                fx_rates.c.rate_date == rate.on,
                fx_rates.c.base == rate.base,
                fx_rates.c.currency == rate.currency,
                fx_rates.c.source == rate.source,
            )
            .values(rate=canonical_decimal(rate.rate), imported_at=now)
        )
        return bool(result.rowcount == 1)

    async def for_book(
        self, *, currencies: Collection[str], since: date, until: date
    ) -> list[FxRate]:
        codes = sorted(set(currencies))
        between = and_(fx_rates.c.base.in_(codes), fx_rates.c.currency.in_(codes))
        in_range = await self._conn.execute(
            select(fx_rates).where(
                between, fx_rates.c.rate_date >= since, fx_rates.c.rate_date <= until
            )
        )
        rates = [_rate(row) for row in in_range.mappings()]
        latest = (
            select(
                fx_rates.c.base,
                fx_rates.c.currency,
                fx_rates.c.source,
                func.max(fx_rates.c.rate_date).label("rate_date"),
            )
            .where(between, fx_rates.c.rate_date < since)
            .group_by(fx_rates.c.base, fx_rates.c.currency, fx_rates.c.source)
            .subquery()
        )
        before = await self._conn.execute(
            select(fx_rates).join(
                latest,
                and_(
                    fx_rates.c.base == latest.c.base,
                    fx_rates.c.currency == latest.c.currency,
                    fx_rates.c.source == latest.c.source,
                    fx_rates.c.rate_date == latest.c.rate_date,
                ),
            )
        )
        rates.extend(_rate(row) for row in before.mappings())
        return rates


__all__ = ["SqlFxRateRepository", "SqlLedgerRepository"]

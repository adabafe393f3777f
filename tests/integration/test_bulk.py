"""store.bulk.insert_rows stores exactly what SQLAlchemy's own executemany stores."""

from __future__ import annotations

import dataclasses
from datetime import date, datetime, timedelta, timezone
from decimal import Decimal
from typing import Any

import pytest
from sqlalchemy import Table, delete, insert, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncConnection

from domain.fx import AppliedRate
from domain.items import Approval, Item
from store.bulk import insert_rows, insert_values
from store.engine import Database
from store.mapping import ITEM_COLUMNS, item_from_row, item_to_row, item_values
from store.tables import audit_records, items, outbox
from tests.integration.test_store import NOW, _item, full_item

# The same instant in another zone, and naive-free values of every column type.
ELSEWHERE = NOW.astimezone(timezone(timedelta(hours=-5)))


def _items() -> list[Item]:
    plain = _item(external_id="plain")
    # Every column set; times in another zone than UTC (the same instants).
    full = dataclasses.replace(
        full_item(
            external_id="full",
            counterparty="Société Générale",
            extra={"n": "naïve \u2028 \U0001f600"},
        ),
        id=7,
        approvals=(Approval(user="U0ALICE", at=ELSEWHERE, note="ok"),),
        claim_expires_at=ELSEWHERE + timedelta(hours=4),
        sla_next_at=NOW + timedelta(days=1),
        created_at=ELSEWHERE,
        fx=AppliedRate(
            currency="EUR",
            reporting_currency="USD",
            rate=Decimal("1.13020833333"),
            on=date(2026, 12, 4),
            source="ECB",
            basis="EUR->USD 1.085 (2026-12-04) / EUR->CHF 0.96 (2026-12-04)",
        ),
    )
    # Same-valued timestamps repeat (the memo) and differ (a second entry in it).
    return [
        dataclasses.replace(plain, id=5),
        full,
        dataclasses.replace(_item(external_id="third"), id=9),
    ]


def _item_rows() -> list[dict[str, Any]]:
    return [item_to_row(item) for item in _items()]


def _audit_rows() -> list[dict[str, Any]]:
    return [
        {
            "seq": n,
            "body": b'{"x":%d}' % n,
            "hash": f"{n:064x}",
            "item_id": n % 2 or None,
            "event": "item.ingested",
        }
        for n in range(1, 4)
    ]


def _outbox_rows() -> list[dict[str, Any]]:
    return [
        {
            "dedupe_key": key,
            "kind": "card",
            "target": "C0TREASURY",
            "item_id": None,
            "payload": {"version": 1, "not_before": None},
            "state": "pending",
            "attempts": 0,
            "failures": 0,
            "available_at": when,
            "created_at": NOW,
        }
        for key, when in (("a", NOW), ("b", ELSEWHERE), ("a", NOW + timedelta(seconds=1)))
    ] + [
        # Flat payloads are serialized once per distinct value: equal-comparing values
        # of other types, and the same items in another order, must not share one.
        {
            "dedupe_key": f"flat-{n}",
            "kind": "card",
            "target": "C0TREASURY",
            "item_id": None,
            "payload": payload,
            "state": "pending",
            "attempts": 0,
            "failures": 0,
            "available_at": NOW,
            "created_at": NOW,
        }
        for n, payload in enumerate(
            [
                {"version": 1, "post_if_missing": True},
                {"version": 1, "post_if_missing": True},
                {"version": True, "post_if_missing": 1},
                {"version": 1.0, "post_if_missing": True},
                {"post_if_missing": True, "version": 1},
                {"version": 1, "post_if_missing": None, "note": "naïve"},
                {"version": 1, "nested": {"post_if_missing": True}},
                {"version": -0.0},  # equal to 0.0, and same type, but other JSON
                {"version": 0.0},
                {"version": 1, "reasons": ["a", "b"]},
            ]
            # A run of distinct payloads stops the keying; repeats after it still land.
            + [{"version": n, "extra": f"ACCT-{n}"} for n in range(100)]
            + [{"version": 1, "post_if_missing": True}, {"version": -0.0}]
        )
    ]


async def _stored(conn: AsyncConnection, table: Table) -> list[tuple[Any, ...]]:
    # The raw stored values, with no result processing, in a stable order.
    key = next(iter(table.primary_key.columns))
    columns = ", ".join(c.name for c in table.columns)
    result = await conn.exec_driver_sql(f"SELECT {columns} FROM {table.name} ORDER BY {key.name}")
    return [tuple(r) for r in result.all()]


@pytest.mark.parametrize(
    ("table", "rows", "skip_duplicate"),
    [
        (items, _item_rows(), None),
        (audit_records, _audit_rows(), None),
        (outbox, _outbox_rows(), "dedupe_key"),
    ],
    ids=["items", "audit_records", "outbox"],
)
async def test_insert_rows_stores_what_sqlalchemy_stores(
    migrated: Database, table: Table, rows: list[dict[str, Any]], skip_duplicate: str | None
) -> None:
    stmt: Any = insert(table)
    if skip_duplicate is not None:
        dialect = postgresql if not migrated.is_sqlite else sqlite
        stmt = dialect.insert(table).on_conflict_do_nothing(index_elements=[skip_duplicate])
    async with migrated.writer.begin() as conn:
        await conn.execute(stmt, rows)
        expected = await _stored(conn, table)
        await conn.execute(delete(table))
        if table is outbox and not migrated.is_sqlite:
            await conn.exec_driver_sql("ALTER SEQUENCE outbox_id_seq RESTART WITH 1")
        await insert_rows(conn, table, rows, skip_duplicate=skip_duplicate)
        got = await _stored(conn, table)
    assert got == expected
    assert len(got) == len({r.get("dedupe_key", i) for i, r in enumerate(rows)})


async def test_insert_rows_round_trips_through_the_mapping(migrated: Database) -> None:
    async with migrated.writer.begin() as conn:
        await insert_rows(conn, items, _item_rows())
        loaded = (await conn.execute(select(items).order_by(items.c.id))).mappings().all()
    assert [item_from_row(r) for r in loaded] == _items()


async def test_items_as_value_tuples_store_what_sqlalchemy_stores(migrated: Database) -> None:
    # add_many inserts item_values() tuples through insert_values, not dicts.
    async with migrated.writer.begin() as conn:
        await conn.execute(insert(items), _item_rows())
        expected = await _stored(conn, items)
        await conn.execute(delete(items))
        await insert_values(conn, items, ITEM_COLUMNS, [item_values(i) for i in _items()])
        got = await _stored(conn, items)
        loaded = (await conn.execute(select(items).order_by(items.c.id))).mappings().all()
    assert got == expected
    assert [item_from_row(r) for r in loaded] == _items()


def test_item_values_name_every_column_the_mapping_owns() -> None:
    # digest_window is the digest job's own column; item_to_row is item_values by name.
    assert set(ITEM_COLUMNS) == {c.name for c in items.columns} - {"digest_window"}
    assert len(ITEM_COLUMNS) == len(set(ITEM_COLUMNS))
    for item in _items():
        assert item_to_row(item) == dict(zip(ITEM_COLUMNS, item_values(item), strict=True))
    assert "id" not in item_to_row(_item(external_id="new"))


async def test_value_tuples_of_the_wrong_width_are_refused(migrated: Database) -> None:
    short = item_values(_items()[0])[:-1]
    async with migrated.writer.begin() as conn:
        with pytest.raises(ValueError, match="every row of a bulk insert has"):
            await insert_values(conn, items, ITEM_COLUMNS, [short])


async def test_a_naive_datetime_is_refused_like_sqlalchemy_refuses_it(migrated: Database) -> None:
    row = _outbox_rows()[0] | {"available_at": datetime(2026, 1, 1)}  # noqa: DTZ001
    async with migrated.writer.begin() as conn:
        with pytest.raises(ValueError, match="naive datetime"):
            await insert_rows(conn, outbox, [row])


async def test_rows_with_different_columns_are_refused(migrated: Database) -> None:
    rows = _audit_rows()
    rows[1] = {k: v for k, v in rows[1].items() if k != "item_id"}
    async with migrated.writer.begin() as conn:
        with pytest.raises(ValueError, match="every row"):
            await insert_rows(conn, audit_records, rows)

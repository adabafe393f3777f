"""The ledger's health as readers see it: error kinds, counts, the compliance officers'
dashboard figure (and nobody else's), and its App Home section."""

from __future__ import annotations

import json
from datetime import timedelta
from zoneinfo import ZoneInfo

import pytest

from domain.dashboard import Dashboard
from domain.items import EntryKind, JournalEntry, JournalLine
from domain.ledger_status import (
    LEDGER_BREAKER,
    BreakerState,
    BreakerStatus,
    Delivery,
    DeliveryCounts,
    JournalRecord,
    LedgerHealth,
    error_class,
    ledger_dedupe_key,
)
from domain.usecases import UseCases
from handlers import blocks
from handlers.blocks.ledger import ledger_block
from tests.builders import make_policy
from tests.fakes import T0, FixedClock, InMemoryUnitOfWorkFactory
from tests.slack_standin.limits import validate_view

UTC_ZONE = ZoneInfo("UTC")


@pytest.mark.parametrize(
    ("error", "kind"),
    [
        ("TimeoutError: no answer within 10 s", "TimeoutError"),
        ("HTTP 503: <html>Service Unavailable</html>", "HTTP 503"),
        ("ConnectionRefusedError", "ConnectionRefusedError"),
        ("  HTTP 500\nInternal error at https://erp.example/api", "HTTP 500"),
        ("", None),
        ("   ", None),
        (None, None),
        ("x" * 500, "x" * 60),
    ],
)
def test_an_error_shows_its_kind_without_its_detail(error: str | None, kind: str | None) -> None:
    assert error_class(error) == kind
    assert BreakerStatus(name="ledger", last_error=error).last_error_class == kind


def test_counts_unposted_is_everything_not_sent() -> None:
    counts = DeliveryCounts(pending=2, sent=7, dead=1, held=3)
    assert counts.unposted == 6
    assert DeliveryCounts().unposted == 0


def test_a_record_amount_is_its_debits_in_its_currency() -> None:
    entry = JournalEntry(
        idempotency_key="item-7-approval",
        ledger_ref="JE-00000007-A",
        item_id=7,
        currency="JPY",
        lines=(
            JournalLine(account="1190", debit_minor=1200),
            JournalLine(account="6990", debit_minor=300),
            JournalLine(account="1999", credit_minor=1500),
        ),
        memo="R-7 approval by policy",
        created_at=T0,
        kind=EntryKind.APPROVAL,
    )
    record = JournalRecord(id=3, entry=entry, delivery=Delivery.PENDING)
    assert (str(record.amount.amount), record.amount.currency) == ("1500", "JPY")
    assert ledger_dedupe_key(entry.idempotency_key) == "ledger:item-7-approval"


def _entry(n: int, hold: str | None = None) -> JournalEntry:
    return JournalEntry(
        idempotency_key=f"item-{n}-approval",
        ledger_ref=f"JE-{n:08d}-A",
        item_id=n,
        currency="USD",
        lines=(
            JournalLine(account="1190", debit_minor=100),
            JournalLine(account="1999", credit_minor=100),
        ),
        memo="m",
        created_at=T0,
        hold=hold,
    )


async def test_only_compliance_officers_dashboards_carry_the_ledger() -> None:
    factory = InMemoryUnitOfWorkFactory()
    store = factory.store
    for n, hold in ((1, None), (2, None), (3, "no account mapping"), (4, None), (5, None)):
        store.journal[f"item-{n}-approval"] = _entry(n, hold)
    store.deliveries.update({"item-4-approval": Delivery.SENT, "item-5-approval": Delivery.DEAD})
    opened = BreakerStatus(name=LEDGER_BREAKER, state=BreakerState.OPEN, failures=5, opened_at=T0)
    store.breaker_statuses[LEDGER_BREAKER] = opened
    usecases = UseCases.over(uow=factory, policy=make_policy)
    now = FixedClock().now()

    officer = await usecases.queries.dashboard(user="U0AUDIT", now=now)
    assert officer.ledger == LedgerHealth(
        breaker=opened, counts=DeliveryCounts(pending=2, sent=1, dead=1, held=1)
    )
    for user in ("U0ALICE", "U0LEAD", "U0NOBODY"):
        board = await usecases.queries.dashboard(user=user, now=now)
        assert board.ledger is None, user


async def test_an_officers_dashboard_reads_a_closed_breaker_when_none_is_stored() -> None:
    usecases = UseCases.over(uow=InMemoryUnitOfWorkFactory(), policy=make_policy)
    board = await usecases.queries.dashboard(user="U0AUDIT", now=T0)
    assert board.ledger == LedgerHealth(
        breaker=BreakerStatus(name=LEDGER_BREAKER), counts=DeliveryCounts()
    )


def _fields(health: LedgerHealth) -> list[str]:
    block = ledger_block(health, tz=UTC_ZONE, now=T0 + timedelta(hours=2))
    data = block.to_dict()
    assert data["block_id"] == "home.ledger"
    return [f["text"] for f in data["fields"]]


def test_a_closed_breaker_shows_delivering_and_the_unposted_count() -> None:
    fields = _fields(
        LedgerHealth(breaker=BreakerStatus(name=LEDGER_BREAKER), counts=DeliveryCounts(pending=4))
    )
    assert fields == [
        "*Ledger delivery*\n:large_green_circle: closed (delivering)",
        "*Unposted entries*\n4",
    ]


def test_an_open_breaker_shows_since_when_the_next_probe_and_the_error_kind_only() -> None:
    health = LedgerHealth(
        breaker=BreakerStatus(
            name=LEDGER_BREAKER,
            state=BreakerState.OPEN,
            failures=5,
            opened_at=T0,
            probe_at=T0 + timedelta(hours=2, seconds=30),
            last_error="HTTP 503: <b>secret upstream detail</b>",
        ),
        counts=DeliveryCounts(pending=1200, sent=3, dead=2, held=5),
    )
    fields = _fields(health)
    assert fields[0] == "*Ledger delivery*\n:red_circle: OPEN (nothing is sent; decisions go on)"
    assert fields[1] == "*Unposted entries*\n1,207 (5 held, 2 dead)"
    assert fields[2].startswith(f"*Open since*\n<!date^{int(T0.timestamp())}^")
    assert fields[2].endswith("(2h 0m)")
    assert fields[3].startswith("*Next probe*\n<!date^")
    assert fields[4] == "*Last error*\n`HTTP 503`"
    assert "secret" not in json.dumps(fields)


def test_a_half_open_breaker_says_it_is_probing() -> None:
    health = LedgerHealth(
        breaker=BreakerStatus(
            name=LEDGER_BREAKER, state=BreakerState.HALF_OPEN, opened_at=T0, probe_at=T0
        ),
        counts=DeliveryCounts(),
    )
    fields = _fields(health)
    assert fields[0].endswith("half-open (probing the ledger)")
    assert [f.split("\n")[0] for f in fields] == [
        "*Ledger delivery*",
        "*Unposted entries*",
        "*Open since*",
    ]


def _board(ledger: LedgerHealth | None, *, rows: int) -> Dashboard:
    from tests.builders import make_item

    items = tuple(make_item(id=1000 + i) for i in range(rows))
    return Dashboard(
        user="U0AUDIT",
        teams=("treasury",),
        refreshed_at=T0,
        pending_by_band={},
        overdue=0,
        awaiting_second_approval=0,
        open_disputes=0,
        dead_lettered=0,
        my_items=items,
        my_items_total=rows,
        unclaimed=items,
        unclaimed_total=rows,
        page=0,
        page_size=rows,
        ledger=ledger,
    )


def test_the_home_view_shows_the_ledger_section_only_when_the_dashboard_has_it() -> None:
    policy = make_policy().policy
    health = LedgerHealth(
        breaker=BreakerStatus(name=LEDGER_BREAKER, state=BreakerState.OPEN, opened_at=T0),
        counts=DeliveryCounts(dead=1),
    )
    with_ledger = blocks.home_view(_board(health, rows=2), policy=policy, now=T0).to_dict()
    without = blocks.home_view(_board(None, rows=2), policy=policy, now=T0).to_dict()
    ids = [b["block_id"] for b in with_ledger["blocks"]]
    assert ids.index("home.ledger") == ids.index("home.counts") + 1
    assert "home.ledger" not in [b["block_id"] for b in without["blocks"]]
    # Full lists and the ledger still fit Slack's 100 blocks.
    full = blocks.home_view(_board(health, rows=1000), policy=policy, now=T0).to_dict()
    assert len(full["blocks"]) <= 100
    assert validate_view(full, expected_type="home").error is None

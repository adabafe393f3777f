"""The ledger's health on App Home, through the Slack stand-in: a compliance officer sees
the delivery breaker (open since when, the last error's kind) and the unposted entries;
a reviewer or a lead does not, and a refresh shows the breaker closing again."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import update

from domain.ledger_status import LEDGER_BREAKER, BreakerState, BreakerStatus
from store.tables import breakers
from tests.e2e.conftest import QUIET, Desk
from tests.ledger_rows import add_entry, add_ledger_row, entry, set_breaker

pytestmark = pytest.mark.usefixtures("every_envelope_acked")


async def _home(desk: Desk, user: str, *needles: str) -> str:
    """Waits until ``user``'s Home shows every needle; returns its text."""

    def shows() -> str | None:
        home = desk.slack.home_of(user)
        text = home.all_text() if home is not None else ""
        return text if all(n in text for n in needles) else None

    return str(await desk.slack.wait_for(shows, message=f"{user}'s Home shows {needles}"))


async def _ledger_in_trouble(desk: Desk) -> None:
    """Three entries (sent, dead, held) and the ledger breaker open on a timeout.

    No entry gets a pending outbox row: delivering them is the ledger relay's work, and
    these tests only read where it stands.
    """
    items = await desk.ingest(3, **QUIET)
    now = desk.container.clock.now()
    async with desk.container.database.writer.begin() as conn:
        sent, dead, held = (
            entry(item.id or 0, at=now, hold="no account mapping" if n == 2 else None)
            for n, item in enumerate(items)
        )
        for made in (sent, dead, held):
            await add_entry(conn, made)
        await add_ledger_row(conn, sent, "sent", at=now)
        await add_ledger_row(conn, dead, "dead", at=now)
        await set_breaker(
            conn,
            BreakerStatus(
                name=LEDGER_BREAKER,
                state=BreakerState.OPEN,
                failures=5,
                opened_at=now - timedelta(minutes=90),
                probe_at=now + timedelta(seconds=30),
                last_error="TimeoutError: https://erp.internal/api gave no answer in 10 s",
            ),
            at=now,
        )


async def test_a_compliance_officer_sees_the_ledger_breaker_and_unposted_entries(
    desk: Desk,
) -> None:
    await _ledger_in_trouble(desk)

    await desk.slack.open_home("U0AUDIT")
    text = await _home(desk, "U0AUDIT", "Ledger delivery")
    assert "OPEN (nothing is sent; decisions go on)" in text
    assert "Unposted entries*\n2 (1 held, 1 dead)" in text
    assert "Open since" in text and "(1h 30m)" in text
    assert "Next probe" in text
    assert "Last error*\n`TimeoutError`" in text
    assert "erp.internal" not in text  # the error's detail stays with the operator

    for user in ("U0ALICE", "U0LEAD"):
        await desk.slack.open_home(user)
        others = await _home(desk, user, "Reconciliation desk")
        assert "Ledger delivery" not in others and "Unposted entries" not in others


async def test_a_refresh_shows_the_breaker_closed_again(desk: Desk) -> None:
    await _ledger_in_trouble(desk)
    await desk.slack.open_home("U0AUDIT")
    await _home(desk, "U0AUDIT", "OPEN (nothing is sent")

    async with desk.container.database.writer.begin() as conn:
        await conn.execute(
            update(breakers)
            .where(breakers.c.name == LEDGER_BREAKER)
            .values(state=BreakerState.CLOSED.value, failures=0, opened_at=None, probe_at=None)
        )
    await desk.slack.click("U0AUDIT", "Refresh")
    text = await _home(desk, "U0AUDIT", "closed (delivering)")
    assert "Open since" not in text and "Next probe" not in text
    assert "OPEN" not in text

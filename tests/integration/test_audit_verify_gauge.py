"""``serve``'s periodic audit verification (issue 13): a log that verifies sets
``recon_audit_last_verified_timestamp_seconds``; a tampered one leaves it unset and
logs an error. The verification runs in a thread of its own, so the test's loop keeps
turning while it runs."""

from __future__ import annotations

import asyncio
import logging
import time
from pathlib import Path

import pytest
from sqlalchemy import update

from bot.container import Container
from bot.observability import verify_periodically
from bot.settings import Settings
from bot.setup import initialize
from domain.intake import IntakeRow
from store.tables import audit_records
from telemetry.metrics import Metrics
from tests.builders import make_facts

GAUGE = "recon_audit_last_verified_timestamp_seconds"


async def _settings_with_a_log(tmp_path: Path) -> Settings:
    settings = Settings(
        database_url=f"sqlite+aiosqlite:///{tmp_path / 'recon.db'}",
        policy=tmp_path / "policy.yml",
        audit_key=tmp_path / "audit.pem",
        audit_anchors=tmp_path / "anchors.jsonl",
        audit_verify_interval=3600,
    )
    await initialize(settings)
    container = await Container.open(settings)
    try:
        rows = [IntakeRow(line=n, facts=make_facts(external_id=f"x{n}")) for n in (1, 2, 3)]
        await container.usecases.intake.ingest(rows, now=container.clock.now())
    finally:
        await container.close()
    return settings


def _gauge(metrics: Metrics) -> float | None:
    for line in metrics.scrape().decode().splitlines():
        if line.startswith(GAUGE + " "):
            return float(line.split()[1])
    return None


async def _one_round(settings: Settings, metrics: Metrics) -> None:
    """One verification: the loop runs once and returns, ``stop`` being set already."""
    stop = asyncio.Event()
    stop.set()
    ticks = 0

    async def ticking() -> None:
        nonlocal ticks
        while True:
            await asyncio.sleep(0)
            ticks += 1

    ticker = asyncio.create_task(ticking())
    try:
        async with asyncio.timeout(30):
            await verify_periodically(settings=settings, metrics=metrics, stop=stop)
    finally:
        ticker.cancel()
    assert ticks > 0  # the loop turned while the thread verified


async def test_a_log_that_verifies_sets_the_time(tmp_path: Path) -> None:
    settings = await _settings_with_a_log(tmp_path)
    metrics = Metrics()
    try:
        before = time.time()
        assert _gauge(metrics) is None
        await _one_round(settings, metrics)
        verified = _gauge(metrics)
        assert verified is not None and before <= verified <= time.time()
    finally:
        metrics.shutdown()


async def test_a_tampered_log_leaves_the_time_unset_and_says_so(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    settings = await _settings_with_a_log(tmp_path)
    from store.engine import create_database

    database = create_database(settings.database_url)
    try:
        async with database.writer.begin() as conn:
            await conn.execute(
                update(audit_records).where(audit_records.c.seq == 2).values(body=b"{}")
            )
    finally:
        await database.dispose()
    metrics = Metrics()
    try:
        with caplog.at_level(logging.ERROR, logger="recon_bot"):
            await _one_round(settings, metrics)
        assert _gauge(metrics) is None
        assert any(getattr(r, "event", None) == "audit_verify_failed" for r in caplog.records), (
            caplog.text
        )
    finally:
        metrics.shutdown()

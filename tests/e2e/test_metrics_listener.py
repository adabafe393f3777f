"""``/metrics``, ``/healthz`` and ``/readyz`` of a real ``recon-bot serve`` (issue 13).

The process runs against the Slack stand-in with its listener on a free loopback port.
``/healthz`` answers as soon as the process is up; ``/readyz`` only once Socket Mode is
connected, and not while the schema is out of date. After a few decisions made by
clicks, a scrape shows them under the documented names, labels and values.
"""

from __future__ import annotations

import asyncio
import socket
import time
from pathlib import Path

import aiohttp
from prometheus_client.parser import text_string_to_metric_families
from sqlalchemy import text

from bot.container import Container
from bot.settings import Settings
from bot.setup import initialize
from domain.dashboard import priority_band
from domain.intake import IntakeRow
from domain.items import Item
from tests.builders import make_facts
from tests.e2e.conftest import MATERIAL, TREASURY, cards_of, e2e_settings, ingest_rows
from tests.e2e.serve_process import ServeProcess, start_serve
from tests.slack_standin import SlackStandIn

Samples = dict[tuple[str, frozenset[tuple[str, str]]], float]


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


async def _serve(settings: Settings, slack: SlackStandIn, cwd: Path, addr: str) -> ServeProcess:
    env = {"RECON_METRICS_ADDR": addr, "RECON_GAUGE_INTERVAL": "0.2"}
    return await start_serve(settings, slack, cwd, env=env)


async def _get(http: aiohttp.ClientSession, url: str) -> tuple[int, str]:
    async with http.get(url) as response:
        return response.status, await response.text()


def _samples(body: str) -> tuple[Samples, dict[str, str]]:
    """Every sample by (name, labels), and every family's type by name."""
    samples: Samples = {}
    types: dict[str, str] = {}
    for family in text_string_to_metric_families(body):
        types[family.name] = family.type
        for sample in family.samples:
            samples[(sample.name, frozenset(sample.labels.items()))] = sample.value
    return samples, types


def _value(samples: Samples, name: str, **labels: str) -> float | None:
    return samples.get((name, frozenset(labels.items())))


async def test_serve_exposes_health_readiness_and_metrics_after_decisions(
    slack: SlackStandIn, tmp_path: Path
) -> None:
    settings = e2e_settings(tmp_path, slack)
    await initialize(settings)
    container = await Container.open(settings)
    base = f"http://127.0.0.1:{_free_port()}"
    # Socket Mode cannot connect until the test lets Slack answer apps.connections.open.
    hold = slack.hold_response("apps.connections.open")
    started = time.time()
    proc = await _serve(settings, slack, tmp_path, base.removeprefix("http://"))
    try:
        async with aiohttp.ClientSession() as http:

            async def alive() -> bool:
                try:
                    return (await _get(http, f"{base}/healthz"))[0] == 200
                except aiohttp.ClientConnectionError:
                    return False

            await slack.wait_for(alive, timeout=30, message="/healthz answers 200")
            async with asyncio.timeout(30):
                await hold.reached.wait()
            status, body = await _get(http, f"{base}/readyz")
            assert status == 503
            assert "socket_mode: not connected" in body
            assert "database: ok" in body and "schema: ok" in body
            hold.release()
            await slack.wait_connected(timeout=30)

            async def ready() -> bool:
                return (await _get(http, f"{base}/readyz"))[0] == 200

            await slack.wait_for(ready, timeout=30, message="/readyz 200 once connected")

            # Three items: two material ones reviewed now, one small one for the digest.
            rows = [
                IntakeRow(line=1, facts=make_facts(**(MATERIAL | {"external_id": "m-1"}))),
                IntakeRow(line=2, facts=make_facts(**(MATERIAL | {"external_id": "m-2"}))),
                IntakeRow(line=3, facts=make_facts(external_id="small-1")),
            ]
            approved, claimed, small = await ingest_rows(container, rows)

            async def carded() -> bool:
                return bool(cards_of(slack, approved)) and bool(cards_of(slack, claimed))

            await slack.wait_for(carded, timeout=30, message="both cards posted")
            (card,) = cards_of(slack, approved)
            await slack.click("U0ALICE", "Approve", channel=TREASURY, ts=card.ts)
            (card,) = cards_of(slack, claimed)
            await slack.click("U0BOB", "Claim", channel=TREASURY, ts=card.ts)

            async def item(it: Item) -> Item:
                assert it.id is not None
                async with container.uow(read_only=True) as uow:
                    found = await uow.items.get(it.id)
                assert found is not None
                return found

            async def decided() -> bool:
                # Approved is the sign-off; the ledger's answer later makes it posted.
                signed = (await item(approved)).state.value in ("approved", "posted")
                return signed and (await item(claimed)).state.value == "assigned"

            await slack.wait_for(decided, timeout=30, message="decisions stored")

            async def scraped() -> tuple[Samples, dict[str, str]]:
                status, body = await _get(http, f"{base}/metrics")
                assert status == 200
                return _samples(body)

            kind = approved.kind.value
            band = priority_band(claimed.priority).value

            async def settled() -> bool:
                samples, _ = await scraped()
                return (
                    _value(samples, "recon_queue_depth", priority=band, state="assigned") == 1
                    and _value(samples, "recon_signoff_seconds_count", kind=kind) == 1
                )

            await slack.wait_for(settled, timeout=30, message="gauges settled")
            samples, types = await scraped()

            # Routing decisions are totals over the store: the CLI's ingests count too.
            assert (
                _value(samples, "recon_routing_decisions_total", route="immediate", kind=kind) == 2
            )
            assert (
                _value(samples, "recon_routing_decisions_total", route=small.route.value, kind=kind)
                == 1
            )
            assert small.route.value == "digest"
            # The approved item left the queue; the claimed one is there, assigned.
            assert _value(samples, "recon_queue_depth", priority=band, state="pending") is None
            assert _value(samples, "recon_circuit_breaker_state", sink="ledger") == 0
            posted = _value(
                samples, "recon_slack_api_calls_total", method="chat.postMessage", outcome="ok"
            )
            assert posted is not None and posted >= 2
            assert (
                _value(samples, "recon_slack_api_call_seconds_count", method="chat.postMessage")
                is not None
            )
            appended = _value(samples, "recon_audit_records_appended_total")
            assert appended is not None and appended >= 2  # approval, posting, claim
            # serve verified the whole audit log (in its own thread) when it started.
            verified = _value(samples, "recon_audit_last_verified_timestamp_seconds")
            assert verified is not None and started <= verified <= time.time()
            signoff_sum = _value(samples, "recon_signoff_seconds_sum", kind=kind)
            assert signoff_sum is not None and signoff_sum >= 0

            # Prometheus naming: one prefix, counters end in _total, no person or item.
            assert all(name.startswith("recon_") for name in types)
            for name, kind_of in types.items():
                if kind_of == "counter":
                    assert any(s[0] == f"{name}_total" for s in samples), name
            for _, labels in samples:
                assert not {k for k, _ in labels} & {"user", "actor", "item", "item_id"}
                assert not [v for _, v in labels if v.startswith(("U0", "R-"))]

            # Slack asks for a refresh: the new connection's hello counts one reconnect.
            assert _value(samples, "recon_socket_mode_reconnects_total") is None
            assert await slack.request_refresh() == 1

            async def reconnected() -> bool:
                samples, _ = await scraped()
                return _value(samples, "recon_socket_mode_reconnects_total") == 1

            await slack.wait_for(reconnected, timeout=30, message="one reconnect counted")
            await slack.wait_for(ready, timeout=30, message="/readyz 200 after the refresh")

            # The schema moved on under the process: not ready, until it is current again.
            async with container.database.writer.begin() as conn:
                current = (
                    await conn.execute(text("SELECT version_num FROM alembic_version"))
                ).scalar_one()
                await conn.execute(text("UPDATE alembic_version SET version_num = 'older'"))
            status, body = await _get(http, f"{base}/readyz")
            assert status == 503 and "schema: out of date" in body
            async with container.database.writer.begin() as conn:
                await conn.execute(
                    text("UPDATE alembic_version SET version_num = :v"), {"v": current}
                )
            assert (await _get(http, f"{base}/readyz"))[0] == 200
    finally:
        hold.release()
        logs = (await proc.stop()).logs
        await container.close()
    assert proc.returncode == 0, logs
    assert "metrics and health listener on 127.0.0.1" in logs
    for secret in (slack.bot_token, slack.app_token):
        assert secret not in logs

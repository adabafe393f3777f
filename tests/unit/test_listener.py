"""The health and metrics listener on its own: address parsing, and ``/readyz`` naming
each failing check (an exception by its class, never its message)."""

from __future__ import annotations

import aiohttp
import pytest

from telemetry.addr import parse_addr
from telemetry.listener import Listener
from telemetry.metrics import Metrics


@pytest.mark.parametrize(
    ("addr", "expected"),
    [("127.0.0.1:9464", ("127.0.0.1", 9464)), ("[::1]:0", ("::1", 0)), ("h:1", ("h", 1))],
)
def test_host_and_port(addr: str, expected: tuple[str, int]) -> None:
    assert parse_addr(addr) == expected


@pytest.mark.parametrize("addr", ["9464", ":9464", "host:", "host:http", "host:70000"])
def test_a_bad_address_is_refused(addr: str) -> None:
    with pytest.raises(ValueError, match="host:port"):
        parse_addr(addr)


async def test_readyz_lists_each_check_and_fails_on_any() -> None:
    async def fine() -> str | None:
        return None

    async def down() -> str | None:
        return "not connected"

    async def broken() -> str | None:
        raise ConnectionError("password=hunter2 at db.internal")

    metrics = Metrics()
    listener = Listener(metrics=metrics, checks={"a": fine, "b": down, "c": broken})
    await listener.start("127.0.0.1:0")
    try:
        base = f"http://127.0.0.1:{listener.port}"
        async with aiohttp.ClientSession() as http:
            async with http.get(f"{base}/readyz") as response:
                assert response.status == 503
                body = await response.text()
            async with http.get(f"{base}/healthz") as response:
                assert response.status == 200
            async with http.get(f"{base}/metrics") as response:
                assert response.status == 200
                assert response.headers["Content-Type"].startswith("text/plain")
    finally:
        await listener.stop()
        metrics.shutdown()
    assert body.splitlines() == ["a: ok", "b: not connected", "c: ConnectionError"]
    assert "hunter2" not in body


async def test_only_fine_checks_are_ready() -> None:
    async def fine() -> str | None:
        return None

    metrics = Metrics()
    listener = Listener(metrics=metrics, checks={"database": fine})
    await listener.start("127.0.0.1:0")
    try:
        async with aiohttp.ClientSession() as http:
            async with http.get(f"http://127.0.0.1:{listener.port}/readyz") as response:
                assert (response.status, await response.text()) == (200, "database: ok\n")
    finally:
        await listener.stop()
        metrics.shutdown()

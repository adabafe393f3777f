"""The health and metrics listener: ``/metrics``, ``/healthz`` and ``/readyz`` on one
aiohttp site bound where ``RECON_METRICS_ADDR`` says (``host:port``).

``/healthz`` answers 200 while the event loop runs. ``/readyz`` answers 200 only when
every readiness check passes (the body lists each, ``ok`` or why not), else 503.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Mapping

from aiohttp import web

from telemetry.addr import parse_addr
from telemetry.metrics import CONTENT_TYPE, Metrics

log = logging.getLogger("recon_bot.telemetry")

#: A readiness check: None when ready, else a short reason (no secrets, no payloads).
Check = Callable[[], Awaitable[str | None]]


class Listener:
    """Serves the three paths until :meth:`stop`."""

    def __init__(self, *, metrics: Metrics, checks: Mapping[str, Check]) -> None:
        self._metrics = metrics
        self._checks = dict(checks)
        self._runner: web.AppRunner | None = None
        self.port: int | None = None

    async def start(self, addr: str) -> None:
        """Binds ``addr`` and serves (port 0 picks a free one: see :attr:`port`)."""
        host, port = parse_addr(addr)
        app = web.Application()
        app.router.add_get("/metrics", self._scrape)
        app.router.add_get("/healthz", self._healthz)
        app.router.add_get("/readyz", self._readyz)
        runner = web.AppRunner(app, access_log=None)
        await runner.setup()
        site = web.TCPSite(runner, host, port)
        try:
            await site.start()
        except BaseException:
            await runner.cleanup()
            raise
        self._runner = runner
        bound = [a for a in runner.addresses if isinstance(a, tuple)]
        self.port = int(bound[0][1]) if bound else port
        log.info(
            "metrics and health listener on %s:%s",
            host,
            self.port,
            extra={"event": "metrics_listening", "port": self.port},
        )

    async def stop(self) -> None:
        """Closes the listener."""
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    async def _scrape(self, request: web.Request) -> web.Response:
        body = self._metrics.scrape()
        return web.Response(body=body, headers={"Content-Type": CONTENT_TYPE})

    async def _healthz(self, request: web.Request) -> web.Response:
        return web.Response(text="ok\n")

    async def _readyz(self, request: web.Request) -> web.Response:
        lines = []
        ready = True
        for name, check in self._checks.items():
            try:
                problem = await check()
            except Exception as exc:
                problem = type(exc).__name__
            ready = ready and problem is None
            lines.append(f"{name}: {'ok' if problem is None else problem}")
        return web.Response(text="\n".join(lines) + "\n", status=200 if ready else 503)

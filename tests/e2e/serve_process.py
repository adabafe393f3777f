"""``recon-bot serve`` as a real process against the Slack stand-in: start it, stop it.

The one way the process tests start the bot: the environment holds the settings' paths
and the stand-in's URL and tokens (nothing inherited from the caller's ``RECON_``,
``SLACK_`` or ``OTEL_`` variables), plus whatever a test adds in ``env``.
"""

from __future__ import annotations

import asyncio
import os
import signal
import sys
import time
from dataclasses import dataclass
from pathlib import Path

from bot.settings import Settings
from tests.slack_standin import SlackStandIn

#: Seconds from SIGTERM to exit per situation, for the end-of-run summary (never asserted).
STOP_TIMES: dict[str, list[float]] = {}


def record_stop(situation: str, seconds: float) -> None:
    """Notes one measured stop time for the summary."""
    STOP_TIMES.setdefault(situation, []).append(seconds)


@dataclass(frozen=True, slots=True)
class Stopped:
    """How a stop went: the seconds from the signal to the exit, and what it logged."""

    seconds: float
    logs: str


class ServeProcess:
    """A running ``recon-bot serve``; its stderr (the logs) is read as it comes, so a
    process that logs a lot never blocks on a full pipe (and never looks slow to stop)."""

    def __init__(self, proc: asyncio.subprocess.Process) -> None:
        assert proc.stderr is not None
        self.proc = proc
        self._logs = asyncio.ensure_future(proc.stderr.read())

    @property
    def returncode(self) -> int | None:
        """The exit code (negative: killed by that signal); None while running."""
        return self.proc.returncode

    async def kill(self) -> None:
        """SIGKILL (no shutdown at all), and wait for it."""
        if self.proc.returncode is None:
            self.proc.kill()
        await self.proc.wait()

    def send(self, sig: signal.Signals = signal.SIGTERM) -> float:
        """Sends ``sig`` without waiting; returns when (``time.monotonic``)."""
        self.proc.send_signal(sig)
        return time.monotonic()

    async def stop(
        self, sig: signal.Signals = signal.SIGTERM, *, since: float | None = None
    ) -> Stopped:
        """Sends ``sig`` (unless ``since``: the time an earlier signal was sent) and waits
        for the exit, killing it after 30 s; returns the time taken and the logs."""
        if since is None and self.proc.returncode is None:
            since = self.send(sig)
        try:
            async with asyncio.timeout(30):
                await self.proc.wait()
        finally:
            if self.proc.returncode is None:
                await self.kill()
        seconds = time.monotonic() - (since or time.monotonic())
        return Stopped(seconds=seconds, logs=(await self._logs).decode())


async def start_serve(
    settings: Settings,
    slack: SlackStandIn,
    cwd: Path,
    *,
    env: dict[str, str] | None = None,
) -> ServeProcess:
    """Starts ``recon-bot serve`` in ``cwd`` (stdout discarded, stderr read: its logs)."""
    environ = {
        **{k: v for k, v in os.environ.items() if not k.startswith(("RECON_", "SLACK_", "OTEL_"))},
        "RECON_DATABASE_URL": settings.database_url,
        "RECON_POLICY": str(settings.policy),
        "RECON_AUDIT_KEY": str(settings.audit_key),
        "RECON_AUDIT_ANCHORS": str(settings.audit_anchors),
        "RECON_SLACK_API_URL": slack.api_url,
        "SLACK_BOT_TOKEN": slack.bot_token,
        "SLACK_APP_TOKEN": slack.app_token,
        "RECON_LOG_LEVEL": "INFO",
        **(env or {}),
    }
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "bot",
        "serve",
        cwd=cwd,
        env=environ,
        stdout=asyncio.subprocess.DEVNULL,
        stderr=asyncio.subprocess.PIPE,
    )
    return ServeProcess(proc)

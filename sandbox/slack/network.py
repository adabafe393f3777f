"""What the stand-in's network faces share: the bound address, reachability, background work.

:class:`~sandbox.slack.server.SlackStandIn` serves three faces on one 127.0.0.1 port: the
Web API (:mod:`sandbox.slack.webapi`), response_urls (:mod:`sandbox.slack.response_urls`)
and Socket Mode (:mod:`sandbox.slack.socket_mode`). Each is a base of ``SlackStandIn``
built on :class:`NetworkBase`, which holds what they all use. ``SlackStandIn.__init__``
sets every attribute the faces declare; ``start``/``stop`` bind and release the port.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Coroutine
from typing import Any

from aiohttp import web

from .driver import SlackDriver
from .faults import FaultPlan, Hold
from .records import JSON

__all__ = ["NetworkBase"]

_HOST = "127.0.0.1"


def _err(error: str, **extra: Any) -> JSON:
    return {"ok": False, "error": error, **extra}


def _str_or_none(value: Any) -> str | None:
    if value is None or value == "":
        return None
    return str(value)


class NetworkBase(SlackDriver):
    """The address, the fault plan, and the tasks and timers :meth:`SlackStandIn.stop` ends.

    ``_reachable`` is cleared while Slack is unreachable: every face waits on it before it
    answers. ``_stopping`` is set once ``stop`` begins.
    """

    faults: FaultPlan
    _stopping: bool
    _runner: web.AppRunner | None
    _port: int | None
    _timers: set[asyncio.TimerHandle]
    _tasks: set[asyncio.Task[Any]]
    _held: list[Hold]
    _reachable: asyncio.Event

    @property
    def port(self) -> int:
        """The bound port (after :meth:`start`)."""
        if self._port is None:
            raise RuntimeError("SlackStandIn is not started")
        return self._port

    @property
    def base_url(self) -> str:
        """``http://127.0.0.1:PORT``."""
        return f"http://{_HOST}:{self.port}"

    @property
    def api_url(self) -> str:
        """The Web API base URL for slack_sdk's ``base_url`` (ends with ``/api/``)."""
        return f"{self.base_url}/api/"

    def _spawn(self, coro: Coroutine[Any, Any, Any]) -> None:
        task = asyncio.get_running_loop().create_task(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    def _later(self, delay: float, callback: Callable[[], None]) -> None:
        handle: asyncio.TimerHandle | None = None

        def fire() -> None:
            if handle is not None:
                self._timers.discard(handle)
            callback()

        handle = asyncio.get_running_loop().call_later(delay, fire)
        self._timers.add(handle)

"""The Bolt app: every listener registered, with the dependencies they share.

A stored interaction (the durable inbox) runs again through the same listeners
(:func:`dispatcher`), as Socket Mode would have delivered it.
"""

from __future__ import annotations

import asyncio
from typing import Any

import aiohttp
from slack_bolt.async_app import AsyncApp
from slack_bolt.request.async_request import AsyncBoltRequest
from slack_sdk.web.async_client import AsyncWebClient

from bot.container import Container
from handlers import actions, commands, digests, events, matches, statements, views
from handlers.context import Deps, InFlight
from scheduler.inbox import Dispatch
from store.audit.log import history as audit_history
from store.inbox import SqlInbox

#: Listeners doing post-ack work at once (see ``handlers.context.Deps.work_gate``).
LISTENER_WORKERS = 4


def make_deps(
    container: Container,
    inflight: InFlight | None = None,
    http: aiohttp.ClientSession | None = None,
    inbox: SqlInbox | None = None,
) -> Deps:
    """The listeners' dependencies from the container."""

    async def history(item_id: int) -> list[dict[str, object]]:
        async with container.database.reader.connect() as conn:
            return await audit_history(conn, item_id)

    return Deps(
        usecases=container.usecases,
        policy=container.policy.current,
        clock=container.clock,
        history=history,
        inflight=inflight or InFlight(),
        http=http,
        work_gate=asyncio.Semaphore(LISTENER_WORKERS),
        inbox=inbox,
    )


def create_app(*, client: AsyncWebClient, deps: Deps) -> AsyncApp:
    """The Bolt app with every listener registered (no I/O happens here)."""
    app = AsyncApp(client=client, process_before_response=False)
    commands.register(app, deps)
    actions.register(app, deps)
    views.register(app, deps)
    events.register(app, deps)
    digests.register(app, deps)
    statements.register(app, deps)
    matches.register(app, deps)
    return app


def dispatcher(app: AsyncApp) -> Dispatch:
    """Runs a stored interaction's body through ``app``'s listeners, as Socket Mode does
    (the ack it returns went out long ago, from the process that stored it)."""

    async def dispatch(body: dict[str, Any]) -> object:
        return await app.async_dispatch(AsyncBoltRequest(mode="socket_mode", body=body))

    return dispatch

"""Events API listeners: the App Home tab, and thread replies (a dispute's log)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from pydantic import ValidationError
from slack_bolt.async_app import AsyncApp

from handlers.context import Ctx, Deps, guarded
from handlers.home import publish_home
from handlers.payloads import AppHomeOpened, MessageCallback


def register(app: AsyncApp, deps: Deps) -> None:
    """Adds the ``app_home_opened`` and ``message`` listeners."""
    app.event("app_home_opened")(guarded(deps, on_home_opened, durable=False))
    # Every subtype: edits and deletions arrive as message_changed / message_deleted.
    app.event("message")(guarded(deps, on_message, durable=is_thread_change))


async def on_home_opened(ctx: Ctx) -> None:
    """Publishes the dashboard when the user opens the Home tab."""
    await ctx.ack()
    event = AppHomeOpened.model_validate(ctx.body.get("event") or {})
    if event.tab != "home":
        return
    await publish_home(ctx.client, ctx.deps, user=event.user)


def is_thread_change(body: Mapping[str, Any]) -> bool:
    """Whether a message event tells of a person's thread reply: only those are stored
    before their ack (storing every message would put all channel chatter in the
    database, for nothing: the rest are dropped at once)."""
    try:
        return MessageCallback.model_validate(body).thread_change() is not None
    except ValidationError:
        return False


async def on_message(ctx: Ctx) -> None:
    """Keeps a person's thread reply (posted, edited, deleted) in the dispute's log.

    Most messages are not such replies (top-level chat, joins, the bot's own posts):
    they are acked and dropped here, before any database work.
    """
    await ctx.ack()
    change = MessageCallback.model_validate(ctx.body).thread_change()
    if change is None:
        return
    await ctx.deps.usecases.dispute_log.record(message=change, now=ctx.deps.clock.now())

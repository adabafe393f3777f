"""Events API listeners: the App Home tab, and thread replies (a dispute's log)."""

from __future__ import annotations

from slack_bolt.async_app import AsyncApp

from handlers.context import Ctx, Deps, guarded
from handlers.home import publish_home
from handlers.payloads import AppHomeOpened, MessageCallback


def register(app: AsyncApp, deps: Deps) -> None:
    """Adds the ``app_home_opened`` and ``message`` listeners."""
    app.event("app_home_opened")(guarded(deps, on_home_opened))
    # Every subtype: edits and deletions arrive as message_changed / message_deleted.
    app.event("message")(guarded(deps, on_message))


async def on_home_opened(ctx: Ctx) -> None:
    """Publishes the dashboard when the user opens the Home tab."""
    await ctx.ack()
    event = AppHomeOpened.model_validate(ctx.body.get("event") or {})
    if event.tab != "home":
        return
    await publish_home(ctx.client, ctx.deps, user=event.user)


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

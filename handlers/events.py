"""Events API listeners: the App Home tab."""

from __future__ import annotations

from slack_bolt.async_app import AsyncApp

from handlers.context import Ctx, Deps, guarded
from handlers.home import publish_home
from handlers.payloads import AppHomeOpened


def register(app: AsyncApp, deps: Deps) -> None:
    """Adds the ``app_home_opened`` listener."""
    app.event("app_home_opened")(guarded(deps, on_home_opened))


async def on_home_opened(ctx: Ctx) -> None:
    """Publishes the dashboard when the user opens the Home tab."""
    await ctx.ack()
    event = AppHomeOpened.model_validate(ctx.body.get("event") or {})
    if event.tab != "home":
        return
    await publish_home(ctx.client, ctx.deps, user=event.user)

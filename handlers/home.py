"""Publishing a user's App Home (on open, on its buttons, and when the relay refreshes it)."""

from __future__ import annotations

from slack_sdk.web.async_client import AsyncWebClient

from handlers import blocks
from handlers.context import Deps

HOME_PAGE_SIZE = 10


async def publish_home(
    client: AsyncWebClient, deps: Deps, *, user: str, page: int | None = None
) -> None:
    """Renders and publishes the dashboard (one page of each list; never over 100 blocks).

    ``page`` is the page the user chose (0 first), remembered in the store for their
    next refresh; None shows the page they last chose, so a refresh after someone
    else's change does not send them back to the first.

    Publishes for one user take turns: read, render and publish happen under the user's
    lock, so a refresh that read before a change cannot land after one that read after it.
    """
    async with deps.home_locks.hold(user):
        now = deps.clock.now()
        if page is not None:
            await deps.usecases.queries.remember_home_page(user=user, page=page, now=now)
        dashboard = await deps.usecases.queries.dashboard(
            user=user, now=now, page_size=HOME_PAGE_SIZE
        )
        view = blocks.home_view(dashboard, policy=deps.policy().policy, now=now)
        await client.views_publish(user_id=user, view=view)

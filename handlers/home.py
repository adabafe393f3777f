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

    ``page`` is the page to show (0 first); None keeps the user on the page they last
    saw, so a refresh after someone else's change does not send them back to the first.
    A page past the end (the lists got shorter) shows the last page instead.

    Publishes for one user take turns: read, render and publish happen under the user's
    lock, so a refresh that read before a change cannot land after one that read after it.
    """
    async with deps.home_locks.hold(user):
        now = deps.clock.now()
        wanted = deps.home_pages.get(user, 0) if page is None else max(page, 0)
        dashboard = await deps.service.dashboard(
            user=user, now=now, page=wanted, page_size=HOME_PAGE_SIZE
        )
        if dashboard.page >= dashboard.pages:
            dashboard = await deps.service.dashboard(
                user=user, now=now, page=dashboard.pages - 1, page_size=HOME_PAGE_SIZE
            )
        deps.home_pages[user] = dashboard.page
        view = blocks.home_view(dashboard, policy=deps.policy().policy, now=now)
        await client.views_publish(user_id=user, view=view)

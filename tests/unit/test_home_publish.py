"""Publishing a user's App Home: concurrent publishes for one user take turns."""

from __future__ import annotations

import asyncio
import functools
import json
from typing import Any

import pytest
from slack_sdk.models.views import View

from domain.policy import LoadedPolicy
from domain.usecases import UseCases
from handlers.context import Deps, InFlight, KeyedLocks
from handlers.home import publish_home
from tests.fakes import FixedClock, InMemoryUnitOfWorkFactory
from tests.unit.test_services import add_item


class RecordingClient:
    """Keeps every view published, in order, per user."""

    def __init__(self) -> None:
        self.published: list[tuple[str, View]] = []

    async def views_publish(self, *, user_id: str, view: View) -> None:
        self.published.append((user_id, view))


def _deps(usecases: UseCases, loaded_policy: LoadedPolicy, clock: FixedClock) -> Deps:
    async def history(item_id: int) -> list[dict[str, object]]:
        return []

    return Deps(
        usecases=usecases,
        policy=lambda: loaded_policy,
        clock=clock,
        history=history,
        inflight=InFlight(),
    )


async def test_a_refresh_that_read_before_a_change_never_lands_after_a_newer_view(
    usecases: UseCases,
    uow_factory: InMemoryUnitOfWorkFactory,
    loaded_policy: LoadedPolicy,
    clock: FixedClock,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    item = await add_item(usecases, uow_factory, clock)
    assert item.id is not None
    read_dashboard = usecases.queries.dashboard
    first_read = asyncio.Event()
    let_first_publish = asyncio.Event()
    reads = 0

    async def slow_first_dashboard(**kwargs: Any) -> Any:
        nonlocal reads
        reads += 1
        board = await read_dashboard(**kwargs)
        if reads == 1:  # the relay's refresh: it read, then the event loop moved on
            first_read.set()
            await let_first_publish.wait()
        return board

    monkeypatch.setattr(usecases.queries, "dashboard", slow_first_dashboard)
    client = RecordingClient()
    deps = _deps(usecases, loaded_policy, clock)

    stale = asyncio.create_task(publish_home(client, deps, user="U0ALICE"))  # type: ignore[arg-type]
    await first_read.wait()
    await usecases.claims.assign(
        item_id=item.id, actor="U0ALICE", assignee="U0ALICE", now=clock.now()
    )
    fresh = asyncio.create_task(publish_home(client, deps, user="U0ALICE"))  # type: ignore[arg-type]
    await asyncio.sleep(0.05)  # unguarded, the fresh publish finishes in here
    let_first_publish.set()
    await asyncio.gather(stale, fresh)

    assert [user for user, _ in client.published] == ["U0ALICE", "U0ALICE"]
    first, last = (json.dumps(view.to_dict(), ensure_ascii=False) for _, view in client.published)
    assert "My items \u00b7 0" in first
    assert "My items \u00b7 1" in last, "the view read before the assignment was published last"
    assert len(deps.home_locks) == 0


async def test_keyed_locks_serialise_one_key_run_others_freely_and_forget_idle_keys() -> None:
    locks = KeyedLocks()
    order: list[str] = []
    inside_a = asyncio.Event()
    leave_a = asyncio.Event()

    async def first() -> None:
        async with locks.hold("U1"):
            order.append("a-in")
            inside_a.set()
            await leave_a.wait()
            order.append("a-out")

    async def second() -> None:
        async with locks.hold("U1"):
            order.append("b-in")

    async def other_user() -> None:
        async with locks.hold("U2"):
            order.append("c-in")

    a = asyncio.create_task(first())
    await inside_a.wait()
    b = asyncio.create_task(second())
    await other_user()  # another key never waits for U1
    await asyncio.sleep(0)
    assert order == ["a-in", "c-in"] and len(locks) == 1
    leave_a.set()
    await asyncio.gather(a, b)
    assert order == ["a-in", "c-in", "a-out", "b-in"]
    assert len(locks) == 0

    with pytest.raises(RuntimeError):
        async with locks.hold("U1"):
            raise RuntimeError("boom")
    assert len(locks) == 0


def _page_line(client: RecordingClient) -> str:
    _, view = client.published[-1]
    text = json.dumps(view.to_dict(), ensure_ascii=False)
    start = text.index("Page ")
    return text[start : text.index('"', start)]


async def test_a_refresh_keeps_the_user_on_their_page_until_the_lists_get_shorter(
    usecases: UseCases,
    uow_factory: InMemoryUnitOfWorkFactory,
    loaded_policy: LoadedPolicy,
    clock: FixedClock,
) -> None:
    items = [
        await add_item(usecases, uow_factory, clock, external_id=f"EXT-{n}") for n in range(25)
    ]
    client = RecordingClient()
    deps = _deps(usecases, loaded_policy, clock)
    publish = functools.partial(publish_home, client, deps)  # type: ignore[arg-type]

    await publish(user="U0ALICE")
    assert _page_line(client) == "Page 1 of 3"
    await publish(user="U0ALICE", page=2)  # Next, Next
    assert _page_line(client) == "Page 3 of 3"
    await publish(user="U0ALICE")  # the relay's refresh after someone's change
    assert _page_line(client) == "Page 3 of 3"
    await publish(user="U0BOB")  # every user has their own place
    assert _page_line(client) == "Page 1 of 3"

    for item in items[:20]:  # Bob takes most of the queue: one page is left
        assert item.id is not None
        await usecases.claims.claim(item_id=item.id, actor="U0BOB", now=clock.now())
    await publish(user="U0ALICE")
    assert _page_line(client) == "Page 1 of 1"
    await publish(user="U0ALICE", page=7)  # a stale Next button
    assert _page_line(client) == "Page 1 of 1"
    # The page is kept in the store, so a restarted bot keeps the user's place too.
    assert uow_factory.store.home_pages == {"U0ALICE": 7}

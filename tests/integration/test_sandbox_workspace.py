"""The sandbox's own parts without a browser: who is in the workspace, the page's JSON API
over a running stand-in, the workspace file across a restart, and the scaled clock."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from hypothesis import given
from hypothesis import strategies as st

from bot.clock import ScaledClock
from bot.sandbox import people_and_channels
from sandbox import persist
from sandbox.slack import SlackStandIn
from sandbox.web import SandboxPage

EXAMPLE = Path(__file__).resolve().parents[2] / "bot" / "policy.example.yml"


def test_people_and_channels_come_from_the_policy_with_their_roles() -> None:
    people, channels = people_and_channels(EXAMPLE, {"U0PREP1": "prep1 (preparer)"})
    assert people["U0ALICE"] == "alice (reviewer)"
    assert people["U0LEAD"] == "lead (lead)"
    assert people["U0AUDIT"] == "audit (compliance)"
    assert people["U0PREP1"] == "prep1 (preparer)"
    assert "USD" not in people  # a currency is not a person
    assert channels == {
        "C0TREASURY": "treasury",
        "C0APEU": "ap-europe",
        "C0COMPLIANCE": "compliance",
    }


class _Wall:
    def __init__(self, start: datetime) -> None:
        self.at = start

    def now(self) -> datetime:
        return self.at


def test_the_scaled_clock_runs_n_times_faster_from_its_start() -> None:
    wall = _Wall(datetime(2026, 12, 1, 9, 0, tzinfo=UTC))
    start = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)
    clock = ScaledClock(speed=1440, start=start, wall=wall)  # type: ignore[arg-type]
    assert clock.now() == start
    wall.at += timedelta(minutes=1)
    assert clock.now() == start + timedelta(hours=24)
    assert clock.now().tzinfo is UTC
    with pytest.raises(ValueError, match="positive"):
        ScaledClock(speed=0, start=start)


async def test_the_workspace_file_brings_back_messages_channels_and_people(
    tmp_path: Path,
) -> None:
    path = tmp_path / "sandbox-slack.json"
    async with SlackStandIn() as first:
        first.add_user("U0ALICE", "alice")
        first.add_channel("C0TREASURY", "treasury", members=("U0ALICE",))
        first.dm_channel("U0ALICE")
        response = await _api(first, "chat.postMessage", channel="C0TREASURY", text="card R-1")
        ts = response["ts"]
        persist.save(first, path)
    async with SlackStandIn() as again:
        assert persist.load(again, path)
        assert again.users["U0ALICE"].name == "alice"
        assert again.dm_channel("U0ALICE").id == first.dm_channel("U0ALICE").id
        (message,) = again.messages_in("C0TREASURY")
        assert (message.ts, message.text) == (ts, "card R-1")
        # The bot can still rewrite a card it posted before the restart...
        updated = await _api(again, "chat.update", channel="C0TREASURY", ts=ts, text="approved")
        assert updated["ok"], updated
        # ...and what it posts now sorts after it.
        newer = await _api(again, "chat.postMessage", channel="C0TREASURY", text="R-2")
        assert float(newer["ts"]) > float(ts)
    assert not persist.load(again, tmp_path / "missing.json")


async def _api(slack: SlackStandIn, method: str, **params: str) -> dict[str, Any]:
    async with (
        aiohttp.ClientSession() as http,
        http.post(
            f"{slack.api_url}{method}",
            json=params,
            headers={"Authorization": f"Bearer {slack.bot_token}"},
        ) as response,
    ):
        body: dict[str, Any] = await response.json()
        return body


async def test_the_page_shows_each_person_their_own_ephemerals_and_refuses_strangers() -> None:
    async with SlackStandIn() as slack:
        for user in ("U0ALICE", "U0BOB"):
            slack.add_user(user, user.lower())
        slack.add_channel("C0TREASURY", "treasury", members=("U0ALICE", "U0BOB"))
        slack.add_channel("C0SECRET", "secret", members=("U0BOB",))
        await _api(slack, "chat.postMessage", channel="C0TREASURY", text="a card")
        await _api(
            slack, "chat.postEphemeral", channel="C0TREASURY", user="U0ALICE", text="only alice"
        )
        page = SandboxPage(slack=slack, people={"U0ALICE": "alice", "U0BOB": "bob"}, port=0)
        await page.start()
        try:
            assert page.url.startswith("http://127.0.0.1:")
            async with aiohttp.ClientSession() as http:
                async with http.get(f"{page.url}/api/state?as=U0ALICE") as response:
                    alice = await response.json()
                async with http.get(f"{page.url}/api/state?as=U0BOB") as response:
                    bob = await response.json()
                async with http.post(
                    f"{page.url}/api/click", json={"as": "U0EVE", "label": "Approve"}
                ) as response:
                    stranger = (response.status, await response.json())
                async with http.post(
                    f"{page.url}/api/click",
                    json={"as": "U0ALICE", "label": "Approve", "channel": "C0TREASURY"},
                ) as response:
                    no_button = (response.status, await response.json())
                async with http.get(f"{page.url}/static/app.js") as response:
                    script = (response.status, response.headers["Content-Security-Policy"])
                async with http.get(f"{page.url}/static/../server.py") as response:
                    outside = response.status
        finally:
            await page.stop()
    treasury = {c["name"]: c for c in alice["channels"]}["treasury"]
    assert [m["text"] for m in treasury["messages"]] == ["a card", "only alice"]
    assert treasury["messages"][1]["ephemeral"] and treasury["messages"][1]["user"] == "U0BOT"
    assert "secret" not in {c["name"] for c in alice["channels"]}
    bob_treasury = {c["name"]: c for c in bob["channels"]}["treasury"]
    assert [m["text"] for m in bob_treasury["messages"]] == ["a card"]
    assert stranger[0] == 400 and "unknown person" in stranger[1]["error"]
    assert no_button[0] == 400 and "no button labelled 'Approve'" in no_button[1]["error"]
    assert script == (200, "default-src 'self'")
    assert outside == 404


def test_a_daily_digest_comes_every_minute_at_speed_1440() -> None:
    from scheduler.cron import crontab_trigger
    from scheduler.timescale import ScaledTrigger, TimeScale

    wall = datetime(2026, 12, 1, 8, 0, tzinfo=UTC)
    scale = TimeScale(speed=1440, wall_start=wall, bot_start=wall)
    trigger = ScaledTrigger(crontab_trigger("0 9 * * *", "UTC"), scale)
    first = trigger.get_next_fire_time(None, wall)
    # The bot's 09:00 is one hour of bot time away: 2.5 wall seconds.
    assert first == wall + timedelta(seconds=2.5)
    assert first is not None
    second = trigger.get_next_fire_time(first, first + timedelta(milliseconds=1))
    assert second is not None
    assert second - first == timedelta(minutes=1)  # the next day's 09:00
    assert scale.to_bot(second) == datetime(2026, 12, 2, 9, 0, tzinfo=UTC)


@given(
    wall_us=st.integers(min_value=0, max_value=10**10),
    offset_us=st.integers(min_value=-(10**9), max_value=10**9),
    speed=st.sampled_from([1.5, 7.0, 1200.0, 1440.0, 3600.0, 99_999.7, 100_000.0]),
)
def test_a_scaled_cron_never_gives_the_same_fire_time_twice(
    wall_us: int, offset_us: int, speed: float
) -> None:
    # Starts off the whole second: mapped back from a wall time rounded to the microsecond,
    # a fire time fell just short of itself and came again, so APScheduler's catch-up loop
    # never ended and the sandbox froze (page, bot and Ctrl-C) at speeds like 1200.
    from scheduler.cron import crontab_trigger
    from scheduler.timescale import ScaledTrigger, TimeScale

    wall = datetime(2026, 12, 1, 8, 0, tzinfo=UTC) + timedelta(microseconds=wall_us)
    scale = TimeScale(
        speed=speed, wall_start=wall, bot_start=wall + timedelta(microseconds=offset_us)
    )
    trigger = ScaledTrigger(crontab_trigger("* * * * *", "UTC"), scale)
    first = trigger.get_next_fire_time(None, wall)
    assert first is not None
    second = trigger.get_next_fire_time(first, first)  # APScheduler's now may be the fire time
    assert second is not None and second > first
    # ... and the next one is the cron's next minute in the bot's time, not a later one.
    assert abs(scale.to_bot(second) - scale.to_bot(first) - timedelta(minutes=1)) < timedelta(
        seconds=1
    )

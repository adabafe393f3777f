"""Helpers for the time-driven end-to-end tests (SLA ladder, digests, policy reload).

* A desk started with a policy of the test's own (written into ``tmp_path`` before
  ``start_desk``, since ``initialize`` keeps an existing policy file).
* ``StepClock``: the wall-clock time the test started at, moved only by the test. It is
  handed to the composition root (``start_policy_desk(..., clock=clock)``), so the services,
  the jobs, the relay and the listeners all read the same time, and a ladder of seconds
  runs without sleeping and without racing the real clock (a test waiting two seconds for
  a delivery must not see a rung fall due meanwhile). Slack's own deadlines (the
  stand-in's monotonic clock) are untouched.
* The periodic jobs are driven directly (``jobs_of(desk).sla_sweep()``) for determinism:
  the scheduler's own ticks are set an hour apart unless a test asks otherwise.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import yaml
from sqlalchemy import select

import bot.container
from bot.settings import Settings
from domain.items import Item, ReviewState
from domain.ports import Clock
from scheduler.jobs import Jobs
from store.tables import audit_records
from tests.e2e.conftest import Desk, e2e_settings, start_desk
from tests.ledger_support import ACCOUNTS_YAML
from tests.slack_standin import Message, SlackStandIn

EXAMPLE_POLICY = Path(bot.container.__file__).parent / "policy.example.yml"
TREASURY = "C0TREASURY"
APEU = "C0APEU"
COMPLIANCE = "C0COMPLIANCE"

#: A ladder that runs in seconds (the issue's example).
FAST_LADDER = {
    "remind_after": "2s",
    "escalate_after": "4s",
    "dead_letter_after": "6s",
    "claim_ttl": "1h",
}
#: A digest schedule that never fires during a test run (once a year), so only the test
#: decides when a window is posted; ``window_key`` still finds its latest window.
YEARLY_DIGEST = {"cron": "0 6 1 1 *", "timezone": "UTC"}
#: Scheduler ticks far apart: the tests call the jobs themselves.
QUIET_TICKS = {
    "sweep_interval": 3600.0,
    "anchor_interval": 3600.0,
    "policy_reload_interval": 3600.0,
}


class StepClock:
    """Aware UTC time that starts at the real now and moves only when told to."""

    def __init__(self) -> None:
        self._now = datetime.now(UTC)

    def now(self) -> datetime:
        """The current time."""
        return self._now

    def advance(self, seconds: float) -> datetime:
        """Moves the clock forward; returns the new now."""
        self._now += timedelta(seconds=seconds)
        return self._now


def policy_yaml(**sections: Any) -> str:
    """The example policy, with accounts (entries leave for the ledger), and sections
    merged in (a mapping merges, anything else replaces)."""
    data = yaml.safe_load(EXAMPLE_POLICY.read_text(encoding="utf-8"))
    data["digest"] = dict(YEARLY_DIGEST)
    data["accounts"] = yaml.safe_load(ACCOUNTS_YAML)["accounts"]
    for key, value in sections.items():
        if isinstance(value, dict) and isinstance(data.get(key), dict):
            data[key] = {**data[key], **value}
        else:
            data[key] = value
    return yaml.safe_dump(data, sort_keys=False)


def desk_settings(tmp_path: Path, slack: SlackStandIn, **overrides: Any) -> Settings:
    """``e2e_settings`` with the scheduler's ticks an hour apart (unless overridden)."""
    return e2e_settings(tmp_path, slack).model_copy(update={**QUIET_TICKS, **overrides})


async def start_policy_desk(
    slack: SlackStandIn,
    settings: Settings,
    policy: str | None = None,
    *,
    clock: Clock | None = None,
) -> Desk:
    """Writes ``policy`` (if given) where ``settings`` says, then starts the bot on
    ``clock`` (the system clock when None)."""
    if policy is not None:
        settings.policy.write_text(policy, encoding="utf-8")
    return await start_desk(slack, settings, clock=clock)


def jobs_of(desk: Desk) -> Jobs:
    """The running server's jobs (what the scheduler calls)."""
    jobs = desk.server.jobs
    assert jobs is not None, "the server has not started"
    return jobs


async def audit_events(desk: Desk, item_id: int | None = None) -> list[str]:
    """Event names in the audit log (of one item), oldest first."""
    stmt = select(audit_records.c.event).order_by(audit_records.c.seq)
    if item_id is not None:
        stmt = stmt.where(audit_records.c.item_id == item_id)
    async with desk.container.database.reader.connect() as conn:
        return [str(e) for e in (await conn.execute(stmt)).scalars()]


def messages_with(slack: SlackStandIn, channel: str, needle: str) -> list[Message]:
    """Messages in ``channel`` (a channel id, or a user id for their DM) showing ``needle``."""
    where = slack.dm_channel(channel).id if channel.startswith("U") else channel
    return [m for m in slack.messages_in(where) if needle in m.all_text()]


async def wait_message(
    slack: SlackStandIn, channel: str, needle: str, *, within: float = 10.0
) -> Message:
    """Waits for a message in ``channel`` (or a user's DM) showing ``needle``."""

    def first() -> Message | None:
        found = messages_with(slack, channel, needle)
        return found[0] if found else None

    found = await slack.wait_for(
        first,
        timeout=within,
        message=f"a message in {channel} showing {needle!r}",
    )
    assert isinstance(found, Message)
    return found


async def settle(desk: Desk, clock: StepClock) -> None:
    """Lets every message already enqueued go out (debounced Home refreshes included)."""
    clock.advance(3)  # past any Home refresh debounce window
    if desk.server.relay is not None:
        desk.server.relay.wake()
    await desk.relay_idle()


async def wait_told(desk: Desk, user: str, needle: str, *, within: float = 10.0) -> str:
    """Waits until ``user`` was told ``needle`` privately (ephemeral or DM); returns all of it."""
    told = await desk.slack.wait_for(
        lambda: needle in (text := desk.said_to(user)) and text,
        timeout=within,
        message=f"{user} told {needle!r}",
    )
    return str(told)


async def wait_item_state(
    desk: Desk, item: Item, state: ReviewState, *, within: float = 10.0
) -> Item:
    """Waits until the stored item is in ``state``; returns it."""
    item_id = item.id
    assert item_id is not None

    async def reached() -> Item | None:
        current = await desk.item(item_id)
        return current if current.state is state else None

    found = await desk.slack.wait_for(
        reached, timeout=within, message=f"{item.human_id} {state.value}"
    )
    assert isinstance(found, Item)
    return found


def card_messages(slack: SlackStandIn, item: Item, channel: str) -> list[Message]:
    """Messages in ``channel`` that are ``item``'s card (by block id, not by text)."""
    prefix = f"card.{item.id}."
    return [
        m
        for m in slack.messages_in(channel)
        if any(str(b.get("block_id", "")).startswith(prefix) for b in m.blocks or [])
    ]

"""``recon-bot sandbox``: the real bot, served to a local Slack in the browser.

Three things run in one event loop, all on 127.0.0.1:

- the Slack stand-in (``sandbox.slack``: Web API and Socket Mode, with Slack's limits and
  checks), the same one the end-to-end tests run the bot against;
- the real bot (``bot.app.Server``, what ``recon-bot serve`` runs), built from the desk's
  settings with ``slack_api_url`` and the tokens pointing at the stand-in; it connects
  over Socket Mode exactly as it connects to Slack;
- the page (``sandbox.web``), where a person acts as anyone of the policy.

The desk is the working directory as for every command: the database, policy and audit
key are the desk's own; the stand-in's workspace (people, channels, messages) is kept in
``sandbox-slack.json`` next to them so the cards are still there after a restart.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import re
import signal
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import yaml
from pydantic import SecretStr

from bot.app import Server
from bot.clock import ScaledClock, SystemClock
from bot.container import Container
from bot.settings import Settings
from bot.setup import initialize
from handlers.notifier import make_client
from sandbox import persist
from sandbox.slack.server import SlackStandIn
from sandbox.web import SandboxPage
from scheduler.timescale import TimeScale

log = logging.getLogger("recon_bot.sandbox")

WORKSPACE_FILE = "sandbox-slack.json"
#: How long Ctrl-C waits for the bot to finish its work before stopping it.
STOP_GRACE_S = 5.0
_USER_ID = re.compile(r"^[UW](?=[0-9A-Z]*[0-9])[0-9A-Z]{2,}$")
_CHANNEL_ID = re.compile(r"^[CG](?=[0-9A-Z]*[0-9])[0-9A-Z]{2,}$")
#: Role names for the policy keys people are listed under.
_ROLES = {"reviewers": "reviewer", "leads": "lead", "officers": "compliance"}


def _walk(node: Any, path: tuple[str, ...] = ()) -> Iterator[tuple[tuple[str, ...], Any, Any]]:
    """Every scalar of a YAML tree with its key path and the mapping that holds it."""
    if isinstance(node, dict):
        for key, value in node.items():
            if isinstance(value, list):
                for entry in value:
                    if isinstance(entry, dict | list):
                        yield from _walk(entry, (*path, str(key)))
                    else:
                        yield (*path, str(key)), entry, node
            elif isinstance(value, dict):
                yield from _walk(value, (*path, str(key)))
            else:
                yield (*path, str(key)), value, node
    elif isinstance(node, list):
        for entry in node:
            yield from _walk(entry, path)


def people_and_channels(
    policy_file: Path, extra_people: dict[str, str]
) -> tuple[dict[str, str], dict[str, str]]:
    """The people (id -> label) and channels (id -> name) a policy file names.

    A person's label is their id's name part and their roles (``alice (reviewer)``); a
    channel's name is the name of the team it belongs to, else its section's key
    (``compliance``).
    """
    raw = yaml.safe_load(policy_file.read_text(encoding="utf-8")) or {}
    roles: dict[str, list[str]] = {}
    channels: dict[str, str] = {}
    for path, value, holder in _walk(raw):
        if not isinstance(value, str) or not path:
            continue
        if _USER_ID.match(value):
            role = _ROLES.get(path[-1], path[-1].rstrip("s"))
            if role not in roles.setdefault(value, []):
                roles[value].append(role)
        elif _CHANNEL_ID.match(value) and path[-1] == "channel":
            name = holder.get("name") if isinstance(holder.get("name"), str) else None
            channels.setdefault(value, name or (path[-2] if len(path) > 1 else value.lower()))
    people = {
        user: f"{user.removeprefix('U0').lower()} ({', '.join(r)})" for user, r in roles.items()
    }
    people.update(extra_people)
    return people, channels


def _name(label: str) -> str:
    return label.split(" ", 1)[0]


async def run_sandbox(
    settings: Settings,
    *,
    port: int,
    speed: float,
    extra_people: dict[str, str],
    ready: Callable[[str], None],
    stop: asyncio.Event | None = None,
) -> None:
    """Runs the stand-in, the bot and the page until ``stop`` (or SIGINT/SIGTERM).

    Args:
        settings: The desk's settings (the Slack ones are replaced by the stand-in's).
        port: The page's port on 127.0.0.1.
        speed: How many times faster than the wall clock the bot's clock runs.
        extra_people: People to add to the workspace besides the policy's (preparers).
        ready: Called once with the page's address when everything is up.
        stop: Set to stop; SIGINT and SIGTERM set it too.
    """
    stop = stop or asyncio.Event()
    await initialize(settings)
    workspace = settings.policy.parent / WORKSPACE_FILE
    people, channels = people_and_channels(settings.policy, extra_people)
    slack = SlackStandIn(bot_token="xoxb-sandbox", app_token="xapp-sandbox", team_id="T0SANDBOX")
    persist.load(slack, workspace)
    for user, label in people.items():
        if user not in slack.users:
            slack.add_user(user, _name(label))
    for channel, name in channels.items():
        if channel not in slack.channels:
            slack.add_channel(channel, name, members=tuple(people))
        else:  # restored: the policy may have renamed a team or added people
            slack.channels[channel].name = name
            slack.channels[channel].members.update(people)
    sandbox_settings = settings.model_copy(
        update={
            "slack_api_url": "",  # set below, once the stand-in has its port
            "slack_bot_token": SecretStr(slack.bot_token),
            "slack_app_token": SecretStr(slack.app_token),
            "sweep_interval": max(0.5, settings.sweep_interval / speed),
        }
    )
    clock: ScaledClock | SystemClock = SystemClock()
    time_scale = None
    if speed != 1:
        clock = ScaledClock(speed=speed, start=SystemClock().now())
        time_scale = TimeScale(speed=speed, wall_start=clock.wall_start, bot_start=clock.start)
    page = SandboxPage(slack=slack, people=people, port=port)
    loop = asyncio.get_running_loop()
    signals = (signal.SIGINT, signal.SIGTERM)
    await slack.start()
    container: Container | None = None
    server_task: asyncio.Task[None] | None = None
    try:
        sandbox_settings.slack_api_url = slack.api_url
        container = await Container.open(sandbox_settings, clock=clock)
        client = make_client(token=slack.bot_token, base_url=slack.api_url)
        server = Server(
            container=container,
            app_token=slack.app_token,
            client=client,
            relay_interval=0.5,
            time_scale=time_scale,
        )
        server_task = asyncio.create_task(server.run())
        await slack.wait_connected(timeout=30)
        await page.start()
        for sig in signals:
            loop.add_signal_handler(sig, stop.set)
        ready(page.url)
        while not stop.is_set():
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(1.0):
                    await stop.wait()
            if server_task.done():
                break  # the bot stopped on its own: its error is raised below
            persist.save(slack, workspace)
        server.stop.set()
        # serve's shutdown lets the relay finish what is queued; against Slack's rate limits
        # that can be minutes of cards. The outbox is durable and the relay takes leased rows
        # back after a restart, so Ctrl-C waits a few seconds, then stops the rest.
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(STOP_GRACE_S):
                await asyncio.shield(server_task)
    finally:
        for sig in signals:
            loop.remove_signal_handler(sig)
        if server_task is not None and not server_task.done():
            server_task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await server_task
        await page.stop()
        persist.save(slack, workspace)
        await slack.stop()
        if container is not None:
            await container.close()

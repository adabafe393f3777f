"""The sandbox workspace on disk: its people, channels and messages in one JSON file.

The bot keeps its own state in the desk's database, and it remembers where it posted each
card (channel and ts) so it can rewrite it later. The stand-in keeps Slack's side in
memory; this file keeps it across restarts so that cards are still on the page, and still
rewritable by the bot, when the sandbox starts again. Ephemerals, modals and home tabs are
not kept: Slack forgets those too.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from sandbox.slack.state import Channel, Message, StandInState

FORMAT = 1


def save(slack: StandInState, path: Path) -> None:
    """Writes the workspace atomically (a temporary file renamed over the old one)."""
    data: dict[str, Any] = {
        "format": FORMAT,
        "users": [
            {"id": u.id, "name": u.name, "tz": u.tz}
            for u in slack.users.values()
            if u.id != slack.bot_user_id
        ],
        "channels": [
            {
                "id": c.id,
                "name": c.name,
                "members": sorted(c.members),
                "is_private": c.is_private,
                "is_im": c.is_im,
                "im_user": c.im_user,
            }
            for c in slack.channels.values()
        ],
        "messages": [
            {
                "channel": m.channel,
                "ts": m.ts,
                "text": m.text,
                "blocks": m.blocks,
                "user": m.user,
                "bot_id": m.bot_id,
                "thread_ts": m.thread_ts,
                "metadata": m.metadata,
                "edited_ts": m.edited_ts,
            }
            for messages in slack.messages.values()
            for m in messages
            if not m.deleted
        ],
    }
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(data), encoding="utf-8")
    os.replace(tmp, path)


def load(slack: StandInState, path: Path) -> bool:
    """Restores a saved workspace into a fresh stand-in; False when there is none."""
    if not path.exists():
        return False
    data = json.loads(path.read_text(encoding="utf-8"))
    if data.get("format") != FORMAT:
        raise ValueError(f"{path}: unknown sandbox workspace format {data.get('format')!r}")
    for user in data["users"]:
        slack.add_user(user["id"], user["name"], tz=user["tz"])
    for chan in data["channels"]:
        slack.channels[chan["id"]] = Channel(
            id=chan["id"],
            name=chan["name"],
            members=set(chan["members"]),
            is_private=chan["is_private"],
            is_im=chan["is_im"],
            im_user=chan["im_user"],
        )
        if chan["is_im"] and chan["im_user"]:
            slack._dm_by_user[chan["im_user"]] = chan["id"]
    last_us = 0
    for raw in data["messages"]:
        message = Message(
            channel=raw["channel"],
            ts=raw["ts"],
            text=raw["text"],
            blocks=raw["blocks"],
            user=raw["user"],
            bot_id=raw["bot_id"],
            team_id=slack.team_id,
            thread_ts=raw["thread_ts"],
            metadata=raw["metadata"],
            edited_ts=raw["edited_ts"],
        )
        slack.messages.setdefault(message.channel, []).append(message)
        seconds, _, micros = message.ts.partition(".")
        last_us = max(last_us, int(seconds) * 1_000_000 + int(micros or 0))
    # New messages must sort after the restored ones even if the wall clock went back.
    slack._last_ts_us = max(slack._last_ts_us, last_us)
    return True

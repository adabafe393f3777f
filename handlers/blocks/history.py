"""An item's audit history as lines of text, for the details view."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from handlers.blocks.mrkdwn import clip, escape, mention, one_line, slack_date


def _time(value: Any, tz: ZoneInfo) -> str:
    if isinstance(value, str):
        try:
            value = datetime.fromisoformat(value)
        except ValueError:
            return escape(clip(value, 40))
    if isinstance(value, datetime) and value.tzinfo is not None:
        return slack_date(value, tz)
    return escape(clip(str(value), 40)) if value is not None else ""


def history_line(entry: Mapping[str, Any], tz: ZoneInfo) -> str:
    """One audit record of an item as a line: event, who, when, and the state move."""
    event = escape(clip(one_line(str(entry.get("event") or "event")), 60))
    actor = entry.get("actor")
    line = f"`{event}` by {mention(str(actor) if actor else None)}"
    when = _time(entry.get("time", entry.get("at")), tz)
    if when:
        line += f" {when}"
    before, after = entry.get("from"), entry.get("to")
    if before or after:
        line += f" ({escape(str(before or '—'))} → {escape(str(after or '—'))})"
    return line

"""An item's audit history and its dispute timeline as lines of text, for the details view."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from domain.dispute_timeline import TimelineEntry
from handlers.blocks.mrkdwn import clip, escape, mention, one_line, slack_date, user_text

#: Longest user text (a note, a reply) one timeline line quotes.
TIMELINE_TEXT_CHARS = 300


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


def timeline_line(entry: TimelineEntry, tz: ZoneInfo) -> str:
    """One dispute step as a line: who did what, when, and what they wrote."""
    line = f"{mention(entry.actor)} {escape(entry.summary)}"
    if entry.at is not None:
        line += f" {slack_date(entry.at, tz)}"
    if entry.text:
        line += f": _{user_text(entry.text, TIMELINE_TEXT_CHARS, one_line=True)}_"
    return line

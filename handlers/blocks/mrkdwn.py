"""Slack mrkdwn: escaping user text, clipping it safely, mentions, dates and amounts.

User-supplied text (counterparty names, descriptions, reasons) is escaped before it
enters mrkdwn, so an ingest file cannot smuggle ``<!channel>`` or a fake link into a
card. Clipping works on the escaped text and never cuts a ``<...>`` token or an
``&...;`` entity in half.
"""

from __future__ import annotations

import re
from datetime import datetime, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

from domain.errors import DomainError, MoneyError, User
from domain.money import Money

ELLIPSIS = "…"

_ESCAPES = str.maketrans({"&": "&amp;", "<": "&lt;", ">": "&gt;"})
_USER_ID = re.compile(r"^[UWB][A-Z0-9]{2,}$")
_SPACE = re.compile(r"\s+")
#: A mention already written into an error's text (see :func:`error_text`).


def escape(text: str) -> str:
    """Escapes the three characters Slack's mrkdwn treats as control characters."""
    return text.translate(_ESCAPES)


def clip(text: str, limit: int) -> str:
    """Plain text cut to at most ``limit`` characters, ending in an ellipsis when cut."""
    if len(text) <= limit:
        return text
    return text[: limit - 1].rstrip() + ELLIPSIS


def fit(mrkdwn: str, limit: int) -> str:
    """mrkdwn cut to at most ``limit`` characters without breaking a token or entity.

    Only our own markup contains a raw ``<`` (mentions, dates) and only escapes contain
    ``&``, so an unclosed ``<`` or ``&`` near the cut marks a token to drop whole.
    """
    if len(mrkdwn) <= limit:
        return mrkdwn
    head = mrkdwn[: limit - 1]
    if head.rfind("<") > head.rfind(">"):
        head = head[: head.rfind("<")]
    if head.rfind("&") > head.rfind(";"):
        head = head[: head.rfind("&")]
    return head.rstrip() + ELLIPSIS


def user_text(text: str | None, limit: int, *, one_line: bool = False) -> str:
    """User-supplied text, escaped and clipped for mrkdwn (``—`` when absent)."""
    if text is None or not text.strip():
        return "—"
    raw = _SPACE.sub(" ", text).strip() if one_line else text.strip()
    return fit(escape(raw), limit)


def mention(user: str | None) -> str:
    """``<@U123>`` for a Slack user id; other actors (``system``, ``scheduler``) as text."""
    if not user:
        return "nobody"
    return f"<@{user}>" if _USER_ID.match(user) else escape(user)


def error_text(err: DomainError) -> str:
    """A domain error as Slack mrkdwn: its text escaped, each user a ``<@id>`` mention.

    Domain messages are plain text (markup is the renderer's), so a ``<@U123>`` typed
    into one shows as those characters, never as a mention.
    """
    return "".join(
        f"<@{part.id}>" if isinstance(part, User) else escape(part) for part in err.parts
    )


def slack_date(at: datetime, tz: ZoneInfo) -> str:
    """A time each viewer sees in their own timezone, with a fallback in ``tz``.

    Raises:
        ValueError: ``at`` is naive (times inside recon-bot are always aware).
    """
    if at.tzinfo is None or at.utcoffset() is None:
        raise ValueError("slack_date needs an aware datetime")
    local = at.astimezone(tz)
    fallback = f"{local:%Y-%m-%d %H:%M} {local.tzname()}"
    return f"<!date^{int(at.timestamp())}^{{date_short_pretty}} {{time}}|{fallback}>"


def plain_date(at: datetime, tz: ZoneInfo) -> str:
    """The fallback form of :func:`slack_date`, for plain text (header, notifications)."""
    local = at.astimezone(tz)
    return f"{local:%Y-%m-%d %H:%M} {local.tzname()}"


def duration(delta: timedelta) -> str:
    """``3d 4h``, ``5h 12m`` or ``12m`` (negative durations count as zero)."""
    minutes = max(0, int(delta.total_seconds()) // 60)
    days, rest = divmod(minutes, 24 * 60)
    hours, mins = divmod(rest, 60)
    if days:
        return f"{days}d {hours}h"
    if hours:
        return f"{hours}h {mins}m"
    return f"{mins}m"


def money(amount: Decimal, currency: str) -> str:
    """``12,500.00 USD``; an amount the Money type refuses is still shown, never raised."""
    try:
        return Money.of(amount, currency).display()
    except MoneyError:
        return f"{amount:,} {currency}"


def percent(fraction: Decimal) -> str:
    """``0.725`` -> ``72.5%``, exactly (no rounding near a policy threshold)."""
    value = (fraction * 100).normalize()
    return f"{value:f}%"


def plural(count: int, word: str, words: str | None = None) -> str:
    """``1 item``, ``2 items``; thousands separated."""
    return f"{count:,} {word if count == 1 else (words or word + 's')}"


def one_line(text: str) -> str:
    """Collapses newlines and runs of spaces (for compact rows)."""
    return _SPACE.sub(" ", text).strip()

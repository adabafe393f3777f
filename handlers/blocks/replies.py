"""Short replies to ``/recon``: help, usage errors, one-line notices and desk stats."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from zoneinfo import ZoneInfo

from slack_sdk.models.blocks import (
    Block,
    ContextBlock,
    HeaderBlock,
    MarkdownTextObject,
    PlainTextObject,
    SectionBlock,
)

from domain.states import MIN_REASON_WORDS
from handlers.blocks.limits import (
    FIELD_TEXT_CHARS,
    MESSAGE_MAX_BLOCKS,
    MESSAGE_TEXT_CHARS,
    SECTION_MAX_FIELDS,
    SECTION_TEXT_CHARS,
)
from handlers.blocks.message import Message
from handlers.blocks.mrkdwn import clip, escape, fit, one_line, slack_date
from handlers.ids import COMMAND

#: Every subcommand with its arguments and what it does, in the order help lists them.
SUBCOMMANDS: tuple[tuple[str, str], ...] = (
    ("help", "this help"),
    ("queue [mine|team NAME|all]", "list items to review (default: mine)"),
    ("show ID", "everything about one item, e.g. `R-1042`"),
    ("claim", "take the next unclaimed item in your teams"),
    ("approve ID [note]", "approve (dual-control items need two different approvers)"),
    ("reject ID reason", f"reject, with a reason of at least {MIN_REASON_WORDS} words"),
    ("escalate ID [reason]", "send the item to the team leads"),
    ("dispute ID", "open the dispute form"),
    ("resolve ID", "close a dispute: matched, adjusted, written off or withdrawn"),
    ("note ID text", "add a note to an item's dispute"),
    ("assign ID @user", "hand the item to someone"),
    ("stats", "desk counts"),
    ("statements", "bank statements waiting for review in your teams (Stage 1)"),
    ("statement ID", "one bank statement's card, e.g. `S-12`"),
    ("matches [STATEMENT]", "matches waiting for review in your teams, or of one statement"),
    (
        "accept-all STATEMENT",
        "accept a statement's pending matches (refused while a check is open)",
    ),
    (
        "away until DATE delegate @user [note]",
        "hand your work, new assignments and reminders to a teammate while away",
    ),
    ("back", "end your delegation: new work reaches you again"),
)

#: Most stats a reply lists (the rest are summarised as a count).
MAX_STATS = 40


def help_message() -> Message:
    """Usage of every ``/recon`` subcommand, one line each."""
    lines = [f"`{COMMAND} {usage}` — {what}" for usage, what in SUBCOMMANDS]
    blocks: list[Block] = [
        SectionBlock(
            block_id="help.commands",
            text=MarkdownTextObject(text=f"*{COMMAND} commands*\n" + "\n".join(lines)),
        ),
        ContextBlock(
            block_id="help.ids",
            elements=[
                MarkdownTextObject(
                    text="IDs look like `R-1042`. Buttons on item cards do the same as these "
                    "commands."
                )
            ],
        ),
    ]
    text = f"{COMMAND} commands: " + "; ".join(f"{COMMAND} {usage}" for usage, _ in SUBCOMMANDS)
    return Message(text=escape(text), blocks=blocks)


def usage_error(problem: str) -> Message:
    """One line saying what was wrong, and where to look (``/recon help``)."""
    line = f"{escape(clip(one_line(problem), 500))} — see `{COMMAND} help` for usage."
    return Message(
        text=line,
        blocks=[SectionBlock(block_id="usage", text=MarkdownTextObject(text=f":warning: {line}"))],
    )


def notice(text: str, *, markup: bool = False) -> Message:
    """A one-line ephemeral confirmation or refusal.

    Args:
        text: The sentence. Plain text unless ``markup`` is true.
        markup: The caller built ``text`` as mrkdwn (mentions, dates) from values that are
            already escaped; otherwise ``&``, ``<`` and ``>`` are escaped here.
    """
    body = text if markup else escape(text)
    body = fit(body, SECTION_TEXT_CHARS)
    return Message(
        text=fit(body, MESSAGE_TEXT_CHARS),
        blocks=[SectionBlock(block_id="notice", text=MarkdownTextObject(text=body))],
    )


def _label(key: str) -> str:
    return one_line(key.replace("_", " ").replace(".", " ")).capitalize() or "?"


def stats_message(stats: Mapping[str, int], *, now: datetime, timezone: str = "UTC") -> Message:
    """Desk counts for ``/recon stats``, as of ``now``.

    Args:
        stats: Count by name (``pending_high``, ``overdue``...), shown in the given order.
        now: When the counts were taken.
        timezone: IANA timezone of the time's plain-text fallback (the policy's).
    """
    entries = list(stats.items())
    shown, hidden = entries[:MAX_STATS], entries[MAX_STATS:]
    fields = [
        MarkdownTextObject(text=fit(f"*{escape(_label(key))}*\n{value:,}", FIELD_TEXT_CHARS))
        for key, value in shown
    ]
    blocks: list[Block] = [
        HeaderBlock(block_id="stats.header", text=PlainTextObject(text="Desk stats"))
    ]
    for start in range(0, len(fields), SECTION_MAX_FIELDS):
        blocks.append(
            SectionBlock(
                block_id=f"stats.counts.{start // SECTION_MAX_FIELDS}",
                fields=fields[start : start + SECTION_MAX_FIELDS],
            )
        )
    if not fields:
        blocks.append(
            SectionBlock(block_id="stats.empty", text=MarkdownTextObject(text="No counts yet."))
        )
    footer = f"As of {slack_date(now, ZoneInfo(timezone))}"
    if hidden:
        footer += f" · {len(hidden)} more not shown"
    blocks.append(ContextBlock(block_id="stats.asof", elements=[MarkdownTextObject(text=footer)]))
    assert len(blocks) <= MESSAGE_MAX_BLOCKS
    summary = ", ".join(f"{_label(key).lower()} {value:,}" for key, value in shown)
    text = escape(clip(f"Desk stats: {summary or 'no counts yet'}", MESSAGE_TEXT_CHARS))
    return Message(text=text, blocks=blocks)

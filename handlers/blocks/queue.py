"""``/recon queue``: one page of items as an ephemeral list, with Previous/Next."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from slack_sdk.models.blocks import (
    ActionsBlock,
    Block,
    ContextBlock,
    HeaderBlock,
    MarkdownTextObject,
    PlainTextObject,
    SectionBlock,
)

from domain.items import Item
from domain.policy import Policy
from handlers.blocks.buttons import ROW_ACTIONS, item_buttons, item_id_of, nav_button
from handlers.blocks.limits import HEADER_TEXT_CHARS, MESSAGE_MAX_BLOCKS, MESSAGE_TEXT_CHARS
from handlers.blocks.message import Message
from handlers.blocks.mrkdwn import clip, escape, fit, plural
from handlers.blocks.rows import row_text
from handlers.forms import QueueCursor
from handlers.ids import NavAction

#: Blocks a page spends outside its rows: header, summary, Previous, Next.
_FIXED_BLOCKS = 4
#: Each row is a section plus its buttons.
_BLOCKS_PER_ROW = 2
#: The most rows a page can hold within Slack's 50 blocks per message.
MAX_QUEUE_PAGE_SIZE = (MESSAGE_MAX_BLOCKS - _FIXED_BLOCKS) // _BLOCKS_PER_ROW
#: The page size the command handler should ask the store for.
QUEUE_PAGE_SIZE = 10


def queue_page(
    items: Sequence[Item],
    *,
    title: str,
    scope: str,
    offset: int,
    page_size: int,
    total: int,
    policy: Policy,
    now: datetime,
) -> Message:
    """One page of a queue: a compact row per item with its buttons, then Previous/Next.

    Args:
        items: The page's items (only the first ``page_size`` are shown).
        title: The list's title, e.g. ``Unclaimed in treasury``.
        scope: Opaque to this function; it comes back in the navigation buttons' values
            (``handlers.forms.parse_queue_cursor``) so the next page lists the same thing.
        offset: Index of ``items[0]`` in the whole list.
        page_size: Rows per page, at most :data:`MAX_QUEUE_PAGE_SIZE`.
        total: Length of the whole list.
        policy: The current policy.
        now: The time to compute overdue status against.

    Raises:
        ValueError: ``page_size`` would not fit in one message, or ``offset`` is negative.
    """
    if not 1 <= page_size <= MAX_QUEUE_PAGE_SIZE:
        raise ValueError(f"page_size must be 1..{MAX_QUEUE_PAGE_SIZE} to fit in one message")
    if offset < 0:
        raise ValueError("offset must not be negative")
    seen: set[int] = set()
    shown: list[Item] = []
    for item in items:
        if item_id_of(item) not in seen and len(shown) < page_size:
            seen.add(item_id_of(item))
            shown.append(item)

    blocks: list[Block] = [
        HeaderBlock(
            block_id=f"queue.{offset}.header",
            text=PlainTextObject(text=clip(title, HEADER_TEXT_CHARS)),
        )
    ]
    if shown:
        summary = f"Showing {offset + 1:,} to {offset + len(shown):,} of {plural(total, 'item')}"
    else:
        summary = "Nothing to review here." if offset == 0 else "No more items."
    blocks.append(
        ContextBlock(
            block_id=f"queue.{offset}.summary", elements=[MarkdownTextObject(text=summary)]
        )
    )
    for item in shown:
        prefix = f"queue.{offset}.{item_id_of(item)}.v{item.version}"
        blocks.append(
            SectionBlock(
                block_id=f"{prefix}.row",
                text=MarkdownTextObject(text=row_text(item, policy, now)),
            )
        )
        buttons = item_buttons(item, ROW_ACTIONS)
        if buttons:
            blocks.append(ActionsBlock(block_id=f"{prefix}.actions", elements=buttons))

    # Previous and Next share an action id, so each sits in its own block.
    if offset > 0:
        previous = QueueCursor(scope=scope, offset=max(0, offset - page_size)).encode()
        button = nav_button(NavAction.QUEUE_PAGE, label="Previous", value=previous)
        blocks.append(ActionsBlock(block_id=f"queue.{offset}.previous", elements=[button]))
    if offset + page_size < total:
        following = QueueCursor(scope=scope, offset=offset + page_size).encode()
        button = nav_button(NavAction.QUEUE_PAGE, label="Next", value=following)
        blocks.append(ActionsBlock(block_id=f"queue.{offset}.next", elements=[button]))
    assert len(blocks) <= MESSAGE_MAX_BLOCKS

    listed = ", ".join(item.human_id for item in shown)
    text = f"{title}: {summary[0].lower()}{summary[1:]}" + (f" ({listed})" if listed else "")
    return Message(
        text=fit(escape(clip(text, MESSAGE_TEXT_CHARS)), MESSAGE_TEXT_CHARS), blocks=blocks
    )

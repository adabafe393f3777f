"""The item's live card in the outbox: which sent alerts and DMs copy it (to edit when the
item changes) and where the card itself was posted."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import insert, select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from domain.delivery import OutboxMessage
from domain.notifications import NoticeKind
from domain.templates import Template, template_of
from store.outbox_rows import _message
from store.outbox_sink import RowState
from store.tables import item_cards, outbox

#: Alert and DM templates that carry the item's live card (kept current by the relay).
CARD_COPY_TEMPLATES = frozenset(
    {
        Template.REMINDER,
        Template.REMINDER_UNCLAIMED,
        Template.SLA_ESCALATED,
        Template.ESCALATED,
        Template.ASSIGNED,
        Template.DEAD_LETTER,
    }
)


async def _copies_of(conn: AsyncConnection, item_id: int) -> list[OutboxMessage]:
    """Sent alerts and DMs that show the item's card (to edit when the item changes)."""
    rows = await conn.execute(
        select(outbox)
        .where(
            outbox.c.item_id == item_id,
            outbox.c.kind.in_([NoticeKind.ALERT.value, NoticeKind.DM.value]),
            outbox.c.state == RowState.SENT.value,
            outbox.c.result_ts.is_not(None),
        )
        .order_by(outbox.c.id)
    )
    return [
        message
        for message in map(_message, rows.mappings())
        if template_of(message.payload) in CARD_COPY_TEMPLATES and message.update_of is None
    ]


async def _save_card_location(
    conn: AsyncConnection, item_id: int, *, channel: str, ts: str, version: int, now: datetime
) -> None:
    """Remembers the card's message for later in-place updates."""
    existing = (
        await conn.execute(select(item_cards.c.item_id).where(item_cards.c.item_id == item_id))
    ).first()
    values = {"channel": channel, "ts": ts, "version": version, "updated_at": now}
    if existing is None:
        await conn.execute(insert(item_cards).values(item_id=item_id, **values))
    else:
        await conn.execute(
            update(item_cards).where(item_cards.c.item_id == item_id).values(**values)
        )

"""A dispute's communication log: replies in the threads of its item's messages.

People discuss a disputed item in the thread of its card, or of a reminder or
escalation alert the desk sent about it. Each reply, each edit and each deletion of a
reply is kept as one ``dispute.message`` audit record of the item: who, the message's
``ts``, the thread, the channel, the text, and whether it was posted, edited or
deleted. An edit or a deletion adds a record; nothing recorded is ever rewritten (the
audit log is append-only).

Only an item whose state is ``disputed`` (its dispute open, or awaiting the
counterparty) keeps a log: a reply about any other item, or a thread the desk did not
start, is ignored without error. Slack delivers an event at least once, so each
message change is recorded once, by a key stored in the same transaction.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

from domain.audit.records import AuditEntry
from domain.items import ReviewState
from domain.usecases.transaction import UseCase

#: The audit event of one message change in a dispute's log.
MESSAGE_EVENT = "dispute.message"


class MessageChange(StrEnum):
    """What happened to a reply."""

    POSTED = "posted"
    EDITED = "edited"
    DELETED = "deleted"


class Logged(StrEnum):
    """What :meth:`DisputeLog.record` did with a message."""

    RECORDED = "recorded"
    REPEAT = "repeat"  # the same change delivered again: recorded before
    NOT_A_DESK_THREAD = "not_a_desk_thread"  # the thread is not of a desk's message
    NO_OPEN_DISPUTE = "no_open_dispute"  # the item is not disputed now


@dataclass(frozen=True, slots=True, kw_only=True)
class ThreadMessage:
    """One change of a person's reply in a Slack thread.

    ``ts`` is the reply's own ts (the same for its edits and its deletion);
    ``edited_ts`` the ts of an edit, so that two edits of one reply are two changes.
    ``text`` is the text after the change (for a deletion: the text deleted).
    """

    channel: str
    thread_ts: str
    ts: str
    user: str
    text: str
    change: MessageChange
    edited_ts: str | None = None

    @property
    def key(self) -> str:
        """Names this change once, however often Slack delivers it."""
        edit = f":{self.edited_ts}" if self.change is MessageChange.EDITED else ""
        return f"thread:{self.channel}:{self.ts}:{self.change.value}{edit}"

    def data(self) -> dict[str, str]:
        """The audit record's data (its keys are a contract: the timeline reads them)."""
        return {
            "user": self.user,
            "ts": self.ts,
            "thread_ts": self.thread_ts,
            "channel": self.channel,
            "text": self.text,
            "change": self.change.value,
        }


class DisputeLog(UseCase):
    """Keeps thread replies as the dispute's communication log."""

    async def record(self, *, message: ThreadMessage, now: datetime) -> Logged:
        """Records one reply change of a disputed item's thread, once.

        The thread is the item's when the desk posted its parent: the card, or a sent
        reminder, alert or DM about the item. Anything else is ignored (not an error).
        """
        async with self._tx.uow() as uow:
            item_id = await uow.threads.item_of_thread(
                channel=message.channel, thread_ts=message.thread_ts
            )
            if item_id is None:
                return Logged.NOT_A_DESK_THREAD
            item = await uow.items.get(item_id)
            if item is None or item.state is not ReviewState.DISPUTED:
                return Logged.NO_OPEN_DISPUTE
            if not await uow.once.first_time(message.key, item_id=item.id, now=now):
                return Logged.REPEAT
            # No ``from``/``to`` and no policy version: the item does not move, and the
            # log replay must not read a state from a record that changes none.
            entry = AuditEntry(
                time=now,
                event=MESSAGE_EVENT,
                actor=message.user,
                item_id=item.id,
                item=item.human_id,
                data=message.data(),
            )
            await uow.audit.append([entry])
            await uow.commit()
        return Logged.RECORDED

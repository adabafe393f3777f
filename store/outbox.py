"""The delivery outbox: Slack messages written in the state change's own transaction.

Rows are enqueued by the unit of work (:class:`store.outbox_sink.SqlOutboxSink`) with a
unique dedupe key, so a retried or repeated change can never enqueue a message twice.
The relay claims rows with a lease (``claim``), calls Slack outside any transaction, and
records the outcome at once.
A crashed relay's rows come back when their lease expires; a relay that stops hands its
rows back at once (``put_back``, due now).

A row taken back that way is *in doubt*: the dead relay may have reached Slack before it
could record the outcome. So is a row whose call got no answer (a timeout, a dropped
connection), which the relay reschedules in doubt. Such a message carries
``unsure_since`` and stays in doubt
until an outcome is recorded: rescheduling it keeps it ``sending`` with the lease set to
the retry time (``reschedule``), so the next claim knows again to look before posting.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import and_, func, or_, select, update

from domain.delivery import MessageLocation, OutboxMessage
from domain.notifications import NoticeKind, Notification
from domain.templates import CardUpdate
from store.engine import Database
from store.outbox_cards import CARD_COPY_TEMPLATES as CARD_COPY_TEMPLATES
from store.outbox_cards import _copies_of, _save_card_location
from store.outbox_rows import SLACK_KINDS as SLACK_KINDS
from store.outbox_rows import CardPostInFlight as CardPostInFlight
from store.outbox_rows import OutboxRow as OutboxRow
from store.outbox_rows import RowResult as RowResult
from store.outbox_rows import _message, _row
from store.outbox_sink import RowState as RowState
from store.outbox_sink import SqlOutboxSink
from store.tables import item_cards, outbox


class OutboxStore:
    """The relay's side of the outbox: claim, record outcomes, list and replay."""

    def __init__(self, database: Database) -> None:
        self._db = database

    async def enqueue(self, notifications: Sequence[Notification], *, now: datetime) -> None:
        """Enqueues outside any state change (e.g. an alert about a failed delivery)."""
        async with self._db.writer.begin() as conn:
            await SqlOutboxSink(conn).enqueue(notifications, now=now)

    async def claim(
        self,
        *,
        now: datetime,
        lease: timedelta,
        limit: int,
        kinds: Collection[NoticeKind] = SLACK_KINDS,
    ) -> list[OutboxMessage]:
        """Leases up to ``limit`` due rows of ``kinds`` (pending, or sending with an
        expired lease); the Slack relay takes Slack's kinds, the ledger relay the ledger's.

        Each row is taken with a compare-and-set on its state and lease, so two relays
        (two processes) never both take the same row.
        """
        due = and_(
            or_(
                and_(outbox.c.state == RowState.PENDING.value, outbox.c.available_at <= now),
                and_(outbox.c.state == RowState.SENDING.value, outbox.c.lease_expires_at < now),
            ),
            outbox.c.kind.in_(sorted(k.value for k in kinds)),
        )
        claimed: list[OutboxMessage] = []
        async with self._db.writer.begin() as conn:
            stmt = select(outbox).where(due).order_by(outbox.c.id).limit(limit)
            if conn.dialect.name == "postgresql":
                stmt = stmt.with_for_update(skip_locked=True)
            rows = (await conn.execute(stmt)).mappings().all()
            for r in rows:
                result = await conn.execute(
                    update(outbox)
                    .where(
                        outbox.c.id == r["id"],
                        outbox.c.state == r["state"],
                        outbox.c.attempts == r["attempts"],
                    )
                    .values(
                        state=RowState.SENDING.value,
                        lease_expires_at=now + lease,
                        attempts=r["attempts"] + 1,
                    )
                )
                if result.rowcount == 1:
                    lapsed = r["state"] == RowState.SENDING.value
                    claimed.append(
                        _message(
                            r,
                            attempts=r["attempts"] + 1,
                            failures=r["failures"],
                            created_at=r["created_at"],
                            unsure_since=r["created_at"] if lapsed else None,
                        )
                    )
        return claimed

    @staticmethod
    def _held(message: OutboxMessage) -> Any:
        """The row is still this relay's: same claim (attempt number), still sending.

        Every outcome is written with this compare-and-set, so a relay whose lease ran
        out (and whose row another process re-claimed) can never overwrite the other's
        outcome.
        """
        return and_(
            outbox.c.id == message.id,
            outbox.c.attempts == message.attempts,
            outbox.c.state == RowState.SENDING.value,
        )

    async def renew(self, message: OutboxMessage, *, now: datetime, lease: timedelta) -> bool:
        """Extends the lease just before sending; False means the row is no longer ours."""
        async with self._db.writer.begin() as conn:
            result = await conn.execute(
                update(outbox).where(self._held(message)).values(lease_expires_at=now + lease)
            )
        return result.rowcount == 1

    async def renew_all(
        self, messages: Sequence[OutboxMessage], *, now: datetime, lease: timedelta
    ) -> None:
        """Extends the lease of each row still held (the live relay's heartbeat).

        Rows taken over or finished meanwhile are left alone (the same compare-and-set
        as every outcome); the pre-send ``renew`` is what tells the relay it lost one.
        """
        if not messages:
            return
        async with self._db.writer.begin() as conn:
            for message in messages:
                await conn.execute(
                    update(outbox).where(self._held(message)).values(lease_expires_at=now + lease)
                )

    async def card_post_in_flight(
        self, message: OutboxMessage, *, now: datetime
    ) -> CardPostInFlight | None:
        """Another claimed (``sending``) card row of the same item, if any.

        A live lease means another attempt at the card is under way (or parked in doubt
        until its retry time): posting now could make a second card. A lapsed one means
        a relay died mid-attempt: the card may be in Slack already, posted no earlier
        than that row's ``created_at``.
        """
        if message.kind is not NoticeKind.CARD or message.item_id is None:
            return None
        async with self._db.reader.connect() as conn:
            rows = (
                await conn.execute(
                    select(outbox.c.lease_expires_at, outbox.c.created_at).where(
                        outbox.c.kind == NoticeKind.CARD.value,
                        outbox.c.item_id == message.item_id,
                        outbox.c.state == RowState.SENDING.value,
                        outbox.c.id != message.id,
                    )
                )
            ).all()
        if not rows:
            return None
        live = any(lease is not None and lease >= now for lease, _ in rows)
        lapsed = [created for lease, created in rows if lease is None or lease < now]
        return CardPostInFlight(live=live, unsure_since=min(lapsed) if lapsed else None)

    async def mark_sent(
        self,
        message: OutboxMessage,
        *,
        now: datetime,
        channel: str | None = None,
        ts: str | None = None,
        card_version: int | None = None,
    ) -> bool:
        """Records a delivery and, for a card, where it is and its copies' edits.

        A card's copies (reminders, alerts and DMs that show it) are queued for an
        in-place edit to the card's version in the same transaction: were they queued
        after it, a crash in between would leave them offering buttons for a state the
        item has left, and a reader in between would see nothing left to send.
        A skipped card (``channel`` None) still brings its copies up to date.
        """
        async with self._db.writer.begin() as conn:
            result = await conn.execute(
                update(outbox)
                .where(self._held(message))
                .values(
                    state=RowState.SENT.value,
                    sent_at=now,
                    lease_expires_at=None,
                    result_channel=channel,
                    result_ts=ts,
                    last_error=None,
                )
            )
            if result.rowcount != 1:
                return False
            if card_version is not None and message.item_id is not None and channel and ts:
                await _save_card_location(
                    conn, message.item_id, channel=channel, ts=ts, version=card_version, now=now
                )
            if isinstance(message.payload, CardUpdate) and message.item_id is not None:
                version = message.payload.version
                edits = [
                    Notification(
                        kind=copy.kind,
                        target=copy.target,
                        dedupe_key=f"copy:{copy.id}:v{version}",
                        item_id=message.item_id,
                        payload=copy.payload,
                        thread_of=copy.thread_of,
                        update_of=copy.dedupe_key,
                    )
                    for copy in await _copies_of(conn, message.item_id)
                ]
                await SqlOutboxSink(conn).enqueue(edits, now=now)
        return True

    async def mark_superseded(self, message: OutboxMessage, *, now: datetime) -> None:
        """A newer message says everything this one would: done without sending."""
        async with self._db.writer.begin() as conn:
            await conn.execute(
                update(outbox)
                .where(self._held(message))
                .values(
                    state=RowState.SENT.value,
                    sent_at=now,
                    lease_expires_at=None,
                    last_error="superseded",
                )
            )

    async def reschedule(
        self, message: OutboxMessage, *, at: datetime, error: str, count_failure: bool
    ) -> None:
        """Puts the row back for a later attempt (rate limits don't count as failures).

        A message in doubt (``unsure_since``) stays ``sending`` with its lease ending at
        ``at``: the claim that takes it back then knows it is still in doubt, and
        nothing posts a newer version of the same card meanwhile.
        """
        values: dict[str, Any] = {
            "state": RowState.PENDING.value,
            "available_at": at,
            "lease_expires_at": None,
            "last_error": error,
        }
        if message.unsure_since is not None:
            values.update(state=RowState.SENDING.value, available_at=at, lease_expires_at=at)
        if count_failure:
            values["failures"] = outbox.c.failures + 1
        async with self._db.writer.begin() as conn:
            await conn.execute(update(outbox).where(self._held(message)).values(**values))

    async def put_back(
        self, messages: Sequence[OutboxMessage], *, at: datetime, error: str
    ) -> None:
        """Returns claimed rows untouched (not a failure) for a later attempt at ``at``,
        in one transaction: :meth:`reschedule` for many rows (a breaker that opened
        mid-pass hands back the rest of its batch)."""
        if not messages:
            return
        async with self._db.writer.begin() as conn:
            for message in messages:
                values: dict[str, Any] = {
                    "state": RowState.PENDING.value,
                    "available_at": at,
                    "lease_expires_at": None,
                    "last_error": error,
                }
                if message.unsure_since is not None:
                    values.update(state=RowState.SENDING.value, lease_expires_at=at)
                await conn.execute(update(outbox).where(self._held(message)).values(**values))

    async def dead_letter(
        self,
        message: OutboxMessage,
        *,
        error: str,
        now: datetime,
        alert: Notification | None = None,
    ) -> None:
        """Gives up on the row and enqueues the alert about it, in one transaction.

        An operator can replay it with ``recon-bot outbox --retry``.
        """
        async with self._db.writer.begin() as conn:
            result = await conn.execute(
                update(outbox)
                .where(self._held(message))
                .values(state=RowState.DEAD.value, last_error=error, lease_expires_at=None)
            )
            if result.rowcount == 1 and alert is not None:
                await SqlOutboxSink(conn).enqueue([alert], now=now)

    async def supersede_older(self, row: OutboxMessage, *, now: datetime) -> int:
        """Marks older pending rows of the same kind, target and item as sent.

        A card update renders the item's latest state, and a Home refresh the user's
        latest lists, so older requests for the same thing have nothing left to say.
        """
        conditions = [
            outbox.c.kind == row.kind.value,
            outbox.c.target == row.target,
            outbox.c.state == RowState.PENDING.value,
            outbox.c.id < row.id,
        ]
        if row.kind is NoticeKind.CARD:
            conditions.append(outbox.c.item_id == row.item_id)
        elif row.kind is not NoticeKind.HOME:
            return 0
        async with self._db.writer.begin() as conn:
            result = await conn.execute(
                update(outbox)
                .where(*conditions)
                .values(state=RowState.SENT.value, sent_at=now, last_error="superseded")
            )
        return int(result.rowcount or 0)

    async def result_of(self, dedupe_key: str) -> RowResult | None:
        """State, channel and ts of the message enqueued under ``dedupe_key``, if any."""
        async with self._db.reader.connect() as conn:
            found = (
                await conn.execute(
                    select(outbox.c.state, outbox.c.result_channel, outbox.c.result_ts).where(
                        outbox.c.dedupe_key == dedupe_key
                    )
                )
            ).first()
        if found is None:
            return None
        state, channel, ts = found
        return RowResult(state=RowState(state), channel=channel, ts=ts)

    async def card_location(self, item_id: int) -> MessageLocation | None:
        """Where the item's card was posted."""
        async with self._db.reader.connect() as conn:
            found = (
                await conn.execute(
                    select(item_cards.c.channel, item_cards.c.ts).where(
                        item_cards.c.item_id == item_id
                    )
                )
            ).first()
        if found is None:
            return None
        channel, ts = found
        return MessageLocation(channel=channel, ts=ts)

    async def list_rows(self, *, states: Sequence[RowState], limit: int = 100) -> list[OutboxRow]:
        """Rows in the given states, newest first (for ``recon-bot outbox``)."""
        async with self._db.reader.connect() as conn:
            rows = await conn.execute(
                select(outbox)
                .where(outbox.c.state.in_([s.value for s in states]))
                .order_by(outbox.c.id.desc())
                .limit(limit)
            )
            return [_row(r) for r in rows.mappings()]

    async def retry(self, row_id: int, *, now: datetime) -> bool:
        """Returns a dead row to pending with a fresh retry budget; False if not dead.

        The budget is time-based (``domain.delivery.MAX_RETRY_AGE`` from ``created_at``),
        so a replay restarts that clock as well as the failure count.
        """
        async with self._db.writer.begin() as conn:
            result = await conn.execute(
                update(outbox)
                .where(outbox.c.id == row_id, outbox.c.state == RowState.DEAD.value)
                .values(state=RowState.PENDING.value, available_at=now, failures=0, created_at=now)
            )
        return result.rowcount == 1

    async def counts(self) -> dict[str, int]:
        """Rows per state."""
        async with self._db.reader.connect() as conn:
            rows = await conn.execute(select(outbox.c.state, func.count()).group_by(outbox.c.state))
            return {state: int(n) for state, n in rows.all()}

"""The audit records the use cases write: what the desk itself did, an item's events,
and a refused attempt (with recording it in a transaction of its own)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from domain import states
from domain.audit.records import AuditEntry, CanonicalData
from domain.errors import DomainError, TakenOver
from domain.items import Item
from domain.ports import UnitOfWorkFactory


def system_entry(event: str, now: datetime, policy_version: str, **data: Any) -> AuditEntry:
    """An audit record of something the desk itself did (not about one item)."""
    return AuditEntry(
        time=now, event=event, actor=states.SYSTEM, policy_version=policy_version, data=data
    )


def item_entry(
    item: Item,
    event: states.Event,
    now: datetime,
    data: dict[str, Any] | CanonicalData | None = None,
) -> AuditEntry:
    """The record of one event of ``item``; ``data`` replaces the event's own, if given."""
    return AuditEntry(
        time=now,
        event=event.name,
        actor=event.actor,
        item_id=item.id,
        item=item.human_id,
        from_state=event.from_state,
        to_state=event.to_state,
        policy_version=item.policy_version,
        data=event.data if data is None else data,
    )


def item_entries(item: Item, events: Sequence[states.Event], now: datetime) -> list[AuditEntry]:
    """The records of ``events`` of ``item``, in order."""
    return [item_entry(item, e, now) for e in events]


#: The audit event of a decision the desk refused (nothing else was changed).
REFUSED = "decision.refused"
#: How a refusal that could not be recorded says so (the start of its note).
UNAUDITED = "refusal not audited"


async def record_refusal(uow: UnitOfWorkFactory, refusal: DomainError, entry: AuditEntry) -> None:
    """Records a refused attempt (``entry``) in a transaction of its own: the refused one
    rolled back, so this is the only trace it leaves.

    Never raises, but for :class:`TakenOver`: the person must still hear why they were
    refused, so a failure to record travels with the refusal as a note
    (:data:`UNAUDITED` first) for the shell to log. TakenOver means another process
    runs this interaction again (``store.inbox``) and answers it: this one says nothing.
    """
    try:
        async with uow() as tx:
            await tx.audit.append([entry])
            await tx.commit()
    except TakenOver:
        raise
    except Exception as failure:
        refusal.add_note(f"{UNAUDITED}: {type(failure).__name__}")


def refusal_entry(
    *,
    action: str,
    actor: str,
    reason: DomainError,
    now: datetime,
    item: Item | None,
    data: dict[str, Any] | None = None,
) -> AuditEntry:
    """The record of a refused attempt: who tried what, and the sentence they were told.

    ``item`` is None when the actor may not see the item (or there is none): the record
    then names no item, so it reads the same whether the item exists or not. It has no
    ``from``/``to``: nothing moved (the reason names the state when the state refused),
    and a refusal for a stale view must not restate an old state after a newer record.
    """
    return AuditEntry(
        time=now,
        event=REFUSED,
        actor=actor,
        item_id=item.id if item is not None else None,
        item=item.human_id if item is not None else None,
        data={"action": action, "reason": str(reason), **(data or {})},
    )

"""What the durable inbox (``store.inbox``) knows of one interaction: its receipt, the
names Slack gives it, and the limits every side of the inbox shares."""

from __future__ import annotations

import asyncio
import contextvars
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any, Final

#: A done row is kept this long (without its body), so a late redelivery is known.
KEEP_DONE: Final = timedelta(hours=1)
#: A replica row that has not beaten for this long is deleted.
FORGET_REPLICA: Final = timedelta(days=1)
#: An interaction adopted this many times without finishing is given up (logged): it
#: takes its process down each time, and must not take every process down in turn.
MAX_ATTEMPTS: Final = 3
#: How long the ack may wait for the insert. Past it the interaction runs unstored (and
#: is counted): a late ack is worse than the rare loss the store guards against.
STORE_WITHIN_S: Final = 1.0

#: Observes what happened to an interaction: (``event``, ``kind``), ``event`` one of
#: ``stored``, ``unstored``, ``duplicate``, ``adopted``, ``abandoned``, ``taken_over``.
Observer = Callable[[str, str], None]


@dataclass(slots=True, eq=False)
class Receipt:
    """One stored interaction in this process."""

    id: int
    owner: str
    kind: str
    #: The ``once_keys`` key its change commits with (:func:`settle`).
    key: str
    #: Dispatched again from the store (its ack went out long ago, from another process).
    replayed: bool = False
    #: A listener took it up (a replay's dispatch may find none).
    started: bool = False
    #: Its change committed (with its key).
    changed: bool = False
    #: Its row is marked done.
    done: bool = False
    #: Set when its listener ended (a replay waits for it).
    finished: asyncio.Event = field(default_factory=asyncio.Event)


#: The interaction the running listener serves (copied into tasks it starts).
running: contextvars.ContextVar[Receipt | None] = contextvars.ContextVar(
    "recon_inbox_receipt", default=None
)


def interaction_kind(body: Mapping[str, Any]) -> str:
    """``block_actions``, ``view_submission``, ``event_callback``, ``command``..."""
    if "command" in body and "type" not in body:
        return "command"
    return str(body.get("type") or "unknown")[:40]


def interaction_key(body: Mapping[str, Any]) -> str | None:
    """What names the interaction across Slack's redeliveries (None: nothing does)."""
    for name in ("trigger_id", "event_id"):
        value = body.get(name)
        if value:
            return f"{name}:{value}"[:200]
    return None


def once_key(key: str | None, row_id: int) -> str:
    """The ``once_keys`` key of an interaction's change (its row's id when Slack gave it
    no name: then only its own row's runs share it)."""
    return f"interaction:{key or f'row:{row_id}'}"[:200]

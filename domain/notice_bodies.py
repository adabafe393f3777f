"""What the rows that carry no template say: an item's card, an App Home refresh, a
ledger delivery; and the kinds of row the notifier knows (``NoticeKind``).

Each record has a JSON form (``to_json``/``from_json``) that ``domain.templates`` stores.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Any


class NoticeKind(StrEnum):
    """What the notifier does with a row."""

    CARD = "card"  # post the item's card, or update it in place when it exists
    ALERT = "alert"  # a message to a channel (compliance alerts, escalations)
    DM = "dm"  # a direct message to a user
    HOME = "home"  # refresh a user's App Home (coalesced by the relay)
    LEDGER = "ledger"  # deliver a journal entry to the ledger (the ledger relay, not Slack)


@dataclass(frozen=True, slots=True, kw_only=True)
class CardUpdate:
    """Post or update the item's card (``NoticeKind.CARD``).

    ``post_if_missing``: post a new card when the item has none yet (otherwise an update
    for an item that never had a card is skipped).
    """

    version: int
    post_if_missing: bool

    def to_json(self) -> dict[str, Any]:
        """The stored form."""
        return {"version": self.version, "post_if_missing": self.post_if_missing}

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> CardUpdate:
        """Read back; the defaults are those the relay always applied to older rows."""
        return cls(
            version=int(data.get("version", 0)),
            post_if_missing=bool(data.get("post_if_missing", False)),
        )


@dataclass(frozen=True, slots=True, kw_only=True)
class HomeRefresh:
    """Re-publish a user's App Home (``NoticeKind.HOME``), not before ``not_before``."""

    not_before: datetime | None = None

    def to_json(self) -> dict[str, Any]:
        """The stored form."""
        return {} if self.not_before is None else {"not_before": self.not_before.isoformat()}

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> HomeRefresh:
        """Read back."""
        raw = data.get("not_before")
        return cls(not_before=datetime.fromisoformat(str(raw)) if raw else None)


@dataclass(frozen=True, slots=True, kw_only=True)
class LedgerPost:
    """Deliver the journal entry stored under ``idempotency_key`` (``NoticeKind.LEDGER``).

    The row names the entry rather than copying it: the relay reads the entry as stored
    when it sends, and the key is also the ``Idempotency-Key`` the ledger deduplicates by.
    """

    idempotency_key: str

    def to_json(self) -> dict[str, Any]:
        """The stored form."""
        return {"idempotency_key": self.idempotency_key}

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> LedgerPost:
        """Read back.

        Raises:
            KeyError: the row names no entry.
        """
        return cls(idempotency_key=str(data["idempotency_key"]))

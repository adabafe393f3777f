"""One message to send after commit: the outbox's ``Notification`` record.

A notification is data, not Block Kit: ``kind``, ``target`` and a typed ``payload`` (one
record per template, see ``domain.templates``) say what to tell whom; the notifier in
``handlers/`` renders it when the relay delivers it. Every notification has a dedupe
key, so the same change can never enqueue the same message twice.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from domain.templates import (
    Links,
    NoticeBody,
    NoticeKind,
    decode,
    fits,
)


@dataclass(frozen=True, slots=True, kw_only=True)
class Notification:
    """One message to send after commit: its kind, target, typed body and links.

    Raises:
        ValueError: ``payload`` is a body that a ``kind`` row cannot carry.
    """

    kind: NoticeKind
    target: str  # channel id, or user id for DM and HOME
    dedupe_key: str
    item_id: int | None = None
    payload: NoticeBody
    #: Post in the thread of the message with this dedupe key.
    thread_of: str | None = None
    #: Edit the message with this dedupe key in place instead of posting.
    update_of: str | None = None

    def __post_init__(self) -> None:
        if not fits(self.kind, self.payload):
            raise ValueError(
                f"a {self.kind.value} notification cannot carry {type(self.payload).__name__}"
            )

    @classmethod
    def stored(
        cls,
        *,
        kind: NoticeKind,
        target: str,
        dedupe_key: str,
        data: Mapping[str, Any],
        item_id: int | None = None,
    ) -> Notification:
        """The notification a stored row's JSON (``domain.templates.encode``) describes,
        its ``thread_of``/``update_of`` keys included."""
        payload, links = decode(kind, data)
        return cls(
            kind=kind,
            target=target,
            dedupe_key=dedupe_key,
            item_id=item_id,
            payload=payload,
            thread_of=links.thread_of,
            update_of=links.update_of,
        )

    @property
    def links(self) -> Links:
        """The messages this one refers to."""
        return Links(thread_of=self.thread_of, update_of=self.update_of)

"""Audit records: canonical form, hash chain, Merkle tree and checkpoints (pure).

Filled in by the audit work; this stub fixes the entry type the services produce.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any


@dataclass(frozen=True, slots=True, kw_only=True)
class AuditEntry:
    """One state change to record, before it gets its sequence number and chain link.

    ``data`` holds JSON-safe values only: str, int, bool, None, lists and dicts of those
    (amounts as minor units or decimal strings, never floats).
    """

    time: datetime
    event: str
    actor: str
    item_id: int | None = None
    item: str | None = None
    from_state: str | None = None
    to_state: str | None = None
    policy_version: str | None = None
    data: dict[str, Any] = field(default_factory=dict)

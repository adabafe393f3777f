"""Ports of the desk's people: who is away, how much each holds, how their decisions
stood up, and where each one's Slack views stand."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Protocol

from domain.assignment import Accuracy, DecisionMark, Overturn
from domain.delegation import Delegation


class ViewStateRepository(Protocol):
    """Where each user's Slack views stand, kept in the store (restarts lose nothing)."""

    async def home_page(self, user: str) -> int:
        """The App Home page (0 first) the user last chose; 0 when they never did."""
        ...

    async def set_home_page(self, user: str, page: int, *, now: datetime) -> None:
        """Remembers the App Home page the user chose."""
        ...


class PeopleRepository(Protocol):
    """Who is away, how much each reviewer holds, and how their decisions stood up."""

    async def active_delegations(self, *, now: datetime) -> list[Delegation]:
        """Delegations running at ``now`` (started, not ended, ``until`` not passed)."""
        ...

    async def start_delegation(self, delegation: Delegation) -> None:
        """Records a delegation, ending any the same user still has running."""
        ...

    async def end_delegation(self, *, user: str, now: datetime) -> Delegation | None:
        """Ends the user's running delegation; returns it as ended (None if none ran)."""
        ...

    async def open_counts(self, users: Sequence[str]) -> dict[str, int]:
        """How many unsettled items each user holds (users holding none are left out)."""
        ...

    async def accuracy(self, users: Sequence[str], *, since: datetime) -> dict[str, Accuracy]:
        """Each user's verdicts since ``since`` and how many were overturned."""
        ...

    async def note_decisions(
        self, overturns: Sequence[Overturn], marks: Sequence[DecisionMark]
    ) -> None:
        """Marks standing verdicts overturned, then records the new ones."""
        ...

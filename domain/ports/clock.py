"""The clock port: the shell reads the time, the core is handed it."""

from __future__ import annotations

from datetime import datetime
from typing import Protocol


class Clock(Protocol):
    """Reads the time; only the shell calls it, once per request or tick."""

    def now(self) -> datetime:
        """Aware UTC now."""
        ...

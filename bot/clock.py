"""The one place that reads the wall clock."""

from __future__ import annotations

from datetime import UTC, datetime


class SystemClock:
    """Aware UTC now from the system clock."""

    def now(self) -> datetime:
        """Aware UTC now."""
        return datetime.now(UTC)

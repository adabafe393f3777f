"""The telemetry port: spans and measures of the desk's decisions, and the default that
records nothing."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from contextlib import AbstractContextManager, contextmanager
from typing import Protocol

#: What a span attribute may hold: names, counts and flags, never free text or tokens.
SpanValue = str | int | bool


class DecisionTrace(Protocol):
    """The span of one decision, open while it runs."""

    def record(self, attributes: Mapping[str, SpanValue]) -> None:
        """Adds attributes (``ledger.reconciliation.signoff.*``, ``compliance.dual_control.*``)."""
        ...


class Telemetry(Protocol):
    """Traces and measures the desk's decisions (adapter: the top-level ``telemetry``)."""

    def decision(self, action: str) -> AbstractContextManager[DecisionTrace]:
        """A span named for ``action`` around one decision."""
        ...

    def signed_off(self, *, kind: str, seconds: float) -> None:
        """An item reached its final sign-off ``seconds`` after it was routed."""
        ...

    def imported(self, *, source: str, outcome: str, rows: int) -> None:
        """``rows`` rows of an import from ``source`` (``statement``) ended in ``outcome``
        (``imported``, ``unchanged``, ``revised`` or ``rejected``)."""
        ...


class _NoTrace:
    def record(self, attributes: Mapping[str, SpanValue]) -> None:
        pass


class NoTelemetry:
    """The default :class:`Telemetry`: records nothing (tests, CLI commands)."""

    @contextmanager
    def decision(self, action: str) -> Iterator[DecisionTrace]:
        yield _NoTrace()

    def signed_off(self, *, kind: str, seconds: float) -> None:
        pass

    def imported(self, *, source: str, outcome: str, rows: int) -> None:
        pass

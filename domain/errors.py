"""Domain errors: each carries one clear sentence for the person who caused it."""

from __future__ import annotations


class DomainError(Exception):
    """Base of every error a user can cause; ``str(err)`` is shown to them as is."""


class MoneyError(DomainError, ValueError):
    """An amount or currency that cannot be represented exactly."""


class PolicyError(DomainError):
    """A policy file that does not validate; ``problems`` lists ``field: reason`` lines."""

    def __init__(self, message: str, problems: list[str] | None = None) -> None:
        super().__init__(message)
        self.problems = problems or []


class ItemNotFound(DomainError):
    """No item has that id."""


class IllegalTransition(DomainError):
    """The item's current state does not allow the requested action."""


class StaleItem(DomainError):
    """The item changed since the user saw it (optimistic version check failed)."""


class NotAuthorized(DomainError):
    """The actor may not perform this action on this item."""


class InvalidCommand(DomainError):
    """The request is malformed (missing reason, bad argument...)."""


class NothingToClaim(DomainError):
    """No unclaimed item is available to the actor."""

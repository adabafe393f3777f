"""Domain errors: each carries one clear sentence for the person who caused it.

The sentence is plain text, never markup: a person in it is a :class:`User` part, which
each surface shows its own way (Slack as a mention, the CLI as the id). So the same
error reads right in Slack, in a terminal and in a log line.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class User:
    """A person named in a message, by id; plain text shows the id itself."""

    id: str

    def __str__(self) -> str:
        return self.id


#: One piece of an error's sentence.
Part = str | User


class DomainError(Exception):
    """Base of every error a user can cause.

    Built from parts (``NotAuthorized(item.human_id, " is claimed by ", User(id))``) or
    from one string as before. ``str(err)`` is the plain-text sentence (a user shows as
    their id); ``parts`` keeps who is who, for a renderer that shows people its own way.
    """

    def __init__(self, *parts: Part) -> None:
        self.parts: tuple[Part, ...] = parts
        super().__init__("".join(map(str, parts)))


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


class NotVisible(NotAuthorized):
    """The viewer may not see this item (or queue, or digest group). For an item the
    sentence is the same whether it exists or not, so ids cannot be probed; it says
    nothing else about the item."""


class InvalidCommand(DomainError):
    """The request is malformed (missing reason, bad argument...)."""


class NothingToClaim(DomainError):
    """No unclaimed item is available to the actor."""


class TakenOver(Exception):
    """The interaction this change belongs to was adopted by another process, which took
    this one for dead (``store.inbox``): the change is rolled back, and the other process
    makes it instead. Not a :class:`DomainError`: nobody is told, the other process
    answers."""

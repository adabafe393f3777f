"""Parsing ``/recon`` text into a command, or a one-line usage problem (pure)."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date
from enum import StrEnum

from domain.items import parse_human_id
from domain.statements.records import parse_statement_id


class Verb(StrEnum):
    """Every ``/recon`` subcommand."""

    HELP = "help"
    QUEUE = "queue"
    SHOW = "show"
    CLAIM = "claim"
    APPROVE = "approve"
    REJECT = "reject"
    ESCALATE = "escalate"
    DISPUTE = "dispute"
    RESOLVE = "resolve"
    NOTE = "note"
    ASSIGN = "assign"
    STATS = "stats"
    STATEMENTS = "statements"
    STATEMENT = "statement"
    MATCHES = "matches"
    ACCEPT_ALL = "accept-all"
    AWAY = "away"
    BACK = "back"


class Scope(StrEnum):
    """What ``/recon queue`` lists."""

    MINE = "mine"
    TEAM = "team"
    ALL = "all"


@dataclass(frozen=True, slots=True, kw_only=True)
class QueueScope:
    """Which queue a page lists; ``team`` names the team of ``Scope.TEAM``."""

    scope: Scope
    team: str | None = None

    @property
    def value(self) -> str:
        """The wire form carried by the page buttons: ``mine``, ``team:NAME`` or ``all``."""
        if self.scope is Scope.TEAM:
            return f"team:{self.team}"
        return self.scope.value

    @classmethod
    def read(cls, value: str) -> QueueScope:
        """The scope of a wire form; anything unrecognised lists the user's teams (``all``)."""
        if value == Scope.MINE.value:
            return cls(scope=Scope.MINE)
        if value.startswith("team:"):
            return cls(scope=Scope.TEAM, team=value.removeprefix("team:"))
        return cls(scope=Scope.ALL)


@dataclass(frozen=True, slots=True, kw_only=True)
class Command:
    """A parsed command."""

    verb: Verb
    item_id: int | None = None
    text: str | None = None  # note or reason
    scope: Scope = Scope.MINE
    team: str | None = None
    user: str | None = None  # assign target, or delegate
    until: date | None = None  # away until (inclusive)


@dataclass(frozen=True, slots=True, kw_only=True)
class Usage:
    """The input could not be parsed: say why, in one line."""

    problem: str


_MENTION = re.compile(r"^<@([UW][A-Z0-9]+)(?:\|[^>]*)?>$")
_BARE_USER = re.compile(r"^@?([UW][A-Z0-9]{2,})$")


def _item(verb: Verb, arg: str | None) -> int | Usage:
    if not arg:
        return Usage(problem=f"`/recon {verb.value}` needs an item id, e.g. `R-1042`")
    item_id = parse_human_id(arg)
    if item_id is None:
        return Usage(problem=f"`{arg}` is not an item id; ids look like `R-1042`")
    return item_id


def parse(text: str) -> Command | Usage:
    """Parses the text after ``/recon``. Empty or ``help`` is help; unknown verbs are Usage."""
    words = text.strip().split(maxsplit=2)
    if not words:
        return Command(verb=Verb.HELP)
    head = words[0].lower()
    try:
        verb = Verb(head)
    except ValueError:
        return Usage(problem=f"`{words[0]}` is not a /recon command")
    arg = words[1] if len(words) > 1 else None
    rest = words[2].strip() if len(words) > 2 else None

    if verb in (Verb.HELP, Verb.CLAIM, Verb.STATS, Verb.STATEMENTS, Verb.BACK):
        return Command(verb=verb)
    if verb is Verb.MATCHES:
        return _statement_arg(verb, arg, required=False)
    if verb is Verb.ACCEPT_ALL:
        return _statement_arg(verb, arg, required=True)
    if verb is Verb.STATEMENT:
        if not arg:
            return Usage(problem="`/recon statement` needs a statement id, e.g. `S-12`")
        statement_id = parse_statement_id(arg)
        if statement_id is None:
            return Usage(problem=f"`{arg}` is not a statement id; ids look like `S-12`")
        return Command(verb=verb, item_id=statement_id)
    if verb is Verb.AWAY:
        return _away(" ".join(words[1:]))
    if verb is Verb.QUEUE:
        return _queue(arg, rest)
    item = _item(verb, arg)
    if isinstance(item, Usage):
        return item
    if verb is Verb.REJECT and not rest:
        return Usage(problem="`/recon reject ID reason`: a reason is required")
    if verb is Verb.NOTE and not rest:
        return Usage(problem="`/recon note ID text`: write the note after the id")
    if verb is Verb.ASSIGN:
        return _assign(item, rest)
    return Command(verb=verb, item_id=item, text=rest)


def _statement_arg(verb: Verb, arg: str | None, *, required: bool) -> Command | Usage:
    """``matches [S-12]`` and ``accept-all S-12``: the statement in ``item_id``."""
    if not arg:
        if required:
            return Usage(problem=f"`/recon {verb.value}` needs a statement id, e.g. `S-12`")
        return Command(verb=verb)
    statement_id = parse_statement_id(arg)
    if statement_id is None:
        return Usage(problem=f"`{arg}` is not a statement id; ids look like `S-12`")
    return Command(verb=verb, item_id=statement_id)


def _queue(arg: str | None, rest: str | None) -> Command | Usage:
    if arg is None:
        return Command(verb=Verb.QUEUE, scope=Scope.MINE)
    try:
        scope = Scope(arg.lower())
    except ValueError:
        return Usage(problem=f"`/recon queue {arg}`: use `mine`, `team NAME` or `all`")
    if scope is Scope.TEAM:
        if not rest:
            return Usage(problem="`/recon queue team NAME`: name the team")
        return Command(verb=Verb.QUEUE, scope=scope, team=rest.split()[0])
    return Command(verb=Verb.QUEUE, scope=scope)


def _assign(item_id: int, rest: str | None) -> Command | Usage:
    target = (rest or "").split()[0] if rest else ""
    match = _MENTION.match(target) or _BARE_USER.match(target)
    if not match:
        return Usage(problem="`/recon assign ID @user`: mention the person to assign")
    return Command(verb=Verb.ASSIGN, item_id=item_id, user=match.group(1))


_AWAY_USAGE = "`/recon away until YYYY-MM-DD delegate @user [note]`"


def _away(text: str) -> Command | Usage:
    words = text.split(maxsplit=4)
    if len(words) < 4 or words[0].lower() != "until" or words[2].lower() != "delegate":
        return Usage(problem=f"{_AWAY_USAGE}: say until when and who takes your work")
    try:
        until = date.fromisoformat(words[1])
    except ValueError:
        return Usage(problem=f"{_AWAY_USAGE}: `{words[1]}` is not a date like 2026-12-24")
    match = _MENTION.match(words[3]) or _BARE_USER.match(words[3])
    if not match:
        return Usage(problem=f"{_AWAY_USAGE}: mention the person who takes your work")
    note = words[4].strip() if len(words) > 4 else None
    return Command(verb=Verb.AWAY, until=until, user=match.group(1), text=note or None)

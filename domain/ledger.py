"""Delivering journal entries to the ledger: the contract, the outcomes, the retry rule (pure).

The ledger relay (scheduler) hands each entry to a sink (``ledger/``: a JSON Lines file
or an HTTP ledger) and gets one of the outcomes below; :func:`decide` says what happens
next:

- :class:`Accepted`: 2xx, or 409 for a key the ledger already holds. The ledger's
  ``reference`` is stored on the entry; the entry is delivered.
- :class:`Refused`: any other 4xx. No retry can fix it: the row is dead-lettered and
  compliance alerted.
- :class:`Unavailable`: 5xx, a timeout, a refused connection. Retried after
  ``min(2**n + jitter, 30 s)`` (``n`` = failures so far), and counted by the breaker.

The ``Idempotency-Key`` is the entry's own key, the same on every attempt: a process
killed between the ledger's answer and the record retries, the ledger answers 409 with
the reference it gave, and that is stored. Nothing is ever posted twice.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from domain.items import JournalEntry, format_human_id
from domain.money import Money

#: The longest a failed delivery waits before the next attempt.
RETRY_CAP = timedelta(seconds=30)
#: The target of every ledger outbox row.
TARGET = "ledger"


def dedupe_key(idempotency_key: str) -> str:
    """The outbox dedupe key of an entry's delivery (``ledger:{idempotency_key}``)."""
    return f"ledger:{idempotency_key}"


def request_body(entry: JournalEntry) -> dict[str, Any]:
    """The JSON the ledger receives for ``entry`` (the ``http`` contract; the ``file``
    sink writes the same object per line).

    Amounts are decimal strings in the entry's currency (``"1250.00"``), never floats.
    """
    return {
        "idempotency_key": entry.idempotency_key,
        "ledger_ref": entry.ledger_ref,
        "item": format_human_id(entry.item_id),
        "kind": entry.kind.value,
        "entity": entry.entity,
        "currency": entry.currency,
        "memo": entry.memo,
        "lines": [
            {
                "account": line.account,
                "debit": str(Money.from_minor(line.debit_minor, entry.currency).amount),
                "credit": str(Money.from_minor(line.credit_minor, entry.currency).amount),
            }
            for line in entry.lines
        ],
        "dispute_id": entry.dispute_id,
        "reverses": entry.reverses,
        "created_at": entry.created_at.isoformat(),
    }


@dataclass(frozen=True, slots=True, kw_only=True)
class Accepted:
    """The ledger holds the entry under ``reference`` (``duplicate``: it said 409)."""

    reference: str
    duplicate: bool = False


@dataclass(frozen=True, slots=True, kw_only=True)
class Refused:
    """The ledger refused this entry for good (a 4xx other than 409)."""

    error: str


@dataclass(frozen=True, slots=True, kw_only=True)
class Unavailable:
    """The ledger could not take it now (5xx, timeout, refused connection)."""

    error: str


Outcome = Accepted | Refused | Unavailable


@dataclass(frozen=True, slots=True, kw_only=True)
class Deliver:
    """Record ``reference`` on the entry: it is delivered."""

    reference: str


@dataclass(frozen=True, slots=True, kw_only=True)
class RetryAt:
    """Try again at ``at`` (one more failure counted)."""

    at: datetime
    error: str


@dataclass(frozen=True, slots=True, kw_only=True)
class DeadLetter:
    """Give up on the entry's row and alert compliance."""

    error: str


Decision = Deliver | RetryAt | DeadLetter


def backoff(failures: int, jitter: float) -> timedelta:
    """``min(2**failures + jitter, 30 s)``; ``jitter`` is a uniform draw in [0, 1)."""
    exponent = min(failures, 10)  # past 2**5 the cap wins anyway
    return min(timedelta(seconds=2**exponent + jitter), RETRY_CAP)


def decide(outcome: Outcome, *, failures: int, now: datetime, jitter: float) -> Decision:
    """What to do after one attempt.

    Args:
        outcome: what the sink reported.
        failures: failed attempts counted before this one.
        now: when the attempt ended.
        jitter: a uniform random number in [0, 1) drawn by the caller.
    """
    match outcome:
        case Accepted():
            return Deliver(reference=outcome.reference)
        case Refused():
            return DeadLetter(error=outcome.error)
        case Unavailable():
            return RetryAt(at=now + backoff(failures, jitter), error=outcome.error)

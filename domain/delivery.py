"""Delivering outbox messages: the message type, the outcomes, and the retry policy.

The relay (scheduler) claims messages and hands each to a notifier (handlers), which calls
Slack once and reports one of the outcomes below. What happens next is decided here, as a
pure function: rate limits wait for ``Retry-After`` (plus jitter) without counting as a
failure; transient errors back off exponentially with full jitter, capped (a call that
got no answer stays in doubt for the retry); permanent errors (or too many failures)
dead-letter the message at once.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import NamedTuple

from domain.templates import NoticeBody, NoticeKind

#: Slack errors that no retry can fix: dead-letter at once and alert compliance.
PERMANENT_ERRORS = frozenset(
    {
        "channel_not_found",
        "not_in_channel",
        "is_archived",
        "invalid_auth",
        "not_allowed_token_type",
        "missing_scope",
        "invalid_blocks",
        "account_inactive",
        "token_revoked",
        "not_authed",
        "user_not_found",
        "msg_too_long",
        "no_text",
        "invalid_arguments",
    }
)

BACKOFF_BASE = timedelta(seconds=2)
BACKOFF_CAP = timedelta(minutes=5)
RATE_LIMIT_JITTER = timedelta(seconds=1)
#: A Slack outage shorter than this loses nothing: messages wait and go out afterwards.
MAX_RETRY_AGE = timedelta(hours=24)
#: A safety net for a message that keeps failing fast (e.g. a bad response every time).
MAX_FAILURES = 200


class MessageLocation(NamedTuple):
    """Where a message Slack accepted is: its channel and timestamp (to edit it later)."""

    channel: str
    ts: str


@dataclass(frozen=True, slots=True, kw_only=True)
class OutboxMessage:
    """A claimed outbox row, as the notifier sees it.

    ``thread_of``/``update_of`` name earlier messages by dedupe key; the relay resolves
    a thread parent to ``thread_ts`` before handing the message to the notifier.

    ``unsure_since`` is set when an earlier attempt may have reached Slack without its
    outcome being recorded (its process died mid-call, so its lease ran out while
    ``sending``): Slack may already show the message, posted no earlier than this (the
    row's ``created_at``). Before posting again the notifier looks for it (by the
    metadata every post carries) and records that one instead.
    """

    id: int
    kind: NoticeKind
    target: str
    item_id: int | None
    payload: NoticeBody
    thread_of: str | None = None
    update_of: str | None = None
    thread_ts: str | None = None
    attempts: int = 1
    failures: int = 0
    dedupe_key: str = ""
    created_at: datetime | None = None
    unsure_since: datetime | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class Sent:
    """Slack accepted it; ``channel``/``ts`` locate the message (for later updates)."""

    channel: str | None = None
    ts: str | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class Skipped:
    """Nothing to send (e.g. a card update for an item that never had a card)."""

    reason: str


@dataclass(frozen=True, slots=True, kw_only=True)
class RateLimited:
    """HTTP 429: try again after ``retry_after`` seconds."""

    retry_after: float
    error: str = "ratelimited"


@dataclass(frozen=True, slots=True, kw_only=True)
class Failed:
    """Slack said no, or could not be reached. ``error`` is Slack's code or the exception.

    ``in_doubt``: the call got no answer (a timeout, a dropped connection) after it may
    have reached Slack, so the message may be there already; the next attempt looks
    for it first, as for a row taken back from a relay that died.
    """

    error: str
    permanent: bool
    in_doubt: bool = False


Outcome = Sent | Skipped | RateLimited | Failed


@dataclass(frozen=True, slots=True, kw_only=True)
class Retry:
    """Try again at ``at``; ``count_failure`` says whether this attempt was a failure.

    ``in_doubt``: the attempt may have reached Slack (see ``Failed.in_doubt``).
    """

    at: datetime
    error: str
    count_failure: bool
    in_doubt: bool = False


@dataclass(frozen=True, slots=True, kw_only=True)
class GiveUp:
    """Dead-letter the message and alert."""

    error: str


Decision = Retry | GiveUp | None  # None: delivered or skipped, mark done


def classify_error(error: str) -> bool:
    """Whether a Slack error code is permanent."""
    return error in PERMANENT_ERRORS


def decide(
    outcome: Outcome,
    *,
    failures: int,
    now: datetime,
    jitter: float,
    created_at: datetime | None = None,
) -> Decision:
    """What to do after one delivery attempt.

    Args:
        outcome: what the notifier reported.
        failures: failures counted before this attempt.
        now: when the attempt ended.
        jitter: a uniform random number in [0, 1) drawn by the caller.
        created_at: when the message was enqueued; transient failures are retried
            until it is ``MAX_RETRY_AGE`` old, so an outage shorter than that loses
            nothing and needs no operator.
    """
    if isinstance(outcome, Sent | Skipped):
        return None
    if isinstance(outcome, RateLimited):
        wait = timedelta(seconds=max(outcome.retry_after, 0.0)) + RATE_LIMIT_JITTER * jitter
        return Retry(at=now + wait, error=outcome.error, count_failure=False)
    if outcome.permanent:
        return GiveUp(error=outcome.error)
    if created_at is not None and now - created_at >= MAX_RETRY_AGE:
        return GiveUp(error=f"{outcome.error} (gave up after retrying for {MAX_RETRY_AGE})")
    if failures + 1 >= MAX_FAILURES:
        return GiveUp(error=f"{outcome.error} (gave up after {failures + 1} failures)")
    # The exponent is capped too: past ~30 doublings the cap wins anyway, and an
    # unbounded 2**failures would overflow timedelta.
    ceiling = min(BACKOFF_CAP, BACKOFF_BASE * (2 ** min(failures, 30)))
    return Retry(
        at=now + ceiling * jitter,
        error=outcome.error,
        count_failure=True,
        in_doubt=outcome.in_doubt,
    )

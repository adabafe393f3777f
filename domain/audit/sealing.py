"""When to sign a checkpoint: the maximum merge delay of the audit log (pure).

Signing a checkpoint (and copying it to the anchors file) after every one- to
three-record transaction made checkpoints most of the cost of a click, and most of the
cost of verifying the log. So a desk under load batches them, the way a certificate
transparency log merges certificates: **every commit is covered by a signed checkpoint
within** :attr:`SealSchedule.merge_delay` (the bound is stated in the README).

The rule, from the point of view of one process:

- a commit whose records arrive when the last seal is at least ``merge_delay`` old seals
  itself, inside its own transaction, covering every commit before it (an idle desk
  signs every click at once, as before; a busy one about once per delay);
- any other commit leaves its records unsealed and starts the clock: by the time the
  oldest unsealed commit is ``merge_delay`` old, such a commit or a seal transaction of
  the sealer's own (when the desk went quiet) has covered it (:meth:`SealSchedule.due`);
- stopping seals whatever is left; a crash leaves a tail that the next start seals.

A ``merge_delay`` of zero seals every commit in its own transaction (one-shot CLI
commands, tests that count checkpoints).

Verification cannot tell a tail that is merely waiting for its checkpoint from records
someone appended without the key: neither is vouched for by a signature.
:func:`tail_status` gives the honest reading: a tail younger than the merge delay is
*not yet checkpointed* (the normal state of a busy desk); an older one is an
``unsigned_tail`` failure whose sentence names both causes (a desk that crashed and has
not restarted, or records added behind its back).
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from enum import Enum

#: How long a verification tolerates clocks that disagree (the desk's and the verifier's).
CLOCK_SKEW = timedelta(seconds=5)


@dataclass(frozen=True, slots=True, kw_only=True)
class SealSchedule:
    """What one process knows about its unsealed commits; transitions return a new value.

    Attributes:
        merge_delay: the bound between a commit and the checkpoint that covers it.
        last_sealed: time of the last checkpoint this process signed (None: none yet).
        oldest_unsealed: time of the oldest commit this process left unsealed, if any.
    """

    merge_delay: timedelta
    last_sealed: datetime | None = None
    oldest_unsealed: datetime | None = None

    def __post_init__(self) -> None:
        if self.merge_delay < timedelta(0):
            raise ValueError("the merge delay cannot be negative")

    def seal_in_commit(self, now: datetime) -> bool:
        """Whether a commit at ``now`` that appended records should sign its own checkpoint.

        True when nothing was sealed for ``merge_delay``: an idle desk pays one signature
        per click and waits for nothing, and a commit that comes when older unsealed
        ones are due (they came after the last seal) covers them too.
        """
        if self.merge_delay == timedelta(0) or self.last_sealed is None:
            return True
        return now - self.last_sealed >= self.merge_delay

    def committed(self, at: datetime) -> SealSchedule:
        """A commit at ``at`` left its records unsealed."""
        if self.oldest_unsealed is not None and self.oldest_unsealed <= at:
            return self
        return replace(self, oldest_unsealed=at)

    def sealed(self, at: datetime) -> SealSchedule:
        """A checkpoint signed at ``at`` covers every commit made before it."""
        last = at if self.last_sealed is None else max(at, self.last_sealed)
        return replace(self, last_sealed=last, oldest_unsealed=None)

    @property
    def deadline(self) -> datetime | None:
        """When the oldest unsealed commit must be covered; None when nothing waits."""
        if self.oldest_unsealed is None:
            return None
        return self.oldest_unsealed + self.merge_delay

    def due(self, now: datetime) -> bool:
        """Whether a seal must run now to keep the bound."""
        deadline = self.deadline
        return deadline is not None and now >= deadline


class TailStatus(Enum):
    """How verification reads records after the newest signed checkpoint."""

    NONE = "none"
    """Every record is covered by a checkpoint."""
    PENDING = "pending"
    """Not yet checkpointed: younger than the merge delay (plus clock skew)."""
    OVERDUE = "overdue"
    """Older than the merge delay: the ``unsigned_tail`` failure."""


@dataclass(frozen=True, slots=True, kw_only=True)
class TailReading:
    """An unsigned tail as read at verification time (see :func:`tail_status`)."""

    status: TailStatus
    oldest: datetime | None
    merge_delay: timedelta


def tail_status(*, oldest: datetime | None, now: datetime, merge_delay: timedelta) -> TailReading:
    """Reads an unsigned tail by the time of its oldest record.

    Args:
        oldest: the time recorded in the first record no checkpoint covers (None: no
            tail).
        now: when the verification runs.
        merge_delay: the desk's bound (``RECON_AUDIT_MERGE_DELAY``).
    """
    if oldest is None:
        status = TailStatus.NONE
    elif now - oldest <= merge_delay + CLOCK_SKEW:
        status = TailStatus.PENDING
    else:
        status = TailStatus.OVERDUE
    return TailReading(status=status, oldest=oldest, merge_delay=merge_delay)

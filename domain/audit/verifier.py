"""Verifying a whole audit log in one streaming pass (pure, no I/O).

:class:`AuditVerifier` checks gaps, links, hashes, body/row consistency, checkpoint
signatures and roots, and anchors (checkpoints copied to a file outside the database).
It is pure, so the same code verifies a live database and an exported bundle; it names
the first bad record and why in one sentence (the sentences that name records are
:mod:`domain.audit.verdicts`'s).
"""

from __future__ import annotations

import hashlib
from collections import deque
from collections.abc import Callable, Collection, Iterable, Sequence
from concurrent.futures import Executor
from typing import Any

from domain.audit.anchoring import AnchorFileView, anchor_coverage_problem, anchor_order_problem
from domain.audit.checkpoints import Checkpoint
from domain.audit.keys import AuditKey
from domain.audit.merkle import LEAF_PREFIX, MerkleFrontier
from domain.audit.records import (
    BODY_TAIL,
    BODY_TAIL_START,
    GENESIS,
    format_time,
    is_canonical_body,
)
from domain.audit.report import VerifyReport
from domain.audit.sealing import TailReading, TailStatus
from domain.audit.signatures import KeyRing, SignatureStatus, schedule_signature_checks
from domain.audit.verdicts import broken_link_problem, gap_problem
from domain.audit.verdicts import records_clause as _records


class AuditVerifier:
    """Verifies one audit log in a single streaming pass; pure, no I/O.

    Feed checkpoints (in size order) with :meth:`add_checkpoints` before the records
    they cover, and records (in seq order) with :meth:`add_records`, chunk by chunk;
    then call :meth:`finish`. Memory stays O(chunk + pending checkpoints + anchors).
    The verifier stops at the first problem; ``add_records`` returns False from then on
    so the caller can stop reading.

    Checks, per record: seq contiguous from 1 (gap), recomputed hash equals the stored
    hash, the body's own seq equals the row's (order), the body's prev equals the
    previous record's hash (link), the body is a version-1 record (format; with ``deep``
    also valid canonical JSON without floats). Per checkpoint: the key is known and the
    signature valid, and the root equals the root recomputed at its size. At the end:
    no checkpoint or anchor beyond the log (truncation or old backup), and the newest
    checkpoint covers every record (no unsigned tail). Anchors are checkpoints read from
    outside the database; each must verify and match the log's root at its size. When
    they come as an :class:`AnchorFileView` (the desk's anchors file, or a bundle's),
    the file must also exist, reach the newest checkpoint and be in size order once the
    log has checkpoints (:mod:`domain.audit.anchoring`).

    Body/row consistency (each row's ``item_id`` and ``event`` columns against its
    signed body) and the tables are :class:`domain.audit.replay.LogReplay`'s part.
    """

    def __init__(
        self,
        *,
        log: str,
        keys: Iterable[AuditKey],
        anchors: Iterable[Checkpoint] | AnchorFileView = (),
        executor: Executor | None = None,
        deep: bool = False,
        trusted: Collection[str] | None = None,
    ) -> None:
        """Prepares a verification.

        Args:
            log: the log's name; anchors of other logs are ignored, checkpoints of
                other logs are a failure.
            keys: every public key of the log (keys table or ``keys.json``).
            anchors: checkpoints from the anchors file, in file order; as an
                :class:`AnchorFileView`, the file itself is evidence too (missing, cut
                or reordered fails once the log has checkpoints).
            executor: optional pool for signature checks (threads help: cryptography
                releases the GIL); without one they run inline.
            deep: also parse each body fully and require canonical JSON (about 8x
                slower; the default checks seq and prev exactly from the body's tail).
            trusted: key ids the auditor pinned out of band; a checkpoint signed by any
                other key fails, even one in ``keys``. None trusts every key given.
        """
        self._log = log
        self._key_list = list(keys)
        self._trusted = frozenset(trusted) if trusted is not None else None
        self._keys = KeyRing(self._key_list, self._trusted)
        self._executor = executor
        self._deep = deep
        self._frontier = MerkleFrontier()
        self._size = 0
        self._prev = GENESIS.encode()
        # (checkpoint, signature status thunk) in size order, not yet reached.
        self._checkpoints: deque[tuple[Checkpoint, Callable[[], SignatureStatus]]] = deque()
        self._anchor_file = anchors if isinstance(anchors, AnchorFileView) else None
        listed = anchors.anchors if isinstance(anchors, AnchorFileView) else tuple(anchors)
        numbered = [(number, a) for number, a in enumerate(listed, 1) if a.log == log]
        self._anchor_list = listed
        self._anchored = max((a.size for _, a in numbered), default=0)
        self._checkpoint_count = 0
        self._newest_checkpoint = 0
        numbered.sort(key=lambda pair: pair[1].size)  # stable: equal sizes keep file order
        self._anchors: deque[tuple[int, Checkpoint]] = deque(numbered)
        self._last_added_size = -1
        self._signed_upto = 0  # largest size whose database checkpoint verified
        self._trusted_upto = 0  # largest size any valid signed root (checkpoint/anchor) matched
        self._tail: TailReading | None = None
        self._checked_checkpoints = 0
        self._checked_anchors = 0
        self._problem: tuple[str, str, int | None] | None = None
        self._next_size = self._compute_next_size()

    # -- feeding --

    @property
    def failed(self) -> bool:
        """Whether a problem has been found (then nothing more is checked)."""
        return self._problem is not None

    @property
    def size(self) -> int:
        """Records verified so far."""
        return self._size

    @property
    def unsigned_from(self) -> int | None:
        """After the last record: the first record no verified checkpoint covers, if any
        (read its time and pass :func:`domain.audit.sealing.tail_status` to :meth:`finish`)."""
        if self._problem is not None or self._signed_upto >= self._size:
            return None
        return self._signed_upto + 1

    @property
    def anchors_behind(self) -> bool:
        """Whether the anchors file read so far stops short of the newest checkpoint
        added: read it again after the records (a commit may have landed meanwhile) and
        pass the new anchors to :meth:`cover_anchors`."""
        return self._anchor_file is not None and self._anchored < self._newest_checkpoint

    def cover_anchors(self, anchors: Iterable[Checkpoint]) -> None:
        """Anchors appended to the file after it was first read: they count only toward
        the file reaching the newest checkpoint (the records they cover may be newer
        than the ones checked)."""
        sizes = [a.size for a in anchors if a.log == self._log]
        self._anchored = max([self._anchored, *sizes])

    def add_checkpoints(self, checkpoints: Iterable[Checkpoint]) -> None:
        """Queues checkpoints; call before feeding the records up to their sizes.

        Raises:
            ValueError: checkpoints out of size order, or added after the records they
                cover (a caller bug, not a property of the log).
        """
        batch = list(checkpoints)
        if not batch or self._problem is not None:
            return
        for checkpoint in batch:
            if checkpoint.size < self._last_added_size or checkpoint.size < self._size:
                raise ValueError("checkpoints must come in size order, before their records")
            self._last_added_size = checkpoint.size
        self._checkpoint_count += len(batch)
        self._newest_checkpoint = self._last_added_size
        pending = schedule_signature_checks(
            batch,
            ring=self._keys,
            keys=self._key_list,
            trusted=self._trusted,
            executor=self._executor,
        )
        self._checkpoints.extend(zip(batch, pending, strict=True))
        self._next_size = self._compute_next_size()
        if self._next_size == self._size:
            self._settle()

    def add_records(self, rows: Iterable[Sequence[Any]]) -> bool:
        """Checks the next records, in seq order: ``(seq: int, body: bytes, hash: str)``.

        Returns:
            False once a problem is found (the caller may stop reading), else True.
        """
        if self._problem is not None:
            return False
        if self._next_size == self._size:
            self._settle()
            if self._problem is not None:
                return False
        # The hot loop: locals only, one SHA-256, one anchored regex. Checked leaves wait
        # in a list and join the frontier a run at a time (at each checkpoint or anchor
        # size, and when the loop ends for any reason): a call per record costs ~10 %.
        n = self._size
        prev = self._prev
        leaves: list[bytes] = []
        add_leaf = leaves.append
        sha256 = hashlib.sha256
        match_tail = BODY_TAIL.fullmatch
        next_size = self._next_size
        deep = self._deep
        try:
            for seq, body, stored in rows:
                n += 1
                if seq != n:
                    self._size = n - 1
                    return self._gap(n, seq)
                if type(body) is not bytes:
                    if not isinstance(body, bytearray | memoryview):  # e.g. TEXT in SQLite
                        self._size = n - 1
                        return self._fail("format", f"record {n}: its body is not bytes", n)
                    body = bytes(body)  # some drivers hand out buffers
                digest = sha256(LEAF_PREFIX + body).digest()
                hexed = digest.hex()
                if hexed != stored:
                    self._size = n - 1
                    return self._fail(
                        "hash",
                        f"record {n}: its stored hash does not match its body "
                        "(the body or the hash was changed)",
                        n,
                    )
                tail = match_tail(body, body.rfind(BODY_TAIL_START))
                if tail is None or (deep and not is_canonical_body(body, seq=n)):
                    self._size = n - 1
                    return self._fail(
                        "format", f"record {n}: its body is not a version-1 audit record", n
                    )
                if int(tail[2]) != n:
                    self._size = n - 1
                    return self._fail(
                        "order",
                        f"record {n}: its body says seq {int(tail[2])}, so records were "
                        "swapped or moved",
                        n,
                    )
                if tail[1] != prev:
                    self._size = n - 1
                    return self._broken_link(n)
                prev = hexed.encode()
                add_leaf(digest)
                if n == next_size:
                    self._frontier.extend_digests(leaves)
                    leaves.clear()
                    self._size = n
                    self._prev = prev
                    self._settle()
                    if self._problem is not None:
                        return False
                    next_size = self._next_size
        finally:
            # Every record checked so far, and only those, is in the frontier whatever
            # the way out: finish() reports the root of the good records.
            self._frontier.extend_digests(leaves)
        self._size = n
        self._prev = prev
        return True

    def fail(self, reason: str, problem: str, first_bad_seq: int | None = None) -> None:
        """Records a problem found outside the stream (e.g. an unreadable bundle line)."""
        if self._problem is None:
            self._problem = (reason, problem, first_bad_seq)

    def finish(
        self,
        *,
        head_size: int | None = None,
        head_hash: str | None = None,
        head_root: str | None = None,
        tail: TailReading | None = None,
    ) -> VerifyReport:
        """Ends the stream and reports; call after the last record and checkpoint.

        Args:
            head_size: the database's head row size, if any (checked last).
            head_hash: the head row's last hash.
            head_root: the root of the head row's frontier.
            tail: how to read records after the newest checkpoint (see
                :mod:`domain.audit.sealing`); None: they are an ``unsigned_tail``
                failure, as in a bundle.
        """
        self._tail = tail
        if self._problem is None and self._next_size == self._size:
            self._settle()
        if self._problem is None:
            self._check_end()
        if self._problem is None and head_size is not None:
            self._check_head(head_size, head_hash, head_root)
        if self._problem is None and self._anchor_file is not None:
            self._check_anchor_file(self._anchor_file)
        records = self._size
        root = self._frontier.root()
        if self._problem is None:
            return VerifyReport(
                ok=True,
                records=records,
                checkpoints=self._checked_checkpoints,
                anchors=self._checked_anchors,
                root=root,
                pending=records - self._signed_upto,
            )
        reason, problem, first_bad = self._problem
        return VerifyReport(
            ok=False,
            records=records,
            checkpoints=self._checked_checkpoints,
            anchors=self._checked_anchors,
            root=root,
            first_bad_seq=first_bad,
            reason=reason,
            problem=problem,
        )

    # -- internals --

    def _fail(self, reason: str, problem: str, first_bad_seq: int | None) -> bool:
        self.fail(reason, problem, first_bad_seq)
        return False

    def _gap(self, expected: int, seq: int) -> bool:
        return self._fail("gap", gap_problem(expected, seq), expected)

    def _broken_link(self, n: int) -> bool:
        problem, first = broken_link_problem(n, self._trusted_upto)
        return self._fail("link", problem, first)

    def _compute_next_size(self) -> int:
        sizes = []
        if self._checkpoints:
            sizes.append(self._checkpoints[0][0].size)
        if self._anchors:
            sizes.append(self._anchors[0][1].size)
        return min(sizes) if sizes else -1

    def _unvouched_from(self, size: int) -> int | None:
        # First record after the last size a valid signed root matched.
        if size == 0:
            return None
        return min(self._trusted_upto + 1, size)

    def _settle(self) -> None:
        """Checks every checkpoint and anchor at the current size."""
        n = self._size
        root: str | None = None
        verified: set[Checkpoint] = set()
        matched = False
        checkpoints = self._checkpoints
        while checkpoints and checkpoints[0][0].size == n:
            checkpoint, status = checkpoints.popleft()
            self._checked_checkpoints += 1
            first = self._unvouched_from(n)
            if checkpoint.log != self._log:
                self.fail(
                    "checkpoint_log",
                    f"the checkpoint for size {n} belongs to log {checkpoint.log!r}, "
                    f"not {self._log!r}",
                    first,
                )
                return
            result = status()
            if result is not None:
                reason, why = result
                unvouched = f", so {_records(first, n, 'is', 'are')} not vouched for"
                self.fail(reason, f"the checkpoint for size {n} {why}{unvouched}", first)
                return
            if root is None:
                root = self._frontier.root()
            if checkpoint.root != root:
                self.fail(
                    "checkpoint_root",
                    f"{_records(first, n, 'does', 'do')} not match the checkpoint signed for "
                    f"size {n} (the "
                    "Merkle root differs), so the log was altered in that range and re-hashed",
                    first,
                )
                return
            verified.add(checkpoint)
            self._signed_upto = n
            matched = True
        anchors = self._anchors
        while anchors and anchors[0][1].size == n:
            number, anchor = anchors.popleft()
            self._checked_anchors += 1
            if anchor not in verified:
                # Normally every anchor repeats a database checkpoint verified just above;
                # only one that differs costs a signature check of its own.
                result = self._keys.check(anchor)
                if result is not None:
                    reason, why = result
                    self.fail(reason, f"anchor #{number} (size {n}) {why}", self._unvouched_from(n))
                    return
                verified.add(anchor)
            if root is None:
                root = self._frontier.root()
            if anchor.root != root:
                first = self._unvouched_from(n)
                self.fail(
                    "anchor_mismatch",
                    f"{_records(first, n, 'does', 'do')} not match anchor #{number} signed for "
                    f"size {n}, "
                    "so the log was rewritten or an old backup restored and appended to",
                    first,
                )
                return
            matched = True
        if matched:
            self._trusted_upto = n
        self._next_size = self._compute_next_size()

    def _check_end(self) -> None:
        n = self._size
        if self._checkpoints:
            checkpoint, status = self._checkpoints[0]
            result = status()
            if result is not None:
                reason, why = result
                self.fail(reason, f"the checkpoint for size {checkpoint.size} {why}", n + 1)
                return
            self.fail(
                "truncated",
                f"the log has {n} records but a valid checkpoint is signed for size "
                f"{checkpoint.size}, so {_records(n + 1, checkpoint.size, 'was', 'were')} "
                "deleted or an old backup was restored",
                n + 1,
            )
            return
        if self._anchors:
            number, anchor = self._anchors[-1]  # the largest anchored size
            result = self._keys.check(anchor)
            if result is not None:
                reason, why = result
                self.fail(reason, f"anchor #{number} (size {anchor.size}) {why}", n + 1)
                return
            self.fail(
                "anchor_beyond_log",
                f"the log has {n} records but anchor #{number} is signed for size "
                f"{anchor.size}, so {_records(n + 1, anchor.size, 'was', 'were')} deleted "
                "or an old backup was restored",
                n + 1,
            )
            return
        if self._signed_upto < n:
            tail = self._tail
            if tail is not None and tail.status is TailStatus.PENDING:
                return  # not yet checkpointed: the report counts them as pending
            why = ""
            if tail is not None and tail.oldest is not None:
                why = (
                    f"; the oldest was recorded at {format_time(tail.oldest)}, longer ago "
                    f"than the merge delay ({tail.merge_delay.total_seconds():g} s), so "
                    "either the desk that wrote them stopped without sealing (a crash: its "
                    "next start seals them) or they were added without the signing key"
                )
            self.fail(
                "unsigned_tail",
                f"{_records(self._signed_upto + 1, n, 'is', 'are')} not covered by any "
                f"signed checkpoint (unsigned tail){why}",
                self._signed_upto + 1,
            )

    def _check_anchor_file(self, view: AnchorFileView) -> None:
        reordered = anchor_order_problem(self._anchor_list, log=self._log)
        if reordered is not None:
            self.fail("anchors_reordered", reordered)
            return
        found = anchor_coverage_problem(
            view,
            checkpoints=self._checkpoint_count,
            newest_checkpoint=self._newest_checkpoint,
            anchored=self._anchored,
        )
        if found is not None:
            self.fail(*found)

    def _check_head(self, size: int, last_hash: str | None, root: str | None) -> None:
        n = self._size
        if size != n:
            self.fail(
                "head",
                f"the head row says the log has {size} records but it has {n}",
                min(size, n) + 1,
            )
        elif last_hash is not None and last_hash != self._prev.decode():
            self.fail("head", f"the head row's last hash is not the hash of record {n}", n)
        elif root is not None and root != self._frontier.root():
            self.fail(
                "head", f"the head row's Merkle frontier does not match records 1 to {n}", n or None
            )

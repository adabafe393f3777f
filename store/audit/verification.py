"""Verifying the audit log in the database against its checkpoints and anchors file,
and with ``deep``, the tables against the replayed log."""

from __future__ import annotations

import asyncio
import dataclasses
import json
import os
from collections.abc import Collection, Sequence
from concurrent.futures import Executor, ThreadPoolExecutor
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Row, select
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from domain.audit.anchoring import AnchorFileView
from domain.audit.checkpoints import Checkpoint
from domain.audit.records import AuditFormatError, parse_time
from domain.audit.replay import LogReplay
from domain.audit.report import VerifyReport
from domain.audit.sealing import tail_status
from domain.audit.verifier import AuditVerifier
from store.audit.anchors import AnchorFile, AnchorFileError
from store.audit.log import DEFAULT_LOG, AuditStoreError, frontier_of
from store.audit.replay import compare_tables
from store.audit.snapshot import checkpoint_of, read_keys, record_chunk, snapshot
from store.engine import Database
from store.tables import audit_checkpoints, audit_head, audit_records


def signature_workers() -> int:
    """Threads for checking checkpoint signatures beside the record stream."""
    # Ed25519 checks release the GIL, so one thread per core keeps every core busy.
    return os.cpu_count() or 1


async def _checkpoint_range(
    conn: AsyncConnection, log: str, above: int, upto: int | None
) -> list[Checkpoint]:
    query = select(audit_checkpoints).where(
        audit_checkpoints.c.log == log, audit_checkpoints.c.size > above
    )
    if upto is not None:
        query = query.where(audit_checkpoints.c.size <= upto)
    else:  # past the last record: only the first few matter (truncation evidence)
        query = query.limit(16)
    query = query.order_by(audit_checkpoints.c.size, audit_checkpoints.c.id)
    return [checkpoint_of(row) for row in await conn.execute(query)]


class _ChunkReader:
    """Reads the log chunk by chunk, each with the checkpoints up to its last seq."""

    def __init__(self, conn: AsyncConnection, log: str, *, columns: bool = False) -> None:
        self._conn = conn
        self._log = log
        self._columns = columns
        self._after: int | None = None  # last seq read
        self._above = -1  # checkpoint sizes read so far are <= this
        self.done = False

    async def next(self) -> tuple[Sequence[Row[Any, Any, Any]], list[Checkpoint]]:
        """The next records and their checkpoints; no records once the log is read
        (then the checkpoints are the first few beyond the log, if any)."""
        rows = await record_chunk(self._conn, self._after, columns=self._columns)
        # seq values at or below zero (only a tampered table has them) fail at the first
        # row in the verifier; max() keeps the checkpoint ranges moving forward anyway.
        upto = max(rows[-1][0], self._above) if rows else None
        checkpoints = await _checkpoint_range(self._conn, self._log, self._above, upto)
        if upto is None:
            self.done = True
        else:
            self._after, self._above = rows[-1][0], upto
        return rows, checkpoints


async def _verify_connection(
    conn: AsyncConnection,
    *,
    anchors: AnchorFileView | list[Checkpoint],
    anchor_file: AnchorFile | None,
    log: str,
    executor: Executor,
    deep: bool,
    trusted: Collection[str] | None,
    tail_clock: tuple[datetime, timedelta] | None,
) -> VerifyReport:
    replay = LogReplay() if deep else None
    verifier = AuditVerifier(
        log=log,
        keys=await read_keys(conn),
        anchors=anchors,
        executor=executor,
        deep=deep,
        trusted=trusted,
    )
    reader = _ChunkReader(conn, log, columns=replay is not None)
    current, checkpoints = await reader.next()
    verifier.add_checkpoints(checkpoints)
    while current:
        # Read one chunk ahead and queue its checkpoints first: the signature pool checks
        # them while this thread reads and hashes, so signatures rarely hold records up.
        following, checkpoints = await reader.next() if not reader.done else ([], [])
        verifier.add_checkpoints(checkpoints)
        if replay is None:
            if not verifier.add_records(current):
                break
        elif not _replay_chunk(verifier, replay, current):
            break
        current = following
    if verifier.anchors_behind and anchor_file is not None:
        # A commit may have landed between reading the file and taking the snapshot:
        # its anchor follows its commit, so it is in the file by now.
        try:
            verifier.cover_anchors(await asyncio.to_thread(anchor_file.read))
        except AnchorFileError as exc:
            verifier.fail("anchor_file", str(exc))
    head = (
        await conn.execute(
            select(audit_head.c.size, audit_head.c.last_hash, audit_head.c.frontier).where(
                audit_head.c.log == log
            )
        )
    ).one_or_none()
    if head is None and verifier.size > 0:
        verifier.fail("head", f"the log has {verifier.size} records but no head row")
    tail = None
    first_unsigned = verifier.unsigned_from
    if first_unsigned is not None and tail_clock is not None:
        now, merge_delay = tail_clock
        oldest = await _record_time(conn, first_unsigned)
        tail = tail_status(oldest=oldest, now=now, merge_delay=merge_delay)
    if head is None or verifier.failed:
        report = verifier.finish(tail=tail)
    else:
        try:
            head_root = frontier_of(head.frontier, head.size).root()
        except AuditStoreError:
            head_root = "unreadable"
        report = verifier.finish(
            head_size=head.size, head_hash=head.last_hash, head_root=head_root, tail=tail
        )
    if replay is None or not report.ok:
        return report
    problem = await compare_tables(conn, replay)
    report = dataclasses.replace(
        report,
        items=replay.items_checked,
        journal_entries=replay.entries_checked,
        statements=replay.statements_checked,
    )
    if problem is None:
        return report
    return dataclasses.replace(
        report,
        ok=False,
        reason=problem.reason,
        problem=problem.problem,
        first_bad_seq=problem.first_bad_seq,
    )


async def _record_time(conn: AsyncConnection, seq: int) -> datetime | None:
    """The time written in record ``seq``'s body (already verified), or None if unreadable."""
    body = (
        await conn.execute(select(audit_records.c.body).where(audit_records.c.seq == seq))
    ).scalar_one_or_none()
    if body is None:
        return None
    try:
        return parse_time(json.loads(bytes(body))["time"])
    except (ValueError, KeyError, TypeError, AuditFormatError):
        return None


def _replay_chunk(
    verifier: AuditVerifier, replay: LogReplay, rows: Sequence[Sequence[Any]]
) -> bool:
    """Replays a chunk of ``(seq, body, hash, item_id, event)`` rows and verifies it.

    The verifier sees the rows up to and including the first one the replay finds
    wrong, so a broken chain or changed body before (or at) it is what gets reported.

    Returns:
        False once a problem is found.
    """
    bad = replay.add_records(rows)
    checked = rows if bad is None else rows[: bad + 1]
    if not verifier.add_records([(row[0], row[1], row[2]) for row in checked]):
        return False
    if replay.problem is not None:
        problem = replay.problem
        verifier.fail(problem.reason, problem.problem, problem.first_bad_seq)
        return False
    return True


async def verify_database(
    source: Database | AsyncEngine | AsyncConnection,
    *,
    anchors: AnchorFile | None,
    log: str = DEFAULT_LOG,
    deep: bool = False,
    trusted: Collection[str] | None = None,
    now: datetime | None = None,
    merge_delay: timedelta | None = None,
) -> VerifyReport:
    """Verifies the whole audit log in one consistent snapshot.

    Reads the anchors file first, then the database: anchors are written after commit,
    so every anchor read first refers to a state the snapshot includes. Once the log has
    signed checkpoints, the file must exist, reach the newest one and be in order (see
    :mod:`domain.audit.anchoring`); if it stops short, it is read once more after the
    records, for a commit that landed in between.

    With ``deep``, every record is also replayed (:class:`domain.audit.replay.LogReplay`):
    each ``audit_records`` row's ``item_id`` and ``event`` columns must match its signed
    body, and after the log verifies, every ``items`` and ``journal_entries`` row must
    match what the log says of it (the first difference is the report's problem).

    Args:
        source: a :class:`Database` (its reader is used) or engine, or a connection
            whose snapshot is up to the caller (PostgreSQL: use REPEATABLE READ, and
            start the transaction after this call reads the anchors).
        anchors: the anchors file, or None to skip the anchor checks (``--no-anchors``;
            the report says they were not checked).
        log: the log's name.
        deep: parse every body fully (see :class:`AuditVerifier`), check every row's
            columns against its body and the tables against the replayed log.
        trusted: the only key ids whose signatures count (see :class:`AuditVerifier`).
        now: when the verification runs; with ``merge_delay``, records after the newest
            checkpoint that are younger than the delay are reported as not yet
            checkpointed (``report.pending``) instead of an ``unsigned_tail`` failure
            (:func:`domain.audit.sealing.tail_status`). Without them, any unsigned tail
            fails.
        merge_delay: the desk's ``RECON_AUDIT_MERGE_DELAY``.
    """
    try:
        anchored: AnchorFileView | list[Checkpoint] = (
            await asyncio.to_thread(anchors.view) if anchors is not None else []
        )
    except AnchorFileError as exc:
        return VerifyReport.unread(reason="anchor_file", problem=str(exc))
    with ThreadPoolExecutor(max_workers=signature_workers()) as executor:
        async with snapshot(source) as conn:
            report = await _verify_connection(
                conn,
                anchors=anchored,
                anchor_file=anchors,
                log=log,
                executor=executor,
                deep=deep,
                trusted=trusted,
                tail_clock=(now, merge_delay)
                if now is not None and merge_delay is not None
                else None,
            )
    if anchors is None:
        return dataclasses.replace(report, anchors_checked=False)
    return dataclasses.replace(report, anchor_sources=(_describe(anchors, anchored, log),))


def _describe(file: AnchorFile, view: AnchorFileView | list[Checkpoint], log: str) -> str:
    """Which anchors a verification used, for the report."""
    if isinstance(view, AnchorFileView) and not view.present:
        return f"anchors file {file.path} (missing)"
    listed = view.anchors if isinstance(view, AnchorFileView) else tuple(view)
    sizes = [a.size for a in listed if a.log == log]
    if not sizes:
        return f"anchors file {file.path} (no anchor of log {log!r})"
    return f"anchors file {file.path} ({len(sizes)} anchors, newest for size {max(sizes)})"

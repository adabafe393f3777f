"""Audit bundles: the log exported to files, and verified offline from them."""

from __future__ import annotations

import asyncio
import dataclasses
import json
import os
import shutil
from collections.abc import Collection, Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any, Final

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from domain.audit.checkpoints import Checkpoint
from domain.audit.keys import AuditKey
from domain.audit.records import FORMAT_VERSION, AuditFormatError, parse_time
from domain.audit.report import VerifyReport
from domain.audit.sealing import TailStatus, tail_status
from domain.audit.verifier import AuditVerifier
from store.audit.anchors import AnchorFile, AnchorFileError
from store.audit.log import DEFAULT_LOG, unsealed_tail
from store.audit.snapshot import VERIFY_CHUNK, checkpoint_of, read_keys, record_chunk, snapshot
from store.audit.verification import signature_workers
from store.engine import Database
from store.errors import StoreError
from store.tables import audit_checkpoints, audit_records

BUNDLE_FORMAT: Final = "recon-bot audit bundle"


@dataclass(frozen=True, slots=True, kw_only=True)
class BundleSummary:
    """What :func:`export_bundle` wrote."""

    directory: Path
    records: int
    checkpoints: int
    keys: int
    anchors: int
    pending: int = 0
    """Records after the newest checkpoint, younger than the merge delay, left out: the
    bundle holds the signed log, and the next export has them."""


async def export_bundle(
    source: Database | AsyncEngine | AsyncConnection,
    out_dir: str | os.PathLike[str],
    *,
    anchors: AnchorFile | None,
    log: str = DEFAULT_LOG,
    now: datetime | None = None,
    merge_delay: timedelta | None = None,
) -> BundleSummary:
    """Writes everything an auditor needs to verify the log offline.

    Files: ``records.jsonl`` (``{"seq", "hash", "body"}`` per line, ``body`` being the
    stored bytes as a JSON string), ``checkpoints.jsonl``, ``keys.json``,
    ``anchors.jsonl`` (a copy of the anchors file; absent when the file is) and
    ``manifest.json``.

    The anchors file is copied before the database is read, for the same reason as in
    :func:`~store.audit.verification.verify_database`; anchors appended meanwhile for
    states the bundle includes (a commit that landed in between) are added after, so
    the bundle's anchors reach its newest checkpoint.

    Args:
        source: a :class:`Database` or engine (read in one snapshot), or a connection
            whose transaction has not read anything yet (PostgreSQL: REPEATABLE READ, or
            a log that grows meanwhile exports checkpoints past its records).
        out_dir: the bundle's directory, created if missing.
        anchors: the anchors file, or None for an empty ``anchors.jsonl``.
        log: the log's name.
        now: when the export runs; with ``merge_delay``, records after the newest
            checkpoint that are younger than the delay (not yet checkpointed, see
            :mod:`domain.audit.sealing`) are left out, so a bundle of a busy desk
            verifies; an older unsigned tail is exported and fails verification.
        merge_delay: the desk's ``RECON_AUDIT_MERGE_DELAY``.

    Raises:
        FileExistsError: ``out_dir`` already holds a bundle.
    """
    directory = Path(out_dir)
    await asyncio.to_thread(_prepare_bundle_directory, directory)
    anchor_count = await asyncio.to_thread(_copy_anchors, anchors, directory / "anchors.jsonl")
    async with snapshot(source) as conn:
        keys = await read_keys(conn)
        upto, pending = None, 0
        if now is not None and merge_delay is not None:
            upto, pending = await _signed_part(conn, log, now, merge_delay)
        records = await _export_records(conn, directory / "records.jsonl", upto)
        checkpoints = await _export_checkpoints(conn, log, directory / "checkpoints.jsonl")
    anchor_count += await asyncio.to_thread(
        _copy_late_anchors, anchors, directory / "anchors.jsonl", log, records
    )
    manifest = {
        "format": BUNDLE_FORMAT,
        "format_version": FORMAT_VERSION,
        "log": log,
        "records": records,
        "checkpoints": checkpoints,
    }
    keys_json = {"keys": [key.to_json() for key in keys]}
    await asyncio.to_thread(_write_json, directory / "keys.json", keys_json)
    await asyncio.to_thread(_write_json, directory / "manifest.json", manifest)
    return BundleSummary(
        directory=directory,
        records=records,
        checkpoints=checkpoints,
        keys=len(keys),
        anchors=anchor_count,
        pending=pending,
    )


async def _signed_part(
    conn: AsyncConnection, log: str, now: datetime, merge_delay: timedelta
) -> tuple[int | None, int]:
    """``(last seq to export, records left out)``: the newest checkpoint's size when the
    records after it are not yet checkpointed, else ``(None, 0)`` (export everything)."""
    tail = await unsealed_tail(conn, log=log)
    if tail is None:
        return None, 0
    first, last = tail
    body = (
        await conn.execute(select(audit_records.c.body).where(audit_records.c.seq == first))
    ).scalar_one_or_none()
    try:
        oldest = parse_time(json.loads(bytes(body))["time"]) if body is not None else None
    except (ValueError, KeyError, TypeError, AuditFormatError):
        oldest = None
    reading = tail_status(oldest=oldest, now=now, merge_delay=merge_delay)
    if reading.status is not TailStatus.PENDING:
        return None, 0
    return first - 1, last - first + 1


def _prepare_bundle_directory(directory: Path) -> None:
    directory.mkdir(parents=True, exist_ok=True)
    if (directory / "records.jsonl").exists():
        raise FileExistsError(f"{directory} already holds an audit bundle")


def _copy_anchors(anchors: AnchorFile | None, target: Path) -> int:
    if anchors is None:
        target.write_bytes(b"")
        return 0
    try:
        shutil.copyfile(anchors.path, target)
    except FileNotFoundError:
        return 0  # no copy either: the bundle shows the file missing, as it is
    return sum(1 for line in target.read_bytes().split(b"\n") if line.strip())


def _copy_late_anchors(anchors: AnchorFile | None, target: Path, log: str, records: int) -> int:
    """Appends to the bundle's copy the anchors of ``log`` the file gained since it was
    copied, up to the size exported (later ones refer to states the bundle lacks)."""
    if anchors is None:
        return 0
    try:
        copied = AnchorFile(target).read()
        current = anchors.read()
    except AnchorFileError:
        return 0  # the copy holds the bad line (or gained one): verification says so
    reached = max((a.size for a in copied if a.log == log), default=0)
    late = [a for a in current[len(copied) :] if a.log == log and reached < a.size <= records]
    for anchor in late:
        AnchorFile(target).append(anchor)
    return len(late)


def _write_json(path: Path, obj: Any) -> None:
    path.write_text(json.dumps(obj, indent=2, sort_keys=True) + "\n", encoding="utf-8")


def _append_lines(path: Path, lines: list[str]) -> None:
    with path.open("a", encoding="ascii") as out:
        out.writelines(lines)


async def _export_records(conn: AsyncConnection, path: Path, upto: int | None) -> int:
    await asyncio.to_thread(path.write_bytes, b"")
    count, after = 0, None
    while rows := await record_chunk(conn, after):
        if upto is not None:
            rows = [row for row in rows if row[0] <= upto]
            if not rows:
                break
        # surrogateescape keeps even a corrupt (non-UTF-8) body byte-exact in the bundle,
        # so the auditor sees the same bytes the database holds.
        lines = [
            json.dumps({"seq": seq, "hash": stored, "body": _body_text(body)}) + "\n"
            for seq, body, stored in rows
        ]
        await asyncio.to_thread(_append_lines, path, lines)
        count += len(rows)
        after = rows[-1][0]
    return count


def _body_text(body: object) -> str:
    if isinstance(body, str):  # TEXT in a SQLite BLOB column: same characters
        return body
    raw: bytes = bytes(body)  # type: ignore[call-overload]  # bytes or memoryview
    return raw.decode("utf-8", "surrogateescape")


async def _export_checkpoints(conn: AsyncConnection, log: str, path: Path) -> int:
    await asyncio.to_thread(path.write_bytes, b"")
    count, after_id = 0, None
    while True:
        query = select(audit_checkpoints).where(audit_checkpoints.c.log == log)
        if after_id is not None:
            query = query.where(audit_checkpoints.c.id > after_id)
        rows = (
            await conn.execute(query.order_by(audit_checkpoints.c.id).limit(VERIFY_CHUNK))
        ).all()
        if not rows:
            return count
        lines = [json.dumps(checkpoint_of(row).to_json()) + "\n" for row in rows]
        await asyncio.to_thread(_append_lines, path, lines)
        count += len(rows)
        after_id = rows[-1].id


def verify_bundle(
    directory: str | os.PathLike[str],
    *,
    deep: bool = False,
    trusted: Collection[str] | None = None,
    check_anchors: bool = True,
) -> VerifyReport:
    """Verifies an exported bundle with no database: the auditor's offline check.

    Runs the same :class:`AuditVerifier` as
    :func:`~store.audit.verification.verify_database`, with the same rule for the
    bundle's ``anchors.jsonl``: once the bundle has checkpoints, a missing, cut or
    reordered anchors file fails (:mod:`domain.audit.anchoring`). A file that is
    missing or a line that is not what the format says is a failure, not an exception.
    (``deep`` parses every body; a bundle has no items or journal tables to replay.)

    Args:
        directory: the bundle.
        deep: parse and re-canonicalise every body.
        trusted: the only key ids whose signatures count.
        check_anchors: False leaves ``anchors.jsonl`` out entirely (``--no-anchors``;
            the report says so).
    """
    bundle = Path(directory)
    try:
        manifest = json.loads((bundle / "manifest.json").read_text(encoding="utf-8"))
        log = manifest["log"]
        keys_json = json.loads((bundle / "keys.json").read_bytes())
        keys = [AuditKey.from_json(key) for key in keys_json["keys"]]
        checkpoints = sorted(_read_checkpoints(bundle / "checkpoints.jsonl"), key=_size_of)
        anchors = AnchorFile(bundle / "anchors.jsonl").view()
    except (OSError, ValueError, KeyError, TypeError, AuditFormatError, AnchorFileError) as exc:
        return VerifyReport.unread(
            reason="bundle", problem=f"the bundle in {bundle} is incomplete or malformed: {exc}"
        )
    with ThreadPoolExecutor(max_workers=signature_workers()) as executor:
        verifier = AuditVerifier(
            log=log,
            keys=keys,
            anchors=anchors if check_anchors else (),
            executor=executor,
            deep=deep,
            trusted=trusted,
        )
        verifier.add_checkpoints(checkpoints)
        try:
            with (bundle / "records.jsonl").open("rb") as lines:
                for chunk in _bundle_records(lines):
                    if not verifier.add_records(chunk):
                        break
        except _BadBundleLine as bad:
            verifier.fail(
                "bundle",
                f"records.jsonl line {bad.number} is not a record ({bad.why})",
                verifier.size + 1,
            )
        except OSError as exc:
            verifier.fail("bundle", f"cannot read records.jsonl: {exc}")
        report = verifier.finish()
    return report if check_anchors else dataclasses.replace(report, anchors_checked=False)


def _size_of(checkpoint: Checkpoint) -> int:
    return checkpoint.size


class _BadBundleLine(StoreError):
    def __init__(self, number: int, why: str) -> None:
        super().__init__(number, why)
        self.number = number
        self.why = why


def _read_checkpoints(path: Path) -> Iterator[Checkpoint]:
    for number, line in enumerate(path.read_bytes().splitlines(), 1):
        if line.strip():
            try:
                yield Checkpoint.from_json(json.loads(line))
            except (ValueError, AuditFormatError) as exc:
                raise AuditFormatError(f"checkpoints.jsonl line {number}: {exc}") from exc


def _bundle_records(lines: Iterable[bytes]) -> Iterator[list[tuple[int, bytes, str]]]:
    """Chunks of ``(seq, body, hash)``; raises _BadBundleLine after the good ones."""
    chunk: list[tuple[int, bytes, str]] = []
    for number, line in enumerate(lines, 1):
        try:
            obj = json.loads(line)
            seq, body, stored = obj["seq"], obj["body"], obj["hash"]
            if not (isinstance(seq, int) and isinstance(body, str) and isinstance(stored, str)):
                raise TypeError("seq must be an int, body and hash strings")
        except (ValueError, KeyError, TypeError) as exc:
            if chunk:
                yield chunk
            raise _BadBundleLine(number, str(exc)) from exc
        chunk.append((seq, body.encode("utf-8", "surrogateescape"), stored))
        if len(chunk) == VERIFY_CHUNK:
            yield chunk
            chunk = []
    if chunk:
        yield chunk

"""The audit log in the database, its Ed25519 signer, the anchors file and bundles.

Write path (one unit of work = one transaction)::

    log = SqlAuditLog(conn, signer=signer)       # the unit of work's ``audit``
    await log.append(entries)                    # any number of times, by the services
    checkpoint = await log.seal()                # just before commit
    await conn.commit()
    if checkpoint is not None:
        anchors.append(checkpoint)               # after commit, outside the database

``append`` locks the log's head row (``SELECT ... FOR UPDATE``; on SQLite the writer's
``BEGIN IMMEDIATE`` already serializes writers), so sequence numbers are gapless and
the chain is linear even with several processes on PostgreSQL. The anchors file is the
part an attacker with only database access cannot rewrite: a truncated log or an old
backup restored leaves anchors that point past the log or disagree with it.

Read path: :func:`verify_database` streams the log through the pure
:class:`domain.audit.AuditVerifier`; :func:`export_bundle` writes the same inputs to
files that :func:`verify_bundle` checks without any database.
"""

from __future__ import annotations

import asyncio
import contextlib
import fcntl
import json
import os
import re
import shutil
from collections.abc import AsyncIterator, Collection, Iterable, Iterator, Sequence
from concurrent.futures import Executor, ThreadPoolExecutor
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final

import rfc8785
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from sqlalchemy import Row, insert, select, update
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from domain.audit import (
    FORMAT_VERSION,
    GENESIS,
    SIGNATURE_ALGORITHM,
    AuditEntry,
    AuditFormatError,
    AuditKey,
    AuditVerifier,
    Checkpoint,
    MerkleFrontier,
    VerifyReport,
    key_id_for,
    leaf_digest,
    record_body,
    sign_checkpoint,
)
from store.bulk import dialect_insert, insert_values
from store.engine import Database
from store.tables import audit_checkpoints, audit_head, audit_keys, audit_records

if TYPE_CHECKING:  # the protocol only; domain.ports would import most of the domain
    from domain.ports import Signer

#: audit_records columns in the order append builds its rows.
_RECORD_COLUMNS: Final = ("seq", "body", "hash", "item_id", "event")

DEFAULT_LOG: Final = "recon"
"""Name of the log; one log per database (``audit_records`` has no log column)."""

VERIFY_CHUNK: Final = 10_000
"""Records fetched per query while verifying or exporting."""

BUNDLE_FORMAT: Final = "recon-bot audit bundle"


def _signature_workers() -> int:
    # Ed25519 checks release the GIL, so one thread per core keeps every core busy.
    return os.cpu_count() or 1


class AuditStoreError(Exception):
    """The audit tables are not in a state the log can write to (one clear sentence)."""


class SigningKeyError(Exception):
    """The signing key file is unsafe or unreadable; the message never holds key bytes."""


class AnchorFileError(Exception):
    """The anchors file holds a line that is not a checkpoint."""


# --- signing key -------------------------------------------------------------------------


class Ed25519Signer:
    """Signs checkpoints with an Ed25519 private key held in memory only.

    Implements :class:`domain.ports.Signer`. ``repr`` shows the key id, never the key.
    """

    __slots__ = ("_key_id", "_private", "_public_raw")

    def __init__(self, private_key: Ed25519PrivateKey) -> None:
        self._private = private_key
        self._public_raw = private_key.public_key().public_bytes(
            serialization.Encoding.Raw, serialization.PublicFormat.Raw
        )
        self._key_id = key_id_for(self._public_raw)

    @classmethod
    def generate(cls) -> Ed25519Signer:
        """A signer with a fresh random key (tests, or before writing a key file)."""
        return cls(Ed25519PrivateKey.generate())

    @property
    def key_id(self) -> str:
        """First 16 bytes of SHA-256 of the raw public key, hex."""
        return self._key_id

    @property
    def public_key_hex(self) -> str:
        """The raw 32-byte public key, hex."""
        return self._public_raw.hex()

    def sign(self, message: bytes) -> bytes:
        """The 64-byte Ed25519 signature of ``message``."""
        return self._private.sign(message)

    def __repr__(self) -> str:
        return f"Ed25519Signer(key_id={self._key_id!r})"


def load_or_create_signing_key(path: str | os.PathLike[str]) -> Ed25519Signer:
    """Loads the PEM Ed25519 key at ``path``, creating it (mode 0600) if absent.

    A new key file means a new key id: checkpoints signed with older keys still verify,
    because their public keys stay in ``audit_keys``.

    Raises:
        SigningKeyError: the file is accessible by group or others, is not a regular
            file, or is not an unencrypted PEM Ed25519 private key.
    """
    key_path = Path(path)
    if not key_path.exists():
        _create_key_file(key_path)
    info = key_path.stat()
    if not key_path.is_file():
        raise SigningKeyError(f"signing key {key_path} is not a regular file")
    if info.st_mode & 0o077:
        raise SigningKeyError(
            f"signing key {key_path} is accessible by group or others "
            f"(mode {info.st_mode & 0o777:04o}); run: chmod 600 {key_path}"
        )
    try:
        key = serialization.load_pem_private_key(key_path.read_bytes(), password=None)
    except (ValueError, TypeError):
        # The parser's message could quote file content; keep it out of ours.
        raise SigningKeyError(
            f"signing key {key_path} is not an unencrypted PEM private key"
        ) from None
    if not isinstance(key, Ed25519PrivateKey):
        raise SigningKeyError(f"signing key {key_path} is not an Ed25519 key")
    return Ed25519Signer(key)


def _create_key_file(path: Path) -> None:
    pem = Ed25519PrivateKey.generate().private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    path.parent.mkdir(parents=True, exist_ok=True)
    # Write a private temporary file, then hard-link it into place: the key appears whole
    # or not at all, and if another process created one meanwhile, its key wins.
    temporary = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        os.fchmod(fd, 0o600)  # whatever the umask
        os.write(fd, pem)
        os.fsync(fd)
    finally:
        os.close(fd)
    try:
        os.link(temporary, path)
    except FileExistsError:
        pass
    finally:
        temporary.unlink()
    _fsync_directory(path.parent)


def _fsync_directory(directory: Path) -> None:
    fd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


# --- writing -----------------------------------------------------------------------------


def _insert_ignoring_duplicates(conn: AsyncConnection, table: Any, values: dict[str, Any]) -> Any:
    # Two processes may register the same key or create the same head at once.
    return dialect_insert(conn.dialect.name, table).values(**values).on_conflict_do_nothing()


async def _register_key(conn: AsyncConnection, signer: Signer, now: datetime) -> None:
    stored = (
        await conn.execute(
            select(audit_keys.c.public_key).where(audit_keys.c.key_id == signer.key_id)
        )
    ).scalar_one_or_none()
    if stored is None:
        await conn.execute(
            _insert_ignoring_duplicates(
                conn,
                audit_keys,
                {
                    "key_id": signer.key_id,
                    "public_key": signer.public_key_hex,
                    "algorithm": SIGNATURE_ALGORITHM,
                    "created_at": now,
                },
            )
        )
    elif stored != signer.public_key_hex:
        raise AuditStoreError(
            f"audit key {signer.key_id} is stored with a different public key; "
            "the keys table was altered"
        )


async def init_audit(
    conn: AsyncConnection, *, signer: Signer, now: datetime, log: str = DEFAULT_LOG
) -> None:
    """Creates the log's head row if missing and registers the signer's public key.

    Idempotent; run it at start-up inside a writer transaction and commit.
    """
    await conn.execute(
        _insert_ignoring_duplicates(
            conn,
            audit_head,
            {
                "log": log,
                "size": 0,
                "last_hash": GENESIS,
                "frontier": MerkleFrontier().to_json(),
            },
        )
    )
    await _register_key(conn, signer, now)


class SqlAuditLog:
    """The audit log of one transaction: implements :class:`domain.ports.AuditSink`.

    Build one per unit of work on its connection (and only one: it remembers what it
    appended). ``append`` writes records inside the caller's transaction (they commit
    or vanish with it); ``seal`` signs a checkpoint of the new size and root, and must
    run before commit whenever ``append`` did.
    """

    def __init__(self, conn: AsyncConnection, *, signer: Signer, log: str = DEFAULT_LOG) -> None:
        self._conn = conn
        self._signer = signer
        self._log = log
        # What the last append left, until sealed: (time of its last entry, frontier).
        # The head row stays locked until commit, so nobody else can move it meanwhile.
        self._unsealed: tuple[datetime, MerkleFrontier] | None = None

    async def append(self, entries: Sequence[AuditEntry]) -> None:
        """Chains and stores ``entries`` in order, in the current transaction.

        Raises:
            AuditFormatError: an entry cannot be recorded (a float in ``data``, a naive
                time...); nothing was written.
            AuditStoreError: the log has no head row (run :func:`init_audit`) or the
                head row is inconsistent.
        """
        if not entries:
            return
        head = (
            await self._conn.execute(
                select(audit_head.c.size, audit_head.c.last_hash, audit_head.c.frontier)
                .where(audit_head.c.log == self._log)
                .with_for_update()  # PostgreSQL: one appender per log at a time
            )
        ).one_or_none()
        if head is None:
            raise AuditStoreError(
                f"audit log {self._log!r} is not initialized; run init_audit (recon-bot init)"
            )
        frontier = _frontier_of(head.frontier, head.size)
        seq, prev = head.size, head.last_hash
        rows = []
        for entry in entries:
            seq += 1
            body = record_body(entry, seq=seq, prev=prev)
            digest = leaf_digest(body)  # hashed once: the frontier takes the raw bytes
            frontier.append_digest(digest)
            prev = digest.hex()
            rows.append((seq, body, prev, entry.item_id, entry.event))
        await insert_values(self._conn, audit_records, _RECORD_COLUMNS, rows)
        await self._conn.execute(
            update(audit_head)
            .where(audit_head.c.log == self._log)
            .values(size=seq, last_hash=prev, frontier=frontier.to_json())
        )
        self._unsealed = (entries[-1].time, frontier)

    async def seal(self, now: datetime | None = None) -> Checkpoint | None:
        """Signs and stores a checkpoint of the log as this transaction leaves it.

        Call just before commit. Registers the signer's key if it is new.

        Args:
            now: the checkpoint's time; defaults to the time of the last entry appended
                (the domain reads no clock, and the entries carry the request's time).

        Returns:
            The checkpoint, to append to the anchors file after commit; None when
            nothing was appended since the last seal.
        """
        if self._unsealed is None:
            return None
        last_time, frontier = self._unsealed
        time = now if now is not None else last_time
        checkpoint = sign_checkpoint(
            self._signer, log=self._log, size=frontier.size, root=frontier.root(), time=time
        )
        await _register_key(self._conn, self._signer, time)
        await self._conn.execute(
            insert(audit_checkpoints).values(
                log=checkpoint.log,
                size=checkpoint.size,
                root=checkpoint.root,
                time=checkpoint.time,
                key_id=checkpoint.key_id,
                signature=checkpoint.signature,
            )
        )
        self._unsealed = None
        return checkpoint


def _frontier_of(stored: Any, size: int) -> MerkleFrontier:
    if isinstance(stored, str):  # a JSON column read back as text by some drivers
        stored = json.loads(stored)
    try:
        frontier = MerkleFrontier.from_json(stored)
    except AuditFormatError as exc:
        raise AuditStoreError(f"the audit head's Merkle frontier is corrupt: {exc}") from exc
    if frontier.size != size:
        raise AuditStoreError(
            f"the audit head says {size} records but its frontier covers {frontier.size}"
        )
    return frontier


async def latest_checkpoint(conn: AsyncConnection, *, log: str = DEFAULT_LOG) -> Checkpoint | None:
    """The newest checkpoint of ``log`` (to re-anchor after a crash lost an anchor)."""
    row = (
        await conn.execute(
            select(audit_checkpoints)
            .where(audit_checkpoints.c.log == log)
            .order_by(audit_checkpoints.c.size.desc(), audit_checkpoints.c.id.desc())
            .limit(1)
        )
    ).one_or_none()
    return None if row is None else _checkpoint_of(row)


def _checkpoint_of(row: Row[Any]) -> Checkpoint:
    return Checkpoint(
        log=row.log,
        size=row.size,
        root=row.root,
        time=row.time,
        key_id=row.key_id,
        signature=row.signature,
    )


# --- anchors file ------------------------------------------------------------------------


class AnchorFile:
    """Checkpoints copied to a JSON Lines file outside the database.

    Append after the checkpoint's transaction committed: an anchor then never refers
    to a state the database could lose by rolling back. Each line is written with one
    ``write`` under an exclusive ``flock`` and fsynced, so several processes may share
    the file and a crash tears at most the last line (which :meth:`read` ignores).
    """

    def __init__(self, path: str | os.PathLike[str]) -> None:
        self.path = Path(path)

    def append(self, checkpoint: Checkpoint) -> None:
        """Appends one checkpoint durably (blocking; use ``asyncio.to_thread`` in a loop)."""
        line = rfc8785.dumps(checkpoint.to_json()) + b"\n"
        created = not self.path.exists()
        if created:
            self.path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.path, os.O_RDWR | os.O_APPEND | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
            _drop_torn_line(fd)
            view = memoryview(line)
            while view:
                view = view[os.write(fd, view) :]
            os.fsync(fd)
        finally:
            os.close(fd)  # also releases the lock
        if created:
            _fsync_directory(self.path.parent)

    def read(self) -> list[Checkpoint]:
        """Every anchored checkpoint, in file order ([] when the file does not exist).

        Raises:
            AnchorFileError: a complete line is not a checkpoint.
        """
        try:
            data = self.path.read_bytes()
        except FileNotFoundError:
            return []
        lines = data.split(b"\n")
        torn = lines.pop()  # b"" when the file ends with a newline
        anchors = []
        match_canonical = _CANONICAL_ANCHOR.fullmatch
        for number, line in enumerate(lines, 1):
            fast = match_canonical(line)
            if fast is not None:
                # The form append() writes: skip the generic JSON path and its checks,
                # which the pattern already made (verification reads every anchor).
                anchors.append(
                    Checkpoint(
                        log=fast[2].decode(),
                        size=int(fast[5]),
                        root=fast[3].decode(),
                        time=datetime.fromisoformat(fast[6].decode()),
                        key_id=fast[1].decode(),
                        signature=fast[4].decode(),
                    )
                )
                continue
            if not line.strip():
                continue
            try:
                anchors.append(Checkpoint.from_json(json.loads(line)))
            except (ValueError, AuditFormatError) as exc:
                raise AnchorFileError(
                    f"anchors file {self.path} line {number} is not a checkpoint: {exc}"
                ) from exc
        if torn:
            # A line without its newline is a write a crash interrupted; the checkpoint
            # it was copying is still in the database.
            with contextlib.suppress(ValueError, AuditFormatError):
                anchors.append(Checkpoint.from_json(json.loads(torn)))
        return anchors


# A line exactly as append() writes it (RFC 8785 orders the keys); others take json.loads.
_CANONICAL_ANCHOR = re.compile(
    rb'\{"key_id":"([0-9a-f]{32})","log":"([^"\\\x00-\x1f]*)","root":"([0-9a-f]{64})",'
    rb'"signature":"([0-9a-f]{128})","size":(0|[1-9][0-9]{0,15}),'
    rb'"time":"([0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}\.[0-9]{6}Z)"\}'
)


def _drop_torn_line(fd: int) -> None:
    # A crash mid-append leaves a line without its newline. Cut it so the next line
    # starts clean, unless it is whole but for the newline (read() accepts those).
    # Only ever called under the exclusive lock.
    end = os.lseek(fd, 0, os.SEEK_END)
    if end == 0 or os.pread(fd, 1, end - 1) == b"\n":
        return
    start = max(0, end - 65536)
    tail = os.pread(fd, end - start, start)
    cut = tail.rfind(b"\n")
    try:
        Checkpoint.from_json(json.loads(tail[cut + 1 :]))
    except (ValueError, AuditFormatError):
        os.ftruncate(fd, start + cut + 1 if cut >= 0 else start)
    else:
        os.write(fd, b"\n")


# --- reading -----------------------------------------------------------------------------


async def history(conn: AsyncConnection, item_id: int) -> list[dict[str, Any]]:
    """The decoded record bodies of one item, oldest first (for ``recon-bot show``)."""
    result = await conn.execute(
        select(audit_records.c.body)
        .where(audit_records.c.item_id == item_id)
        .order_by(audit_records.c.seq)
    )
    return [json.loads(body) for body in result.scalars()]


async def _keys(conn: AsyncConnection) -> list[AuditKey]:
    result = await conn.execute(select(audit_keys).order_by(audit_keys.c.created_at))
    return [
        AuditKey(
            key_id=row.key_id,
            public_key=row.public_key,
            algorithm=row.algorithm,
            created_at=row.created_at,
        )
        for row in result
    ]


async def _record_chunk(conn: AsyncConnection, after: int | None) -> Sequence[Row[Any, Any, Any]]:
    query = select(audit_records.c.seq, audit_records.c.body, audit_records.c.hash)
    if after is not None:  # the first chunk has no lower bound, so seq <= 0 rows show up
        query = query.where(audit_records.c.seq > after)
    query = query.order_by(audit_records.c.seq).limit(VERIFY_CHUNK)
    return (await conn.execute(query)).all()


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
    return [_checkpoint_of(row) for row in await conn.execute(query)]


class _ChunkReader:
    """Reads the log chunk by chunk, each with the checkpoints up to its last seq."""

    def __init__(self, conn: AsyncConnection, log: str) -> None:
        self._conn = conn
        self._log = log
        self._after: int | None = None  # last seq read
        self._above = -1  # checkpoint sizes read so far are <= this
        self.done = False

    async def next(self) -> tuple[Sequence[Row[Any, Any, Any]], list[Checkpoint]]:
        """The next records and their checkpoints; no records once the log is read
        (then the checkpoints are the first few beyond the log, if any)."""
        rows = await _record_chunk(self._conn, self._after)
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
    anchors: list[Checkpoint],
    log: str,
    executor: Executor,
    deep: bool,
    trusted: Collection[str] | None,
) -> VerifyReport:
    verifier = AuditVerifier(
        log=log,
        keys=await _keys(conn),
        anchors=anchors,
        executor=executor,
        deep=deep,
        trusted=trusted,
    )
    reader = _ChunkReader(conn, log)
    current, checkpoints = await reader.next()
    verifier.add_checkpoints(checkpoints)
    while current:
        # Read one chunk ahead and queue its checkpoints first: the signature pool checks
        # them while this thread reads and hashes, so signatures rarely hold records up.
        following, checkpoints = await reader.next() if not reader.done else ([], [])
        verifier.add_checkpoints(checkpoints)
        if not verifier.add_records(current):
            break
        current = following
    head = (
        await conn.execute(
            select(audit_head.c.size, audit_head.c.last_hash, audit_head.c.frontier).where(
                audit_head.c.log == log
            )
        )
    ).one_or_none()
    if head is None and verifier.size > 0:
        verifier.fail("head", f"the log has {verifier.size} records but no head row")
    if head is None or verifier.failed:
        return verifier.finish()
    try:
        head_root = _frontier_of(head.frontier, head.size).root()
    except AuditStoreError:
        head_root = "unreadable"
    return verifier.finish(head_size=head.size, head_hash=head.last_hash, head_root=head_root)


async def verify_database(
    source: Database | AsyncEngine | AsyncConnection,
    *,
    anchors: AnchorFile | None,
    log: str = DEFAULT_LOG,
    deep: bool = False,
    trusted: Collection[str] | None = None,
) -> VerifyReport:
    """Verifies the whole audit log in one consistent snapshot.

    Reads the anchors file first, then the database: anchors are written after commit,
    so every anchor read first refers to a state the snapshot includes.

    Args:
        source: a :class:`Database` (its reader is used) or engine, or a connection
            whose snapshot is up to the caller (PostgreSQL: use REPEATABLE READ, and
            start the transaction after this call reads the anchors).
        anchors: the anchors file, or None to skip the anchor checks.
        log: the log's name.
        deep: parse every body fully (see :class:`AuditVerifier`).
        trusted: the only key ids whose signatures count (see :class:`AuditVerifier`).
    """
    try:
        anchored = await asyncio.to_thread(anchors.read) if anchors is not None else []
    except AnchorFileError as exc:
        return VerifyReport(
            ok=False,
            records=0,
            checkpoints=0,
            anchors=0,
            root=MerkleFrontier().root(),
            reason="anchor_file",
            problem=str(exc),
        )
    with ThreadPoolExecutor(max_workers=_signature_workers()) as executor:
        async with _snapshot(source) as conn:
            return await _verify_connection(
                conn, anchors=anchored, log=log, executor=executor, deep=deep, trusted=trusted
            )


@contextlib.asynccontextmanager
async def _snapshot(
    source: Database | AsyncEngine | AsyncConnection,
) -> AsyncIterator[AsyncConnection]:
    """A connection that sees one consistent state of the log for all its reads."""
    if isinstance(source, AsyncConnection):
        yield source  # the caller owns its transaction and isolation
        return
    engine = source.reader if isinstance(source, Database) else source
    async with engine.connect() as conn:
        if conn.dialect.name == "postgresql":
            # READ COMMITTED would let a commit land between the chunk queries.
            await conn.execution_options(isolation_level="REPEATABLE READ")
        # SQLite: the reader's deferred transaction takes its WAL snapshot at the first
        # read and keeps it until the end.
        async with conn.begin():
            yield conn


# --- bundles -----------------------------------------------------------------------------


@dataclass(frozen=True, slots=True, kw_only=True)
class BundleSummary:
    """What :func:`export_bundle` wrote."""

    directory: Path
    records: int
    checkpoints: int
    keys: int
    anchors: int


async def export_bundle(
    source: Database | AsyncEngine | AsyncConnection,
    out_dir: str | os.PathLike[str],
    *,
    anchors: AnchorFile | None,
    log: str = DEFAULT_LOG,
) -> BundleSummary:
    """Writes everything an auditor needs to verify the log offline.

    Files: ``records.jsonl`` (``{"seq", "hash", "body"}`` per line, ``body`` being the
    stored bytes as a JSON string), ``checkpoints.jsonl``, ``keys.json``,
    ``anchors.jsonl`` (a copy of the anchors file) and ``manifest.json``.

    The anchors file is copied before the database is read, for the same reason as in
    :func:`verify_database`.

    Args:
        source: a :class:`Database` or engine (read in one snapshot), or a connection
            whose transaction has not read anything yet (PostgreSQL: REPEATABLE READ, or
            a log that grows meanwhile exports checkpoints past its records).
        out_dir: the bundle's directory, created if missing.
        anchors: the anchors file, or None for an empty ``anchors.jsonl``.
        log: the log's name.

    Raises:
        FileExistsError: ``out_dir`` already holds a bundle.
    """
    directory = Path(out_dir)
    await asyncio.to_thread(_prepare_bundle_directory, directory)
    anchor_count = await asyncio.to_thread(_copy_anchors, anchors, directory / "anchors.jsonl")
    async with _snapshot(source) as conn:
        keys = await _keys(conn)
        records = await _export_records(conn, directory / "records.jsonl")
        checkpoints = await _export_checkpoints(conn, log, directory / "checkpoints.jsonl")
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
    )


def _prepare_bundle_directory(directory: Path) -> None:
    directory.mkdir(parents=True, exist_ok=True)
    if (directory / "records.jsonl").exists():
        raise FileExistsError(f"{directory} already holds an audit bundle")


def _copy_anchors(anchors: AnchorFile | None, target: Path) -> int:
    if anchors is None or not anchors.path.exists():
        target.write_bytes(b"")
        return 0
    shutil.copyfile(anchors.path, target)
    return sum(1 for line in target.read_bytes().split(b"\n") if line.strip())


def _write_json(path: Path, obj: Any) -> None:
    path.write_text(json.dumps(obj, indent=2, sort_keys=True) + "\n", encoding="utf-8")


def _append_lines(path: Path, lines: list[str]) -> None:
    with path.open("a", encoding="ascii") as out:
        out.writelines(lines)


async def _export_records(conn: AsyncConnection, path: Path) -> int:
    await asyncio.to_thread(path.write_bytes, b"")
    count, after = 0, None
    while rows := await _record_chunk(conn, after):
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
        lines = [json.dumps(_checkpoint_of(row).to_json()) + "\n" for row in rows]
        await asyncio.to_thread(_append_lines, path, lines)
        count += len(rows)
        after_id = rows[-1].id


def verify_bundle(
    directory: str | os.PathLike[str],
    *,
    deep: bool = False,
    trusted: Collection[str] | None = None,
) -> VerifyReport:
    """Verifies an exported bundle with no database: the auditor's offline check.

    Runs the same :class:`AuditVerifier` as :func:`verify_database`. A file that is
    missing or a line that is not what the format says is a failure, not an exception.
    """
    bundle = Path(directory)
    try:
        manifest = json.loads((bundle / "manifest.json").read_text(encoding="utf-8"))
        log = manifest["log"]
        keys_json = json.loads((bundle / "keys.json").read_bytes())
        keys = [AuditKey.from_json(key) for key in keys_json["keys"]]
        checkpoints = sorted(_read_checkpoints(bundle / "checkpoints.jsonl"), key=_size_of)
        anchors = AnchorFile(bundle / "anchors.jsonl").read()
    except (OSError, ValueError, KeyError, TypeError, AuditFormatError, AnchorFileError) as exc:
        return VerifyReport(
            ok=False,
            records=0,
            checkpoints=0,
            anchors=0,
            root=MerkleFrontier().root(),
            reason="bundle",
            problem=f"the bundle in {bundle} is incomplete or malformed: {exc}",
        )
    with ThreadPoolExecutor(max_workers=_signature_workers()) as executor:
        verifier = AuditVerifier(
            log=log, keys=keys, anchors=anchors, executor=executor, deep=deep, trusted=trusted
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
        return verifier.finish()


def _size_of(checkpoint: Checkpoint) -> int:
    return checkpoint.size


class _BadBundleLine(Exception):
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


__all__ = [
    "DEFAULT_LOG",
    "AnchorFile",
    "AnchorFileError",
    "AuditStoreError",
    "BundleSummary",
    "Ed25519Signer",
    "SigningKeyError",
    "SqlAuditLog",
    "export_bundle",
    "history",
    "init_audit",
    "latest_checkpoint",
    "load_or_create_signing_key",
    "verify_bundle",
    "verify_database",
]

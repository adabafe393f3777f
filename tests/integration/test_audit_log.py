"""The audit log on real databases: writing, verifying, and catching each kind of tampering.

Every test that takes ``store`` runs on a SQLite file and, when RECON_TEST_POSTGRES_URL
is set, on PostgreSQL too (each in its own schema). Tampering is done the way an
attacker with database access but without the signing key would do it.
"""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import stat
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import rfc8785
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from sqlalchemy import delete, select, update

from domain.audit.checkpoints import checkpoint_message
from domain.audit.merkle import MerkleFrontier, leaf_hash
from domain.audit.records import AuditEntry, AuditFormatError
from domain.audit.report import VerifyReport
from store.audit.anchors import AnchorFile
from store.audit.bundle import export_bundle, verify_bundle
from store.audit.log import AuditStoreError, SqlAuditLog, history, init_audit, latest_checkpoint
from store.audit.signer import Ed25519Signer, SigningKeyError, load_or_create_signing_key
from store.audit.verification import verify_database
from store.engine import Database, create_database
from store.tables import audit_checkpoints, audit_head, audit_keys, audit_records, metadata

T0 = datetime(2024, 5, 1, 9, 0, tzinfo=UTC)
PG_URL_VAR = "RECON_TEST_POSTGRES_URL"
TABLES = (audit_records, audit_head, audit_checkpoints, audit_keys)


def entry(n: int) -> AuditEntry:
    return AuditEntry(
        time=T0 + timedelta(seconds=n),
        event="item.approved" if n % 2 else "item.claimed",
        actor=f"U{n % 3}",
        item_id=n % 5 + 1,
        item=f"R-{n % 5 + 1}",
        from_state="assigned",
        to_state="approved",
        policy_version="sha256:3f9a1c0d",
        data={"amount_minor": 1000 + n, "currency": "EUR", "note": f"entry {n} ok, Zürich"},
    )


@dataclass
class AuditStore:
    """A database with the audit tables, a signer and an anchors file, plus the tools
    an attacker would use on the tables."""

    db: Database
    backend: str
    signer: Ed25519Signer
    anchors: AnchorFile
    path: Path | None = None  # the SQLite file
    written: int = 0
    snapshots: dict[str, Any] = field(default_factory=dict)

    async def write(self, *transactions: int, signer: Ed25519Signer | None = None) -> None:
        """One transaction per size, each sealed and anchored like the unit of work."""
        for size in transactions:
            async with self.db.writer.connect() as conn, conn.begin():
                log = SqlAuditLog(conn, signer=signer or self.signer)
                await log.append([entry(self.written + i + 1) for i in range(size)])
                checkpoint = await log.seal()
            assert checkpoint is not None
            self.anchors.append(checkpoint)
            self.written += size

    async def verify(self, *, anchored: bool = True) -> VerifyReport:
        return await verify_database(self.db, anchors=self.anchors if anchored else None)

    async def body(self, seq: int) -> bytes:
        async with self.db.reader.connect() as conn:
            query = select(audit_records.c.body).where(audit_records.c.seq == seq)
            return bytes((await conn.execute(query)).scalar_one())

    async def run(self, *statements: Any) -> None:
        async with self.db.writer.begin() as conn:
            for statement in statements:
                await conn.execute(statement)

    async def rows(self, table: Any) -> list[dict[str, Any]]:
        async with self.db.reader.connect() as conn:
            return [dict(row._mapping) for row in await conn.execute(select(table))]

    async def rewrite_from(self, seq: int, changes: dict[int, bytes]) -> None:
        """Replaces bodies and re-hashes the chain from ``seq`` to the end, head included,
        so that every hash and link is self-consistent again (but no signature is)."""
        async with self.db.writer.begin() as conn:
            rows = (await conn.execute(select(audit_records).order_by(audit_records.c.seq))).all()
            frontier, prev = MerkleFrontier(), "0" * 64
            for row in rows:
                body = bytes(row.body)
                if row.seq >= seq:
                    parsed = json.loads(changes.get(row.seq, body))
                    parsed["prev"] = prev
                    body = rfc8785.dumps(parsed)
                    await conn.execute(
                        update(audit_records)
                        .where(audit_records.c.seq == row.seq)
                        .values(body=body, hash=leaf_hash(body))
                    )
                prev = leaf_hash(body)
                frontier.append(prev)
            await conn.execute(
                update(audit_head).values(
                    size=frontier.size, last_hash=prev, frontier=frontier.to_json()
                )
            )

    async def drop_tail(self, keep: int) -> None:
        """Deletes records after ``keep`` with their checkpoints, and fixes the head."""
        async with self.db.writer.begin() as conn:
            await conn.execute(delete(audit_records).where(audit_records.c.seq > keep))
            await conn.execute(delete(audit_checkpoints).where(audit_checkpoints.c.size > keep))
            hashes = (
                await conn.execute(select(audit_records.c.hash).order_by(audit_records.c.seq))
            ).scalars()
            frontier = MerkleFrontier()
            for stored in hashes:
                frontier.append(stored)
            last = (
                await conn.execute(select(audit_records.c.hash).where(audit_records.c.seq == keep))
            ).scalar_one()
            await conn.execute(
                update(audit_head).values(size=keep, last_hash=last, frontier=frontier.to_json())
            )

    async def backup(self, name: str) -> None:
        if self.path is not None:  # a file copy, as an operator would take it
            await self.db.dispose()  # closes the WAL into the main file
            shutil.copyfile(self.path, self.path.with_suffix(f".{name}"))
        else:
            self.snapshots[name] = {table.name: await self.rows(table) for table in TABLES}

    async def restore(self, name: str) -> None:
        if self.path is not None:
            await self.db.dispose()
            # A restored file comes without the journal of the database it replaces.
            for suffix in ("-wal", "-shm"):
                Path(f"{self.path}{suffix}").unlink(missing_ok=True)  # noqa: ASYNC240
            shutil.copyfile(self.path.with_suffix(f".{name}"), self.path)
            return
        async with self.db.writer.begin() as conn:
            for table in TABLES:
                await conn.execute(delete(table))
                rows = self.snapshots[name][table.name]
                if rows:
                    await conn.execute(table.insert(), rows)


async def _postgres_database() -> tuple[Database, str]:
    url = os.environ.get(PG_URL_VAR)
    if not url:
        pytest.skip(f"{PG_URL_VAR} not set")
    schema = f"audit_test_{uuid.uuid4().hex[:12]}"
    base = create_database(url)
    async with base.writer.begin() as conn:
        await conn.exec_driver_sql(f'CREATE SCHEMA "{schema}"')
    # Every table of this test lives in its own schema: isolation without dropping.
    engine = base.writer.execution_options(schema_translate_map={None: schema})
    return Database(url=url, writer=engine, reader=engine), schema


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
async def store(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[AuditStore]:
    path: Path | None = None
    schema = None
    if request.param == "sqlite":
        path = tmp_path / "audit.db"
        db = create_database(f"sqlite+aiosqlite:///{path}")
    else:
        db, schema = await _postgres_database()
    signer = load_or_create_signing_key(tmp_path / "audit_ed25519.pem")
    async with db.writer.begin() as conn:
        await conn.run_sync(metadata.create_all, tables=list(TABLES))
        await init_audit(conn, signer=signer, now=T0)
    store = AuditStore(
        db=db,
        backend=request.param,
        signer=signer,
        anchors=AnchorFile(tmp_path / "anchors.jsonl"),
        path=path,
    )
    try:
        yield store
    finally:
        if schema is not None:
            async with db.writer.begin() as conn:
                await conn.exec_driver_sql(f'DROP SCHEMA "{schema}" CASCADE')
        await db.dispose()


# --- writing and verifying -------------------------------------------------------------


async def test_records_appended_across_transactions_verify(store: AuditStore) -> None:
    await store.write(3, 1, 4, 2)

    report = await store.verify()

    assert report.ok, report.problem
    assert (report.records, report.checkpoints, report.anchors) == (10, 4, 4)
    head = (await store.rows(audit_head))[0]
    assert (head["log"], head["size"]) == ("recon", 10)
    assert MerkleFrontier.from_json(head["frontier"]).root() == report.root
    records = await store.rows(audit_records)
    assert [r["seq"] for r in sorted(records, key=lambda r: r["seq"])] == list(range(1, 11))
    assert all(r["hash"] == leaf_hash(bytes(r["body"])) for r in records)


async def test_each_transaction_gets_a_signed_checkpoint_of_its_size_and_root(
    store: AuditStore,
) -> None:
    await store.write(2, 3)

    checkpoints = sorted(await store.rows(audit_checkpoints), key=lambda c: c["size"])
    assert [c["size"] for c in checkpoints] == [2, 5]
    last = checkpoints[-1]
    message = checkpoint_message(
        log="recon", size=5, root=last["root"], time=last["time"], key_id=store.signer.key_id
    )
    assert last["time"] == T0 + timedelta(seconds=5)  # the last entry's time
    keys = await store.rows(audit_keys)
    assert [(k["key_id"], k["public_key"]) for k in keys] == [
        (store.signer.key_id, store.signer.public_key_hex)
    ]
    Ed25519PublicKey.from_public_bytes(bytes.fromhex(keys[0]["public_key"])).verify(
        bytes.fromhex(last["signature"]), message
    )
    async with store.db.reader.connect() as conn:
        newest = await latest_checkpoint(conn)
    assert newest is not None and newest.size == 5 and newest.root == last["root"]


async def test_rolled_back_records_vanish_and_their_seq_is_reused(store: AuditStore) -> None:
    await store.write(2)
    async with store.db.writer.connect() as conn, conn.begin():
        await SqlAuditLog(conn, signer=store.signer).append([entry(99)])
        await conn.rollback()
    await store.write(1)

    report = await store.verify()

    assert report.ok, report.problem
    assert report.records == 3


async def test_float_in_data_is_refused_and_nothing_is_written(store: AuditStore) -> None:
    bad = AuditEntry(time=T0, event="e", actor="a", data={"amount": 1.5})
    async with store.db.writer.connect() as conn, conn.begin():
        log = SqlAuditLog(conn, signer=store.signer)
        with pytest.raises(AuditFormatError, match=r"data\.amount is a float"):
            await log.append([entry(1), bad])
        assert await log.seal() is None

    assert await store.rows(audit_records) == []


async def test_append_needs_an_initialized_log(store: AuditStore) -> None:
    async with store.db.writer.connect() as conn, conn.begin():
        with pytest.raises(AuditStoreError, match="'other' is not initialized"):
            await SqlAuditLog(conn, signer=store.signer, log="other").append([entry(1)])


async def test_init_is_idempotent(store: AuditStore) -> None:
    await store.write(2)
    async with store.db.writer.begin() as conn:
        await init_audit(conn, signer=store.signer, now=T0)

    assert (await store.rows(audit_head))[0]["size"] == 2
    assert len(await store.rows(audit_keys)) == 1


async def test_concurrent_writers_keep_one_gapless_chain(store: AuditStore) -> None:
    # PostgreSQL serializes appenders on the head row lock (SELECT ... FOR UPDATE);
    # SQLite on its single writer and BEGIN IMMEDIATE.
    async def writer(offset: int) -> None:
        for n in range(8):
            async with store.db.writer.connect() as conn, conn.begin():
                log = SqlAuditLog(conn, signer=store.signer)
                await log.append([entry(offset + n), entry(offset + n + 50)])
                checkpoint = await log.seal()
            assert checkpoint is not None
            store.anchors.append(checkpoint)

    await asyncio.gather(writer(0), writer(100), writer(200))

    report = await store.verify()
    assert report.ok, report.problem
    assert (report.records, report.checkpoints) == (48, 24)


async def test_rotated_key_adds_a_key_and_old_checkpoints_still_verify(
    store: AuditStore, tmp_path: Path
) -> None:
    await store.write(2, 2)
    rotated = load_or_create_signing_key(tmp_path / "rotated.pem")
    await store.write(3, signer=rotated)

    report = await store.verify()

    assert report.ok, report.problem
    assert {k["key_id"] for k in await store.rows(audit_keys)} == {
        store.signer.key_id,
        rotated.key_id,
    }


async def test_history_decodes_one_items_records_in_order(store: AuditStore) -> None:
    await store.write(4, 6)

    async with store.db.reader.connect() as conn:
        records = await history(conn, 2)

    assert [r["seq"] for r in records] == [1, 6]
    assert records[0]["item"] == "R-2" and records[0]["data"]["amount_minor"] == 1001


# --- tampering: one test per attack -------------------------------------------------------


async def test_flipped_byte_in_a_body(store: AuditStore) -> None:
    await store.write(3, 3, 3)
    body = bytearray(await store.body(5))
    body[body.index(b"1005")] = ord("9")
    await store.run(update(audit_records).where(audit_records.c.seq == 5).values(body=bytes(body)))

    report = await store.verify()

    assert (report.ok, report.first_bad_seq, report.reason) == (False, 5, "hash")
    assert report.problem == (
        "record 5: its stored hash does not match its body (the body or the hash was changed)"
    )


async def test_deleted_middle_row(store: AuditStore) -> None:
    await store.write(3, 3, 3)
    await store.run(delete(audit_records).where(audit_records.c.seq == 5))

    report = await store.verify()

    assert (report.first_bad_seq, report.reason) == (5, "gap")
    assert report.problem == "record 5 is missing: the log jumps from record 4 to 6"


async def test_two_swapped_rows(store: AuditStore) -> None:
    await store.write(3, 3)
    rows = {r["seq"]: r for r in await store.rows(audit_records)}
    await store.run(
        *(
            update(audit_records)
            .where(audit_records.c.seq == seq)
            .values(body=rows[other]["body"], hash=rows[other]["hash"])
            for seq, other in ((3, 4), (4, 3))
        )
    )

    report = await store.verify()

    assert (report.first_bad_seq, report.reason) == (3, "order")
    assert report.problem == "record 3: its body says seq 4, so records were swapped or moved"


async def test_tail_rehashed_without_the_key(store: AuditStore) -> None:
    await store.write(3, 3, 3, 3)
    changed = (await store.body(7)).replace(b'"amount_minor":1007', b'"amount_minor":7')
    await store.rewrite_from(7, {7: changed})

    report = await store.verify(anchored=False)  # the checkpoints alone catch it

    assert (report.first_bad_seq, report.reason) == (7, "checkpoint_root")
    assert report.problem == (
        "records 7 to 9 do not match the checkpoint signed for size 9 (the Merkle root "
        "differs), so the log was altered in that range and re-hashed"
    )


async def test_tail_rehashed_and_checkpoints_resigned_with_a_planted_key(
    store: AuditStore,
) -> None:
    # Worse: the attacker also re-signs every checkpoint with a key of their own and files
    # it under the real key's id. The id no longer matches the key, so it is not trusted.
    await store.write(3, 3)
    changed = (await store.body(2)).replace(b'"amount_minor":1002', b'"amount_minor":2')
    await store.rewrite_from(2, {2: changed})
    attacker = Ed25519Signer.generate()
    rows = await store.rows(audit_records)
    frontier = MerkleFrontier()
    roots = {}
    for row in sorted(rows, key=lambda r: r["seq"]):
        frontier.append(row["hash"])
        roots[row["seq"]] = frontier.root()
    statements: list[Any] = [
        update(audit_keys).values(public_key=attacker.public_key_hex),
    ]
    for checkpoint in await store.rows(audit_checkpoints):
        message = checkpoint_message(
            log="recon",
            size=checkpoint["size"],
            root=roots[checkpoint["size"]],
            time=checkpoint["time"],
            key_id=store.signer.key_id,
        )
        statements.append(
            update(audit_checkpoints)
            .where(audit_checkpoints.c.id == checkpoint["id"])
            .values(root=roots[checkpoint["size"]], signature=attacker.sign(message).hex())
        )
    await store.run(*statements)

    report = await store.verify(anchored=False)

    assert (report.first_bad_seq, report.reason) == (1, "unknown_key")
    assert "has a public key that does not hash to its id" in (report.problem or "")


async def test_last_rows_dropped_with_their_checkpoints(store: AuditStore) -> None:
    await store.write(3, 3, 3, 2)
    await store.drop_tail(keep=6)

    # The database alone is consistent again: only the anchors file remembers.
    assert (await store.verify(anchored=False)).ok
    report = await store.verify()

    assert (report.first_bad_seq, report.reason) == (7, "anchor_beyond_log")
    assert report.problem == (
        "the log has 6 records but anchor #4 is signed for size 11, so records 7 to 11 "
        "were deleted or an old backup was restored"
    )


async def test_last_rows_dropped_but_checkpoints_kept(store: AuditStore) -> None:
    await store.write(3, 3, 3)
    await store.run(delete(audit_records).where(audit_records.c.seq > 7))

    report = await store.verify(anchored=False)

    assert (report.first_bad_seq, report.reason) == (8, "truncated")


async def test_old_backup_restored(store: AuditStore) -> None:
    await store.write(3, 2)
    await store.backup("early")
    await store.write(3, 3)
    await store.restore("early")

    assert (await store.verify(anchored=False)).ok
    report = await store.verify()

    assert (report.first_bad_seq, report.reason) == (6, "anchor_beyond_log")
    assert "the log has 5 records but anchor #4 is signed for size 11" in (report.problem or "")


async def test_old_backup_restored_and_appended_to(store: AuditStore) -> None:
    await store.write(3, 2)
    await store.backup("early")
    await store.write(3, 3)
    await store.restore("early")
    store.written = 100  # new, different entries after the restore
    await store.write(4, 4)

    assert (await store.verify(anchored=False)).ok  # every checkpoint is genuine
    report = await store.verify()

    assert (report.first_bad_seq, report.reason) == (6, "anchor_mismatch")
    assert (report.problem or "").startswith("records 6 to 8 do not match anchor #3")


async def test_checkpoint_signed_by_an_unknown_key(store: AuditStore) -> None:
    await store.write(2, 2, 2)
    stranger = Ed25519Signer.generate()
    newest = max(await store.rows(audit_checkpoints), key=lambda c: c["size"])
    message = checkpoint_message(
        log="recon",
        size=newest["size"],
        root=newest["root"],
        time=newest["time"],
        key_id=stranger.key_id,
    )
    await store.run(
        update(audit_checkpoints)
        .where(audit_checkpoints.c.id == newest["id"])
        .values(key_id=stranger.key_id, signature=stranger.sign(message).hex())
    )

    report = await store.verify(anchored=False)

    assert (report.first_bad_seq, report.reason) == (5, "unknown_key")
    assert report.problem == (
        f"the checkpoint for size 6 is signed by key {stranger.key_id}, which is not in the "
        "keys table, so records 5 to 6 are not vouched for"
    )


async def test_record_appended_behind_the_logs_back(store: AuditStore) -> None:
    await store.write(2, 2)
    last = (await store.rows(audit_head))[0]["last_hash"]
    body = rfc8785.dumps({**json.loads(await store.body(4)), "seq": 5, "prev": last})
    await store.run(
        audit_records.insert().values(seq=5, body=body, hash=leaf_hash(body), event="x")
    )

    report = await store.verify(anchored=False)

    assert (report.first_bad_seq, report.reason) == (5, "unsigned_tail")


async def test_deleted_head_row(store: AuditStore) -> None:
    await store.write(2)
    await store.run(delete(audit_head))

    report = await store.verify()

    assert (report.ok, report.reason) == (False, "head")
    assert report.problem == "the log has 2 records but no head row"


# --- anchors file and bundles -------------------------------------------------------------


async def test_torn_last_anchor_line_is_ignored_and_repaired(store: AuditStore) -> None:
    await store.write(2, 2)
    with store.anchors.path.open("ab") as anchors:
        anchors.write(b'{"key_id":"0123')  # a crash in the middle of an append

    assert (await store.verify()).ok
    await store.write(1)
    assert (await store.verify()).ok
    assert len(store.anchors.read()) == 3


async def test_anchor_line_missing_only_its_newline_is_kept(store: AuditStore) -> None:
    await store.write(2, 2)
    data = store.anchors.path.read_bytes()
    store.anchors.path.write_bytes(data[:-1])  # the crash hit between line and newline

    assert len(store.anchors.read()) == 2
    await store.write(1)
    assert len(store.anchors.read()) == 3
    assert (await store.verify()).anchors == 3


async def test_anchor_lines_in_any_json_layout_are_read(store: AuditStore) -> None:
    await store.write(2, 1)
    anchors = store.anchors.read()
    # Hand-edited or re-serialized lines are still anchors; only the layout differs.
    store.anchors.path.write_text(
        "".join(json.dumps(a.to_json(), indent=None) + "\n" for a in anchors) + "\n"
    )

    assert store.anchors.read() == anchors
    assert (await store.verify()).anchors == 2


async def test_malformed_anchor_line_fails_verification(store: AuditStore) -> None:
    await store.write(2)
    with store.anchors.path.open("ab") as anchors:
        anchors.write(b"not json\n")
    await store.write(1)

    report = await store.verify()

    assert (report.ok, report.reason) == (False, "anchor_file")
    assert "line 2 is not a checkpoint" in (report.problem or "")


async def test_exported_bundle_verifies_without_the_database(
    store: AuditStore, tmp_path: Path
) -> None:
    await store.write(3, 1, 4)
    before = await store.verify()
    summary = await export_bundle(store.db, tmp_path / "bundle", anchors=store.anchors)
    await store.run(*(delete(table) for table in TABLES))
    if store.path is not None:
        await store.db.dispose()
        store.path.unlink()

    report = verify_bundle(tmp_path / "bundle")

    assert (summary.records, summary.checkpoints, summary.keys, summary.anchors) == (8, 3, 1, 3)
    assert report.ok, report.problem
    assert report.root == before.root
    assert (report.records, report.checkpoints, report.anchors) == (8, 3, 3)
    lines = (tmp_path / "bundle" / "records.jsonl").read_text().splitlines()
    first = json.loads(lines[0])
    assert set(first) == {"seq", "hash", "body"}
    assert leaf_hash(first["body"].encode()) == first["hash"]


async def test_tampered_bundle_fails(store: AuditStore, tmp_path: Path) -> None:
    await store.write(3, 3)
    async with store.db.reader.connect() as conn:
        await export_bundle(conn, tmp_path / "bundle", anchors=store.anchors)
    records = tmp_path / "bundle" / "records.jsonl"
    lines = records.read_text().splitlines()
    lines[3] = lines[3].replace("1004", "9004")
    records.write_text("\n".join(lines) + "\n")

    report = verify_bundle(tmp_path / "bundle")

    assert (report.ok, report.first_bad_seq, report.reason) == (False, 4, "hash")


async def test_bundle_with_a_missing_file_fails(store: AuditStore, tmp_path: Path) -> None:
    await store.write(1)
    async with store.db.reader.connect() as conn:
        await export_bundle(conn, tmp_path / "bundle", anchors=store.anchors)
    (tmp_path / "bundle" / "keys.json").unlink()

    report = verify_bundle(tmp_path / "bundle")

    assert (report.ok, report.reason) == (False, "bundle")


async def test_export_refuses_to_overwrite_a_bundle(store: AuditStore, tmp_path: Path) -> None:
    await store.write(1)
    async with store.db.reader.connect() as conn:
        await export_bundle(conn, tmp_path / "bundle", anchors=store.anchors)
        with pytest.raises(FileExistsError):
            await export_bundle(conn, tmp_path / "bundle", anchors=store.anchors)


# --- signing key file ---------------------------------------------------------------------


def test_signing_key_is_created_private_and_reloaded(tmp_path: Path) -> None:
    path = tmp_path / "keys" / "audit_ed25519.pem"

    created = load_or_create_signing_key(path)
    reloaded = load_or_create_signing_key(path)

    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert path.read_bytes().startswith(b"-----BEGIN PRIVATE KEY-----")
    assert reloaded.key_id == created.key_id
    assert reloaded.public_key_hex == created.public_key_hex
    assert repr(created) == f"Ed25519Signer(key_id={created.key_id!r})"
    assert not list(path.parent.glob(".*.tmp"))


@pytest.mark.parametrize("mode", [0o640, 0o604, 0o660])
def test_signing_key_readable_by_others_is_refused(tmp_path: Path, mode: int) -> None:
    path = tmp_path / "audit_ed25519.pem"
    load_or_create_signing_key(path)
    path.chmod(mode)

    with pytest.raises(SigningKeyError) as excinfo:
        load_or_create_signing_key(path)

    assert str(excinfo.value) == (
        f"signing key {path} is accessible by group or others (mode {mode:04o}); "
        f"run: chmod 600 {path}"
    )


def test_signing_key_that_is_not_ed25519_pem_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "audit_ed25519.pem"
    path.write_bytes(b"-----BEGIN PRIVATE KEY-----\nc2VjcmV0\n-----END PRIVATE KEY-----\n")
    path.chmod(0o600)

    with pytest.raises(SigningKeyError) as excinfo:
        load_or_create_signing_key(path)

    assert "c2VjcmV0" not in str(excinfo.value)
    assert excinfo.value.__cause__ is None  # the parser's message is not chained either


# --- the anchors file as evidence: missing, cut, reordered ----------------------------------
# Before this change each of these verified ("0 anchors verified", exit 0).


async def test_a_deleted_anchors_file_fails_once_the_log_has_checkpoints(
    store: AuditStore,
) -> None:
    await store.write(2, 3)
    store.anchors.path.unlink()

    report = await store.verify()

    assert (report.ok, report.reason, report.first_bad_seq) == (False, "anchors_missing", None)
    assert report.problem == (
        f"the anchors file {store.anchors.path} is missing, but the log has 2 signed "
        "checkpoints up to size 5, each anchored when it was written: the file was deleted "
        "or moved; verify with --no-anchors to check the log without it"
    )
    skipped = await store.verify(anchored=False)
    assert (skipped.ok, skipped.anchors_checked) == (True, False)
    assert "anchors NOT checked (--no-anchors)" in skipped.summary()


async def test_an_empty_log_needs_no_anchors_file(store: AuditStore) -> None:
    report = await store.verify()

    assert report.ok, report.problem
    assert report.summary().startswith("OK: 0 records, 0 checkpoints, 0 anchors verified")


async def test_a_cut_anchors_file_fails(store: AuditStore) -> None:
    await store.write(3, 3, 3, 2)
    lines = store.anchors.path.read_bytes().splitlines(keepends=True)
    store.anchors.path.write_bytes(b"".join(lines[:2]))

    report = await store.verify()

    assert (report.ok, report.reason, report.first_bad_seq) == (False, "anchors_truncated", 7)
    assert (report.problem or "").startswith(
        f"the anchors file {store.anchors.path} ends at size 6, but the log has a checkpoint "
        "signed for size 11: the file was cut after size 6"
    )
    store.anchors.path.write_bytes(b"")
    emptied = await store.verify()
    assert (emptied.reason, emptied.first_bad_seq) == ("anchors_truncated", None)
    assert "holds no anchor of this log" in (emptied.problem or "")


async def test_a_reordered_anchors_file_fails(store: AuditStore) -> None:
    await store.write(2, 2, 2)
    lines = store.anchors.path.read_bytes().splitlines(keepends=True)
    store.anchors.path.write_bytes(lines[1] + lines[0] + lines[2])

    report = await store.verify()

    assert (report.ok, report.reason) == (False, "anchors_reordered")
    assert report.problem == (
        "anchor #2 (size 2) comes after anchor #1 (size 4) in the anchors file, so the file "
        "was reordered or edited (anchors are only ever appended in size order)"
    )


async def test_a_log_resigned_with_a_new_key_fails_without_its_anchors(
    store: AuditStore, tmp_path: Path
) -> None:
    # The attack of the issue: rewrite a record, re-sign every checkpoint with a key of
    # one's own (added to the keys table), and delete the anchors that would expose it.
    await store.write(3, 3)
    changed = (await store.body(2)).replace(b'"amount_minor":1002', b'"amount_minor":2')
    await store.rewrite_from(2, {2: changed})
    attacker = load_or_create_signing_key(tmp_path / "attacker.pem")
    frontier = MerkleFrontier()
    roots = {}
    for row in sorted(await store.rows(audit_records), key=lambda r: r["seq"]):
        frontier.append(row["hash"])
        roots[row["seq"]] = frontier.root()
    statements: list[Any] = [
        audit_keys.insert().values(
            key_id=attacker.key_id,
            public_key=attacker.public_key_hex,
            algorithm="ed25519",
            created_at=T0,
        )
    ]
    for checkpoint in await store.rows(audit_checkpoints):
        size = checkpoint["size"]
        message = checkpoint_message(
            log="recon",
            size=size,
            root=roots[size],
            time=checkpoint["time"],
            key_id=attacker.key_id,
        )
        statements.append(
            update(audit_checkpoints)
            .where(audit_checkpoints.c.id == checkpoint["id"])
            .values(
                root=roots[size], key_id=attacker.key_id, signature=attacker.sign(message).hex()
            )
        )
    await store.run(*statements)
    assert (await store.verify(anchored=False)).ok  # the database alone is consistent
    store.anchors.path.unlink()

    report = await store.verify()

    assert (report.ok, report.reason) == (False, "anchors_missing")


async def test_a_restored_backup_fails_once_the_anchors_file_is_deleted(store: AuditStore) -> None:
    await store.write(3, 2)
    await store.backup("early")
    await store.write(3, 3)
    await store.restore("early")
    store.anchors.path.unlink()

    report = await store.verify()

    assert (report.ok, report.reason) == (False, "anchors_missing")


async def test_an_older_checkpoint_is_not_appended_after_a_newer_one(store: AuditStore) -> None:
    # Two processes: one commits size 3, the other size 5 and anchors it first. The
    # later anchor covers the earlier state, so the file stays in size order.
    await store.write(3, 2)
    anchored = store.anchors.read()
    store.anchors.path.write_bytes(b"")
    store.anchors.append(anchored[1])
    store.anchors.append(anchored[0])

    assert [a.size for a in store.anchors.read()] == [5]
    assert (await store.verify()).ok


async def test_bundle_anchors_follow_the_same_rule(store: AuditStore, tmp_path: Path) -> None:
    await store.write(2, 2)
    await export_bundle(store.db, tmp_path / "bundle", anchors=store.anchors)
    assert verify_bundle(tmp_path / "bundle").ok
    copy = tmp_path / "bundle" / "anchors.jsonl"
    lines = copy.read_bytes().splitlines(keepends=True)

    copy.write_bytes(lines[0])
    assert verify_bundle(tmp_path / "bundle").reason == "anchors_truncated"
    copy.write_bytes(lines[1] + lines[0])
    assert verify_bundle(tmp_path / "bundle").reason == "anchors_reordered"
    copy.unlink()
    missing = verify_bundle(tmp_path / "bundle")
    assert (missing.ok, missing.reason) == (False, "anchors_missing")
    assert f"the anchors file {copy} is missing" in (missing.problem or "")
    skipped = verify_bundle(tmp_path / "bundle", check_anchors=False)
    assert (skipped.ok, skipped.anchors_checked) == (True, False)


async def test_a_desk_without_its_anchors_file_exports_a_bundle_that_says_so(
    store: AuditStore, tmp_path: Path
) -> None:
    await store.write(2)
    store.anchors.path.unlink()

    summary = await export_bundle(store.db, tmp_path / "bundle", anchors=store.anchors)

    assert summary.anchors == 0
    assert not (tmp_path / "bundle" / "anchors.jsonl").exists()
    assert verify_bundle(tmp_path / "bundle").reason == "anchors_missing"

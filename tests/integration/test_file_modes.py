"""The desk's files are created readable by their owner only (mode 0600), whatever the
umask, like the signing key already was: ``recon.db`` and the anchors file were created
0644 and ``policy.yml`` followed the umask. Files that already exist keep their mode;
``init`` (and ``serve``, in its log) name the ones group or others can read."""

from __future__ import annotations

import os
import stat
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from click.testing import CliRunner
from sqlalchemy import text

from bot.cli import main
from domain.audit.checkpoints import Checkpoint, sign_checkpoint
from store.audit.anchors import AnchorFile
from store.audit.signer import Ed25519Signer
from store.engine import create_database, sqlite_file

PERMISSIVE_UMASKS = [0o022, 0o002, 0o000]


@pytest.fixture(params=PERMISSIVE_UMASKS, ids=lambda u: f"umask{u:03o}")
def umask(request: pytest.FixtureRequest) -> Iterator[int]:
    old = os.umask(request.param)
    try:
        yield request.param
    finally:
        os.umask(old)


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_init_creates_policy_database_and_key_private(desk_dir: Path, umask: int) -> None:
    result = CliRunner().invoke(main, ["init"], catch_exceptions=False)

    assert result.exit_code == 0, result.output
    for name in ("policy.yml", "recon.db", "audit_ed25519.pem"):
        assert mode(desk_dir / name) == 0o600, name
    assert "warning" not in result.output


async def test_a_new_sqlite_store_and_its_wal_files_are_private(tmp_path: Path, umask: int) -> None:
    path = tmp_path / "store.db"
    database = create_database(f"sqlite+aiosqlite:///{path}")
    try:
        async with database.writer.begin() as conn:
            await conn.execute(text("CREATE TABLE t (x INTEGER)"))
            await conn.execute(text("INSERT INTO t VALUES (1)"))
        for file in [path, tmp_path / "store.db-wal", tmp_path / "store.db-shm"]:
            assert mode(file) == 0o600, file.name
    finally:
        await database.dispose()


async def test_an_existing_sqlite_store_keeps_its_mode(tmp_path: Path) -> None:
    path = tmp_path / "store.db"
    path.touch()
    path.chmod(0o640)
    database = create_database(f"sqlite+aiosqlite:///{path}")
    async with database.writer.begin() as conn:
        await conn.execute(text("CREATE TABLE t (x INTEGER)"))
    await database.dispose()
    assert mode(path) == 0o640


def test_sqlite_file_names_only_plain_sqlite_paths(tmp_path: Path) -> None:
    assert sqlite_file(f"sqlite+aiosqlite:///{tmp_path}/a.db") == tmp_path / "a.db"
    assert sqlite_file("sqlite+aiosqlite:///relative.db") == Path("relative.db")
    assert sqlite_file("postgresql+asyncpg://u@h/db") is None
    assert sqlite_file("sqlite+aiosqlite:///file:x.db?mode=ro&uri=true") is None


def _checkpoint() -> Checkpoint:
    signer = Ed25519Signer.generate()
    now = datetime(2026, 1, 1, tzinfo=UTC)
    return sign_checkpoint(signer, log="recon-bot", size=1, root="0" * 64, time=now)


def test_the_anchors_file_is_created_private(tmp_path: Path, umask: int) -> None:
    anchors = AnchorFile(tmp_path / "deeper" / "anchors.jsonl")

    anchors.append(_checkpoint())

    assert mode(anchors.path) == 0o600
    assert len(anchors.read()) == 1


def test_an_existing_anchors_file_keeps_its_mode(tmp_path: Path) -> None:
    anchors = AnchorFile(tmp_path / "anchors.jsonl")
    anchors.path.touch()
    anchors.path.chmod(0o644)

    anchors.append(_checkpoint())

    assert mode(anchors.path) == 0o644


def test_init_keeps_existing_modes_and_names_the_exposed_files(desk_dir: Path) -> None:
    runner = CliRunner()
    assert runner.invoke(main, ["init"]).exit_code == 0
    (desk_dir / "policy.yml").chmod(0o644)
    (desk_dir / "recon.db").chmod(0o664)
    (desk_dir / "audit_anchors.jsonl").write_text("")
    (desk_dir / "audit_anchors.jsonl").chmod(0o604)

    result = runner.invoke(main, ["init"], catch_exceptions=False)

    assert result.exit_code == 0, result.output
    assert mode(desk_dir / "policy.yml") == 0o644
    assert mode(desk_dir / "recon.db") == 0o664
    warnings = [line for line in result.output.splitlines() if line.startswith("warning:")]
    assert warnings == [
        "warning: policy.yml is accessible by group or others (mode 0644); "
        "run: chmod 600 policy.yml",
        "warning: audit_anchors.jsonl is accessible by group or others (mode 0604); "
        "run: chmod 600 audit_anchors.jsonl",
        "warning: recon.db is accessible by group or others (mode 0664); run: chmod 600 recon.db",
    ]


def test_init_force_policy_rewrites_the_policy_in_place(desk_dir: Path) -> None:
    runner = CliRunner()
    assert runner.invoke(main, ["init"]).exit_code == 0
    (desk_dir / "policy.yml").write_text("# edited\n")
    (desk_dir / "policy.yml").chmod(0o640)

    result = runner.invoke(main, ["init", "--force-policy"], catch_exceptions=False)

    assert result.exit_code == 0, result.output
    assert "written" in result.output
    assert (desk_dir / "policy.yml").read_text().startswith("#")
    assert "edited" not in (desk_dir / "policy.yml").read_text()
    assert mode(desk_dir / "policy.yml") == 0o640

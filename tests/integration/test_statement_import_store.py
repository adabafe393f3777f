"""The statement use cases on the SQL store, SQLite and PostgreSQL alike: a streamed
import stores each statement before the next is read, re-imports are unchanged or new
revisions, a bad statement leaves the others, decisions and a re-parse from the kept
(compressed) original work, and the audit trail names each step."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import timedelta
from decimal import Decimal
from pathlib import Path

import pytest

from domain.permissions import OPERATOR
from domain.statements.records import Stage1Status
from domain.statements.stage1 import Correct
from domain.usecases.statements import Statements
from store.audit.log import init_audit
from store.audit.signer import load_or_create_signing_key
from store.engine import Database
from store.migrate import upgrade
from store.statements import statement_history
from store.uow import SqlUnitOfWorkFactory
from tests.builders import make_policy
from tests.fakes import T0
from tests.statement_files import (
    JsonStatementParser,
    line,
    statement,
    statement_file,
    statement_policy_overrides,
)
from tests.unit.test_statement_usecases import DAY2

LATER = T0 + timedelta(hours=1)


@pytest.fixture
async def cases(database: Database, tmp_path: Path) -> AsyncIterator[Statements]:
    await upgrade(database)
    signer = load_or_create_signing_key(tmp_path / "audit.pem")
    async with database.writer.begin() as conn:
        await init_audit(conn, signer=signer, now=T0)
    loaded = make_policy(**statement_policy_overrides())
    yield Statements(
        uow=SqlUnitOfWorkFactory(database=database, signer=signer, anchors=None),
        policy=lambda: loaded,
        parser=JsonStatementParser(),
    )


async def _ids(cases: Statements) -> list[str | None]:
    return [s.statement_id for s, _ in await cases.listing(viewer=OPERATOR)]


async def _load(cases: Statements, data: bytes, name: str = "bank.json") -> dict[str, object]:
    stream = JsonStatementParser().stream(data)
    report = await cases.import_file(file_name=name, data=data, result=stream, now=T0)
    return report.to_json()


async def test_import_re_import_and_a_changed_re_import(cases: Statements) -> None:
    data = statement_file(statement(), DAY2)
    assert await _load(cases, data) == {
        "files": 1, "statements": 2, "imported": 2, "unchanged": 0, "revised": 0, "rejected": [],
    }  # fmt: skip
    assert (await _load(cases, data))["unchanged"] == 2
    changed = statement(closing="1150.01", lines=[line("200.01"), line("-50.00")])
    assert (await _load(cases, statement_file(changed), "corrected.json"))["revised"] == 1
    first = await cases.get(1, viewer=OPERATOR)
    assert (first.revision, first.file_name, first.stage1_status) == (
        2, "corrected.json", Stage1Status.PENDING_REVIEW,
    )  # fmt: skip
    assert [ln.amount for ln in first.lines] == [Decimal("200.01"), Decimal("-50.00")]
    assert await _ids(cases) == ["STMT-1", "STMT-2"]


async def test_a_bad_statement_is_rejected_alone(cases: Statements) -> None:
    stranger = statement(account="DE89370400440532013000", statement_id="X-1")
    report = await _load(cases, statement_file(stranger, statement(), DAY2))
    assert (report["statements"], report["imported"]) == (3, 2)
    assert report["rejected"] == [
        {"file": "bank.json", "statement": "X-1", "where": "statement 1",
         "error": "account DE89…3000 is not one the policy knows (statements.accounts)"},
    ]  # fmt: skip
    assert await _ids(cases) == ["STMT-1", "STMT-2"]


async def test_decisions_and_a_reparse_of_the_kept_original(
    cases: Statements, database: Database
) -> None:
    broken = statement(closing="1150.10")
    await _load(cases, statement_file(broken))
    edited = await cases.edit(
        statement_id=1, change=Correct(line=1, field="amount", value="200.10"),
        actor="U0ALICE", now=T0,
    )  # fmt: skip
    assert edited.checks.chain_ok is True
    approved = await cases.approve(statement_id=1, actor="U0BOB", now=T0)
    assert approved.stage1_status is Stage1Status.APPROVED
    again = await cases.reparse(statement_id=1, now=LATER)
    assert (again.revision, again.stage1_status) == (2, Stage1Status.PENDING_REVIEW)
    assert again.checks.chain_ok is False  # the original as the bank sent it
    rejected = await cases.reject(statement_id=1, actor="U0ALICE", reason="wrong", now=LATER)
    assert rejected.stage1_status is Stage1Status.REJECTED
    async with database.reader.connect() as conn:
        events = [r["event"] for r in await statement_history(conn, 1)]
    assert events == [
        "statement.imported", "statement.edited", "statement.approved",
        "statement.revised", "statement.rejected",
    ]  # fmt: skip

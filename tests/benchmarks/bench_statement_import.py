"""Benchmark: importing bank statements through the use case and the SQLite store.

Generates one file of the JSON test format (``tests/statement_files.py``) with
``--statements`` statements of ``--lines`` lines in all, then times, in this process:

- the bare parse of the file (the floor: what any import must spend reading it);
- ``Statements.import_file`` into a fresh, migrated SQLite store (checks, the statement
  rows, the bulk-inserted lines, the original bytes and the audit records, one
  transaction per statement);

and prints lines/s for both, the ratio, and the peak RSS of the process. With
``--file PATH`` it reads a real bank file instead, through the format registry
(``statements.parse``, once the format adapters are merged).

Usage::

    python -m tests.benchmarks.bench_statement_import --lines 100000 --statements 10
    python -m tests.benchmarks.bench_statement_import --file big.xml
"""

from __future__ import annotations

import argparse
import asyncio
import resource
import tempfile
import time
from decimal import Decimal
from pathlib import Path
from typing import Any

from domain.permissions import OPERATOR
from domain.ports import StatementParser
from domain.usecases.statements import Statements
from store.audit.log import init_audit
from store.audit.signer import load_or_create_signing_key
from store.engine import create_database
from store.migrate import upgrade
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


def generate(lines: int, statements: int) -> bytes:
    """A file of ``statements`` daily EUR statements, ``lines`` lines in all, chains holding."""
    per = max(1, lines // statements)
    raws: list[dict[str, Any]] = []
    balance = Decimal("100000.00")
    for n in range(statements):
        day = f"2025-{1 + n // 28:02d}-{1 + n % 28:02d}"
        amounts = [Decimal(i % 97 - 48) + Decimal(i % 100) / 100 for i in range(per)]
        body = [
            line(str(amount), day, reference=f"INV-{n}-{i}", counterparty=f"Customer {i % 500}",
                 description="payment received")
            for i, amount in enumerate(amounts)
        ]  # fmt: skip
        closing = balance + sum(amounts, Decimal(0))
        raw = statement(
            statement_id=f"B-{n}",
            sequence=str(n),
            start=day,
            end=day,
            opening=str(balance),
            closing=str(closing),
            lines=body,
        )
        raws.append(raw)
        balance = closing
    return statement_file(*raws)


async def run(data: bytes, parser: StatementParser, name: str, *, floor: bool = True) -> None:
    """Times the floor (unless ``floor`` is off: then the peak RSS is the import's own) and
    the import."""
    started = time.perf_counter()
    result = parser(data)
    parse_s = time.perf_counter() - started
    count = sum(len(s.lines) for s in result.statements)
    known = {(s.account, s.currency) for s in result.statements}
    count_statements = len(result.statements)
    if not floor:
        del result
    with tempfile.TemporaryDirectory() as tmp:
        db = create_database(f"sqlite+aiosqlite:///{tmp}/bench.db")
        await upgrade(db)
        signer = load_or_create_signing_key(Path(tmp) / "audit.pem")
        async with db.writer.begin() as conn:
            await init_audit(conn, signer=signer, now=T0)
        # Every account the file states is one the policy knows (a real file's accounts
        # are not the test policy's): the benchmark measures imports, not refusals.
        accounts = [
            {"account": account, "entity": "ACME-BENCH", "currency": currency,
             "gl_account": "1100", "team": "treasury"}
            for account, currency in sorted(known)
        ]  # fmt: skip
        loaded = make_policy(**statement_policy_overrides(accounts=accounts))
        cases = Statements(
            uow=SqlUnitOfWorkFactory(database=db, signer=signer, anchors=None),
            policy=lambda: loaded,
            parser=parser,
        )
        started = time.perf_counter()
        again = parser(data)
        report = await cases.import_file(file_name=name, data=data, result=again, now=T0)
        total_s = time.perf_counter() - started
        listed = await cases.listing(viewer=OPERATOR, limit=100_000)
        holding = sum(1 for s, _ in listed if s.checks.chain_ok)
        await db.dispose()
    rss_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"file: {name}, {len(data) / 1e6:.1f} MB, {count_statements} statements, "
          f"{count} lines")  # fmt: skip
    print(f"imported {report.imported} ({holding} with the chain holding), "
          f"rejected {len(report.rejected)}, "
          f"approved by policy {report.auto_approved}")  # fmt: skip
    print(f"bare parse:          {parse_s:8.2f} s  {count / parse_s:12,.0f} lines/s")
    print(f"parse + import:      {total_s:8.2f} s  {count / total_s:12,.0f} lines/s")
    print(f"ratio (floor/total): {parse_s / total_s:8.2f}")
    print(f"peak RSS:            {rss_mb:8.0f} MB")


def main() -> None:
    args = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    args.add_argument("--lines", type=int, default=100_000)
    args.add_argument("--statements", type=int, default=10)
    args.add_argument("--file", type=Path, help="A real bank file (through statements.parse).")
    args.add_argument(
        "--import-only",
        action="store_true",
        help="Drop the floor's parse before importing, so the peak RSS is the import's own.",
    )
    opts = args.parse_args()
    if opts.file is not None:
        from bot.container import statement_parser

        asyncio.run(
            run(
                opts.file.read_bytes(),
                statement_parser(),
                opts.file.name,
                floor=not opts.import_only,
            )
        )
        return
    data = generate(opts.lines, opts.statements)
    asyncio.run(run(data, JsonStatementParser(), "generated.json"))


if __name__ == "__main__":
    main()

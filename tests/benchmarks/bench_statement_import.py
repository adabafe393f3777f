"""Benchmark: importing bank files statement by statement through the use case and SQLite.

By default it generates, in one run, a camt.053.001.08 file of about 100 MB
(``--camt-entries``, 140,000 booked entries in ``--camt-statements`` statements, from
``bench_camt.generate``) and an MT940 file of ``--mt940-lines`` ``:61:`` lines (100,000,
in daily statements of ``--mt940-per-statement`` lines, from ``bench_mt940.generate``);
``--file PATH`` (repeatable) measures real files instead. For each file, every job runs
in a fresh subprocess, so that each peak RSS is that job's own:

- ``read``: only loads the code (no job reads the file whole: they read it from disk in
  slices, as ``recon-bot statements import`` does): the RSS every job starts from;
- ``parse``: the bare parse, the floor: ``statements.stream`` consumed statement by
  statement and each let go, as the import reads it, with no store;
- ``import``: ``Statements.import_file`` over ``statements.stream`` of the open file (its
  original packed first, ``Original.read``) into a fresh, migrated SQLite file (small
  statements in batches of one transaction; checks, the statement row, its lines in bulk
  inserts of at most 10,000, the audit records; the original once);
- ``profile``: the import again under cProfile (slower; its time is not reported).

It prints, per file: bare parse seconds, import seconds (parse included), the ratio
parse/import and entries/s, each by the wall clock and by CPU time (all threads: on a
shared machine the wall clock counts the neighbours too), the peak RSS (``VmHWM``) of
the import and of the bare parse, and the top functions of the import by own time and
by cumulative time. Prints numbers only; asserts nothing.

Measured on 2 cores shared with other jobs (CPU seconds, then the wall clock), each job
reading the file from disk in slices as ``recon-bot statements import`` does:

file                               bare parse    import        ratio  peak RSS  at start
camt.053 99.9 MB, 140,000 entries,
  10 statements                    10.9 / 15.4   14.7 / 26.4   0.74   130 MB    99 MB
  the same in 1 statement          12.2 / 12.4   15.1 / 15.4   0.81   238 MB    97 MB
MT940 14.0 MB, 100,000 lines,
  1,000 statements                  1.9 / 3.3    10.1 / 14.6   0.19   139 MB    96 MB

(bare parse peak RSS: 40, 134 and 56 MB; the code alone: 51 MB). The file is never held
whole: RSS where the import starts is the code and the store, and the one-statement file
peaks at one statement of 140,000 parsed lines (about 700 bytes a line: its Decimal, two
dates shared, five short strings and the ``where``) plus the rows being inserted. Where
the time goes: in camt.053 the parse (the walk over each entry's elements,
``_Fields._walk``, then libxml2) is four fifths of the import; in MT940 files of
100-line statements, batches of 50 statements share a transaction and their rates are
read once, and what remains per statement is about eight queries (identity, previous and
following statement, the inserts of statement, lines, audit record and outbox) through
aiosqlite's thread, about 9 ms of CPU a statement (one transaction per statement:
19.3 s of CPU; batched: 11.5 s, in the same run).

Usage::

    python -m tests.benchmarks.bench_statement_import
    python -m tests.benchmarks.bench_statement_import --camt-statements 1
    python -m tests.benchmarks.bench_statement_import --file big.xml --file month.sta
"""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import io
import json
import pstats
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any


def _peak_mb() -> float:
    # VmHWM, not ru_maxrss: Linux carries ru_maxrss over exec from the forking parent,
    # which holds the generated files; VmHWM is this program's own peak.
    status = Path("/proc/self/status").read_text()
    kib = next(int(ln.split()[1]) for ln in status.splitlines() if ln.startswith("VmHWM:"))
    return kib / 1024


def _rss_mb() -> float:
    status = Path("/proc/self/status").read_text()
    kib = next(int(ln.split()[1]) for ln in status.splitlines() if ln.startswith("VmRSS:"))
    return kib / 1024


def _parse(path: Path) -> int:
    import statements

    entries = 0
    with path.open("rb") as file:
        for item in statements.stream(file).items:
            entries += len(getattr(item, "lines", ()))
            del item
    return entries


async def _import(path: Path, profiler: cProfile.Profile | None = None) -> dict[str, Any]:
    import statements
    from domain.statements.records import Original
    from domain.usecases.statements import Statements
    from store.audit.log import init_audit
    from store.audit.signer import load_or_create_signing_key
    from store.engine import create_database
    from store.migrate import upgrade
    from store.uow import SqlUnitOfWorkFactory
    from tests.builders import make_policy
    from tests.fakes import T0
    from tests.statement_files import statement_policy_overrides

    # Every account the file states is one the policy knows (a real file's accounts are
    # not the test policy's): the benchmark measures imports, not refusals. The accounts
    # come from a first pass over the headers only (counted in no time).
    known = _accounts(path)
    with tempfile.TemporaryDirectory() as tmp:
        db = create_database(f"sqlite+aiosqlite:///{tmp}/bench.db")
        await upgrade(db)
        signer = load_or_create_signing_key(Path(tmp) / "audit.pem")
        async with db.writer.begin() as conn:
            await init_audit(conn, signer=signer, now=T0)
        accounts = [
            {"account": account, "entity": "ACME-BENCH", "currency": currency,
             "gl_account": "1100", "team": "treasury"}
            for account, currency in sorted(known)
        ]  # fmt: skip
        loaded = make_policy(**statement_policy_overrides(accounts=accounts))
        cases = Statements(
            uow=SqlUnitOfWorkFactory(database=db, signer=signer, anchors=None),
            policy=lambda: loaded,
        )
        ready_mb = _rss_mb()  # the code and the store open: where the import starts
        if profiler is not None:
            profiler.enable()
        started, cpu = time.perf_counter(), time.process_time()
        with path.open("rb") as file:  # as the CLI reads it: packed, then parsed, in slices
            original = Original.read(file)
            file.seek(0)
            report = await cases.import_file(
                file_name=path.name, data=original, result=statements.stream(file), now=T0
            )
        seconds, cpu = time.perf_counter() - started, time.process_time() - cpu
        if profiler is not None:
            profiler.disable()
        async with db.reader.connect() as conn:
            from sqlalchemy import func, select

            from store.tables import statement_lines

            lines = int(
                (await conn.execute(select(func.count()).select_from(statement_lines))).scalar_one()
            )
        await db.dispose()
    return {
        "seconds": seconds,
        "cpu": cpu,
        "ready_mb": ready_mb,
        "entries": lines,
        "statements": report.statements,
        "imported": report.imported,
        "rejected": [r.to_json() for r in report.rejected[:3]],
    }


def _accounts(path: Path) -> set[tuple[str, str]]:
    """(account, currency) of every statement, from the stream (then let go)."""
    import statements

    found: set[tuple[str, str]] = set()
    with path.open("rb") as file:
        for item in statements.stream(file).items:
            account, currency = getattr(item, "account", None), getattr(item, "currency", None)
            if account is not None and currency is not None:
                found.add((account, currency))
            del item
    return found


def child(job: str, path: Path) -> None:
    """One job in this process; prints one JSON line."""
    out: dict[str, Any] = {"job": job}
    if job == "read":
        import statements  # noqa: F401  (the code every other job loads)
        from domain.usecases import statements as _usecase  # noqa: F401
    elif job == "parse":
        started, cpu = time.perf_counter(), time.process_time()
        out["entries"] = _parse(path)
        out["seconds"], out["cpu"] = time.perf_counter() - started, time.process_time() - cpu
    elif job == "import":
        out.update(asyncio.run(_import(path)))
    elif job == "profile":
        profiler = cProfile.Profile()
        asyncio.run(_import(path, profiler))
        text = io.StringIO()
        stats = pstats.Stats(profiler, stream=text)
        stats.sort_stats("tottime").print_stats(12)
        stats.sort_stats("cumulative").print_stats(18)
        out["profile"] = text.getvalue()
    out["peak_mb"] = _peak_mb()
    print(json.dumps(out))


def run(job: str, path: Path) -> dict[str, Any]:
    """Runs one job in a fresh interpreter."""
    done = subprocess.run(
        [sys.executable, "-m", "tests.benchmarks.bench_statement_import", "--child", job,
         str(path)],
        check=True, capture_output=True, text=True,
    )  # fmt: skip
    result: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    return result


def _profile_lines(text: str) -> list[str]:
    keep: list[str] = []
    for line in text.splitlines():
        stripped = line.strip()
        if not stripped or stripped.startswith(("Ordered by", "List reduced")):
            continue
        if "function calls" in stripped:
            continue
        keep.append("    " + line.rstrip().replace(str(Path.cwd()) + "/", ""))
    return keep


def report(path: Path, *, profile: bool) -> None:
    """Measures one file and prints its numbers."""
    size = path.stat().st_size / 1e6
    read = run("read", path)
    parse = run("parse", path)
    imported = run("import", path)
    entries = imported["entries"]
    print(f"== {path.name}: {size:.1f} MB, {imported['statements']} statements, "
          f"{entries:,} entries imported ({parse['entries']:,} parsed), "
          f"rejected {len(imported['rejected'])} {imported['rejected'] or ''}")  # fmt: skip
    # CPU seconds (every thread of the process: the SQLite driver's too) next to the
    # wall clock: on a shared machine the wall clock measures the neighbours as well.
    floor_rate = parse["entries"] / parse["seconds"]
    import_rate = entries / imported["seconds"]
    print(
        f"bare parse (floor): {parse['seconds']:8.2f} s  {floor_rate:10,.0f} entries/s"
        f"   cpu {parse['cpu']:8.2f} s  {parse['entries'] / parse['cpu']:10,.0f} entries/s"
    )
    print(
        f"import:             {imported['seconds']:8.2f} s  {import_rate:10,.0f} entries/s"
        f"   cpu {imported['cpu']:8.2f} s  {entries / imported['cpu']:10,.0f} entries/s"
    )
    print(
        f"ratio parse/import: {parse['seconds'] / imported['seconds']:8.2f}"
        f"   cpu {parse['cpu'] / imported['cpu']:8.2f}"
    )
    print(f"peak RSS: import {imported['peak_mb']:.0f} MB (RSS {imported['ready_mb']:.0f} MB "
          f"when it starts: code, store), bare parse {parse['peak_mb']:.0f} MB, "
          f"parsers loaded {read['peak_mb']:.0f} MB")  # fmt: skip
    if profile:
        print("where the import's time goes (cProfile, own time, then cumulative):")
        print("\n".join(_profile_lines(run("profile", path)["profile"])))


def main() -> None:
    args = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    args.add_argument("--file", type=Path, action="append", help="A real bank file (repeatable).")
    args.add_argument("--camt-entries", type=int, default=140_000)
    args.add_argument("--camt-statements", type=int, default=10)
    args.add_argument("--mt940-lines", type=int, default=100_000)
    args.add_argument("--mt940-per-statement", type=int, default=100)
    args.add_argument("--no-profile", action="store_true", help="Skip the cProfile run.")
    args.add_argument("--child", nargs=2, metavar=("JOB", "PATH"), help=argparse.SUPPRESS)
    opts = args.parse_args()
    if opts.child is not None:
        child(opts.child[0], Path(opts.child[1]))
        return
    if opts.file:
        for path in opts.file:
            report(path, profile=not opts.no_profile)
        return
    from tests.benchmarks import bench_camt, bench_mt940

    with tempfile.TemporaryDirectory() as tmp:
        camt = Path(tmp) / "generated_camt053.xml"
        camt.write_bytes(bench_camt.generate(opts.camt_entries, opts.camt_statements))
        mt940 = Path(tmp) / "generated_mt940.sta"
        mt940.write_bytes(bench_mt940.generate(opts.mt940_lines, opts.mt940_per_statement))
        for path in (camt, mt940):
            report(path, profile=not opts.no_profile)


if __name__ == "__main__":
    main()

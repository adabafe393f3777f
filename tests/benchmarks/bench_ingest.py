"""Benchmark: ``recon-bot ingest`` end to end vs a stdlib-sqlite3 floor, in one run.

Usage:
    python -m tests.benchmarks.bench_ingest --items 100000

Generates realistic items (CSV), runs ``recon-bot init`` and ``recon-bot ingest`` as a
user would (a subprocess, so start-up, parsing, validation, routing, journal entries,
audit hashing and signing all count), then times the floor: the same file parsed with
``csv`` and written with stdlib ``sqlite3`` as item rows plus as many audit rows as ours
wrote (SHA-256 chained JSON), in batched transactions with the same durability (WAL,
synchronous=FULL). A second floor writes the same rows into recon-bot's own tables
and indexes. The three run interleaved, ``--rounds`` times (3 by default, each from empty
databases), so a slow spell of a shared machine hits each alike; medians are reported.
Prints items/s for all three, the ratios, the peak RSS of the ingest
process tree (a 100,000-item file is parsed in a second process) and ``audit verify``
throughput on the resulting log: past start-up (the same command on an empty log, timed
right after each run, is subtracted) and for the whole process. Targets (from the issue):
ours >= 25% of the floor, peak RSS < 300 MB, verify >= 100,000 records/s.
"""

from __future__ import annotations

import argparse
import csv
import hashlib
import json
import os
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

from tests.benchmarks.generate_items import generate, write_csv

BATCH = 1000


def _run(cmd: list[str], cwd: Path) -> tuple[float, str]:
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    start = time.perf_counter()
    proc = subprocess.run(cmd, cwd=cwd, env=env, capture_output=True, text=True, check=False)
    elapsed = time.perf_counter() - start
    if proc.returncode not in (0, 2):
        sys.stderr.write(proc.stdout + proc.stderr)
        raise SystemExit(f"{' '.join(cmd)} failed with {proc.returncode}")
    return elapsed, proc.stdout


def _tree_rss_kib(pid: int, high_water: dict[int, int]) -> int:
    """Resident memory of a process and all its descendants now, from /proc (Linux).

    Also records each process's own peak (VmHWM, kept by the kernel since its exec) in
    ``high_water``: unlike the 20 ms samples it misses no short peak, and unlike
    ``ru_maxrss`` it does not count the parent's memory a child had before its exec.
    """
    total, todo = 0, [pid]
    while todo:
        current = todo.pop()
        try:
            status = Path(f"/proc/{current}/status").read_text()
            children = Path(f"/proc/{current}/task/{current}/children").read_text().split()
        except OSError:  # it exited meanwhile
            continue
        for line in status.splitlines():
            if line.startswith("VmRSS:"):
                total += int(line.split()[1])
            elif line.startswith("VmHWM:"):
                high_water[current] = max(high_water.get(current, 0), int(line.split()[1]))
        todo.extend(int(c) for c in children)
    return total


def _run_sampled(cmd: list[str], cwd: Path) -> tuple[float, str, float, float]:
    """Runs ``cmd`` like :func:`_run`; also its process tree's memory (MB): the peak of
    the tree's RSS sampled every 20 ms, and the sum of each process's own peak (an upper
    bound: the two processes need not peak at the same moment).

    ingest parses in a second process for big files, so the peak of the largest
    single process would understate what the run needs.
    """
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    peak = 0
    high_water: dict[int, int] = {}
    start = time.perf_counter()
    with subprocess.Popen(
        cmd, cwd=cwd, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    ) as proc:
        done = threading.Event()

        def sample() -> None:
            nonlocal peak
            while not done.wait(0.02):
                peak = max(peak, _tree_rss_kib(proc.pid, high_water))

        sampler = threading.Thread(target=sample, daemon=True)
        sampler.start()
        out, err = proc.communicate()
        done.set()
        sampler.join()
    elapsed = time.perf_counter() - start
    if proc.returncode not in (0, 2):
        sys.stderr.write(out + err)
        raise SystemExit(f"{' '.join(cmd)} failed with {proc.returncode}")
    return elapsed, out, peak / 1024, sum(high_water.values()) / 1024


def floor(csv_path: Path, db_path: Path, audit_rows: int) -> tuple[float, int]:
    """The floor: parse, write item rows and chained audit rows, batched. Returns (s, items)."""
    start = time.perf_counter()
    conn = sqlite3.connect(db_path, isolation_level=None)
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("PRAGMA synchronous=FULL")
    with csv_path.open(newline="", encoding="utf-8") as fh:
        reader = csv.DictReader(fh)
        columns = list(reader.fieldnames or [])
        conn.execute(
            "CREATE TABLE items (id INTEGER PRIMARY KEY, "
            + ", ".join(f'"{c}" TEXT' for c in columns)
            + ")"
        )
        conn.execute("CREATE TABLE audit (seq INTEGER PRIMARY KEY, body BLOB, hash TEXT)")
        rows = list(_batches(reader, columns))
    total_items = sum(len(b) for b in rows)
    per_item = audit_rows / max(total_items, 1)
    placeholders = ", ".join("?" for _ in columns)
    seq, prev, owed = 0, "0" * 64, 0.0
    for batch in rows:
        conn.execute("BEGIN IMMEDIATE")
        conn.executemany(f"INSERT INTO items VALUES (NULL, {placeholders})", batch)
        audit = []
        for values in batch:
            owed += per_item
            while owed >= 1:
                owed -= 1
                seq += 1
                body = json.dumps(
                    {"seq": seq, "event": "item.ingested", "item": values[0], "prev": prev},
                    sort_keys=True,
                    separators=(",", ":"),
                ).encode()
                prev = hashlib.sha256(b"\x00" + body).hexdigest()
                audit.append((seq, body, prev))
        conn.executemany("INSERT INTO audit VALUES (?, ?, ?)", audit)
        conn.execute("COMMIT")
    conn.close()
    return time.perf_counter() - start, total_items


def schema_floor(csv_path: Path, db_path: Path, audit_rows: int) -> tuple[float, int]:
    """The floor on recon-bot's own tables (same columns, same indexes), batched.

    Values are mapped the cheapest way (no validation, routing, hashing or signing),
    so this is the storage cost of the same rows in the same schema.
    """
    from decimal import Decimal

    from sqlalchemy.dialects import sqlite as sqlite_dialect
    from sqlalchemy.schema import CreateIndex, CreateTable

    from store.tables import audit_records, items

    start = time.perf_counter()
    conn = sqlite3.connect(db_path, isolation_level=None)
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("PRAGMA synchronous=FULL")
    dialect = sqlite_dialect.dialect()
    for table in (items, audit_records):
        conn.execute(str(CreateTable(table).compile(dialect=dialect)))
        for index in table.indexes:
            conn.execute(str(CreateIndex(index).compile(dialect=dialect)))
    columns = [c.name for c in items.columns if c.name != "id"]
    placeholders = ", ".join("?" for _ in columns)
    insert_item = f"INSERT INTO items ({', '.join(columns)}) VALUES ({placeholders})"
    now = "2026-11-21 00:00:00.000000"
    total = 0
    seq, prev, owed = 0, "0" * 64, 0.0
    with csv_path.open(newline="", encoding="utf-8") as fh:
        rows = list(csv.DictReader(fh))
    per_item = audit_rows / max(len(rows), 1)
    for begin in range(0, len(rows), BATCH):
        batch = rows[begin : begin + BATCH]
        values = []
        for row in batch:
            try:
                minor = int(Decimal(row["amount"] or "0") * 100)
            except ArithmeticError:
                minor = 0
            mapped = {
                "source": "default",
                "external_id": row["external_id"] or f"x{begin}",
                "kind": row["kind"] or "unmatched",
                "entity": row["entity"],
                "currency": row["currency"],
                "amount_minor": minor,
                "counterparty": row["counterparty"],
                "risk_tier": row["counterparty_risk_tier"],
                "extra": "{}",
                "content_hash": "0" * 64,
                "state": "pending",
                "route": "immediate",
                "priority": 100,
                "reasons": "[]",
                "policy_version": "pol",
                "team": "treasury",
                "required_approvals": 1,
                "created_at": now,
                "updated_at": now,
                "sla_started_at": now,
                "version": 1,
                "approvals": "[]",
                "ladder_level": 0,
                "sla_credit_seconds": 0,
            }
            values.append(tuple(mapped.get(c) for c in columns))
        conn.execute("BEGIN IMMEDIATE")
        conn.executemany(insert_item, values)
        audit = []
        for row in batch:
            owed += per_item
            while owed >= 1:
                owed -= 1
                seq += 1
                body = json.dumps(
                    {
                        "seq": seq,
                        "event": "item.ingested",
                        "item": row["external_id"],
                        "prev": prev,
                    },
                    sort_keys=True,
                    separators=(",", ":"),
                ).encode()
                prev = hashlib.sha256(b"\x00" + body).hexdigest()
                audit.append((seq, body, prev, seq, "item.ingested"))
        conn.executemany("INSERT INTO audit_records VALUES (?, ?, ?, ?, ?)", audit)
        conn.execute("COMMIT")
        total += len(batch)
    conn.close()
    return time.perf_counter() - start, total


def _batches(reader: csv.DictReader[str], columns: list[str]) -> list[list[tuple[str, ...]]]:
    out: list[list[tuple[str, ...]]] = []
    batch: list[tuple[str, ...]] = []
    for row in reader:
        batch.append(tuple(row[c] for c in columns))
        if len(batch) >= BATCH:
            out.append(batch)
            batch = []
    if batch:
        out.append(batch)
    return out


def _verify_once(recon: str, directory: Path, records: int) -> float:
    """Wall time of one ``recon-bot audit verify``, checked OK with ``records`` records."""
    seconds, out = _run([recon, "audit", "verify", "--json"], directory)
    report = json.loads(out)
    assert report["ok"] and report["records"] == records, report
    return seconds


def _verify_times(
    recon: str, full: Path, records: int, empty: Path, pairs: int = 5
) -> tuple[float, float, float]:
    """Medians of (whole run, start-up, whole run minus start-up) over interleaved pairs.

    Each pair times verify on the log and then on an empty log (interpreter and import
    start-up, settings, connecting, reading keys and anchors, no records) right after,
    so both halves of a difference see the machine in the same state.
    """
    wholes, startups, diffs = [], [], []
    for _ in range(pairs):
        whole = _verify_once(recon, full, records)
        startup = _verify_once(recon, empty, 0)
        wholes.append(whole)
        startups.append(startup)
        diffs.append(whole - startup)
    return statistics.median(wholes), statistics.median(startups), statistics.median(diffs)


def main() -> None:
    """Runs the benchmark and prints the numbers."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--items", type=int, default=100_000)
    parser.add_argument("--keep", action="store_true", help="keep the work directory")
    parser.add_argument(
        "--rounds",
        type=int,
        default=3,
        help="rounds of (ours, bare floor, same-schema floor), interleaved; medians reported",
    )
    args = parser.parse_args()
    bin_dir = Path(sys.executable).parent
    recon = str(bin_dir / "recon-bot")
    work = Path(tempfile.mkdtemp(prefix="recon-bench-"))
    csv_path = work / "items.csv"
    write_csv(csv_path, generate(args.items, seed=11, bad_every=200))
    size_mb = csv_path.stat().st_size / 1e6
    print(f"generated {args.items} items ({size_mb:.1f} MB) in {work}")

    # Rounds interleave the three so a slow spell of a shared machine hits each alike;
    # every round starts from empty databases.
    ours_times: list[float] = []
    floor_times: list[float] = []
    schema_times: list[float] = []
    tree_mb = bound_mb = 0.0
    for round_no in range(max(1, args.rounds)):
        ours_dir = work / f"ours-{round_no}"
        ours_dir.mkdir()
        _run([recon, "init"], ours_dir)
        seconds, out, tree, bound = _run_sampled(
            [recon, "ingest", str(csv_path), "--json"], ours_dir
        )
        ours_times.append(seconds)
        tree_mb, bound_mb = max(tree_mb, tree), max(bound_mb, bound)
        summary = json.loads(out)
        landed = summary["inserted"] + summary["amended"] + summary["unchanged"]
        db = sqlite3.connect(ours_dir / "recon.db")
        audit_rows = db.execute("SELECT count(*) FROM audit_records").fetchone()[0]
        db.close()
        seconds, floor_items = floor(csv_path, work / f"floor-{round_no}.db", audit_rows)
        floor_times.append(seconds)
        seconds, schema_items = schema_floor(
            csv_path, work / f"schema-floor-{round_no}.db", audit_rows
        )
        schema_times.append(seconds)
        print(
            f"round {round_no + 1}: ours {ours_times[-1]:.2f} s, bare floor "
            f"{floor_times[-1]:.2f} s, same-schema floor {schema_times[-1]:.2f} s "
            f"(ratio {schema_times[-1] / ours_times[-1]:.1%})"
        )
    ours_s = statistics.median(ours_times)
    floor_s = statistics.median(floor_times)
    schema_s = statistics.median(schema_times)

    empty_dir = work / "empty"
    empty_dir.mkdir()
    _run([recon, "init"], empty_dir)
    verify_s, startup_s, checking_s = _verify_times(recon, ours_dir, audit_rows, empty_dir)

    ours_rate = args.items / ours_s
    floor_rate = floor_items / floor_s
    rounds = len(ours_times)
    print(f"medians of {rounds} interleaved round(s):")
    print(
        f"recon-bot ingest : {ours_s:8.2f} s  {ours_rate:10,.0f} items/s  "
        f"({landed} landed, {summary['rejected']} rejected, {audit_rows} audit records)"
    )
    schema_rate = schema_items / schema_s
    print(
        f"sqlite3 floor    : {floor_s:8.2f} s  {floor_rate:10,.0f} items/s "
        "(text columns, no indexes)"
    )
    print(
        f"sqlite3 floor    : {schema_s:8.2f} s  {schema_rate:10,.0f} items/s "
        "(recon-bot's own tables and indexes)"
    )
    print(
        f"ratio            : {ours_rate / floor_rate:8.1%} of the bare floor, "
        f"{ours_rate / schema_rate:.1%} of the same-schema floor (target >= 25%)"
    )
    print(
        f"peak RSS         : {bound_mb:8.1f} MB at most (target < 300 MB): ingest and its "
        f"parsing process, each at its own peak (VmHWM); sampled every 20 ms together, "
        f"{tree_mb:.1f} MB"
    )
    print(
        f"audit verify     : {checking_s:8.2f} s  {audit_rows / checking_s:10,.0f} "
        f"records/s past start-up (target >= 100,000/s); whole process {verify_s:.2f} s, "
        f"{audit_rows / verify_s:,.0f} records/s incl. {startup_s:.2f} s start-up "
        "(the same command on an empty log); medians of 5 interleaved pairs"
    )
    if not args.keep:
        import shutil

        shutil.rmtree(work)


if __name__ == "__main__":
    main()

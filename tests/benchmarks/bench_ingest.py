"""Benchmark: ``recon-bot ingest`` end to end vs a stdlib-sqlite3 floor, in one run.

Usage:
    python -m tests.benchmarks.bench_ingest --items 100000

Generates realistic items (CSV), runs ``recon-bot init`` and ``recon-bot ingest`` as a
user would (a subprocess, so start-up, parsing, validation, routing, journal entries,
audit hashing and signing all count), then times the floor: the same file parsed with
``csv`` and written with stdlib ``sqlite3`` as item rows plus as many audit rows as ours
wrote (SHA-256 chained JSON), in batched transactions with the same durability (WAL,
synchronous=FULL). Prints items/s for both, the ratio, peak RSS of the ingest process,
and ``audit verify`` throughput on the resulting log. Targets (from the issue): ours >=
25% of the floor, peak RSS < 300 MB, verify >= 100,000 records/s.
"""

from __future__ import annotations

import argparse
import csv
import hashlib
import json
import os
import resource
import sqlite3
import subprocess
import sys
import tempfile
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


def _peak_rss_mb_of_children() -> float:
    # ru_maxrss is in KiB on Linux: the largest child waited for so far.
    return resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024


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


def main() -> None:
    """Runs the benchmark and prints the numbers."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--items", type=int, default=100_000)
    parser.add_argument("--keep", action="store_true", help="keep the work directory")
    args = parser.parse_args()
    bin_dir = Path(sys.executable).parent
    recon = str(bin_dir / "recon-bot")
    work = Path(tempfile.mkdtemp(prefix="recon-bench-"))
    csv_path = work / "items.csv"
    write_csv(csv_path, generate(args.items, seed=11, bad_every=200))
    size_mb = csv_path.stat().st_size / 1e6
    print(f"generated {args.items} items ({size_mb:.1f} MB) in {work}")

    ours_dir = work / "ours"
    ours_dir.mkdir()
    _run([recon, "init"], ours_dir)
    ours_s, out = _run([recon, "ingest", str(csv_path), "--json"], ours_dir)
    rss_mb = _peak_rss_mb_of_children()
    summary = json.loads(out)
    landed = summary["inserted"] + summary["amended"] + summary["unchanged"]
    db = sqlite3.connect(ours_dir / "recon.db")
    audit_rows = db.execute("SELECT count(*) FROM audit_records").fetchone()[0]
    db.close()

    floor_s, floor_items = floor(csv_path, work / "floor.db", audit_rows)

    verify_times = []
    for _ in range(3):
        seconds, verify_out = _run([recon, "audit", "verify", "--json"], ours_dir)
        verify_times.append(seconds)
        report = json.loads(verify_out)
        assert report["ok"], report
    verify_s = sorted(verify_times)[1]

    ours_rate = args.items / ours_s
    floor_rate = floor_items / floor_s
    print(
        f"recon-bot ingest : {ours_s:8.2f} s  {ours_rate:10,.0f} items/s  "
        f"({landed} landed, {summary['rejected']} rejected, {audit_rows} audit records)"
    )
    print(f"sqlite3 floor    : {floor_s:8.2f} s  {floor_rate:10,.0f} items/s")
    print(f"ratio            : {ours_rate / floor_rate:8.1%} of the floor (target >= 25%)")
    print(f"peak RSS         : {rss_mb:8.1f} MB (largest child process; target < 300 MB)")
    print(
        f"audit verify     : {verify_s:8.2f} s  {audit_rows / verify_s:10,.0f} records/s "
        "(median of 3, whole process incl. start-up; target >= 100,000/s)"
    )
    if not args.keep:
        import shutil

        shutil.rmtree(work)


if __name__ == "__main__":
    main()

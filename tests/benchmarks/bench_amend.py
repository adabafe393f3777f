"""Benchmark: re-ingesting an export whose rows changed (amendments), end to end.

Usage:
    python -m tests.benchmarks.bench_amend --items 30000

Generates realistic items (CSV), ingests them with ``recon-bot ingest``, then writes a
copy in which most amounts moved by one minor unit (a re-export after corrections) and
times ``recon-bot ingest`` of that copy: every changed row amends its item (approvals
voided, re-routed, audited, cards updated; a posted item's entry is reversed), the rest
are unchanged. ``--rounds`` runs (3 by default, each from an empty desk) are reported
with their median; ``audit verify`` must pass after each.
"""

from __future__ import annotations

import argparse
import csv
import json
import statistics
import sys
import tempfile
from pathlib import Path

from tests.benchmarks.bench_ingest import _run
from tests.benchmarks.generate_items import generate, write_csv


def _changed_copy(source: Path, target: Path, *, every: int) -> int:
    """``source`` with the amount of every ``every``-th row moved by one minor unit."""
    with source.open(newline="") as read, target.open("w", newline="") as write:
        reader = csv.DictReader(read)
        writer = csv.DictWriter(write, fieldnames=list(reader.fieldnames or []))
        writer.writeheader()
        changed = 0
        for number, row in enumerate(reader):
            amount = row["amount"]
            if number % every == 0 and amount[-1:].isdigit():
                row["amount"] = amount[:-1] + str((int(amount[-1]) + 1) % 10)
                changed += 1
            writer.writerow(row)
    return changed


def main() -> None:
    """Runs the benchmark and prints the numbers."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--items", type=int, default=30_000)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--every", type=int, default=1, help="change every n-th row's amount")
    args = parser.parse_args()
    recon = str(Path(sys.executable).parent / "recon-bot")
    work = Path(tempfile.mkdtemp(prefix="recon-bench-amend-"))
    original, changed_path = work / "items.csv", work / "items-changed.csv"
    write_csv(original, generate(args.items, seed=11, bad_every=200))
    changed = _changed_copy(original, changed_path, every=args.every)
    print(f"generated {args.items} items, {changed} with a changed amount, in {work}")

    times: list[float] = []
    for round_no in range(max(1, args.rounds)):
        desk = work / f"desk-{round_no}"
        desk.mkdir()
        _run([recon, "init"], desk)
        _run([recon, "ingest", str(original), "--json"], desk)
        seconds, out = _run([recon, "ingest", str(changed_path), "--json"], desk)
        summary = json.loads(out)
        _, report = _run([recon, "audit", "verify", "--json"], desk)
        if not json.loads(report)["ok"]:
            raise SystemExit(f"audit verify failed after round {round_no + 1}: {report}")
        times.append(seconds)
        print(
            f"round {round_no + 1}: re-ingest {seconds:.2f} s: amended {summary['amended']}, "
            f"unchanged {summary['unchanged']}, rejected {summary['rejected']}, "
            f"reversed {summary.get('reversed', 0)} "
            f"({summary['amended'] / seconds:,.0f} amendments/s); audit verify OK"
        )
    median = statistics.median(times)
    print(
        f"median of {len(times)}: {median:.2f} s, "
        f"{summary['amended'] / median:,.0f} amendments/s (end to end, incl. start-up)"
    )


if __name__ == "__main__":
    main()

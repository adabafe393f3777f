"""Benchmark: ``statements.mt940.parse`` on a generated file vs a bare tokenising floor.

Usage:
    python -m tests.benchmarks.bench_mt940 --lines 100000 [--per-statement 100]

Generates an MT940 file with ``--lines`` statement lines (``:61:``, each with a ``:86:``,
half German-structured, half free text), spread over daily statements of three accounts
(EUR, JPY, KWD), in SWIFT blocks with CRLF. Then, each in a fresh process so memory is
the parse's own:

- ``parse``: ``statements.mt940.parse`` on the file's bytes;
- the floor: the least any MT940 parser does over the same bytes (decode, split lines,
  find each field tag, and cut every ``:61:`` into its parts with one regular
  expression), no money, dates or objects;
- ``read``: the same process only importing the parser and reading the file, the RSS
  baseline; peak RSS (``VmHWM``) of each.

The three run interleaved ``--rounds`` times (3). Prints medians of wall and CPU time
(CPU time is steadier on a shared machine), entries/s for both, the ratio (floor time /
parse time: 100% would be free) and the top of a cProfile run of ``parse`` (where the
time goes). Nothing is asserted: this is a script, not a test.
"""

from __future__ import annotations

import argparse
import cProfile
import io
import json
import pstats
import random
import re
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import date, timedelta
from decimal import Decimal
from pathlib import Path

from tests.statements.mt940_writer import Entry, Statement, write

ACCOUNTS = (
    ("BANKDEFFXXX/DE89370400440532013000", "EUR", 2),
    ("12345678/0987654321", "JPY", 0),
    ("KW81CBKU0000000000001234560101", "KWD", 3),
)
_TAG = re.compile(r":(\d{2}[A-Z]?):")
_LINE = re.compile(r"(\d{6})(\d{4})?(R?[DC])([A-Z])?([\d,]+)([A-Z][A-Z0-9]{3})?(.*)")


def generate(lines: int, per_statement: int, seed: int = 7) -> bytes:
    """An MT940 file of ``lines`` statement lines in daily statements of three accounts."""
    rng = random.Random(seed)
    statements: list[Statement] = []
    balances = {account: Decimal(0) for account, _, _ in ACCOUNTS}
    day = date(2023, 1, 2)
    written = 0
    number = 0
    while written < lines:
        account, currency, scale = ACCOUNTS[number % len(ACCOUNTS)]
        count = min(per_statement, lines - written)
        entries = []
        for index in range(count):
            amount = Decimal(rng.randint(1, 10**7)).scaleb(-scale)
            if rng.random() < 0.5:
                amount = -amount
            if index % 2:
                info = [
                    f"166?00SEPA-GUTSCHRIFT?109310?20EREF+E2E-{written + index}",
                    f"?21SVWZ+Invoice {rng.randint(1000, 99999)} payment?31DE4450010517540",
                    "7324931?32Muster Handelsgesellschaft mbH",
                ]
            else:
                info = [f"Card payment {rng.randint(1, 999)} store", "berlin mitte"]
            entries.append(
                Entry(
                    amount=amount,
                    value_date=day,
                    booking_date=day + timedelta(days=1),
                    reversal=rng.random() < 0.02,
                    reference=f"INV{written + index}",
                    bank_reference=f"BK{written + index}",
                    info=info,
                )
            )
        statement = Statement(
            reference=f"S{number}",
            account=account,
            sequence=f"{number + 1}/1",
            currency=currency,
            opening_date=day,
            opening=balances[account],
            closing_date=day + timedelta(days=1),
            entries=entries,
        )
        balances[account] = statement.closing
        statements.append(statement)
        written += count
        number += 1
        if number % len(ACCOUNTS) == 0:
            day += timedelta(days=1)
    return write(statements, blocks=True, newline="\r\n")


def floor(data: bytes) -> int:
    """The least an MT940 parser does: decode, lines, tags, and cut each :61: apart."""
    text = data.decode("utf-8")
    entries = 0
    for line in text.replace("\r\n", "\n").split("\n"):
        if line[:1] == ":":
            match = _TAG.match(line)
            if match is not None and match.group(1) == "61":
                if _LINE.match(line, match.end()) is not None:
                    entries += 1
    return entries


def _child(mode: str, path: str) -> None:
    """Runs one measurement in this (fresh) process and prints it as JSON."""
    from statements import mt940  # imported here: the parent's memory stays out

    data = Path(path).read_bytes()
    wall = cpu = 0.0
    entries = 0
    if mode != "read":
        start, start_cpu = time.perf_counter(), time.process_time()
        if mode == "parse":
            result = mt940.parse(data)
            entries = sum(len(s.lines) for s in result.statements)
            assert not result.problems, result.problems[:3]
        else:
            entries = floor(data)
        wall, cpu = time.perf_counter() - start, time.process_time() - start_cpu
    print(json.dumps({"wall": wall, "cpu": cpu, "entries": entries, "peak_kib": _peak_kib()}))


def _peak_kib() -> int:
    """This process's peak RSS since its exec (VmHWM, Linux).

    Not ``ru_maxrss``: a child's counts the memory its parent had when it forked.
    """
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1])
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss


def _run(mode: str, path: Path) -> dict[str, object]:
    cmd = [sys.executable, "-m", "tests.benchmarks.bench_mt940", "--child", mode, str(path)]
    out = subprocess.run(cmd, capture_output=True, text=True, check=True).stdout
    result: dict[str, object] = json.loads(out)
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--lines", type=int, default=100_000)
    parser.add_argument("--per-statement", type=int, default=100)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--child", nargs=2, metavar=("MODE", "FILE"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        _child(args.child[0], args.child[1])
        return

    started = time.perf_counter()
    data = generate(args.lines, args.per_statement)
    print(
        f"generated {args.lines:,} :61: lines in {args.lines // args.per_statement:,} "
        f"statements: {len(data) / 1e6:.1f} MB in {time.perf_counter() - started:.1f} s"
    )
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "bench.sta"
        path.write_bytes(data)
        runs: dict[str, list[dict[str, object]]] = {"read": [], "parse": [], "floor": []}
        # interleaved, each in a fresh process: a busy spell of a shared machine hits both
        for _ in range(args.rounds):
            for mode in runs:
                runs[mode].append(_run(mode, path))

    def median(mode: str, key: str) -> float:
        return statistics.median(float(str(run[key])) for run in runs[mode])

    for mode in ("parse", "floor"):
        assert {run["entries"] for run in runs[mode]} == {args.lines}, mode
    for key in ("wall", "cpu"):
        t_parse, t_floor = median("parse", key), median("floor", key)
        print(
            f"{key:4} parse {t_parse:.3f} s ({args.lines / t_parse:,.0f} entries/s), "
            f"floor {t_floor:.3f} s ({args.lines / t_floor:,.0f} entries/s), "
            f"ratio floor/parse {t_floor / t_parse:.1%}  (medians of {args.rounds})"
        )
    for mode in runs:
        peak = max(int(str(run["peak_kib"])) for run in runs[mode])
        print(f"peak RSS {mode:5}: {peak / 1024:.0f} MiB (the whole process: imports, bytes, work)")

    from statements import mt940

    profile = cProfile.Profile()
    profile.enable()
    mt940.parse(data)
    profile.disable()
    stream = io.StringIO()
    pstats.Stats(profile, stream=stream).sort_stats("tottime").print_stats(14)
    print("where the time goes (cProfile, by own time; profiling slows it):")
    print("\n".join(stream.getvalue().splitlines()[4:]))


if __name__ == "__main__":
    main()

"""Benchmark: ``fx import`` of an ECB historical file, ``ledger import`` of an ERP export,
and what dated rates cost ``ingest``, each as a user runs it (a subprocess).

Usage:
    python -m tests.benchmarks.bench_fx_ledger --days 2000 --entries 100000 --items 20000

Generates (in a temporary directory) an ECB historical file of ``--days`` weekdays of 30
currencies, a ledger CSV of ``--entries`` rows, and an items CSV of ``--items`` rows in
EUR, GBP and JPY booked over the last month of the rate history (``--spread-years``: over
all of it, the worst case for loading rates). Prints rates/s, entries/s
(first import and an unchanged re-import), items/s of ingest with no dated rates (the
policy's static rates, as before this change) and with the history loaded, and the peak
RSS of each process. Not a test: nothing is asserted, numbers are printed.
"""

from __future__ import annotations

import argparse
import os
import random
import subprocess
import sys
import tempfile
import threading
import time
from datetime import date, timedelta
from pathlib import Path

import psutil  # type: ignore[import-untyped]  # no stubs in the dev tools

CURRENCIES = [
    "USD", "JPY", "BGN", "CZK", "DKK", "GBP", "HUF", "PLN", "RON", "SEK", "CHF", "ISK", "NOK",
    "TRY", "AUD", "BRL", "CAD", "CNY", "HKD", "IDR", "ILS", "INR", "KRW", "MXN", "MYR", "NZD",
    "PHP", "SGD", "THB", "ZAR",
]  # fmt: skip
START = date(2019, 1, 1)


def weekdays(count: int) -> list[date]:
    days: list[date] = []
    day = START
    while len(days) < count:
        if day.weekday() < 5:
            days.append(day)
        day += timedelta(days=1)
    return days


def write_ecb(path: Path, days: list[date], rng: random.Random) -> int:
    with path.open("w", encoding="utf-8") as out:
        out.write(
            '<?xml version="1.0" encoding="UTF-8"?>\n<gesmes:Envelope '
            'xmlns:gesmes="http://www.gesmes.org/xml/2002-08-01" '
            'xmlns="http://www.ecb.int/vocabulary/2002-08-01/eurofxref">\n'
            "<gesmes:subject>Reference rates</gesmes:subject>\n<Cube>\n"
        )
        for day in reversed(days):
            out.write(f'<Cube time="{day.isoformat()}">\n')
            for code in CURRENCIES:
                rate = rng.uniform(0.5, 200.0)
                out.write(f'<Cube currency="{code}" rate="{rate:.4f}"/>\n')
            out.write("</Cube>\n")
        out.write("</Cube>\n</gesmes:Envelope>\n")
    return len(days) * len(CURRENCIES)


def write_ledger(path: Path, count: int, days: list[date], rng: random.Random) -> None:
    with path.open("w", encoding="utf-8") as out:
        out.write("entry_id,account,date,amount,currency,reference,counterparty,description\n")
        for n in range(count):
            day = rng.choice(days).isoformat()
            amount = f"{rng.uniform(-50000, 50000):.2f}"
            out.write(f"GL-{n},{1100 + n % 7},{day},{amount},EUR,INV-{n},Partner {n % 97},gl\n")


def write_items(path: Path, count: int, days: list[date], rng: random.Random) -> None:
    with path.open("w", encoding="utf-8") as out:
        out.write("external_id,entity,currency,amount,booked_on,aging_days\n")
        for n in range(count):
            currency = ("EUR", "GBP", "JPY")[n % 3]
            amount = (
                f"{rng.uniform(1, 20000):.0f}"
                if currency == "JPY"
                else f"{rng.uniform(1, 20000):.2f}"
            )
            out.write(f"I-{n},ACME-DE,{currency},{amount},{rng.choice(days).isoformat()},1\n")


def timed(args: list[str], env: dict[str, str]) -> tuple[float, float]:
    """(seconds, peak RSS in MB of the process tree)."""
    started = time.perf_counter()
    proc = psutil.Popen(args, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    peak = 0
    done = threading.Event()

    def sample() -> None:
        nonlocal peak
        while not done.is_set():
            try:
                tree = [proc, *proc.children(recursive=True)]
                peak = max(peak, sum(p.memory_info().rss for p in tree))
            except psutil.Error:
                pass
            time.sleep(0.02)

    sampler = threading.Thread(target=sample)
    sampler.start()
    _, err = proc.communicate()
    done.set()
    sampler.join()
    if proc.returncode not in (0, 2):
        raise SystemExit(f"{' '.join(args)} failed: {err.decode()[-2000:]}")
    return time.perf_counter() - started, peak / 2**20


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--days", type=int, default=2000)
    parser.add_argument("--entries", type=int, default=100_000)
    parser.add_argument("--items", type=int, default=20_000)
    parser.add_argument(
        "--spread-years", action="store_true", help="book items over the whole history"
    )
    opts = parser.parse_args()
    rng = random.Random(11)
    cli = str(Path(sys.executable).with_name("recon-bot"))
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        days = weekdays(opts.days)
        hist, ledger, items = root / "hist.xml", root / "gl.csv", root / "items.csv"
        rates = write_ecb(hist, days, rng)
        write_ledger(ledger, opts.entries, days, rng)
        # Items booked over the last month of the history, as a daily feed's are (a
        # batch spanning years reads every rate of those years: --spread-years).
        write_items(items, opts.items, days if opts.spread_years else days[-22:], rng)

        def desk(name: str) -> dict[str, str]:
            where = root / name
            where.mkdir()
            env = {k: v for k, v in os.environ.items() if not k.startswith("RECON_")}
            env.update(
                RECON_DATABASE_URL=f"sqlite+aiosqlite:///{where / 'recon.db'}",
                RECON_POLICY=str(where / "policy.yml"),
                RECON_AUDIT_KEY=str(where / "audit.pem"),
                RECON_AUDIT_ANCHORS=str(where / "anchors.jsonl"),
            )
            subprocess.run([cli, "init"], env=env, check=True, capture_output=True)
            return env

        with_rates = desk("rates")
        size = hist.stat().st_size / 2**20
        seconds, rss = timed([cli, "fx", "import", str(hist)], with_rates)
        print(
            f"fx import: {rates:,} rates ({size:.1f} MB) in {seconds:.2f} s = "
            f"{rates / seconds:,.0f} rates/s, peak RSS {rss:.0f} MB"
        )
        seconds, rss = timed([cli, "fx", "import", str(hist)], with_rates)
        print(f"fx import again (all unchanged): {seconds:.2f} s, peak RSS {rss:.0f} MB")
        seconds, rss = timed([cli, "ledger", "import", str(ledger)], with_rates)
        print(
            f"ledger import: {opts.entries:,} entries in {seconds:.2f} s = "
            f"{opts.entries / seconds:,.0f} entries/s, peak RSS {rss:.0f} MB"
        )
        seconds, rss = timed([cli, "ledger", "import", str(ledger)], with_rates)
        print(
            f"ledger import again (all unchanged): {seconds:.2f} s = "
            f"{opts.entries / seconds:,.0f} entries/s, peak RSS {rss:.0f} MB"
        )
        static = desk("static")
        seconds, rss = timed([cli, "ingest", str(items)], static)
        print(
            f"ingest, static policy rates: {opts.items:,} items in {seconds:.2f} s = "
            f"{opts.items / seconds:,.0f} items/s, peak RSS {rss:.0f} MB"
        )
        seconds, rss = timed([cli, "ingest", str(items)], with_rates)
        print(
            f"ingest, dated rates ({rates:,} stored): {opts.items:,} items in {seconds:.2f} s "
            f"= {opts.items / seconds:,.0f} items/s, peak RSS {rss:.0f} MB"
        )


if __name__ == "__main__":
    main()

"""Benchmark: what metrics and decision spans cost (issue 13).

Usage:
    python -m tests.benchmarks.bench_metrics [--items 100000] [--runs 5] [--decisions 2000]

1. One reading of the store's gauges (``store.gauges.read_gauges``: queue by band and
   state, outbox by kind, breakers, routing totals) over ``--items`` open items in a temp
   SQLite store: median of ``--runs``, in ms. The serve process does this every
   ``RECON_GAUGE_INTERVAL`` seconds, off the scrape path.
2. One ``/metrics`` exposition (``Metrics.scrape``) with that reading loaded: median, ms.
3. ``--decisions`` approvals through the use cases over the in-memory store, without
   telemetry and with OpenTelemetry spans (exported to an in-memory exporter) and the
   sign-off histogram: decisions per second each, and the cost per decision in us.

Prints numbers; asserts nothing.
"""

from __future__ import annotations

import argparse
import asyncio
import random
import statistics
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path

from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from domain.intake import IntakeRow
from domain.usecases import UseCases
from store.gauges import read_gauges
from telemetry.metrics import Metrics
from telemetry.tracing import OtelTelemetry
from tests.benchmarks.bench_sla import T0, ingest, open_facts, open_store, policy_text
from tests.builders import make_facts, make_policy
from tests.fakes import FixedClock, InMemoryUnitOfWorkFactory


async def bench_gauges(root: Path, *, items: int, runs: int) -> None:
    store = await open_store(root, policy_text())
    rng = random.Random(13)
    started = time.perf_counter()
    await ingest(store, [open_facts(n, rng) for n in range(items)], now=T0)
    print(f"ingested {items} items in {time.perf_counter() - started:.1f} s")
    times = []
    reading = None
    for _ in range(runs):
        t = time.perf_counter()
        reading = await read_gauges(store.database)
        times.append((time.perf_counter() - t) * 1000)
    assert reading is not None
    print(
        f"gauge reading over {items} items: median {statistics.median(times):.1f} ms "
        f"(min {min(times):.1f}, max {max(times):.1f}); {sum(reading.queue.values())} open, "
        f"{len(reading.queue)} band/state series"
    )
    metrics = Metrics()
    metrics.update(reading)
    scrapes = []
    for _ in range(max(runs, 20)):
        t = time.perf_counter()
        body = metrics.scrape()
        scrapes.append((time.perf_counter() - t) * 1000)
    print(f"/metrics exposition: median {statistics.median(scrapes):.2f} ms, {len(body)} bytes")
    metrics.shutdown()
    await store.database.dispose()


async def _approvals(usecases: UseCases, factory: InMemoryUnitOfWorkFactory, n: int) -> float:
    clock = FixedClock()
    rows = [IntakeRow(line=i + 2, facts=make_facts(external_id=f"A{i}")) for i in range(n)]
    await usecases.intake.ingest(rows, now=clock.now())
    ids = [item.id for item in factory.items]
    started = time.perf_counter()
    for item_id in ids:
        assert item_id is not None
        await usecases.decisions.approve(item_id=item_id, actor="U0ALICE", now=clock.now())
    return time.perf_counter() - started


async def bench_decisions(n: int) -> None:
    loaded = make_policy()
    plain_factory = InMemoryUnitOfWorkFactory()
    plain = UseCases.over(uow=plain_factory, policy=lambda: loaded)
    base = await _approvals(plain, plain_factory, n)
    exporter = InMemorySpanExporter()
    metrics = Metrics()
    telemetry = OtelTelemetry(metrics=metrics, exporter=exporter, environ={})
    traced_factory = InMemoryUnitOfWorkFactory()
    traced = UseCases.over(uow=traced_factory, policy=lambda: loaded, telemetry=telemetry)
    spans = await _approvals(traced, traced_factory, n)
    assert len(exporter.get_finished_spans()) == n
    print(
        f"{n} approvals (in-memory store): {n / base:.0f}/s without telemetry, "
        f"{n / spans:.0f}/s with spans and the histogram; "
        f"+{(spans - base) / n * 1e6:.0f} us per decision"
    )
    telemetry.shutdown()
    metrics.shutdown()


async def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--items", type=int, default=100_000)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--decisions", type=int, default=2000)
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory() as tmp:
        await bench_gauges(Path(tmp), items=args.items, runs=args.runs)
    await bench_decisions(args.decisions)


if __name__ == "__main__":
    asyncio.run(main())

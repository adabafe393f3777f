"""``recon-bot ingest``: a file of items in, and the rows it quarantined."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from bot.cli.root import (
    EXIT_PARTIAL,
    AsciiId,
    _describe,
    err,
    fail,
    main,
    out,
    print_counts,
    print_json,
    print_rejected_rows,
    run_coroutine,
    with_container,
)
from bot.files import DEFAULT_BATCH, DEFAULT_SOURCE

if TYPE_CHECKING:
    from bot.container import Container
    from domain.usecases.intake import IngestResult


@main.command()
# Not ``dir_okay=False``: click would answer a directory with a usage error (exit 2,
# "partial"); ingest refuses it with exit 1 (nothing changed) instead.
@click.argument("file", type=click.Path(path_type=Path), required=False)
@click.option(
    "--source",
    help=f"Source name for rows without a 'source' column (default: {DEFAULT_SOURCE!r}).",
)
@click.option("--json", "as_json", is_flag=True, help="Print a machine-readable summary.")
@click.option("--batch-size", default=DEFAULT_BATCH, show_default=True, type=click.IntRange(1))
@click.option(
    "--parallel/--no-parallel",
    default=None,
    help="Parse and route in a second process while this one writes "
    "(default: for files over 4 MB on a machine with more than one CPU).",
)
@click.option("--rejected", is_flag=True, help="List the quarantined rows of a run instead.")
@click.option("--run", "run_id", type=AsciiId(), help="With --rejected: the run (default: latest).")
def ingest(
    file: Path | None,
    source: str | None,
    as_json: bool,
    batch_size: int,
    parallel: bool | None,
    rejected: bool,
    run_id: int | None,
) -> None:
    """Ingest items from a CSV (with a header) or JSON Lines file.

    Bad rows are reported (line, field, reason) and kept in a quarantine; the good rows
    still land. Re-ingesting the same (source, external_id) with identical content
    changes nothing; changed content amends the item and voids its approvals.
    Exit code 0 when every row landed; 2 when some rows were rejected or the run stopped
    part-way (the rows before are stored); 1 when nothing changed (e.g. a file that is
    not UTF-8 text).

    \b
    Examples:
      recon-bot ingest samples/items.csv
      recon-bot ingest bank.jsonl --source bank-feed --json
      recon-bot ingest --rejected
    """
    if rejected:
        _show_rejected(run_id, as_json)
        return
    if file is None:
        raise click.UsageError("give a FILE to ingest, or --rejected to list quarantined rows")
    if not file.exists():
        fail(f"{file} does not exist")

    from rich.progress import BarColumn, DownloadColumn, Progress, TextColumn, TimeRemainingColumn

    from bot.ingest import IngestStopped, WorkerBatches, batch_gc, ingest_file, use_worker

    size = file.stat().st_size

    async def _ingest(c: Container, worker: WorkerBatches | None) -> Any:
        show_bar = sys.stderr.isatty() and not as_json
        progress = Progress(
            TextColumn("ingesting"),
            BarColumn(),
            DownloadColumn(),
            TimeRemainingColumn(),
            console=err,
            disable=not show_bar,
            transient=True,
        )
        with progress:
            task = progress.add_task("ingest", total=size)
            return await ingest_file(
                path=file,
                source=source,
                intake=c.usecases.intake,
                clock=c.clock,
                policy_text=c.policy.text,
                batch_size=batch_size,
                on_progress=lambda done: progress.update(task, completed=done),
                parallel=parallel,
                worker=worker,
            )

    async def _spawn_then_ingest() -> Any:
        # The parsing process starts up while this one opens the store.
        worker = await WorkerBatches.spawn() if use_worker(file, parallel) else None
        try:
            return await with_container(lambda c: _ingest(c, worker))
        finally:
            if worker is not None:
                await worker.close()

    with batch_gc():
        try:
            run = run_coroutine(_spawn_then_ingest())
        except IngestStopped as stopped:
            # Batches are stored: exit 1 would say nothing changed.
            cause = (
                _describe(stopped.cause)[0]
                if isinstance(stopped.cause, Exception)
                else "interrupted"
            )
            _report(stopped.run_id, stopped.stored, file, as_json, stopped=(stopped.line, cause))
            err.print(f"[bold red]error:[/] {cause}")
            err.print(f"  {stopped}")
            sys.exit(EXIT_PARTIAL)
    _report(run.run_id, run.result, file, as_json)
    if run.result.rejected:
        sys.exit(EXIT_PARTIAL)


def _report(
    run_id: int,
    result: IngestResult,
    file: Path,
    as_json: bool,
    *,
    stopped: tuple[int, str] | None = None,
) -> None:
    """Prints what a run stored; ``stopped`` is (last line stored, why) for a run that
    failed part-way."""
    if as_json:
        summary: dict[str, Any] = {**result.summary(), "run": run_id}
        if stopped is not None:
            summary["stopped"] = {"after_line": stopped[0], "error": stopped[1]}
        print_json(summary)
        return
    print_counts(
        f"ingest run {run_id}: {file.name}",
        {
            "read": result.read,
            "inserted": result.inserted,
            "unchanged": result.unchanged,
            "amended": result.amended,
            "rejected": result.rejected,
        },
    )
    routes = result.summary()["routes"]
    print_counts(
        "routed",
        {
            "immediate": routes["immediate"],
            "digest": routes["digest"],
            "auto-accepted": routes["auto_accepted"],
        },
    )
    print_rejected_rows(result, run_id)


def _show_rejected(run_id: int | None, as_json: bool) -> None:
    from rich.table import Table

    from store.intake import QuarantineListing, list_rejected

    async def _list(c: Container) -> QuarantineListing | None:
        async with c.database.reader.connect() as conn:
            return await list_rejected(conn, run_id=run_id, limit=100_000)

    listing = run_coroutine(with_container(_list))
    if listing is None:
        if run_id is not None:
            fail(f"there is no ingest run {run_id}: 'recon-bot ingest --rejected' lists the latest")
        if as_json:
            print_json({"run": None, "finished": None, "rejected_rows": []})
        else:
            out.print("no ingest runs yet")
        return
    unfinished = (
        f"run {listing.run_id} never finished (it stopped part-way, was interrupted, or is "
        "still running): these are the rejected rows of the batches it stored, not of the "
        "whole file; ingest the file again to finish it"
    )
    if as_json:
        summary: dict[str, Any] = {
            "run": listing.run_id,
            "finished": listing.finished,
            "rejected_rows": listing.rows,
        }
        if not listing.finished:
            summary["note"] = unfinished
        print_json(summary)
        return
    if not listing.finished:
        err.print(f"[yellow]incomplete:[/] {unfinished}")
    if not listing.rows:
        out.print(f"run {listing.run_id} rejected no rows")
        return
    table = Table(title=f"quarantined rows of run {listing.run_id}")
    for col in ("line", "field", "error", "raw"):
        table.add_column(col, overflow="fold")
    for row in listing.rows:
        table.add_row(str(row["line"]), row["field"], row["error"], row["raw"][:120])
    out.print(table)

"""``recon-bot journal`` and ``journal export``: the journal entries and where their
delivery to the ledger stands, listed or written out for a manual ERP import.

Both read the store only; delivering is the running bot's job. An entry's ``id`` is its
row id: ``journal export --since ID`` writes the entries after it, and says on stderr
the last id written, so the next export continues where this one stopped.
"""

from __future__ import annotations

import contextlib
import csv
import json
import os
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any, TextIO

import click

from bot.cli.root import (
    AsciiId,
    err,
    main,
    out,
    print_json,
    run_coroutine,
    with_container,
)

if TYPE_CHECKING:
    from bot.container import Container
    from domain.ledger_status import JournalRecord

#: Entries read per query: a long journal is paged through, never loaded whole.
PAGE = 500


async def _records(c: Container, *, after_id: int, unposted: bool) -> list[JournalRecord]:
    from store.ledger_status import LedgerStatusStore

    store = LedgerStatusStore(c.database)
    found: list[JournalRecord] = []
    while page := await store.records(after_id=after_id, unposted=unposted, limit=PAGE):
        found.extend(page)
        after_id = page[-1].id
    return found


@main.group(invoke_without_command=True)
@click.option("--unposted", is_flag=True, help="Only entries the ledger does not have (not sent).")
@click.option("--json", "as_json", is_flag=True, help="Print a JSON list.")
@click.pass_context
def journal(ctx: click.Context, unposted: bool, as_json: bool) -> None:
    """List journal entries, oldest first, with their delivery to the ledger.

    Delivery is pending (waiting, in flight, or held: the hold says why), sent (the
    ledger's reference is shown) or dead (the ledger refused it; see `recon-bot outbox
    --dead`).

    \b
    Examples:
      recon-bot journal
      recon-bot journal --unposted --json
      recon-bot journal export --since 0 --format csv --output entries.csv
    """
    if ctx.invoked_subcommand is not None:
        if unposted or as_json:
            raise click.UsageError(
                f"--unposted and --json belong to the listing; give them after "
                f"`{ctx.invoked_subcommand}` if it has them",
                ctx,
            )
        return

    from bot.views import journal_record_view

    async def _list(c: Container) -> list[JournalRecord]:
        return await _records(c, after_id=0, unposted=unposted)

    rows = [journal_record_view(r) for r in run_coroutine(with_container(_list))]
    if as_json:
        print_json(rows)
        return
    if not rows:
        out.print("no unposted journal entries" if unposted else "the journal is empty")
        return
    _print_table(rows)


def _amount(row: dict[str, Any]) -> str:
    from decimal import Decimal

    return str(sum((Decimal(ln["debit"]) for ln in row["lines"]), Decimal(0)))


#: The listing's columns; the right-aligned ones are numbers.
_COLUMNS = (
    "id",
    "ledger_ref",
    "item",
    "kind",
    "delivery",
    "reference / hold",
    "amount",
    "currency",
)
_RIGHT = frozenset({"id", "amount"})


def _print_table(rows: list[dict[str, Any]]) -> None:
    """Plain aligned columns: a rich table took 16 s for 20,000 entries, this a fraction."""
    cells = [
        (
            str(r["id"]),
            r["ledger_ref"],
            r["item"],
            r["kind"],
            r["delivery"],
            r["reference"] or (f"held: {r['hold']}" if r["hold"] else "-"),
            _amount(r),
            r["currency"],
        )
        for r in rows
    ]
    widths = [max(len(c[i]) for c in [_COLUMNS, *cells]) for i in range(len(_COLUMNS))]

    def line(values: tuple[str, ...]) -> str:
        return "  ".join(
            v.rjust(w) if name in _RIGHT else v.ljust(w)
            for name, v, w in zip(_COLUMNS, values, widths, strict=True)
        ).rstrip()

    click.echo("\n".join([line(_COLUMNS), *map(line, cells)]))
    sent = sum(1 for r in rows if r["delivery"] == "sent")
    click.echo(f"{len(rows):,} entries, {sent:,} sent, {len(rows) - sent:,} not sent")


@contextlib.contextmanager
def _destination(output: Path | None) -> Iterator[TextIO]:
    """stdout, or ``output`` written whole or not at all (a temporary file beside it,
    renamed when the export succeeded), so a failed export never leaves half a file
    that an ERP import could take for a whole one."""
    if output is None:
        yield sys.stdout
        return
    partial = output.with_name(f".{output.name}.partial")
    try:
        with partial.open("w", encoding="utf-8", newline="") as stream:
            yield stream
        os.replace(partial, output)
    finally:
        partial.unlink(missing_ok=True)


class _Writer:
    """Writes entries as ``csv`` rows (one per journal line, after one header) or
    ``jsonl`` lines (one per entry), page by page."""

    def __init__(self, fmt: str, stream: TextIO) -> None:
        from bot.views import JOURNAL_CSV_COLUMNS

        self.fmt = fmt
        self.entries = 0
        self.written = 0  # csv rows or jsonl lines, the header left out
        self._stream = stream
        self._csv = csv.DictWriter(stream, fieldnames=JOURNAL_CSV_COLUMNS, lineterminator="\n")
        self._started = False

    def start(self) -> None:
        """Writes the csv header, once: only after the store opened, so a failed export
        leaves nothing on stdout, and also for no entries (a valid empty export)."""
        if self.fmt == "csv" and not self._started:
            self._csv.writeheader()
        self._started = True

    def write(self, records: list[JournalRecord]) -> None:
        from bot.views import journal_csv_rows, journal_record_view

        self.start()
        for record in records:
            if self.fmt == "jsonl":
                view = journal_record_view(record)
                self._stream.write(json.dumps(view, ensure_ascii=False) + "\n")
                self.written += 1
            else:
                rows = journal_csv_rows(record)
                self._csv.writerows(rows)
                self.written += len(rows)
        self.entries += len(records)


@journal.command("export")
@click.option(
    "--since",
    "since",
    required=True,
    type=AsciiId(),
    help="Write the entries after this id (the `id` that `recon-bot journal` shows); "
    "0 writes them all.",
)
@click.option(
    "--format",
    "fmt",
    required=True,
    type=click.Choice(["csv", "jsonl"]),
    help="csv: one row per journal line (entry fields repeated); jsonl: one entry per "
    "line, as `journal --json` shows it.",
)
@click.option(
    "--output",
    type=click.Path(path_type=Path, dir_okay=False, writable=True),
    help="Write to this file (replaced whole when the export succeeds) instead of stdout.",
)
def export(since: int, fmt: str, output: Path | None) -> None:
    """Write journal entries for a manual ERP import.

    Stderr says how many entries were written and the last id: run the next export with
    `--since` that id to continue where this one stopped. Values are written exactly as
    stored (no spreadsheet escaping): amounts are decimal strings in the entry's currency.

    \b
    Examples:
      recon-bot journal export --since 0 --format csv --output entries.csv
      recon-bot journal export --since 1042 --format jsonl > more.jsonl
    """
    from store.ledger_status import LedgerStatusStore

    async def _export(c: Container, writer: _Writer) -> int:
        store = LedgerStatusStore(c.database)
        last = since
        while page := await store.records(after_id=last, limit=PAGE):
            writer.write(page)
            last = page[-1].id
        writer.start()
        return last

    with _destination(output) as stream:
        writer = _Writer(fmt, stream)
        last = run_coroutine(with_container(lambda c: _export(c, writer)))
    where = f" to {output}" if output is not None else ""
    unit = "rows" if fmt == "csv" else "lines"
    err.print(
        f"wrote {writer.entries:,} entries ({writer.written:,} {unit}){where}; last id {last}; "
        f"continue with --since {last}",
        markup=False,
    )

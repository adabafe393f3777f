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
import textwrap
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any, TextIO

import click

from bot.cli.root import (
    EXIT_FAIL,
    AsciiId,
    err,
    main,
    run_coroutine,
    with_container,
)

if TYPE_CHECKING:
    from bot.container import Container
    from domain.ledger_status import JournalRecord

#: Entries read per query: a long journal is paged through, never loaded whole.
PAGE = 500


@main.group(
    invoke_without_command=True, short_help="Journal entries and their delivery to the ledger."
)
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
                "--unposted and --json belong to the listing (`recon-bot journal`), "
                f"not to `{ctx.invoked_subcommand}`",
                ctx,
            )
        return

    from bot.views import journal_record_view
    from store.ledger_status import LedgerStatusStore

    # Page by page, printed as they come: memory stays flat however long the journal.
    listing = _JsonList() if as_json else _Table()

    async def _list(c: Container) -> None:
        store = LedgerStatusStore(c.database)
        after = 0
        while page := await store.records(after_id=after, unposted=unposted, limit=PAGE):
            listing.add([journal_record_view(r) for r in page])
            after = page[-1].id

    with _reader_may_hang_up():
        run_coroutine(with_container(_list))
        listing.close(unposted=unposted)


@contextlib.contextmanager
def _reader_may_hang_up() -> Iterator[None]:
    """Stops quietly when whoever reads stdout stops reading (``recon-bot journal |
    head``), as a Unix filter does, instead of reporting "error: Broken pipe"."""
    try:
        yield
    except BrokenPipeError:
        # Python flushes stdout once more at exit: aim it at /dev/null so that is quiet.
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        sys.exit(EXIT_FAIL)


class _JsonList:
    """Prints a JSON list an object at a time, exactly as ``print_json`` prints it whole."""

    def __init__(self) -> None:
        self._count = 0

    def add(self, rows: list[dict[str, Any]]) -> None:
        for row in rows:
            text = textwrap.indent(json.dumps(row, indent=2, ensure_ascii=False), "  ")
            click.echo(("[\n" if self._count == 0 else ",\n") + text, nl=False)
            self._count += 1

    def close(self, *, unposted: bool) -> None:
        click.echo("\n]" if self._count else "[]")


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
_MIN_WIDTH = {"ledger_ref": 13, "kind": 10, "reference / hold": 24, "amount": 10}


class _Table:
    """Plain aligned columns, printed a page at a time (a rich table took 16 s for
    20,000 entries). A column widens when a later page needs it; it never narrows."""

    def __init__(self) -> None:
        # Wide enough at once for the common hold, so the column rarely moves.
        self._widths = [max(len(c), _MIN_WIDTH.get(c, 0)) for c in _COLUMNS]
        self._count = 0
        self._sent = 0

    def _line(self, values: tuple[str, ...]) -> str:
        return "  ".join(
            v.rjust(w) if name in _RIGHT else v.ljust(w)
            for name, v, w in zip(_COLUMNS, values, self._widths, strict=True)
        ).rstrip()

    def add(self, rows: list[dict[str, Any]]) -> None:
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
        self._widths = [max(w, *(len(c[i]) for c in cells)) for i, w in enumerate(self._widths)]
        lines = [self._line(c) for c in cells]
        if self._count == 0:
            lines.insert(0, self._line(_COLUMNS))
        click.echo("\n".join(lines))
        self._count += len(rows)
        self._sent += sum(1 for r in rows if r["delivery"] == "sent")

    def close(self, *, unposted: bool) -> None:
        if self._count == 0:
            click.echo("no unposted journal entries" if unposted else "the journal is empty")
            return
        click.echo(
            f"{self._count:,} entries, {self._sent:,} sent, {self._count - self._sent:,} not sent"
        )


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

    with _reader_may_hang_up(), _destination(output) as stream:
        writer = _Writer(fmt, stream)
        last = run_coroutine(with_container(lambda c: _export(c, writer)))
    where = f" to {output}" if output is not None else ""
    unit = "rows" if fmt == "csv" else "lines"
    err.print(
        f"wrote {writer.entries:,} entries ({writer.written:,} {unit}){where}; last id {last}; "
        f"continue with --since {last}",
        markup=False,
    )

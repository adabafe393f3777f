"""``recon-bot ledger import``: an ERP export of general-ledger entries in."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from bot.cli.root import (
    EXIT_PARTIAL,
    err,
    fail,
    main,
    out,
    print_json,
    run_coroutine,
    with_container,
)
from bot.files import DEFAULT_BATCH

if TYPE_CHECKING:
    from bot.container import Container
    from bot.gl import LedgerRun


@main.group()
def ledger() -> None:
    """General-ledger entries from the ERP: the other side Stage 2 matches against."""


@ledger.command("import")
@click.argument("file", type=click.Path(path_type=Path))
@click.option("--json", "as_json", is_flag=True, help="Print a machine-readable summary.")
@click.option("--batch-size", default=DEFAULT_BATCH, show_default=True, type=click.IntRange(1))
def import_(file: Path, as_json: bool, batch_size: int) -> None:
    """Import ledger entries from a CSV (with a header) or JSON Lines export.

    Fields: entry_id, account, date, amount, currency, reference, counterparty,
    description; the policy's ledger.columns names the file's column for each. Bad rows
    are reported (line, field, reason) and quarantined; the good rows land. The same
    entry (entry_id + account) again with the same content changes nothing; changed
    content becomes its next version; a matched entry is never rewritten (its row is
    refused). Exit code 0 when every row landed, 2 when some were rejected, 1 when
    nothing changed.

    \b
    Examples:
      recon-bot ledger import gl-2026-12.csv
      recon-bot ledger import gl.jsonl --json
    """
    if not file.exists():
        fail(f"{file} does not exist")

    from bot.gl import import_ledger_file

    async def _import(c: Container) -> LedgerRun:
        return await import_ledger_file(
            path=file,
            usecase=c.usecases.gl,
            loaded=c.policy.current(),
            policy_text=c.policy.text,
            clock=c.clock,
            batch_size=batch_size,
        )

    run = run_coroutine(with_container(_import))
    result = run.result
    if as_json:
        summary: dict[str, Any] = {**result.summary(), "run": run.run_id}
        print_json(summary)
    else:
        from rich.table import Table

        table = Table(title=f"ledger import run {run.run_id}: {file.name}", show_header=True)
        for col in ("read", "inserted", "unchanged", "revised", "rejected"):
            table.add_column(col, justify="right")
        table.add_row(
            *(
                str(v)
                for v in (
                    result.read,
                    result.inserted,
                    result.unchanged,
                    result.amended,
                    result.rejected,
                )
            )
        )
        out.print(table)
        if result.rejected_rows:
            shown = result.rejected_rows[:20]
            err.print(f"[yellow]{result.rejected} row(s) rejected[/] (kept in quarantine):")
            for row in shown:
                err.print(f"  line {row.line}: {row.field}: {row.error}")
            if result.rejected > len(shown):
                err.print(f"  ... see all with: recon-bot ingest --rejected --run {run.run_id}")
    if result.rejected:
        sys.exit(EXIT_PARTIAL)

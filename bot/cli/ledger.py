"""``recon-bot ledger import``: an ERP export of general-ledger entries in."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from bot.cli.root import (
    EXIT_PARTIAL,
    import_command,
    main,
    print_counts,
    print_json,
    print_rejected_rows,
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


@import_command(ledger)
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
        print_counts(
            f"ledger import run {run.run_id}: {file.name}",
            {
                "read": result.read,
                "inserted": result.inserted,
                "unchanged": result.unchanged,
                "revised": result.amended,
                "rejected": result.rejected,
            },
        )
        print_rejected_rows(result, run.run_id)
    if result.rejected:
        sys.exit(EXIT_PARTIAL)

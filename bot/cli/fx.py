"""``recon-bot fx import``: dated FX rates in (ECB reference rate XML, or a CSV)."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

from bot.cli.root import (
    EXIT_PARTIAL,
    err,
    import_command,
    main,
    print_counts,
    print_json,
    run_coroutine,
    with_container,
)

if TYPE_CHECKING:
    from bot.container import Container
    from domain.usecases.fx import FxImportResult


@main.group()
def fx() -> None:
    """Dated FX rates: routing, tolerances and reporting amounts use the rate of the day."""


@import_command(fx)
def import_(file: Path, as_json: bool) -> None:
    """Import dated FX rates from the ECB's euro reference rate XML or a CSV.

    ECB files (daily or historical): 1 EUR = rate units of each currency, source ECB.
    CSV columns: date, currency, rate (units of currency per 1 unit of base), and
    optionally source (default: the file name) and base (default: the policy's
    reporting currency). The same rate again changes nothing; a different rate for the
    same date, base, currency and source replaces it (newest import wins, audited with
    the old value). Exit code 0 when every rate landed, 2 when some rows were rejected,
    1 when nothing changed.

    \b
    Examples:
      recon-bot fx import eurofxref-hist.xml
      recon-bot fx import treasury-rates.csv --json
    """
    from bot.fx import read_rate_file

    async def _import(c: Container) -> FxImportResult:
        loaded = c.policy.current()
        rate_file = read_rate_file(file, reporting_currency=loaded.policy.reporting_currency)
        return await c.usecases.fx.import_rates(
            rate_file.rates,
            file_name=file.name,
            file_format=rate_file.file_format,
            sha256=rate_file.sha256,
            rejected=rate_file.problems,
            now=c.clock.now(),
        )

    result = run_coroutine(with_container(_import))
    if as_json:
        summary: dict[str, Any] = result.summary()
        print_json(summary)
    else:
        print_counts(
            f"fx import: {file.name}",
            {
                "read": result.read,
                "inserted": result.inserted,
                "unchanged": result.unchanged,
                "replaced": result.replaced,
                "rejected": result.rejected,
            },
        )
        for problem in result.rejected_rows[:20]:
            err.print(f"  {problem.where}: {problem.field}: {problem.error}")
    if result.rejected:
        sys.exit(EXIT_PARTIAL)

"""The ``recon-bot`` command line.

Exit codes: 0 success; 2 partial (e.g. some ingest rows rejected, the rest committed);
1 failure with nothing changed. Errors are one sentence on stderr; ``--debug`` shows the
traceback instead.
"""

from __future__ import annotations

import asyncio
import functools
import json
import logging
import sys
from collections.abc import Awaitable, Callable, Coroutine, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any, NoReturn, TypeVar

import click
from rich.console import Console

from bot.errors import BotError
from domain.errors import DomainError, PolicyError
from domain.items import MAX_ITEM_ID, parse_ascii_number

# Each command imports what it needs when it runs: SQLAlchemy, pydantic-settings and the
# domain services took most of a second to import before any command ran, `--help` too.
if TYPE_CHECKING:
    from bot.container import Container
    from bot.settings import Settings
    from domain.usecases.intake import IngestResult

EXIT_OK, EXIT_FAIL, EXIT_PARTIAL = 0, 1, 2

T = TypeVar("T")
# Off a terminal (a pipe, a file, CI) rich would assume 80 columns and squeeze tables.
out = Console(highlight=False, soft_wrap=True, width=None if sys.stdout.isatty() else 140)
err = Console(stderr=True, highlight=False, soft_wrap=True)
log = logging.getLogger("recon_bot")


class CliFailure(BotError):
    """A failure to report in one sentence (with optional detail lines)."""

    def __init__(self, message: str, details: list[str] | None = None) -> None:
        super().__init__(message)
        self.details = details or []


def fail(message: str, details: list[str] | None = None) -> NoReturn:
    raise CliFailure(message, details)


class AsciiId(click.ParamType[int]):
    """A row id option (``--run 3``, ``--retry 42``): ASCII digits only.

    ``type=int`` took ``int()``'s word for it, and ``int("\u0661")`` is 1.
    """

    name = "id"

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> int:
        """The id, or click's usage error."""
        if isinstance(value, int):
            return value
        parsed = parse_ascii_number(str(value).strip(), maximum=MAX_ITEM_ID)
        if parsed is None:
            self.fail(f"{str(value)[:40]!r} is not an id (ASCII digits, like 42)", param, ctx)
        return parsed


def load_settings() -> Settings:
    from pydantic import ValidationError

    from bot.settings import Settings

    try:
        return Settings()
    except ValidationError as exc:
        problems = [f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in exc.errors()]
        fail("the environment settings are invalid", problems)


class ReconGroup(click.Group):
    """Turns known failures into one clear sentence and the right exit code."""

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except (click.exceptions.Exit, click.ClickException, click.exceptions.Abort):
            raise
        except Exception as exc:
            if ctx.meta.get("recon.debug"):
                raise
            message, details = _describe(exc)
            err.print(f"[bold red]error:[/] {message}")
            for line in details:
                err.print(f"  {line}")
            ctx.exit(EXIT_FAIL)


def _describe(exc: Exception) -> tuple[str, list[str]]:
    """The sentence (and detail lines) for a failure, by the layer that raised it.

    Every layer has one error root (:class:`DomainError`, :class:`StoreError`,
    :class:`BotError`) whose messages are written for the person at the terminal, so
    they are shown as they are; anything else is reported as unexpected.
    """
    from sqlalchemy.exc import SQLAlchemyError

    from store.errors import StoreError  # here: `--help` must not import the store

    if isinstance(exc, CliFailure):
        return str(exc), exc.details
    if isinstance(exc, PolicyError):
        return str(exc), exc.problems
    if isinstance(exc, DomainError | StoreError | BotError):
        return str(exc), []
    if isinstance(exc, SQLAlchemyError):
        orig = getattr(exc, "orig", None)
        return f"database error: {orig or exc.__class__.__name__}", []
    if isinstance(exc, OSError):
        return f"{exc.strerror or exc}: {exc.filename or ''}".strip(": "), []
    if isinstance(exc, ValueError):
        return str(exc), []
    return (
        f"unexpected {exc.__class__.__name__}: {exc}; re-run with --debug for the traceback",
        [],
    )


def run_coroutine(coro: Coroutine[Any, Any, T]) -> T:
    return asyncio.run(coro)


async def with_container(
    work: Callable[[Container], Awaitable[T]], *, check_schema: bool = True
) -> T:
    from bot.container import Container

    container = await Container.open(load_settings(), check_schema=check_schema)
    try:
        return await work(container)
    finally:
        await container.close()


def print_json(data: Any) -> None:
    click.echo(json.dumps(data, indent=2, ensure_ascii=False))


def import_command(
    group: click.Group,
) -> Callable[[Callable[..., None]], click.Command]:
    """Makes ``GROUP import FILE [--json]`` of the decorated function, which is called
    with ``file`` and ``as_json`` (and any options decorated below this one) only once
    FILE exists: a missing one is the one-sentence failure, exit 1 (nothing changed).

    Not ``click.Path(exists=True)``: click would answer with a usage error, exit 2,
    which means "partial" here.
    """

    def decorate(command: Callable[..., None]) -> click.Command:
        command = click.option(
            "--json", "as_json", is_flag=True, help="Print a machine-readable summary."
        )(command)
        command = click.argument("file", type=click.Path(path_type=Path))(command)

        @functools.wraps(command)  # its help text and the parameters declared above
        def checked(*, file: Path, **options: Any) -> None:
            if not file.exists():
                fail(f"{file} does not exist")
            command(file=file, **options)

        return group.command("import")(checked)

    return decorate


def print_counts(title: str, counts: Mapping[str, int]) -> None:
    """One table with a right-aligned column per count (header: the count's name)."""
    from rich.table import Table

    table = Table(title=title, show_header=True)
    for name in counts:
        table.add_column(name, justify="right")
    table.add_row(*(str(v) for v in counts.values()))
    out.print(table)


def print_rejected_rows(result: IngestResult, run_id: int) -> None:
    """The first 20 rows an import run quarantined, on stderr, and how to see the rest."""
    if not result.rejected_rows:
        return
    shown = result.rejected_rows[:20]
    err.print(f"[yellow]{result.rejected} row(s) rejected[/] (kept in quarantine):")
    for row in shown:
        err.print(f"  line {row.line}: {row.field}: {row.error}")
    if result.rejected > len(shown):
        err.print(f"  ... see all with: recon-bot ingest --rejected --run {run_id}")


@click.group(cls=ReconGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.option("--debug", is_flag=True, help="Show tracebacks and debug logs.")
@click.version_option(package_name="recon-bot")
@click.pass_context
def main(ctx: click.Context, debug: bool) -> None:
    """recon-bot: the human-in-the-loop desk of automated reconciliation.

    Settings come from the environment or .env: RECON_DATABASE_URL, RECON_POLICY,
    RECON_AUDIT_KEY, RECON_AUDIT_ANCHORS, SLACK_BOT_TOKEN, SLACK_APP_TOKEN.

    \b
    Example:
      recon-bot init && recon-bot ingest samples/items.csv
    """
    ctx.meta["recon.debug"] = debug
    logging.basicConfig(
        level=logging.DEBUG if debug else logging.WARNING,
        format="%(asctime)s %(levelname)s %(name)s %(message)s",
    )


def run() -> None:  # pragma: no cover - console entry point
    """Entry point for ``python -m bot``."""
    main(prog_name="recon-bot")

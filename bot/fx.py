"""Reads an FX rate file (the ECB's reference rate XML, or a plain CSV) for ``fx import``.

The format comes from the content: XML that looks like the ECB's envelope is read by
:mod:`fxfeeds.ecb` (hardened, streaming); anything else must be a ``.csv`` with the
columns ``date, currency, rate`` and optionally ``source`` and ``base``
(:mod:`domain.fx_rows`). A CSV row without a ``base`` is quoted from the policy's
reporting currency; without a ``source`` it is from the file name.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from bot.batches import HashingReader
from bot.errors import BotError
from bot.files import check_readable, read_rows
from domain.fx import FxRate
from domain.fx_rows import parse_rate_row
from domain.intake import RowError
from domain.usecases.fx import RateProblem
from fxfeeds.ecb import EcbFileError, looks_like_ecb, parse_ecb

#: Bytes looked at to tell an ECB XML file from a CSV.
_SNIFF = 4096


class RateFileError(BotError, ValueError):
    """The file as a whole cannot be read as rates: nothing was written."""


@dataclass(frozen=True, slots=True, kw_only=True)
class RateFile:
    """A file's rates, the rows or elements refused, and the file's identity."""

    rates: list[FxRate]
    problems: list[RateProblem]
    file_format: str
    sha256: str


def read_rate_file(path: Path, *, reporting_currency: str) -> RateFile:
    """Reads every rate of ``path``.

    Raises:
        RateFileError: not an ECB XML file nor a CSV, hostile XML, a CSV without the
            required columns, or not UTF-8 text.
        OSError: the file cannot be read.
    """
    if not path.is_file():
        raise RateFileError(f"{path} is not a file")
    with path.open("rb") as stream:
        head = stream.read(_SNIFF)
    if head.lstrip().startswith(b"<"):
        if not looks_like_ecb(head):
            raise RateFileError(
                f"{path.name} is XML but not the ECB's euro reference rates "
                "(a gesmes:Envelope of eurofxref Cubes)"
            )
        with path.open("rb") as raw:
            reader = HashingReader(raw)
            try:
                parsed = parse_ecb(reader)  # type: ignore[arg-type]
            except EcbFileError as exc:
                raise RateFileError(f"{path.name}: {exc}") from None
            reader.read()  # whatever follows the envelope counts in the hash too
            digest = reader.sha256.hexdigest()
        problems = [
            RateProblem(where=p.where, field=p.field, error=p.error) for p in parsed.problems
        ]
        return RateFile(rates=parsed.rates, problems=problems, file_format="ecb", sha256=digest)
    if path.suffix.lower() != ".csv":
        raise RateFileError(f"{path.name}: expected the ECB's XML or a .csv file of rates")
    try:
        check_readable(path, "csv")
    except ValueError as exc:
        raise RateFileError(str(exc)) from None
    return _read_csv(path, reporting_currency)


def _read_csv(path: Path, reporting_currency: str) -> RateFile:
    rates: list[FxRate] = []
    problems: list[RateProblem] = []
    with path.open("rb") as raw:
        reader = HashingReader(raw)
        first = True
        for row in read_rows(reader, "csv"):  # type: ignore[arg-type]
            if first and row.problem is None:
                first = False
                missing = [c for c in ("date", "currency", "rate") if c not in row.values]
                if missing:
                    raise RateFileError(
                        f"{path.name}: the header has no {', '.join(missing)} column "
                        "(columns: date, currency, rate, and optionally source and base)"
                    )
            if row.problem is not None:
                field, error = row.problem
                problems.append(
                    RateProblem(where=f"line {row.line}", field=field, error=error, line=row.line)
                )
                continue
            parsed = parse_rate_row(
                row.values,
                line=row.line,
                default_base=reporting_currency,
                default_source=path.name,
            )
            if isinstance(parsed, RowError):
                problems.append(
                    RateProblem(
                        where=f"line {parsed.line}",
                        field=parsed.field,
                        error=parsed.error,
                        line=parsed.line,
                    )
                )
            else:
                rates.append(parsed)
        digest = reader.sha256.hexdigest()
    return RateFile(rates=rates, problems=problems, file_format="csv", sha256=digest)

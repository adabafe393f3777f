"""Bank statement files in (camt.053, MT940, BAI2, OFX): the bank-file adapter.

Each format module turns the bytes of one file into a ``domain.statements.parsed``
:class:`~domain.statements.parsed.ParseResult`; this package depends on ``domain`` only
(the import-linter contract "statements adapt bank files and depend on the domain only").
"""

from __future__ import annotations

from typing import Protocol

from domain.statements.parsed import ParseProblem, ParseResult, StatementFormat
from statements import bai2, mt940

#: How much of the start of a file :func:`detect` shows each format's ``sniff``.
HEAD_BYTES = 4096


class FormatModule(Protocol):
    """What every format module provides (module-level names)."""

    FORMAT: StatementFormat

    def sniff(self, head: bytes) -> bool: ...

    def parse(self, data: bytes) -> ParseResult: ...


#: The format modules, in the order :func:`detect` asks them.
FORMATS: tuple[FormatModule, ...] = (mt940, bai2)


def detect(data: bytes) -> StatementFormat | None:
    """The format whose ``sniff`` recognises the start of ``data``, or None."""
    head = data[:HEAD_BYTES]
    return next((m.FORMAT for m in FORMATS if m.sniff(head)), None)


def parse(data: bytes, *, format: StatementFormat | None = None) -> ParseResult:
    """Parses a bank file, detecting its format from its content when ``format`` is None;
    a file no parser reads is one problem for the whole file."""
    chosen = format if format is not None else detect(data)
    module = next((m for m in FORMATS if m.FORMAT is chosen), None)
    if module is None:
        error = (
            f"no parser for the {chosen.value} format"
            if chosen is not None
            else "not a bank statement: no known format (camt.053, MT940, BAI2, OFX) "
            "recognises its start"
        )
        return ParseResult(
            format=chosen or StatementFormat.CAMT053,
            problems=(ParseProblem(where="file", error=error),),
        )
    return module.parse(data)

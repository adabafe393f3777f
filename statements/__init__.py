"""Bank files in: one module per format, and format detection over them.

Each format module has the same shape (:class:`FormatModule`): ``FORMAT``, ``sniff(head)``
(does the start of the file look like this format), ``parse(data)`` (a
:class:`~domain.statements.parsed.ParseResult`) and ``stream(data)`` (the same statements
and problems in file order, each read when it is asked for: what an import of a big file
uses, see :func:`stream`). :func:`stream` also reads a file on disk: camt.053 in slices
(:mod:`statements.safexml`), the other formats whole (their files are small). This
package is an adapter: it depends on ``domain`` only, and knows nothing of the store, Slack
or the CLI.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import IO, Protocol

from domain.statements.parsed import (
    ParseItem,
    ParseProblem,
    ParseResult,
    ParseStream,
    StatementFormat,
)
from statements import bai2, camt053, mt940, ofx

#: How much of the start of a file :func:`detect` shows each format's ``sniff``.
HEAD_BYTES = 4096


class FormatModule(Protocol):
    """What every format module provides (module-level names)."""

    FORMAT: StatementFormat

    def sniff(self, head: bytes) -> bool: ...

    def parse(self, data: bytes) -> ParseResult: ...

    def stream(self, data: bytes) -> Iterator[ParseItem]: ...


#: The format modules, in the order :func:`detect` asks them. XML formats (camt.053,
#: OFX 2) sniff for their namespace or header, never for XML in general.
FORMATS: tuple[FormatModule, ...] = (camt053, ofx, mt940, bai2)


class NotAStatementError(ValueError):
    """No format recognises the file; ``problem`` says so in one sentence."""

    def __init__(self, problem: ParseProblem) -> None:
        super().__init__(problem.error)
        self.problem = problem


def detect(data: bytes) -> StatementFormat | None:
    """The format whose ``sniff`` recognises the start of ``data``, or None."""
    head = data[:HEAD_BYTES]
    for module in FORMATS:
        if module.sniff(head):
            return module.FORMAT
    return None


def module_for(format: StatementFormat) -> FormatModule:
    """The module that reads ``format``.

    Raises:
        NotAStatementError: no parser for that format is installed.
    """
    for module in FORMATS:
        if module.FORMAT is format:
            return module
    raise NotAStatementError(
        ParseProblem(where="file", error=f"no parser for the {format.value} format")
    )


def parse(data: bytes, *, format: StatementFormat | None = None) -> ParseResult:
    """Parses a bank file, detecting its format from its content when ``format`` is None.

    Raises:
        NotAStatementError: ``format`` is None and no format recognises the file (the
            problem reads "not a bank statement: ...").
    """
    return stream(data, format=format).collect()


def stream(data: bytes | IO[bytes], *, format: StatementFormat | None = None) -> ParseStream:
    """A bank file's statements one at a time (camt.053 and MT940 read each only when it
    is taken), detecting the format from the content when ``format`` is None.

    ``data`` is the file's bytes, or the file itself (binary and seekable, read from its
    start): detection reads its first :data:`HEAD_BYTES`, camt.053 is read in slices and
    never whole, the other formats are read whole (MT940, BAI2 and OFX files are small).

    Raises:
        NotAStatementError: as :func:`parse`, at once (the format is known before any
            statement is read).
    """
    if format is None:
        head = _head(data)
        format = detect(head)
        if format is None:
            raise NotAStatementError(ParseProblem(where="file", error=_not_a_statement(head)))
    module = module_for(format)
    if isinstance(data, bytes):
        return ParseStream(format=format, items=module.stream(data))
    data.seek(0)
    if module is camt053:
        return ParseStream(format=format, items=camt053.stream(data))
    return ParseStream(format=format, items=module.stream(data.read()))


def _head(data: bytes | IO[bytes]) -> bytes:
    if isinstance(data, bytes):
        return data[:HEAD_BYTES]
    data.seek(0)
    return data.read(HEAD_BYTES)


def _not_a_statement(head: bytes) -> str:
    names = ", ".join(module.FORMAT.value for module in FORMATS)
    if not head or head.isspace():
        return "not a bank statement: the file is empty"
    return f"not a bank statement: the start of the file matches none of the formats ({names})"


__all__ = [
    "FORMATS",
    "HEAD_BYTES",
    "FormatModule",
    "NotAStatementError",
    "detect",
    "module_for",
    "parse",
    "stream",
]

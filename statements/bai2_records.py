"""Cutting a BAI2 file into logical records (the tokenizer): physical lines, fixed-length
files, record codes, ``88`` continuations folded into the record before them; and the
error (:class:`_Bad`) naming the line and field a record cannot be read at.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

_CODES = frozenset({"01", "02", "03", "16", "49", "88", "98", "99"})


class _Bad(Exception):
    """One account (or the file) that cannot be read: the line, the field, the reason."""

    def __init__(self, line: int, reason: str, field: str | None = None) -> None:
        super().__init__(reason)
        self.line = line
        self.field = field
        self.reason = reason


@dataclass(slots=True)
class _Record:
    """One logical record: its physical lines joined, its 88 continuations folded in."""

    code: str
    line: int  # the line its first physical record stands on, 1-based
    text: str  # everything after "NN," (continuations joined)
    lines: int = 1  # physical records, the 88s included
    open_text: bool = False  # the last physical record did not end with "/"

    def fields(self) -> list[str]:
        body = self.text[:-1] if self.text.endswith("/") else self.text
        return body.split(",")


def _records(text: str) -> Iterator[_Record | _Bad]:
    """Physical lines to logical records; a bad record code is yielded as a fault."""
    lines = text.replace("\r\n", "\n").replace("\r", "\n").split("\n")
    if len(lines) <= 2 and len(lines[0]) > 80:
        lines = _fixed_length(lines[0]) or lines
    current: _Record | None = None
    for number, raw in enumerate(lines, 1):
        line = raw.strip()
        if not line:
            continue
        code, comma, rest = line.partition(",")
        if not comma or code not in _CODES:
            if current is not None:
                yield current
                current = None
            shown = code if comma else line[:10]
            yield _Bad(
                number,
                f"the record code {shown!r} is not a BAI2 record (01, 02, 03, 16, 49, 88, 98 "
                "or 99)",
                "record code",
            )
            continue
        rest = rest.rstrip()
        if code == "88":
            if current is None:
                yield _Bad(number, "a continuation (88) follows no record", "record code")
                continue
            # A record cut before a field ends in "/", and the 88 starts the next field;
            # a 16's text (no "/") goes on in the 88.
            if current.open_text:
                current.text += " " + rest
            else:
                current.text = current.text[:-1] + "," + rest
            current.open_text = not rest.endswith("/")
            current.lines += 1
            continue
        if current is not None:
            yield current
        current = _Record(code=code, line=number, text=rest, open_text=not rest.endswith("/"))
    if current is not None:
        yield current


def _fixed_length(text: str) -> list[str] | None:
    """Splits a file of fixed-length physical records with no line ends (01 field 6)."""
    fields = text[3:].split(",")
    if len(fields) < 6 or not fields[5].isdigit() or int(fields[5]) <= 0:
        return None
    size = int(fields[5])
    return [text[i : i + size] for i in range(0, len(text), size)]

"""Cutting an MT940 file into statement messages of tagged fields (the tokenizer):
decoding, line ends, SWIFT block headers and the sending bank's BIC; it knows nothing
of what a field means.
"""

from __future__ import annotations

import io
import re
from collections.abc import Iterator
from dataclasses import dataclass, field

#: A field tag at the start of a line: ``:20:``, ``:28C:``, ``:60F:``...
_TAG = re.compile(r":(\d{2}[A-Z]?):")

#: Control characters some banks put around messages (SOH, ETX, SUB, NUL).
_CONTROL = str.maketrans("", "", "\x00\x01\x03\x1a")


@dataclass(slots=True)
class _Field:
    tag: str
    line: int  # where the tag stands, 1-based
    lines: list[str]  # the value: the rest of the tag's line, then continuation lines


@dataclass(slots=True)
class _Message:
    number: int  # 1-based, in file order
    line: int
    bank: str | None
    fields: list[_Field] = field(default_factory=list)

    def first(self, tag: str) -> str | None:
        for f in self.fields:
            if f.tag == tag:
                return f.lines[0].strip() or None
        return None


def _decode(data: bytes) -> str:
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError:
        text = data.decode("latin-1")
    if "\x01" in text or "\x03" in text or "\x1a" in text or "\x00" in text:
        text = text.translate(_CONTROL)
    return text


def _messages(text: str) -> Iterator[_Message]:
    """Splits a file into statement messages of fields; knows nothing of their meaning.

    A line starting with a field tag starts a field (and ``:20:`` a message); a ``-`` or
    ``-}`` line, or a ``{1:...}{2:...}{4:`` block header, ends one; any other line goes
    on with the field before it. One pass over the lines, cheapest test first: this loop
    is most of the parse's time.
    """
    current: _Message | None = None
    fields: list[_Field] = []  # the current message's
    last: _Field | None = None
    bank: str | None = None  # from the block header of the message about to start
    count = 0
    tag_at = _TAG.match
    # Lines one at a time (no list of them all), CRLF and CR read as LF; each ends in "\n"
    # until stripped, which every branch below does before it keeps any text.
    for number, line in enumerate(_lines(text), 1):
        first = line[0]
        if first == "{":  # a block header, or a trailer block: it ends any message
            if current is not None:
                yield current
            current = last = None
            start = line.find("{4:")
            bank = _sender(line[:start]) if start >= 0 else None
            line = line[start + 3 :] if start >= 0 else ""  # "{4::20:..." on one line
            if not line.strip():
                continue
            first = line[0]
        if first == ":":
            match = tag_at(line)
            if match is not None:
                tag = match[1]
                if current is None or (tag == "20" and fields):
                    if current is not None:
                        yield current
                    count += 1
                    current = _Message(number=count, line=number, bank=bank)
                    fields = current.fields
                    bank = None
                last = _Field(tag, number, [line[match.end() :].rstrip()])
                fields.append(last)
                continue
        elif first == "-":
            stripped = line.rstrip()
            if stripped == "-" or stripped.startswith("-}"):
                if current is not None:
                    yield current
                current = last = None
                bank = None
                continue
        if last is not None:  # a continuation line; text outside a message is ignored
            stripped = line.rstrip()
            if stripped:
                last.lines.append(stripped)
    if current is not None:
        yield current


def _lines(text: str) -> Iterator[str]:
    """The lines of ``text`` one at a time, each with its line end (LF or CRLF, which
    every reader of a line strips), sliced from ``text`` as they are asked for.

    Not ``io.StringIO``: it keeps its own copy of the text at four bytes a character
    (56 MB for a 14 MB file). Old Mac files that end lines in a bare CR are the one case
    left to it, which reads CR as LF.
    """
    if text.count("\r") != text.count("\r\n"):
        yield from io.StringIO(text, newline=None)
        return
    start, size, find = 0, len(text), text.find
    while start < size:
        end = find("\n", start)
        if end == -1:
            yield text[start:]
            return
        yield text[start : end + 1]
        start = end + 1


def _sender(headers: str) -> str | None:
    """The sending bank's BIC from an output application header (``{2:O940...}``)."""
    start = headers.find("{2:O")
    if start < 0:
        return None
    # O + message type (3) + input time (4) + input date (6), then the sender's LT address
    # (12: the BIC8, a terminal letter, the branch).
    address = headers[start + 3 + 14 : start + 3 + 26]
    if len(address) != 12 or not address.isalnum():
        return None
    branch = address[9:]
    return address[:8] + ("" if branch == "XXX" else branch)

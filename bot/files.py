"""Streaming readers for intake files: CSV with a header, or JSON Lines.

Rows are yielded one at a time with their line number, so a 1 GB file never sits in
memory. Values come out as text; JSON numbers keep their exact digits (never floats).

A line that cannot be read (bytes that are not UTF-8, JSON nested past what the parser
can follow, a key given twice, a CSV field past the field limit) is a row with a
problem like any other, so one bad line never stops the rest of the file. A file that
cannot be read at all (not a file, UTF-16, a header that is not UTF-8) is refused by
:func:`check_readable` before anything is written.
"""

from __future__ import annotations

import codecs
import csv
import io
import json
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

from bot.errors import BotError

#: Rows per transaction: a batch holds the write lock for a few tens of milliseconds.
DEFAULT_BATCH = 1000
#: The source of rows that name none (not the file name: a dated export must amend
#: yesterday's items, not duplicate them).
DEFAULT_SOURCE = "default"


@dataclass(frozen=True, slots=True, kw_only=True)
class RawRow:
    """One row as read: its line, its values as text, or why it could not be read."""

    line: int
    values: dict[str, str]
    problem: tuple[str, str] | None = None  # (field, error)
    raw: str = ""
    #: Known to hold no control or bidi character (:func:`domain.intake.parse_row`'s
    #: ``plain_text``): an ASCII line with none, checked once per line.
    plain: bool = False


#: Characters of a rejected line kept in the quarantine: a row is a few hundred
#: characters, so this keeps any real row whole, and a 100 MB line does not fill the store.
MAX_RAW = 16_384
#: The bytes :func:`check_readable` looks at to tell what kind of text a file holds.
_HEAD = 65_536


class UnreadableFile(BotError, ValueError):
    """The file as a whole is not something ingest can read: nothing was written."""


def detect_format(path: Path) -> str:
    """``csv`` or ``jsonl`` from the extension.

    Raises:
        ValueError: any other extension.
    """
    suffix = path.suffix.lower()
    if suffix == ".csv":
        return "csv"
    if suffix in (".jsonl", ".ndjson"):
        return "jsonl"
    raise ValueError(f"{path.name}: expected a .csv or .jsonl file")


_BOMS = (
    (b"\xff\xfe\x00\x00", "UTF-32"),
    (b"\x00\x00\xfe\xff", "UTF-32"),
    (b"\xff\xfe", "UTF-16"),
    (b"\xfe\xff", "UTF-16"),
)
_SAVE_AS_UTF8 = (
    "recon-bot reads UTF-8 only: save it as UTF-8 (Excel: 'CSV UTF-8') and ingest it again"
)


def check_readable(path: Path, fmt: str) -> None:
    """Refuses a file ingest cannot read at all, before anything is written.

    Looks at the start of the file only: a byte order mark of UTF-16 or UTF-32, or NUL
    bytes in the first line (UTF-16 without a mark), mean the whole file is in another
    encoding; a CSV header that is not UTF-8 (Latin-1, Windows-1252) names no column
    reliably. A bad byte further down is the problem of its own row.

    Raises:
        UnreadableFile: not a regular file, or not UTF-8 text (the message says so).
        OSError: the file cannot be opened or read.
    """
    if not path.is_file():
        raise UnreadableFile(f"{path} is not a file")
    with path.open("rb") as stream:
        head = stream.read(_HEAD)
    for bom, encoding in _BOMS:
        if head.startswith(bom):
            raise UnreadableFile(
                f"{path.name} is {encoding} text (it starts with a {encoding} byte order mark); "
                + _SAVE_AS_UTF8
            )
    first_line = head.split(b"\n", 1)[0]
    if b"\x00" in first_line:
        raise UnreadableFile(
            f"{path.name} holds NUL bytes in its first line, so it is UTF-16 or binary, "
            "not UTF-8 text; " + _SAVE_AS_UTF8
        )
    if fmt != "csv":
        return
    try:
        # A header cut at _HEAD may end inside a character: that is not an error.
        codecs.getincrementaldecoder("utf-8")().decode(first_line, final=len(head) < _HEAD)
    except UnicodeDecodeError as exc:
        raise UnreadableFile(
            f"{path.name} is not UTF-8 text: its header has byte 0x{first_line[exc.start]:02X} "
            f"at byte {exc.start + 1} (Latin-1 or Windows-1252?); " + _SAVE_AS_UTF8
        ) from None


def _text(value: Any) -> str | None:
    if value is None:
        return None
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return value
    raise TypeError


def read_rows(
    stream: IO[bytes],
    fmt: str,
    on_progress: Callable[[int], None] | None = None,
) -> Iterator[RawRow]:
    """Yields rows one by one; ``on_progress(bytes_read)`` is called every few hundred rows.

    Bytes that are not UTF-8 reach the rows as lone surrogates (``surrogateescape``), so
    decoding never fails part-way: the row holding them is reported instead.
    """
    text = io.TextIOWrapper(stream, encoding="utf-8-sig", errors="surrogateescape", newline="")
    rows = _read_csv(text) if fmt == "csv" else _read_jsonl(text)
    for count, row in enumerate(rows, start=1):
        if on_progress is not None and count % 500 == 0:
            on_progress(stream.tell())
        yield row
    if on_progress is not None:
        on_progress(stream.tell())


class _Lines:
    """The lines of a text, remembering those of the record being read (its raw text).

    ``csv`` gives only the cells of a record, and nothing of one it cannot parse.
    """

    def __init__(self, text: io.TextIOWrapper) -> None:
        self._text = text
        self.taken: list[str] = []

    def __iter__(self) -> _Lines:
        return self

    def __next__(self) -> str:
        line = next(self._text)
        self.taken.append(line)
        return line

    def record(self) -> str:
        """The raw text of the record last read, as kept in the quarantine."""
        return quarantine_text("".join(self.taken).rstrip("\r\n"))


def _read_csv(text: io.TextIOWrapper) -> Iterator[RawRow]:
    lines = _Lines(text)
    reader = csv.reader(lines)
    try:
        header = next(reader)
    except StopIteration:
        return
    except csv.Error as exc:
        raise UnreadableFile(f"the CSV header cannot be read: {exc}") from None
    header = [h.strip() for h in header]
    if (problem := undecodable(",".join(header))) is not None:
        raise UnreadableFile(f"the CSV header {problem}")
    width = len(header)
    while True:
        start = reader.line_num + 1
        lines.taken.clear()
        try:
            cells = next(reader)
        except StopIteration:
            return
        except csv.Error as exc:
            yield RawRow(
                line=start,
                values={},
                problem=("(row)", f"unreadable CSV: {exc}"),
                raw=lines.record(),
            )
            continue
        if not cells or all(not c.strip() for c in cells):
            continue
        raw = ",".join(cells)
        # Fast path: an all-ASCII row holds no undecoded byte (O(1) for ASCII text).
        if not raw.isascii() and (problem := undecodable(raw)) is not None:
            yield RawRow(line=start, values={}, problem=("(line)", problem), raw=lines.record())
            continue
        if len(cells) != width:
            yield RawRow(
                line=start,
                values={},
                problem=("(row)", f"has {len(cells)} columns, the header has {width}"),
                raw=quarantine_text(raw),
            )
            continue
        values = dict(zip(header, cells, strict=True))
        plain = raw.isascii() and not raw.encode().translate(None, _PLAIN_ASCII)
        yield RawRow(line=start, values=values, raw=quarantine_text(raw), plain=plain)


class _RepeatedKey(ValueError):
    def __init__(self, key: str) -> None:
        super().__init__(key)
        self.key = key


def _unique_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    """An object's members, refusing a key given twice (``json`` would keep the last)."""
    doc = dict(pairs)
    if len(doc) != len(pairs):
        seen: set[str] = set()
        for key, _ in pairs:
            if key in seen:
                raise _RepeatedKey(key)
            seen.add(key)
    return doc


# Numbers stay exact: parsed as their literal text, never as floats. One decoder for
# every line (``json.loads`` with options builds a new one per call).
_JSON = json.JSONDecoder(parse_float=str, parse_int=str, object_pairs_hook=_unique_keys)
#: Field names are kept in a column of this many characters.
_MAX_FIELD = 100


def _read_jsonl(text: io.TextIOWrapper) -> Iterator[RawRow]:
    for number, line in enumerate(text, start=1):
        stripped = line.strip()
        if not stripped:
            continue
        # Fast path: an all-ASCII line holds no undecoded byte (O(1) for ASCII text).
        if not stripped.isascii() and (problem := undecodable(stripped)) is not None:
            yield RawRow(
                line=number, values={}, problem=("(line)", problem), raw=quarantine_text(stripped)
            )
            continue
        try:
            doc = _JSON.decode(stripped)
        except json.JSONDecodeError as exc:
            yield RawRow(
                line=number,
                values={},
                problem=("(line)", f"invalid JSON: {exc.msg}"),
                raw=quarantine_text(stripped),
            )
            continue
        except _RepeatedKey as exc:
            yield RawRow(
                line=number,
                values={},
                problem=(
                    _field(exc.key) or "(line)",
                    f"the key {exc.key[:_MAX_FIELD]!r} is given twice in one object; "
                    "which value is meant is not clear",
                ),
                raw=quarantine_text(stripped),
            )
            continue
        except RecursionError:
            yield RawRow(
                line=number,
                values={},
                problem=(
                    "(line)",
                    "is nested too deeply to read (a row is one flat JSON object)",
                ),
                raw=quarantine_text(stripped),
            )
            continue
        if not isinstance(doc, dict):
            yield RawRow(
                line=number,
                values={},
                problem=("(line)", "expected a JSON object"),
                raw=quarantine_text(stripped),
            )
            continue
        values: dict[str, str] = {}
        bad: tuple[str, str] | None = None
        for key, value in doc.items():
            try:
                converted = _text(value)
            except TypeError:
                bad = (_field(key) or "(line)", "must be a string, number, boolean or null")
                break
            if converted is not None:
                values[str(key)] = converted
        if bad is None and _SURROGATE_ESCAPE.search(stripped) is not None:
            bad = _lone_surrogate(values)
        # JSON strings hold no raw C0 control character (only an escape or non-ASCII
        # text can bring one, or a bidi override), but may hold a raw DEL.
        plain = stripped.isascii() and "\\u" not in stripped and "\x7f" not in stripped
        yield RawRow(
            line=number, values=values, problem=bad, raw=quarantine_text(stripped), plain=plain
        )


#: A JSON escape of half a UTF-16 pair; only a line holding one can hold a lone half.
_SURROGATE_ESCAPE = re.compile(r"\\u[dD][89a-fA-F]")


def _lone_surrogate(values: dict[str, str]) -> tuple[str, str] | None:
    """The first key or value holding half a UTF-16 pair, which is not text at all.

    A bad key cannot name the field, so the problem is the line's.
    """
    for key, value in values.items():
        for field, text in (("(line)", key), (key, value)):
            try:
                text.encode()
            except UnicodeEncodeError as exc:
                return (
                    field,
                    f"holds a lone surrogate (\\u{ord(text[exc.start]):04x}), "
                    "half of a UTF-16 pair: not valid Unicode text",
                )
    return None


#: Printable ASCII, tab and line breaks: an ASCII line of nothing else is plain text.
_PLAIN_ASCII = bytes(range(0x20, 0x7F)) + b"\t\n\r"
#: The lone surrogates ``surrogateescape`` decodes a byte that is not UTF-8 to.
_UNDECODED = re.compile("[\udc80-\udcff]")


def undecodable(text: str) -> str | None:
    """Why ``text`` (decoded with ``surrogateescape``) is not UTF-8, or None if it is."""
    found = _UNDECODED.search(text)
    if found is None:
        return None
    return (
        f"is not UTF-8 text: byte 0x{ord(found.group()) - 0xDC00:02X} at character "
        f"{found.start() + 1} cannot be decoded (save the file as UTF-8)"
    )


def quarantine_text(text: str) -> str:
    """``text`` as the quarantine keeps it: at most :data:`MAX_RAW` characters, marked
    when cut, with NUL and bytes that were not UTF-8 shown as ``\\x00`` and ``\\xe9``
    escapes (the store holds text only, and PostgreSQL no NUL)."""
    if len(text) > MAX_RAW:
        text = f"{text[:MAX_RAW]}... [cut: {len(text):,} characters in all, {MAX_RAW:,} kept]"
    if "\x00" in text:  # PostgreSQL text holds no NUL
        text = text.replace("\x00", "\\x00")
    if text.isascii() or _UNDECODED.search(text) is None:
        return text
    return text.encode("utf-8", "surrogateescape").decode("utf-8", "backslashreplace")


def _field(key: str) -> str:
    """A JSON key as the field a problem names: itself if it is plain text that fits."""
    return key[:_MAX_FIELD] if key.isprintable() else "(line)"

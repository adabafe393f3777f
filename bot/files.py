"""Streaming readers for intake files: CSV with a header, or JSON Lines.

Rows are yielded one at a time with their line number, so a 1 GB file never sits in
memory. Values come out as text; JSON numbers keep their exact digits (never floats).
"""

from __future__ import annotations

import csv
import io
import json
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

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
    """Yields rows one by one; ``on_progress(bytes_read)`` is called every few hundred rows."""
    text = io.TextIOWrapper(stream, encoding="utf-8-sig", newline="")
    rows = _read_csv(text) if fmt == "csv" else _read_jsonl(text)
    for count, row in enumerate(rows, start=1):
        if on_progress is not None and count % 500 == 0:
            on_progress(stream.tell())
        yield row
    if on_progress is not None:
        on_progress(stream.tell())


def _read_csv(text: io.TextIOWrapper) -> Iterator[RawRow]:
    reader = csv.reader(text)
    try:
        header = next(reader)
    except StopIteration:
        return
    header = [h.strip() for h in header]
    width = len(header)
    while True:
        start = reader.line_num + 1
        try:
            cells = next(reader)
        except StopIteration:
            return
        except csv.Error as exc:
            yield RawRow(line=start, values={}, problem=("(row)", f"unreadable CSV: {exc}"))
            continue
        if not cells or all(not c.strip() for c in cells):
            continue
        raw = ",".join(cells)
        if len(cells) != width:
            yield RawRow(
                line=start,
                values={},
                problem=("(row)", f"has {len(cells)} columns, the header has {width}"),
                raw=raw,
            )
            continue
        yield RawRow(line=start, values=dict(zip(header, cells, strict=True)), raw=raw)


def _read_jsonl(text: io.TextIOWrapper) -> Iterator[RawRow]:
    for number, line in enumerate(text, start=1):
        stripped = line.strip()
        if not stripped:
            continue
        try:
            # Numbers stay exact: parse them as their literal text, never as floats.
            doc = json.loads(stripped, parse_float=str, parse_int=str)
        except json.JSONDecodeError as exc:
            yield RawRow(
                line=number, values={}, problem=("(line)", f"invalid JSON: {exc.msg}"), raw=stripped
            )
            continue
        if not isinstance(doc, dict):
            yield RawRow(
                line=number, values={}, problem=("(line)", "expected a JSON object"), raw=stripped
            )
            continue
        values: dict[str, str] = {}
        bad: tuple[str, str] | None = None
        for key, value in doc.items():
            try:
                converted = _text(value)
            except TypeError:
                bad = (str(key), "must be a string, number, boolean or null")
                break
            if converted is not None:
                values[str(key)] = converted
        if bad is None and _SURROGATE_ESCAPE.search(stripped) is not None:
            bad = _lone_surrogate(values)
        yield RawRow(line=number, values=values, problem=bad, raw=stripped)


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

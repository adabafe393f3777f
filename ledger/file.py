"""The ``file`` sink: one JSON Lines file per day (UTC) in a directory, each entry once.

Each delivered entry is one line: the body of :func:`domain.ledger.request_body` (the
same object the ``http`` sink posts). The reference is ``file:<day>.jsonl#<line>``.

Exactly once, across crashes and processes: under an exclusive lock on ``.lock`` in the
directory, the sink looks the entry's key up in every file (an index built by reading
the files once, then kept current by reading only what was appended since) and, only
when no line has it, appends the line, flushes and fsyncs before answering. A process
killed after the append but before recording the reference retries later and finds its
own line: it answers with that line's reference, as an HTTP ledger answers 409. A line
torn by a crash mid-write (no newline at the end of a file) is ignored, and the next
append starts on a fresh line.
"""

from __future__ import annotations

import asyncio
import fcntl
import json
import os
import threading
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

from domain.items import JournalEntry
from domain.ledger import Accepted, Outcome, Unavailable, request_body

_SUFFIX = ".jsonl"


class FileLedgerSink:
    """Appends entries to ``directory/<YYYY-MM-DD>.jsonl`` (see module docstring).

    ``today`` gives the current UTC time (injected: the day a line lands in).
    """

    def __init__(self, *, directory: Path, today: Callable[[], datetime]) -> None:
        self._dir = directory
        self._today = today
        self._index: dict[str, str] = {}  # idempotency key -> reference
        self._read_to: dict[str, int] = {}  # file name -> bytes indexed so far
        self._lines: dict[str, int] = {}  # file name -> complete lines indexed so far
        self._thread_lock = threading.Lock()

    async def close(self) -> None:
        """Nothing to release (each write opens and closes its file)."""

    async def send(self, entry: JournalEntry) -> Outcome:
        """Writes the entry once; a key already written answers with its reference."""
        try:
            reference, duplicate = await asyncio.to_thread(self._write, entry)
        except OSError as exc:
            return Unavailable(error=f"ledger directory: {exc.__class__.__name__}: {exc}")
        return Accepted(reference=reference, duplicate=duplicate)

    def _write(self, entry: JournalEntry) -> tuple[str, bool]:
        self._dir.mkdir(parents=True, exist_ok=True)
        with self._thread_lock, open(self._dir / ".lock", "a+b") as lock:
            fcntl.flock(lock.fileno(), fcntl.LOCK_EX)
            try:
                self._catch_up()
                found = self._index.get(entry.idempotency_key)
                if found is not None:
                    return found, True
                return self._append(entry), False
            finally:
                fcntl.flock(lock.fileno(), fcntl.LOCK_UN)

    def _catch_up(self) -> None:
        """Indexes what every day file gained since it was last read (by any process)."""
        for path in sorted(self._dir.glob(f"*{_SUFFIX}")):
            name = path.name
            start = self._read_to.get(name, 0)
            if path.stat().st_size <= start:
                continue  # nothing appended since (a torn tail is re-read only when it grows)
            with open(path, "rb") as handle:
                handle.seek(start)
                chunk = handle.read()
            if not chunk:
                continue
            complete = chunk.rfind(b"\n") + 1  # a torn last line waits (or stays torn)
            line_no = self._lines.get(name, 0)
            for raw in chunk[:complete].splitlines():
                line_no += 1
                try:
                    key = json.loads(raw).get("idempotency_key")
                except (ValueError, AttributeError):
                    continue  # a torn line from a crash: not an entry
                if isinstance(key, str):
                    self._index.setdefault(key, f"file:{name}#{line_no}")
            self._read_to[name] = start + complete
            self._lines[name] = line_no

    def _append(self, entry: JournalEntry) -> str:
        name = self._today().astimezone(UTC).date().isoformat() + _SUFFIX
        path = self._dir / name
        line = json.dumps(request_body(entry), separators=(",", ":"), sort_keys=True)
        with open(path, "ab") as handle:
            size = handle.tell()
            torn = size > self._read_to.get(name, 0)  # a crash left half a line
            data = (b"\n" if torn else b"") + line.encode() + b"\n"
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        line_no = self._lines.get(name, 0) + (1 if torn else 0) + 1
        reference = f"file:{name}#{line_no}"
        self._index[entry.idempotency_key] = reference
        self._read_to[name] = size + len(data)
        self._lines[name] = line_no
        return reference

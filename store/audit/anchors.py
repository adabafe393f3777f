"""The anchors file: checkpoints copied outside the database, one JSON line each."""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import re
from datetime import datetime
from pathlib import Path

import rfc8785

from domain.audit.anchoring import AnchorFileView
from domain.audit.checkpoints import Checkpoint
from domain.audit.records import AuditFormatError
from store.audit.durable import fsync_directory
from store.errors import StoreError
from store.private_files import PRIVATE_MODE


class AnchorFileError(StoreError):
    """The anchors file holds a line that is not a checkpoint."""


class AnchorFile:
    """Checkpoints copied to a JSON Lines file outside the database.

    Append after the checkpoint's transaction committed: an anchor then never refers
    to a state the database could lose by rolling back. Each line is written with one
    ``write`` under an exclusive ``flock`` and fsynced, so several processes may share
    the file and a crash tears at most the last line (which :meth:`read` ignores).
    Sizes never decrease in file order (a checkpoint older than the last line is not
    appended), which is what lets verification call a reordered file a failure.
    """

    def __init__(self, path: str | os.PathLike[str]) -> None:
        self.path = Path(path)

    def append(self, checkpoint: Checkpoint) -> None:
        """Appends one checkpoint durably (blocking; use ``asyncio.to_thread`` in a loop).

        A checkpoint of a size the file already reaches is skipped: another process
        committed and anchored a later state in the moment between this checkpoint's
        commit and its append, and that later anchor covers it.
        """
        line = rfc8785.dumps(checkpoint.to_json()) + b"\n"
        created = not self.path.exists()
        if created:
            self.path.parent.mkdir(parents=True, exist_ok=True)
        # 0600 like the signing key; an existing file keeps its mode (README, security notes).
        fd = os.open(self.path, os.O_RDWR | os.O_APPEND | os.O_CREAT, PRIVATE_MODE)
        try:
            if created:
                os.fchmod(fd, PRIVATE_MODE)  # the umask may have taken bits away
            fcntl.flock(fd, fcntl.LOCK_EX)
            last = _drop_torn_line(fd)
            if last is not None and last.log == checkpoint.log and last.size >= checkpoint.size:
                return
            view = memoryview(line)
            while view:
                view = view[os.write(fd, view) :]
            os.fsync(fd)
        finally:
            os.close(fd)  # also releases the lock
        if created:
            fsync_directory(self.path.parent)

    def view(self) -> AnchorFileView:
        """The file as verification sees it: present or not, and its anchors in order.

        Raises:
            AnchorFileError: a complete line is not a checkpoint.
        """
        try:
            data = self.path.read_bytes()
        except FileNotFoundError:
            return AnchorFileView(name=str(self.path), present=False)
        return AnchorFileView(name=str(self.path), present=True, anchors=tuple(self._parse(data)))

    def read(self) -> list[Checkpoint]:
        """Every anchored checkpoint, in file order ([] when the file does not exist).

        Raises:
            AnchorFileError: a complete line is not a checkpoint.
        """
        try:
            data = self.path.read_bytes()
        except FileNotFoundError:
            return []
        return self._parse(data)

    def _parse(self, data: bytes) -> list[Checkpoint]:
        lines = data.split(b"\n")
        torn = lines.pop()  # b"" when the file ends with a newline
        anchors = []
        match_canonical = _CANONICAL_ANCHOR.fullmatch
        for number, line in enumerate(lines, 1):
            fast = match_canonical(line)
            if fast is not None:
                # The form append() writes: skip the generic JSON path and its checks,
                # which the pattern already made (verification reads every anchor).
                anchors.append(
                    Checkpoint(
                        log=fast[2].decode(),
                        size=int(fast[5]),
                        root=fast[3].decode(),
                        time=datetime.fromisoformat(fast[6].decode()),
                        key_id=fast[1].decode(),
                        signature=fast[4].decode(),
                    )
                )
                continue
            if not line.strip():
                continue
            try:
                anchors.append(Checkpoint.from_json(json.loads(line)))
            except (ValueError, AuditFormatError) as exc:
                raise AnchorFileError(
                    f"anchors file {self.path} line {number} is not a checkpoint: {exc}"
                ) from exc
        if torn:
            # A line without its newline is a write a crash interrupted; the checkpoint
            # it was copying is still in the database.
            with contextlib.suppress(ValueError, AuditFormatError):
                anchors.append(Checkpoint.from_json(json.loads(torn)))
        return anchors


# A line exactly as append() writes it (RFC 8785 orders the keys); others take json.loads.
_CANONICAL_ANCHOR = re.compile(
    rb'\{"key_id":"([0-9a-f]{32})","log":"([^"\\\x00-\x1f]*)","root":"([0-9a-f]{64})",'
    rb'"signature":"([0-9a-f]{128})","size":(0|[1-9][0-9]{0,15}),'
    rb'"time":"([0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}\.[0-9]{6}Z)"\}'
)


def _drop_torn_line(fd: int) -> Checkpoint | None:
    """Makes the file end with a whole line; returns the last line's checkpoint, if any.

    A crash mid-append leaves a line without its newline. Cut it so the next line
    starts clean, unless it is whole but for the newline (read() accepts those).
    Only ever called under the exclusive lock.
    """
    end = os.lseek(fd, 0, os.SEEK_END)
    if end == 0:
        return None
    if os.pread(fd, 1, end - 1) == b"\n":
        start = max(0, end - 4096)  # an anchor line is about 330 bytes
        return _last_checkpoint(os.pread(fd, end - start, start)[:-1])
    start = max(0, end - 65536)
    tail = os.pread(fd, end - start, start)
    cut = tail.rfind(b"\n")
    try:
        torn = Checkpoint.from_json(json.loads(tail[cut + 1 :]))
    except (ValueError, AuditFormatError):
        os.ftruncate(fd, start + cut + 1 if cut >= 0 else start)
        return _last_checkpoint(tail[:cut]) if cut >= 0 else None
    os.write(fd, b"\n")
    return torn


def _last_checkpoint(text: bytes) -> Checkpoint | None:
    """The checkpoint on the last line of ``text`` (no trailing newline), if it is one."""
    line = text[text.rfind(b"\n") + 1 :]
    try:
        return Checkpoint.from_json(json.loads(line))
    except (ValueError, AuditFormatError):
        return None

"""Files only the desk's own user may read: created mode 0600, whatever the umask.

The database, the anchors file and the policy name amounts, counterparties, people and
channels; like the signing key, they are created readable by their owner only. A file
that already exists keeps its mode: changing it silently could lock out a reader the
operator set up on purpose (a backup user, a group-readable anchors copy), so
:func:`exposed_files` names the ones group or others can read and the caller warns.
"""

from __future__ import annotations

import os
import stat
from collections.abc import Iterable
from pathlib import Path

PRIVATE_MODE = 0o600


def create_private_file(path: Path, content: bytes = b"") -> bool:
    """Creates ``path`` with mode 0600 holding ``content``, unless it already exists.

    Args:
        path: The file to create; its directory must exist.
        content: What to write into it.

    Returns:
        Whether the file was created (False: it existed and was left untouched).
    """
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, PRIVATE_MODE)
    except FileExistsError:
        return False
    try:
        os.fchmod(fd, PRIVATE_MODE)  # the umask may have taken bits away, never added
        view = memoryview(content)
        while view:
            view = view[os.write(fd, view) :]
    finally:
        os.close(fd)
    return True


def exposed_files(paths: Iterable[Path]) -> list[str]:
    """One sentence for each existing file that group or others may access.

    Args:
        paths: Files to look at; missing ones are skipped.

    Returns:
        e.g. ``recon.db is readable by group or others (mode 0644); run: chmod 600 recon.db``.
    """
    found = []
    for path in paths:
        try:
            mode = stat.S_IMODE(path.stat().st_mode)
        except OSError:
            continue
        if mode & 0o077:
            found.append(
                f"{path} is accessible by group or others (mode {mode:04o}); run: chmod 600 {path}"
            )
    return found

"""Making a newly created file survive a crash: fsync its directory entry too."""

from __future__ import annotations

import os
from pathlib import Path


def fsync_directory(directory: Path) -> None:
    """Flushes ``directory`` so a file just created (or linked) in it stays after a crash."""
    fd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)

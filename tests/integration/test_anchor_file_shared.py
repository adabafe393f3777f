"""One anchors file shared by several processes (replicas on one host or one NFSv4 path).

AnchorFile.append takes an exclusive ``flock`` for the whole append (read the last
line, compare sizes, write one line, fsync), rather than relying on ``O_APPEND`` alone:
the size check must be atomic with the write, and ``O_APPEND`` is not atomic on NFS.
Two real processes race here; the file must come out whole and in size order.
"""

from __future__ import annotations

import multiprocessing
from datetime import UTC, datetime, timedelta
from multiprocessing.synchronize import Barrier
from pathlib import Path

from domain.audit.checkpoints import sign_checkpoint
from domain.audit.merkle import leaf_hash
from store.audit.anchors import AnchorFile
from store.audit.signer import Ed25519Signer

PER_PROCESS = 150
T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)


def _append_many(path: str, parity: int, start: Barrier) -> None:
    """Appends checkpoints of sizes 2, 4, ... (parity 0) or 1, 3, ... (parity 1)."""
    signer = Ed25519Signer.generate()
    anchors = AnchorFile(path)
    start.wait(30)  # both processes begin appending together
    for n in range(PER_PROCESS):
        size = 2 * n + 2 - parity
        checkpoint = sign_checkpoint(
            signer,
            log="recon",
            size=size,
            root=leaf_hash(b"%d" % size),
            time=T0 + timedelta(milliseconds=size),
        )
        anchors.append(checkpoint)


def test_two_processes_appending_leave_whole_lines_in_size_order(tmp_path: Path) -> None:
    path = tmp_path / "shared" / "anchors.jsonl"
    context = multiprocessing.get_context("spawn")
    start = context.Barrier(2)
    workers = [
        context.Process(target=_append_many, args=(str(path), parity, start)) for parity in (0, 1)
    ]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join(60)
    assert [worker.exitcode for worker in workers] == [0, 0]

    raw = path.read_bytes()
    anchors = AnchorFile(path).read()  # raises on any line that is not a whole checkpoint
    sizes = [anchor.size for anchor in anchors]

    assert raw.endswith(b"\n") and raw.count(b"\n") == len(anchors)
    assert sizes == sorted(set(sizes))  # never a smaller size after a larger one, no repeat
    assert sizes[-1] == 2 * PER_PROCESS  # the newest checkpoint of either process is there

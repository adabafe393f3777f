"""The anchors file as evidence: when its absence, a cut or a reordering is a failure (pure).

Every checkpoint the desk signs (in a unit of work, or in the sealer's own transaction
when checkpoints are batched) is appended to the anchors file right after its commit
(the anchor job re-appends the newest one if a crash came in between). So the log itself
tells whether anchors were written: **a log with at least one signed checkpoint has
anchors**. This needs no marker in the database, which whoever rewrites the log could
delete with everything else; a re-signed log or an old backup still has checkpoints
(without them every record is an unsigned tail), so it still demands the anchors that
would expose it.

Given that, the anchors file fails verification when it is:

- missing (``anchors_missing``);
- cut (``anchors_truncated``): its last anchor is older than the newest checkpoint of
  the log (the file may skip an intermediate checkpoint whose append a crash lost, never
  the newest one once the anchor job ran);
- reordered (``anchors_reordered``): the sizes of the log's anchors decrease in file
  order (:meth:`store.audit.anchors.AnchorFile.append` never writes a smaller size after
  a larger one).

A file cut back to exactly the size of a restored old backup agrees with it: only a
copy kept elsewhere (the compliance channel gets one every anchor interval) shows that.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from domain.audit.checkpoints import Checkpoint


@dataclass(frozen=True, slots=True, kw_only=True)
class AnchorFileView:
    """The anchors file as read: its name for sentences, whether it exists, its anchors
    in file order (torn last line left out)."""

    name: str
    present: bool
    anchors: tuple[Checkpoint, ...] = ()


def anchor_order_problem(anchors: Sequence[Checkpoint], *, log: str) -> str | None:
    """The sentence for the first anchor of ``log`` whose size is below an earlier one's."""
    largest, largest_at = -1, 0
    for number, anchor in enumerate(anchors, 1):
        if anchor.log != log:
            continue
        if anchor.size < largest:
            return (
                f"anchor #{number} (size {anchor.size}) comes after anchor #{largest_at} "
                f"(size {largest}) in the anchors file, so the file was reordered or edited "
                "(anchors are only ever appended in size order)"
            )
        largest, largest_at = anchor.size, number
    return None


def anchor_coverage_problem(
    view: AnchorFileView, *, checkpoints: int, newest_checkpoint: int, anchored: int
) -> tuple[str, str, int | None] | None:
    """Why the anchors file does not cover a log that has signed checkpoints, or None.

    Args:
        view: the file as read.
        checkpoints: how many signed checkpoints the log has (0: nothing to anchor).
        newest_checkpoint: the largest size they sign.
        anchored: the largest size the file anchors (0 when none).

    Returns:
        ``(reason, sentence, first unanchored record)``; no record is named when no
        anchor is left at all.
    """
    if checkpoints == 0 or anchored >= newest_checkpoint:
        return None
    flag = "; verify with --no-anchors to check the log without it"
    if not view.present:
        return (
            "anchors_missing",
            f"the anchors file {view.name} is missing, but the log has {checkpoints} signed "
            f"checkpoints up to size {newest_checkpoint}, each anchored when it was "
            f"written: the file was deleted or moved{flag}",
            None,
        )
    if anchored == 0:
        return (
            "anchors_truncated",
            f"the anchors file {view.name} holds no anchor of this log, but the log has "
            f"{checkpoints} signed checkpoints up to size {newest_checkpoint}: the file was "
            f"emptied or replaced{flag}",
            None,
        )
    return (
        "anchors_truncated",
        f"the anchors file {view.name} ends at size {anchored}, but the log has a "
        f"checkpoint signed for size {newest_checkpoint}: the file was cut after size "
        f"{anchored} (or the newest anchor could not be written and the anchor job has not "
        f"repaired it yet){flag}",
        anchored + 1,
    )

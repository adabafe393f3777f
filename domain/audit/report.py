"""The outcome of verifying one audit log (pure)."""

from __future__ import annotations

from dataclasses import dataclass

from domain.audit.merkle import EMPTY_ROOT


@dataclass(frozen=True, slots=True, kw_only=True)
class VerifyReport:
    """The outcome of verifying one log.

    ``first_bad_seq`` is the first record that cannot be vouched for: the record itself
    for a gap, bad hash, wrong seq or broken link; for a checkpoint or anchor whose root
    or signature fails, the first record after the last size a valid signed root
    matched (a root tells that a range changed, not which record in it).
    """

    ok: bool
    records: int
    """Records read and found good (the whole log when ``ok``)."""
    checkpoints: int
    """Checkpoints checked (signature and root)."""
    anchors: int
    """Anchored checkpoints checked."""
    anchors_checked: bool = True
    """False when the anchors file was left out on purpose (``--no-anchors``)."""
    root: str
    """Merkle root of the good records read."""
    first_bad_seq: int | None = None
    reason: str | None = None
    """Stable code of the problem: gap, order, format, hash, link, signature,
    unknown_key, checkpoint_root, checkpoint_log, truncated, unsigned_tail (records
    after the newest checkpoint, older than the merge delay or read without one),
    anchor_mismatch, anchor_beyond_log, anchor_file, anchors_missing, anchors_truncated,
    anchors_reordered, head, bundle; with ``--deep`` on a database also row (a column
    of ``audit_records`` disagrees with its signed body) and table (an item or journal
    entry or statement disagrees with the replayed log)."""
    problem: str | None = None
    """One sentence for a person."""
    items: int | None = None
    """Items rows compared with the replayed log (``--deep`` on a database), else None."""
    journal_entries: int | None = None
    """Journal entry rows compared with the replayed log, as ``items``."""
    statements: int | None = None
    """Bank statement rows compared with the replayed log, as ``items``."""
    pending: int = 0
    """Records after the newest checkpoint, younger than the merge delay: chained and
    hashed correctly but not yet checkpointed (not vouched for by a signature yet)."""
    anchor_sources: tuple[str, ...] = ()
    """What the anchors were read from, one phrase each (e.g. the anchors file's path)."""

    @classmethod
    def unread(cls, *, reason: str, problem: str) -> VerifyReport:
        """A failure found before any record was read (an unreadable anchors file or bundle).

        Args:
            reason: the stable code (see ``reason``).
            problem: one sentence for a person.
        """
        return cls(
            ok=False,
            records=0,
            checkpoints=0,
            anchors=0,
            root=EMPTY_ROOT,
            reason=reason,
            problem=problem,
        )

    def summary(self) -> str:
        """One line for the CLI."""
        anchors = (
            f"{self.anchors} anchors verified"
            if self.anchors_checked
            else "anchors NOT checked (--no-anchors)"
        )
        if not self.ok:
            tail = "" if self.anchors_checked else f" ({anchors})"
            return f"FAILED: {self.problem}{tail}"  # the sentence names the first bad record
        tables = ""
        if self.items is not None:
            statements = f" and {self.statements} statements" if self.statements else ""
            tables = (
                f"; {self.items} items{',' if statements else ' and'} "
                f"{self.journal_entries or 0} journal entries{statements} "
                "match the replayed log"
            )
        pending = ""
        if self.pending:
            first = self.records - self.pending + 1
            pending = (
                f"; {self.pending} newest record(s) (from {first}) not yet checkpointed, "
                "within the merge delay"
            )
        return (
            f"OK: {self.records} records, {self.checkpoints} checkpoints, {anchors}"
            f"{tables}{pending}; root {self.root}"
        )

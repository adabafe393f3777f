"""The sentences a failed verification reports: which records are suspect, and why (pure).

:class:`~domain.audit.verifier.AuditVerifier` finds the problem; this module words the
ones that name records (a gap in the seqs, a broken link, a clause over a range).
"""

from __future__ import annotations


def gap_problem(expected: int, seq: int) -> str:
    """Why record ``expected`` is missing, when the next row read has ``seq``."""
    if seq > expected:
        last = "the log's start" if expected == 1 else f"record {expected - 1}"
        return f"record {expected} is missing: the log jumps from {last} to {seq}"
    return f"record {expected} is missing: a row with seq {seq} stands in its place"


def broken_link_problem(n: int, trusted_upto: int) -> tuple[str, int]:
    """Why record ``n``'s prev breaks the chain, and the first record suspected.

    ``trusted_upto`` is the largest size a valid signed root already vouched for.
    """
    if n == 1:
        return "record 1: its prev is not the genesis value", 1
    # The link breaks at n when record n-1 was changed and re-hashed, or when n's own
    # prev was changed and n re-hashed; n-1 is the earlier suspect unless a signed
    # root already vouched for it.
    first = n if trusted_upto >= n - 1 else n - 1
    return (
        f"record {n}: its prev does not match the hash of record {n - 1}, so record "
        f"{first} was changed and re-hashed",
        first,
    )


def records_clause(first: int | None, last: int, singular: str, plural: str) -> str:
    """A clause's subject and verb: "records 7 to 9 do" or "record 9 does"."""
    if first is None or first == last:
        return f"record {last} {singular}"
    return f"records {first} to {last} {plural}"

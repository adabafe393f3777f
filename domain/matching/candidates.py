"""Blocking: which ledger entries a bank line is compared with at all.

Ledger entries are indexed by block (currency, sign, and the GL account the bank account
maps to when a mapping is given), then by amount bucket: ``minor // (tolerance + 1)``,
so two amounts within the tolerance are in the same or a neighbouring bucket. Each bucket
holds its entries sorted by date. A bank line looks in three buckets and, in each, only at
the date range ``[earlier date - window, later date + window]`` found by bisection.

Complexity: building the index is O(m log m) for m ledger entries; looking up one bank
line is O(log m + k) where k is the number of entries in its three buckets and its date
range, so the run is O((n + m) log m + K) with K the candidate pairs examined, instead of
the n x m of comparing everything with everything. ``examined`` counts K.
"""

from __future__ import annotations

import bisect
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field

from domain.matching.scoring import PreparedBank, PreparedLedger


def _sign(minor: int) -> int:
    return (minor > 0) - (minor < 0)


BlockKey = tuple[str, int, str | None]


def bank_block(bank: PreparedBank, accounts: Mapping[str, str] | None) -> BlockKey:
    gl = accounts.get(bank.line.account) if accounts is not None else None
    return (bank.currency, _sign(bank.minor), gl)


def ledger_block(entry: PreparedLedger, accounts: Mapping[str, str] | None) -> BlockKey:
    gl = entry.line.gl_account if accounts is not None else None
    return (entry.currency, _sign(entry.minor), gl)


@dataclass(slots=True)
class _Bucket:
    days: list[int] = field(default_factory=list)
    entries: list[PreparedLedger] = field(default_factory=list)


@dataclass(slots=True)
class LedgerIndex:
    """Ledger entries by block, amount bucket and date (built once per run)."""

    tolerances: Mapping[str, int]  # currency -> tolerance in minor units
    window: int
    accounts: Mapping[str, str] | None
    buckets: dict[tuple[BlockKey, int], _Bucket] = field(default_factory=dict)
    examined: int = 0

    @classmethod
    def build(
        cls,
        entries: Iterable[PreparedLedger],
        *,
        tolerances: Mapping[str, int],
        window: int,
        accounts: Mapping[str, str] | None,
    ) -> LedgerIndex:
        index = cls(tolerances=tolerances, window=window, accounts=accounts)
        ordered = sorted(entries, key=lambda e: (e.day, e.line.entry_id))
        for entry in ordered:
            width = tolerances[entry.currency] + 1
            key = (ledger_block(entry, accounts), entry.minor // width)
            bucket = index.buckets.get(key)
            if bucket is None:
                bucket = index.buckets[key] = _Bucket()
            bucket.days.append(entry.day)
            bucket.entries.append(entry)
        return index

    def candidates(self, bank: PreparedBank) -> Iterator[PreparedLedger]:
        """Entries in the bank line's block, within the tolerance and the date window."""
        tolerance = self.tolerances[bank.currency]
        width = tolerance + 1
        block = bank_block(bank, self.accounts)
        if self.accounts is not None and block[2] is None:
            return  # an account with no GL mapping has no candidates
        centre = bank.minor // width
        lo = bank.day_lo - self.window
        hi = bank.day_hi + self.window
        for b in (centre - 1, centre, centre + 1):
            bucket = self.buckets.get((block, b))
            if bucket is None:
                continue
            start = bisect.bisect_left(bucket.days, lo)
            end = bisect.bisect_right(bucket.days, hi)
            for i in range(start, end):
                entry = bucket.entries[i]
                self.examined += 1
                if abs(entry.minor - bank.minor) <= tolerance and (
                    bank.distance(entry.day) <= self.window
                ):
                    yield entry

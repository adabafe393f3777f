"""Twins: lines that look like copies of each other (the duplicate checks' definition).

A bank line's fingerprint is its account, currency, amount, booking date and reference
(the normalised reference, or the description when there is none); a ledger entry's is
its GL account, currency, amount, date and reference. Two lines with one fingerprint are
twins: probably one payment imported twice (a statement loaded again, a revision of it).

The matcher never auto-accepts a match with a twin in it: which copy got the ledger
entry is a guess, and a duplicate would be approved silently. Such a match waits for
review, held with a reason, until the duplicate check is resolved. The checks module
raises the duplicate checks from the same fingerprints.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date
from decimal import Decimal

from domain.matching.records import BankLine, LedgerLine
from domain.matching.similarity import normalize_reference

Fingerprint = tuple[str, str, Decimal, date, str]


def bank_fingerprint(line: BankLine) -> Fingerprint:
    text = normalize_reference(line.reference) or normalize_reference(line.description)
    return (line.account, line.currency.upper(), line.amount, line.booking_date, text)


def ledger_fingerprint(entry: LedgerLine) -> Fingerprint:
    text = normalize_reference(entry.reference) or normalize_reference(entry.description)
    return (entry.gl_account, entry.currency.upper(), entry.amount, entry.entry_date, text)


@dataclass(frozen=True, slots=True)
class Twins:
    """The lines of a run's inputs that have a twin: bank keys and ledger entry ids."""

    bank: frozenset[tuple[str, int]]  # (statement id, line number)
    ledger: frozenset[str]

    @classmethod
    def among(cls, bank: Iterable[BankLine], ledger: Iterable[LedgerLine]) -> Twins:
        bank_groups: dict[Fingerprint, list[tuple[str, int]]] = {}
        for b in bank:
            bank_groups.setdefault(bank_fingerprint(b), []).append((b.statement_id, b.line_number))
        ledger_groups: dict[Fingerprint, list[str]] = {}
        for e in ledger:
            ledger_groups.setdefault(ledger_fingerprint(e), []).append(e.entry_id)
        return cls(
            bank=frozenset(k for keys in bank_groups.values() if len(keys) > 1 for k in keys),
            ledger=frozenset(i for ids in ledger_groups.values() if len(ids) > 1 for i in ids),
        )

    def hold(self, bank: Sequence[BankLine], ledger: Sequence[LedgerLine]) -> str | None:
        """Why a match of these lines must not be auto-accepted, or None."""
        for b in bank:
            if (b.statement_id, b.line_number) in self.bank:
                return (
                    f"bank line {b.key} has a twin (same account, amount, date and "
                    "reference): a duplicate?"
                )
        for e in ledger:
            if e.entry_id in self.ledger:
                return (
                    f"ledger entry {e.entry_id} has a twin (same account, amount, date and "
                    "reference): a duplicate?"
                )
        return None

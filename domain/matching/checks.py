"""Consistency checks of a matching run, each with a stable id so a re-run finds it again.

* ``duplicate_bank``: bank lines with the same account, currency, amount, booking date and
  reference (the normalised reference, or the description when there is none), also in
  two statements (a statement imported twice, or two revisions of one): twins
  (``twins.bank_fingerprint``).
* ``duplicate_ledger``: ledger entries with the same GL account, currency, amount, date
  and reference (or description), under different entry ids (``twins.ledger_fingerprint``).
* ``internal_transfer``: among the bank lines the run left unmatched, a debit on one of
  the company's own accounts and a credit of the same amount and currency on another,
  within the date window: one transfer pair, not two exceptions.
* ``statistics``: per statement, matched plus unmatched line totals against the
  statement's movement, and the matched bank total against the matched ledger total of
  the matches touching the statement, each within 1%.

An id is built from what the check is about (the duplicated values, the transfer's two
lines, the statement and the comparison), never from a position or a counter, so the same
data gives the same id in every run and the store can keep a check's resolution.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from decimal import Decimal
from enum import StrEnum

from domain.matching.records import (
    BankLine,
    BankLineKey,
    LedgerLine,
    MatchingPolicy,
    MatchResult,
)
from domain.matching.twins import Fingerprint, bank_fingerprint, ledger_fingerprint

#: Statistics compare within this share of the larger total (the issue's 1%).
STATISTICS_TOLERANCE = Decimal("0.01")


class CheckKind(StrEnum):
    DUPLICATE_BANK = "duplicate_bank"
    DUPLICATE_LEDGER = "duplicate_ledger"
    INTERNAL_TRANSFER = "internal_transfer"
    STATISTICS = "statistics"


@dataclass(frozen=True, slots=True, kw_only=True)
class Check:
    """One finding a person must resolve; ``id`` is stable across runs."""

    id: str
    kind: CheckKind
    statement: str | None
    detail: str
    bank_lines: tuple[BankLineKey, ...] = ()
    ledger_entries: tuple[str, ...] = ()


def _digest(*parts: object) -> str:
    text = "\x1f".join(str(p) for p in parts)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:20]


def duplicate_bank_lines(lines: Iterable[BankLine]) -> list[Check]:
    groups: dict[Fingerprint, list[BankLine]] = {}
    for line in lines:
        groups.setdefault(bank_fingerprint(line), []).append(line)
    checks = []
    for key, members in groups.items():
        if len(members) < 2:
            continue
        keys = tuple(sorted(m.key for m in members))
        account, currency, amount, day, ref = key
        statements = sorted({k.statement for k in keys})
        checks.append(
            Check(
                id=f"duplicate_bank:{_digest(account, currency, amount.normalize(), day, ref)}",
                kind=CheckKind.DUPLICATE_BANK,
                statement=keys[-1].statement,
                detail=(
                    f"{len(keys)} bank lines of one account with {amount} {currency} on {day}"
                    f", reference {ref or '(none)'}: {', '.join(str(k) for k in keys)}"
                    + (f" (in {len(statements)} statements)" if len(statements) > 1 else "")
                ),
                bank_lines=keys,
            )
        )
    return checks


def duplicate_ledger_entries(entries: Iterable[LedgerLine]) -> list[Check]:
    groups: dict[Fingerprint, list[LedgerLine]] = {}
    for entry in entries:
        groups.setdefault(ledger_fingerprint(entry), []).append(entry)
    checks = []
    for key, members in groups.items():
        if len(members) < 2:
            continue
        ids = tuple(sorted(m.entry_id for m in members))
        gl, currency, amount, day, ref = key
        checks.append(
            Check(
                id=f"duplicate_ledger:{_digest(gl, currency, amount.normalize(), day, ref)}",
                kind=CheckKind.DUPLICATE_LEDGER,
                statement=None,
                detail=(
                    f"{len(ids)} ledger entries on {gl} with {amount} {currency} on {day}"
                    f", reference {ref or '(none)'}: {', '.join(ids)}"
                ),
                ledger_entries=ids,
            )
        )
    return checks


def internal_transfers(
    lines: Iterable[BankLine], *, own_accounts: frozenset[str], window_days: int
) -> list[Check]:
    """Pairs debits and credits across own accounts, nearest date first, then by key."""
    own = sorted((ln for ln in lines if ln.account in own_accounts), key=lambda ln: ln.key)
    credits: dict[tuple[str, Decimal], list[BankLine]] = {}
    for line in own:
        if line.amount > 0:
            credits.setdefault((line.currency.upper(), line.amount), []).append(line)
    used: set[BankLineKey] = set()
    checks = []
    for debit in own:
        if debit.amount >= 0:
            continue
        options = [
            c
            for c in credits.get((debit.currency.upper(), -debit.amount), [])
            if c.account != debit.account
            and c.key not in used
            and abs((c.booking_date - debit.booking_date).days) <= window_days
        ]
        if not options:
            continue
        credit = min(
            options, key=lambda c: (abs((c.booking_date - debit.booking_date).days), c.key)
        )
        used.add(credit.key)
        checks.append(
            Check(
                id=f"internal_transfer:{debit.key}>{credit.key}",
                kind=CheckKind.INTERNAL_TRANSFER,
                statement=debit.statement_id,
                detail=(
                    f"{-debit.amount} {debit.currency} out of {debit.account} on "
                    f"{debit.booking_date} ({debit.key}) and into {credit.account} on "
                    f"{credit.booking_date} ({credit.key}): a transfer between own accounts"
                ),
                bank_lines=(debit.key, credit.key),
            )
        )
    return checks


def _within(a: Decimal, b: Decimal) -> bool:
    return abs(a - b) <= STATISTICS_TOLERANCE * max(abs(a), abs(b))


def statistics(
    lines: Iterable[BankLine],
    entries: Iterable[LedgerLine],
    result: MatchResult,
    *,
    movements: Mapping[str, Decimal] | None = None,
) -> list[Check]:
    """Per statement: lines accounted for, and matched bank against matched ledger.

    ``movements``: statement id -> closing minus opening balance, when known; otherwise
    the sum of the statement's lines given here (which only checks the run accounted for
    each line once).
    """
    by_key = {ln.key: ln for ln in lines}
    by_id = {e.entry_id: e.amount for e in entries}
    statements = sorted({k.statement for k in by_key})
    matched: dict[str, Decimal] = dict.fromkeys(statements, Decimal(0))
    unmatched: dict[str, Decimal] = dict.fromkeys(statements, Decimal(0))
    totals: dict[str, Decimal] = dict.fromkeys(statements, Decimal(0))
    for k, ln in by_key.items():
        totals[k.statement] += ln.amount
    sides: dict[str, tuple[Decimal, Decimal]] = {}
    for m in result.matches:
        bank_total = sum((by_key[k].amount for k in m.bank_lines if k in by_key), Decimal(0))
        ledger_total = sum((by_id.get(e, Decimal(0)) for e in m.ledger_entries), Decimal(0))
        touched = {k.statement for k in m.bank_lines}
        for k in m.bank_lines:
            if k in by_key:
                matched[k.statement] += by_key[k].amount
        for statement in touched:
            b, lg = sides.get(statement, (Decimal(0), Decimal(0)))
            sides[statement] = (b + bank_total, lg + ledger_total)
    for u in result.unmatched_bank:
        if u.line in by_key:
            unmatched[u.line.statement] += by_key[u.line].amount
    checks = []
    for statement in statements:
        movement = (
            movements[statement]
            if movements is not None and statement in movements
            else totals[statement]
        )
        accounted = matched[statement] + unmatched[statement]
        if not _within(accounted, movement):
            checks.append(
                Check(
                    id=f"statistics:{statement}:movement",
                    kind=CheckKind.STATISTICS,
                    statement=statement,
                    detail=(
                        f"matched {matched[statement]} + unmatched {unmatched[statement]} = "
                        f"{accounted}, but the statement moved {movement} (over 1% apart)"
                    ),
                )
            )
        bank_total, ledger_total = sides.get(statement, (Decimal(0), Decimal(0)))
        if not _within(bank_total, ledger_total):
            checks.append(
                Check(
                    id=f"statistics:{statement}:matched",
                    kind=CheckKind.STATISTICS,
                    statement=statement,
                    detail=(
                        f"matched bank total {bank_total} against matched ledger total "
                        f"{ledger_total} (over 1% apart)"
                    ),
                )
            )
    return checks


def run_checks(
    lines: Iterable[BankLine],
    entries: Iterable[LedgerLine],
    result: MatchResult,
    policy: MatchingPolicy,
    *,
    own_accounts: frozenset[str],
    movements: Mapping[str, Decimal] | None = None,
) -> tuple[Check, ...]:
    """All four kinds of check for one run, sorted by id."""
    bank = list(lines)
    ledger = list(entries)
    free = {u.line for u in result.unmatched_bank}
    checks = [
        *duplicate_bank_lines(bank),
        *duplicate_ledger_entries(ledger),
        *internal_transfers(
            (ln for ln in bank if ln.key in free),
            own_accounts=own_accounts,
            window_days=policy.date_window_days,
        ),
        *statistics(bank, ledger, result, movements=movements),
    ]
    return tuple(sorted(checks, key=lambda c: c.id))

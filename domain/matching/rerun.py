"""A run on top of the previous matches (after a new statement or ledger import).

* An **accepted** match (auto-accepted, or accepted by a person) is never touched: it is
  kept as it was, and its lines stay out of the new run, even if a line changed or is no
  longer among the inputs (that is for the statement's own review, not the matcher).
* A **pending** match whose sides are all present and unchanged (``Match.sides_digest``)
  is kept as it was: a reviewer may be looking at it, and a new import should not move it
  under them.
* A pending match whose side changed is **re-scored** on the same pairing with the new
  lines: kept, with its new score, components and band, when it still reaches the review
  band, dissolved (its lines back in the pool) when it does not or when a side is gone.
  Either way it is listed in ``changed``, so the caller voids any approval on it, as with
  amendments.
* Everything else (new lines, lines of dissolved matches, lines left unmatched before)
  goes through ``match_lines`` as a fresh run.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

from domain.matching.matcher import match_prepared, prepare_inputs
from domain.matching.records import (
    BankLine,
    BankLineKey,
    LedgerLine,
    Match,
    MatchingPolicy,
    MatchResult,
    band_for,
)
from domain.matching.scoring import (
    PreparedBank,
    PreparedLedger,
    score_group,
    sides_digest,
    tolerance_minor,
)
from domain.matching.twins import Twins


@dataclass(frozen=True, slots=True, kw_only=True)
class PreviousMatch:
    """A match of an earlier run as the store holds it: accepted, or still pending."""

    match: Match
    accepted: bool


@dataclass(frozen=True, slots=True, kw_only=True)
class ChangedMatch:
    """A pending match whose side changed: as it was, and as it is now (None: dissolved)."""

    before: Match
    after: Match | None
    reason: str


@dataclass(frozen=True, slots=True, kw_only=True)
class RerunResult:
    """``result.matches`` holds every match standing now: kept, re-scored and new."""

    result: MatchResult
    changed: tuple[ChangedMatch, ...]
    new: tuple[Match, ...]


def rematch(
    previous: Iterable[PreviousMatch],
    bank: Iterable[BankLine],
    ledger: Iterable[LedgerLine],
    policy: MatchingPolicy,
    *,
    accounts: Mapping[str, str] | None = None,
) -> RerunResult:
    """Re-runs the matcher without touching accepted matches (see the module docstring).

    Raises:
        MatchingError: duplicate keys, or a currency with no tolerance.
    """
    banks, ledgers = prepare_inputs(bank, ledger)
    twins = Twins.among((b.line for b in banks), (e.line for e in ledgers))
    bank_by_key = {b.key: b for b in banks}
    ledger_by_id = {e.entry_id: e for e in ledgers}
    claimed_bank: set[BankLineKey] = set()
    claimed_ledger: set[str] = set()
    standing: list[Match] = []
    changed: list[ChangedMatch] = []

    ordered = sorted(previous, key=lambda p: (not p.accepted, p.match.id))
    for prev in ordered:
        m = prev.match
        if prev.accepted:
            standing.append(m)
            claimed_bank.update(m.bank_lines)
            claimed_ledger.update(m.ledger_entries)
            continue
        if any(k in claimed_bank for k in m.bank_lines) or any(
            e in claimed_ledger for e in m.ledger_entries
        ):
            changed.append(
                ChangedMatch(before=m, after=None, reason="a line went to an accepted match")
            )
            continue
        sides = _sides(m, bank_by_key, ledger_by_id)
        if sides is None:
            changed.append(ChangedMatch(before=m, after=None, reason="a line is gone"))
            continue
        side_banks, side_ledgers = sides
        digest = sides_digest([b.line for b in side_banks], [e.line for e in side_ledgers])
        if digest == m.sides_digest:
            standing.append(m)
        else:
            tolerance = tolerance_minor(policy, side_banks[0].currency)
            components = score_group(side_banks, side_ledgers, policy, tolerance)
            if components.score < policy.review_at:
                changed.append(
                    ChangedMatch(
                        before=m,
                        after=None,
                        reason=f"a line changed and the pair now scores {components.score}",
                    )
                )
                continue
            held = None
            if components.score >= policy.auto_accept_at:
                held = twins.hold([b.line for b in side_banks], [e.line for e in side_ledgers])
            after = Match(
                bank_lines=m.bank_lines,
                ledger_entries=m.ledger_entries,
                score=components.score,
                components=components,
                band=band_for(components.score, policy, held=held),
                sides_digest=digest,
                held=held,
            )
            standing.append(after)
            changed.append(ChangedMatch(before=m, after=after, reason="a line changed: re-scored"))
        claimed_bank.update(m.bank_lines)
        claimed_ledger.update(m.ledger_entries)

    pool_bank = [b.line for b in banks if b.key not in claimed_bank]
    pool_ledger = [e.line for e in ledgers if e.entry_id not in claimed_ledger]
    fresh_banks, fresh_ledgers = prepare_inputs(pool_bank, pool_ledger)
    fresh = match_prepared(fresh_banks, fresh_ledgers, policy, accounts=accounts)
    result = MatchResult(
        matches=tuple(sorted([*standing, *fresh.matches], key=lambda m: m.id)),
        unmatched_bank=fresh.unmatched_bank,
        unmatched_ledger=fresh.unmatched_ledger,
        comparisons=fresh.comparisons,
        group_steps=fresh.group_steps,
    )
    return RerunResult(
        result=result,
        changed=tuple(sorted(changed, key=lambda c: c.before.id)),
        new=fresh.matches,
    )


def _sides(
    m: Match,
    bank_by_key: Mapping[BankLineKey, PreparedBank],
    ledger_by_id: Mapping[str, PreparedLedger],
) -> tuple[Sequence[PreparedBank], Sequence[PreparedLedger]] | None:
    banks = [bank_by_key.get(k) for k in m.bank_lines]
    ledgers = [ledger_by_id.get(e) for e in m.ledger_entries]
    found_banks = [b for b in banks if b is not None]
    found_ledgers = [e for e in ledgers if e is not None]
    if len(found_banks) != len(banks) or len(found_ledgers) != len(ledgers):
        return None
    return found_banks, found_ledgers

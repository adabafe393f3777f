"""The matcher: bank lines against ledger entries, scored, assigned, grouped, banded.

``match_lines`` runs in three steps, all deterministic (inputs are sorted by key first, so
their order never matters):

1. **Pairs.** Each bank line is scored against its blocked candidates
   (``candidates.LedgerIndex``) only.
2. **One-to-one assignment: best score first.** All pairs scoring at least the review
   band are sorted by score (highest first), then by the smaller amount difference, the
   fewer days apart, the bank line key and the ledger entry id, and taken in that order
   when neither side is taken yet. So no line is ever in two matches. Why greedy and not
   an optimal (maximum total score) assignment per block: an optimal assignment may give
   a line its second-best partner to lift another pair's score, which a reviewer cannot
   follow from the card; best-first gives each line its best partner unless a better
   pair took that partner first, which the unmatched reason then says. Blocks are small
   and scores well separated, so the two rarely differ; best-first is O(E log E) for E
   pairs.
3. **Groups.** Lines still free after step 2 are offered as anchors of a group: one bank
   line against up to ``max_group_size`` ledger entries (a payout for several invoices),
   then one ledger entry against up to ``max_group_size`` bank lines (card settlements
   for one entry), each by a subset-sum search with a step budget
   (``groups.subset_sums``). The candidates of a group search are the free lines of the
   same block within the date window that share a name or a reference with the anchor.
   Groups found in one round are taken best score first when all their lines are still
   free; anchors that lost a line search again once, on what is left.

Bands: a score of ``auto_accept_at`` (85) or more is auto-accepted, ``review_at`` (60) or
more waits for review, anything less is no match, and both sides stay unmatched with a
reason. A match with a twin line in it (``twins``: a probable duplicate) is never
auto-accepted: it waits for review with ``held`` saying why.
"""

from __future__ import annotations

import bisect
import itertools
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Generic, TypeVar

from domain.matching.candidates import BlockKey, LedgerIndex, bank_block, ledger_block
from domain.matching.groups import POOL_LIMIT, subset_sums
from domain.matching.records import (
    BankLine,
    Components,
    LedgerLine,
    Match,
    MatchingError,
    MatchingPolicy,
    MatchResult,
    UnmatchedBank,
    UnmatchedLedger,
    band_for,
)
from domain.matching.scoring import (
    PreparedBank,
    PreparedLedger,
    prepare_bank,
    prepare_ledger,
    score_group,
    sides_digest,
    tolerance_minor,
    weakest,
)
from domain.matching.similarity import name_similarity, reference_similarity
from domain.matching.twins import Twins

#: A line joins a group search only if it looks like the anchor: a counterparty at least
#: this similar, or a reference that points at the anchor.
GROUP_NAME_AFFINITY = 80
GROUP_REFERENCE_AFFINITY = 90

_T = TypeVar("_T")
_A = TypeVar("_A")


@dataclass(frozen=True, slots=True)
class _Best:
    score: int
    other: str
    components: Components


@dataclass(slots=True)
class _Run:
    policy: MatchingPolicy
    tolerances: dict[str, int]
    accounts: Mapping[str, str] | None
    matches: list[Match]
    taken_bank: list[bool]  # by PreparedBank.pos
    taken_ledger: list[bool]  # by PreparedLedger.pos
    best_bank: list[_Best | None]
    best_ledger: list[_Best | None]
    twins: Twins
    group_steps: int = 0


def prepare_inputs(
    bank: Iterable[BankLine], ledger: Iterable[LedgerLine]
) -> tuple[list[PreparedBank], list[PreparedLedger]]:
    """Both sides prepared and sorted by key.

    Raises:
        MatchingError: two bank lines with one key or two ledger entries with one id.
    """
    bank_lines = sorted(bank, key=lambda ln: (ln.statement_id, ln.line_number))
    for a, b in itertools.pairwise(bank_lines):
        if (a.statement_id, a.line_number) == (b.statement_id, b.line_number):
            raise MatchingError(f"two bank lines have the key {a.key}")
    entries = sorted(ledger, key=lambda e: e.entry_id)
    for x, y in itertools.pairwise(entries):
        if x.entry_id == y.entry_id:
            raise MatchingError(f"two ledger entries have the id {x.entry_id}")
    return (
        [prepare_bank(b, pos) for pos, b in enumerate(bank_lines)],
        [prepare_ledger(e, pos) for pos, e in enumerate(entries)],
    )


def match_lines(
    bank: Iterable[BankLine],
    ledger: Iterable[LedgerLine],
    policy: MatchingPolicy,
    *,
    accounts: Mapping[str, str] | None = None,
) -> MatchResult:
    """Matches bank lines against ledger entries (see the module docstring).

    Args:
        bank: lines of Stage-1-approved statements.
        ledger: open entries of the GL cash accounts.
        policy: the matching policy (tolerances already converted per currency).
        accounts: bank account -> GL cash account; when given, a bank line is compared
            only with entries of its account's GL account (and a line of an unmapped
            account with none). When None, the caller has passed one account's lines.

    Raises:
        MatchingError: duplicate keys, or a currency with no tolerance.
        MoneyError: an unknown currency, or an amount with more decimals than its
            currency allows.
    """
    banks, ledgers = prepare_inputs(bank, ledger)
    return match_prepared(banks, ledgers, policy, accounts=accounts)


def match_prepared(
    banks: list[PreparedBank],
    ledgers: list[PreparedLedger],
    policy: MatchingPolicy,
    *,
    accounts: Mapping[str, str] | None,
) -> MatchResult:
    currencies = {b.currency for b in banks} | {e.currency for e in ledgers}
    tolerances = {c: tolerance_minor(policy, c) for c in sorted(currencies)}
    run = _Run(
        policy=policy,
        tolerances=tolerances,
        accounts=accounts,
        matches=[],
        taken_bank=[False] * len(banks),
        taken_ledger=[False] * len(ledgers),
        best_bank=[None] * len(banks),
        best_ledger=[None] * len(ledgers),
        twins=Twins.among((b.line for b in banks), (e.line for e in ledgers)),
    )
    index = LedgerIndex.build(
        ledgers, tolerances=tolerances, window=policy.date_window_days, accounts=accounts
    )
    pairs: list[tuple[Components, PreparedBank, PreparedLedger]] = []
    for b in banks:
        for entry in index.candidates(b):
            components = score_group([b], [entry], policy, tolerances[b.currency])
            pairs.append((components, b, entry))
            _note_best(run.best_bank, b.pos, entry.entry_id, components)
            _note_best(run.best_ledger, entry.pos, str(b.key), components)
    _assign_pairs(run, pairs)
    if policy.max_group_size >= 2:
        _one_to_many(run, banks, ledgers)
        _many_to_one(run, banks, ledgers)
    return MatchResult(
        matches=tuple(sorted(run.matches, key=lambda m: m.id)),
        unmatched_bank=tuple(_unmatched_bank(run, b) for b in banks if _free_bank(run, b)),
        unmatched_ledger=tuple(_unmatched_ledger(run, e) for e in ledgers if _free_ledger(run, e)),
        comparisons=index.examined,
        group_steps=run.group_steps,
    )


def _note_best(best: list[_Best | None], pos: int, other: str, components: Components) -> None:
    """Keeps each line's best candidate (the smaller id on a tie, for determinism)."""
    current = best[pos]
    if (
        current is None
        or components.score > current.score
        or (components.score == current.score and other < current.other)
    ):
        best[pos] = _Best(components.score, other, components)


def _assign_pairs(run: _Run, pairs: list[tuple[Components, PreparedBank, PreparedLedger]]) -> None:
    review_at = run.policy.review_at
    eligible = [p for p in pairs if p[0].score >= review_at]
    eligible.sort(
        key=lambda p: (
            -p[0].score,
            abs(p[0].amount_difference),
            p[0].date_distance_days,
            p[1].pos,
            p[2].pos,
        )
    )
    for components, b, entry in eligible:
        if run.taken_bank[b.pos] or run.taken_ledger[entry.pos]:
            continue
        _take(run, [b], [entry], components)


def _take(
    run: _Run,
    banks: Sequence[PreparedBank],
    ledgers: Sequence[PreparedLedger],
    components: Components,
) -> None:
    for b in banks:
        run.taken_bank[b.pos] = True
    for e in ledgers:
        run.taken_ledger[e.pos] = True
    bank_lines = [b.line for b in banks]
    ledger_lines = [e.line for e in ledgers]
    held = None
    if components.score >= run.policy.auto_accept_at:
        held = run.twins.hold(bank_lines, ledger_lines)
    run.matches.append(
        Match(
            bank_lines=tuple(b.key for b in sorted(banks, key=lambda b: b.pos)),
            ledger_entries=tuple(sorted(e.entry_id for e in ledgers)),
            score=components.score,
            components=components,
            band=band_for(components.score, run.policy, held=held),
            sides_digest=sides_digest(bank_lines, ledger_lines),
            held=held,
        )
    )


def _free_bank(run: _Run, b: PreparedBank) -> bool:
    return not run.taken_bank[b.pos]


def _free_ledger(run: _Run, e: PreparedLedger) -> bool:
    return not run.taken_ledger[e.pos]


class _DayIndex(Generic[_T]):
    """Lines of one side by block, sorted by day, for the group pools."""

    def __init__(self, items: Iterable[tuple[BlockKey, int, _T]]) -> None:
        self._days: dict[BlockKey, list[int]] = {}
        self._items: dict[BlockKey, list[_T]] = {}
        for block, day, item in items:
            self._days.setdefault(block, []).append(day)
            self._items.setdefault(block, []).append(item)

    def between(self, block: BlockKey, lo: int, hi: int) -> list[_T]:
        days = self._days.get(block)
        if days is None:
            return []
        items = self._items[block]
        return items[bisect.bisect_left(days, lo) : bisect.bisect_right(days, hi)]


def _one_to_many(run: _Run, banks: list[PreparedBank], ledgers: list[PreparedLedger]) -> None:
    window = run.policy.date_window_days
    free_ledgers = sorted(
        (e for e in ledgers if _free_ledger(run, e)), key=lambda e: (e.day, e.entry_id)
    )
    index = _DayIndex((ledger_block(e, run.accounts), e.day, e) for e in free_ledgers)

    def pool(b: PreparedBank) -> list[PreparedLedger]:
        block = bank_block(b, run.accounts)
        out: list[PreparedLedger] = []
        for item in index.between(block, b.day_lo - window, b.day_hi + window):
            if _free_ledger(run, item) and b.distance(item.day) <= window:
                out.append(item)
        return out

    def affinity(b: PreparedBank, e: PreparedLedger) -> int:
        return max(
            name_similarity(b.name, e.name) - GROUP_NAME_AFFINITY,
            reference_similarity(b.texts, e.texts)[0] - GROUP_REFERENCE_AFFINITY,
        )

    anchors = [b for b in banks if _free_bank(run, b)]
    for _round in range(2):
        found: list[tuple[Components, PreparedBank, tuple[PreparedLedger, ...]]] = []
        for b in anchors:
            if not _free_bank(run, b):
                continue
            members = _best_group(
                run,
                anchor_minor=b.minor,
                tolerance=run.tolerances[b.currency],
                pool=pool(b),
                anchor=b,
                affinity=affinity,
                magnitude=lambda e: abs(e.minor),
                ident=lambda e: e.entry_id,
                score=lambda anchor, group: score_group(
                    [anchor], group, run.policy, run.tolerances[anchor.currency]
                ),
            )
            if members is not None:
                found.append((members[0], b, members[1]))
        losers = _take_groups(
            run,
            [(c, [b], list(group)) for c, b, group in found],
        )
        anchors = [b for c, b, group in found if id(b) in losers]
        if not anchors:
            break


def _many_to_one(run: _Run, banks: list[PreparedBank], ledgers: list[PreparedLedger]) -> None:
    window = run.policy.date_window_days
    free_banks = sorted((b for b in banks if _free_bank(run, b)), key=lambda b: (b.day_lo, b.pos))
    index = _DayIndex((bank_block(b, run.accounts), b.day_lo, b) for b in free_banks)

    def pool(e: PreparedLedger) -> list[PreparedBank]:
        block = ledger_block(e, run.accounts)
        out: list[PreparedBank] = []
        # day_lo is the earlier date: a line whose later date is near may start earlier.
        for item in index.between(block, e.day - window - _SPAN, e.day + window):
            if _free_bank(run, item) and item.distance(e.day) <= window:
                out.append(item)
        return out

    def affinity(e: PreparedLedger, b: PreparedBank) -> int:
        return max(
            name_similarity(b.name, e.name) - GROUP_NAME_AFFINITY,
            reference_similarity(b.texts, e.texts)[0] - GROUP_REFERENCE_AFFINITY,
        )

    anchors = [e for e in ledgers if _free_ledger(run, e)]
    for _round in range(2):
        found: list[tuple[Components, PreparedLedger, tuple[PreparedBank, ...]]] = []
        for e in anchors:
            if not _free_ledger(run, e):
                continue
            members = _best_group(
                run,
                anchor_minor=e.minor,
                tolerance=run.tolerances[e.currency],
                pool=pool(e),
                anchor=e,
                affinity=affinity,
                magnitude=lambda b: abs(b.minor),
                ident=lambda b: str(b.key),
                score=lambda anchor, group: score_group(
                    group, [anchor], run.policy, run.tolerances[anchor.currency]
                ),
            )
            if members is not None:
                found.append((members[0], e, members[1]))
        losers = _take_groups(run, [(c, list(group), [e]) for c, e, group in found])
        anchors = [e for c, e, group in found if id(e) in losers]
        if not anchors:
            break


#: How far a bank line's value date may lie after its booking date and still be found by
#: a group pool indexed on the earlier date (a wider gap is a data problem, not a lag).
_SPAN = 31


def _best_group(
    run: _Run,
    *,
    anchor_minor: int,
    tolerance: int,
    pool: list[_T],
    anchor: _A,
    affinity: Callable[[_A, _T], int],
    magnitude: Callable[[_T], int],
    ident: Callable[[_T], str],
    score: Callable[[_A, tuple[_T, ...]], Components],
) -> tuple[Components, tuple[_T, ...]] | None:
    """The best-scoring group of ``pool`` adding up to the anchor, or None.

    The pool is cut to the ``POOL_LIMIT`` lines most like the anchor (affinity, then id),
    then searched largest amount first.
    """
    target = abs(anchor_minor)
    ranked = [
        (affinity(anchor, item), ident(item), item)
        for item in pool
        if magnitude(item) <= target + tolerance
    ]
    ranked = [r for r in ranked if r[0] >= 0]
    if len(ranked) < 2:
        return None
    ranked.sort(key=lambda r: (-r[0], r[1]))
    kept = [item for _a, _i, item in ranked[:POOL_LIMIT]]
    kept.sort(key=lambda item: (-magnitude(item), ident(item)))
    outcome = subset_sums(
        [magnitude(item) for item in kept],
        target=target,
        tolerance=tolerance,
        max_size=run.policy.max_group_size,
        budget=run.policy.group_step_budget,
    )
    run.group_steps += outcome.steps
    best: tuple[Components, tuple[_T, ...]] | None = None
    best_rank: tuple[int, int, tuple[str, ...]] | None = None
    for subset in outcome.subsets:
        group = tuple(kept[i] for i in subset)
        components = score(anchor, group)
        if components.score < run.policy.review_at:
            continue
        rank = (-components.score, len(group), tuple(sorted(ident(g) for g in group)))
        if best_rank is None or rank < best_rank:
            best, best_rank = (components, group), rank
    return best


def _take_groups(
    run: _Run,
    found: list[tuple[Components, list[PreparedBank], list[PreparedLedger]]],
) -> set[int]:
    """Takes groups best score first; returns ``id()`` of the anchors that lost a line."""
    found.sort(
        key=lambda f: (
            -f[0].score,
            len(f[1]) + len(f[2]),
            tuple(b.pos for b in f[1]),
            tuple(e.pos for e in f[2]),
        )
    )
    losers: set[int] = set()
    for components, banks, ledgers in found:
        if any(not _free_bank(run, b) for b in banks) or any(
            not _free_ledger(run, e) for e in ledgers
        ):
            anchor = banks[0] if len(banks) == 1 else ledgers[0]
            losers.add(id(anchor))
            continue
        _take(run, banks, ledgers, components)
    return losers


def _unmatched_bank(run: _Run, b: PreparedBank) -> UnmatchedBank:
    best = run.best_bank[b.pos]
    policy = run.policy
    if run.accounts is not None and b.line.account not in run.accounts:
        return UnmatchedBank(
            line=b.key, reason=f"account {b.line.account} maps to no GL cash account"
        )
    if best is None:
        tolerance = policy.tolerance_for(b.currency)
        reason = (
            f"no ledger entry within {tolerance} {b.currency} and {policy.date_window_days} days"
        )
        if policy.max_group_size >= 2:
            reason += f", and no group of up to {policy.max_group_size} entries adds up"
        return UnmatchedBank(line=b.key, reason=reason)
    return UnmatchedBank(line=b.key, reason=_why(best, policy), best_score=best.score)


def _unmatched_ledger(run: _Run, e: PreparedLedger) -> UnmatchedLedger:
    best = run.best_ledger[e.pos]
    policy = run.policy
    if best is None:
        tolerance = policy.tolerance_for(e.currency)
        reason = f"no bank line within {tolerance} {e.currency} and {policy.date_window_days} days"
        if policy.max_group_size >= 2:
            reason += f", and no group of up to {policy.max_group_size} lines adds up"
        return UnmatchedLedger(entry_id=e.entry_id, reason=reason)
    return UnmatchedLedger(entry_id=e.entry_id, reason=_why(best, policy), best_score=best.score)


def _why(best: _Best, policy: MatchingPolicy) -> str:
    if best.score < policy.review_at:
        return (
            f"best candidate {best.other} scored {best.score}: {weakest(best.components, policy)}"
        )
    return f"best candidate {best.other} (scored {best.score}) went to a better match"

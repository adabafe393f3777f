"""Group search: which few lines of one side add up to one line of the other.

A subset-sum over a small pool (the candidates in the date window that share a name or a
reference with the anchor, at most ``POOL_LIMIT``), depth-first over the pool sorted by
size, largest first, with two prunings: an addition that overshoots the target plus the
tolerance is skipped, and a branch whose largest possible remaining sum falls short is
cut. Every node visited is one step; the search stops at the step budget, so the result
depends on the inputs and the policy only, never on how fast the machine is.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

#: The most candidates one group search considers (the ones most like the anchor).
POOL_LIMIT = 24

#: The most subsets one search returns for scoring.
MAX_SOLUTIONS = 16


@dataclass(frozen=True, slots=True)
class SearchOutcome:
    """The subsets found (indices into the pool, each ascending) and the steps spent."""

    subsets: tuple[tuple[int, ...], ...]
    steps: int
    exhausted: bool  # the step budget ran out before the search space did


def subset_sums(
    magnitudes: Sequence[int],
    *,
    target: int,
    tolerance: int,
    max_size: int,
    budget: int,
) -> SearchOutcome:
    """Subsets of 2 to ``max_size`` magnitudes summing to ``target`` +- ``tolerance``.

    ``magnitudes`` must be positive and sorted in descending order (ties in a fixed
    order), so that both prunings hold. Deterministic: the same arguments give the same
    subsets in the same order.
    """
    n = len(magnitudes)
    prefix = [0]
    for m in magnitudes:
        prefix.append(prefix[-1] + m)
    low, high = target - tolerance, target + tolerance
    found: list[tuple[int, ...]] = []
    steps = 0
    exhausted = False
    chosen: list[int] = []

    def walk(start: int, total: int) -> bool:
        """Returns False to stop the whole search (budget or enough solutions)."""
        nonlocal steps, exhausted
        slots = max_size - len(chosen)
        for i in range(start, n):
            if steps >= budget:
                exhausted = True
                return False
            steps += 1
            # The best this branch can still reach: the next ``slots`` items (the largest).
            if total + prefix[min(n, i + slots)] - prefix[i] < low:
                return True
            value = total + magnitudes[i]
            if value > high:
                continue
            chosen.append(i)
            if value >= low and len(chosen) >= 2:
                found.append(tuple(chosen))
                if len(found) >= MAX_SOLUTIONS:
                    chosen.pop()
                    return False
            if len(chosen) < max_size and not walk(i + 1, value):
                chosen.pop()
                return False
            chosen.pop()
        return True

    if max_size >= 2 and n >= 2:
        if budget > 0:
            walk(0, 0)
        else:
            exhausted = True  # a zero budget searched nothing: it did not rule groups out
    return SearchOutcome(subsets=tuple(found), steps=steps, exhausted=exhausted)

"""Eligibility, accuracy and the ranking's tie-breaks of automatic assignment."""

from __future__ import annotations

from decimal import Decimal

from hypothesis import given
from hypothesis import strategies as st

from domain.assignment import (
    NO_HISTORY,
    Accuracy,
    Candidate,
    Need,
    Verdict,
    candidates_of,
    choose,
    decision_marks,
    ineligibility,
    rank_key,
)
from domain.audit.records import AuditEntry
from tests.builders import T0, make_policy


def cand(user: str, *, cert: int = 2, cap: int = 5, open_: int = 0, acc: Accuracy = NO_HISTORY):
    return Candidate(user=user, certification=cert, capacity=cap, open_items=open_, accuracy=acc)


def acc(decided: int, overturned: int) -> Accuracy:
    return Accuracy(decided=decided, overturned=overturned)


NEED = Need(level=2, preparer="U0PREP")


def test_accuracy_is_the_share_not_overturned() -> None:
    assert acc(50, 1).share == Decimal("0.98")
    assert acc(50, 1).label() == "accuracy 98%"
    assert acc(3, 1).label() == "accuracy 67%"  # 66.67 rounds half up
    assert NO_HISTORY.share is None
    assert NO_HISTORY.label() == "no decisions yet"
    assert acc(2, 5).share == 0  # never below zero


def test_each_reason_for_being_passed_over() -> None:
    assert ineligibility(cand("U0PREP"), NEED, set()) == "prepared it"
    assert ineligibility(cand("U0A", cert=1), NEED, set()) == "certified 1, needs 2"
    assert ineligibility(cand("U0A", open_=5), NEED, set()) == "at capacity (5 of 5 open)"
    assert ineligibility(cand("U0A"), NEED, {"U0A"}) == "away"
    second = Need(level=0, preparer=None, approvers=frozenset({"U0A"}))
    assert ineligibility(cand("U0A"), second, set()) == "already approved it"
    assert ineligibility(cand("U0A", open_=4), NEED, set()) is None


def test_best_accuracy_wins_over_load() -> None:
    choice = choose(
        [cand("U0A", open_=0, acc=acc(10, 1)), cand("U0B", open_=4, acc=acc(10, 0))], NEED, set()
    )
    assert choice.assignee is not None and choice.assignee.user == "U0B"
    assert choice.reasons == "certified 2, 4 of 5 open, accuracy 100%"


def test_equal_accuracy_then_least_loaded_then_user_id() -> None:
    same = acc(4, 1)
    loaded = choose([cand("U0A", open_=3, acc=same), cand("U0B", open_=1, acc=same)], NEED, set())
    assert loaded.assignee is not None and loaded.assignee.user == "U0B"
    tie = [cand("U0C", open_=1, acc=acc(8, 2)), cand("U0B", open_=1, acc=same)]
    first = choose(tie, NEED, set())
    assert first.assignee is not None and first.assignee.user == "U0B"  # 75% both: id breaks
    assert choose(list(reversed(tie)), NEED, set()) == first  # input order does not matter


def test_a_reviewer_without_history_comes_after_those_with_one() -> None:
    choice = choose([cand("U0A"), cand("U0Z", open_=4, acc=acc(10, 9))], NEED, set())
    assert choice.assignee is not None and choice.assignee.user == "U0Z"
    only_new = choose([cand("U0B", open_=2), cand("U0A", open_=2)], NEED, set())
    assert only_new.assignee is not None and only_new.assignee.user == "U0A"


def test_nobody_eligible_says_why_for_each() -> None:
    choice = choose(
        [cand("U0PREP"), cand("U0B", cap=1, open_=1), cand("U0A", cert=0)], NEED, {"U0C"}
    )
    assert choice.assignee is None
    assert choice.reasons == (
        "U0A: certified 0, needs 2; U0B: at capacity (1 of 1 open); U0PREP: prepared it"
    )


def test_candidates_come_from_the_team_with_people_or_defaults() -> None:
    policy = make_policy(
        people=[{"id": "U0BOB", "teams": ["treasury"], "certification": 3, "capacity": 2}]
    ).policy
    team = policy.team("treasury")
    assert team is not None
    found = candidates_of(policy, team, open_items={"U0BOB": 1}, accuracy={"U0ALICE": acc(2, 0)})
    by_user = {c.user: c for c in found}
    assert set(by_user) == {"U0ALICE", "U0BOB", "U0CAROL"}
    assert (by_user["U0BOB"].certification, by_user["U0BOB"].capacity) == (3, 2)
    assert by_user["U0BOB"].open_items == 1
    assert by_user["U0ALICE"].accuracy == acc(2, 0)
    assert by_user["U0CAROL"].accuracy == NO_HISTORY


USERS = st.sampled_from(["U0A", "U0B", "U0C", "U0D"])


@given(
    people=st.lists(
        st.builds(
            cand,
            USERS,
            cert=st.integers(0, 3),
            cap=st.integers(1, 4),
            open_=st.integers(0, 5),
            acc=st.builds(acc, st.integers(0, 9), st.integers(0, 9)),
        ),
        max_size=6,
        unique_by=lambda c: c.user,
    ),
    preparer=st.none() | USERS,
    approvers=st.frozensets(USERS, max_size=2),
    away=st.frozensets(USERS, max_size=2),
    level=st.integers(0, 3),
)
def test_the_chosen_one_is_never_preparer_nor_prior_approver(
    people: list[Candidate],
    preparer: str | None,
    approvers: frozenset[str],
    away: frozenset[str],
    level: int,
) -> None:
    need = Need(level=level, preparer=preparer, approvers=approvers)
    choice = choose(people, need, away)
    eligible = [c for c in people if ineligibility(c, need, away) is None]
    if choice.assignee is None:
        assert not eligible
        return
    chosen = choice.assignee
    assert chosen.user != preparer
    assert chosen.user not in approvers
    assert chosen.user not in away
    assert chosen.certification >= level and chosen.open_items < chosen.capacity
    assert {u for u, _ in choice.passed_over} == {c.user for c in people} - {
        c.user for c in eligible
    }
    assert chosen == min(eligible, key=rank_key)


def _entry(event: str, actor: str = "U0A", item_id: int | None = 7, **data: object) -> AuditEntry:
    return AuditEntry(time=T0, event=event, actor=actor, item_id=item_id, data=dict(data))


def test_decision_marks_read_verdicts_and_overturns_from_audited_events() -> None:
    overturns, marks = decision_marks(
        [
            _entry("item.approval_recorded", "U0A"),
            _entry("item.approved", "U0A"),  # the same approval, not a second verdict
            _entry("item.rejected", "U0B", item_id=8),
            _entry("item.amended", "system", item_id=9, voided_approvals=["U0C"]),
            _entry("item.amended", "system", item_id=10, voided_approvals=[]),
            _entry("dispute.resolved", "U0D", item_id=11, outcome="written_off"),
            _entry("dispute.resolved", "U0D", item_id=12, outcome="matched"),
            _entry("item.reversed", "system", item_id=13),
            _entry("item.claimed", "U0A", item_id=14),
            _entry("policy.reloaded", "system", item_id=None),
        ]
    )
    assert [(m.item_id, m.user, m.verdict) for m in marks] == [
        (7, "U0A", Verdict.APPROVED),
        (8, "U0B", Verdict.REJECTED),
    ]
    assert [(o.item_id, o.verdict) for o in overturns] == [
        (7, Verdict.REJECTED),  # an approval overturns earlier rejections of the item
        (9, Verdict.APPROVED),
        (11, Verdict.APPROVED),
        (13, Verdict.APPROVED),
    ]

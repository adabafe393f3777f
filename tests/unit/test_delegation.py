"""Delegation rules: who may take over whose work, and what a delegate never gets."""

from __future__ import annotations

import dataclasses
from datetime import UTC, date, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from domain.delegation import (
    Delegation,
    away_until,
    check_delegation,
    last_day,
    may_take,
    redirect_reminders,
    resolve,
)
from domain.errors import InvalidCommand
from domain.notifications import NoticeKind, Notification
from domain.templates import Assigned, Reminder
from tests.builders import make_facts, make_item, make_policy

NOW = datetime(2026, 12, 1, 9, tzinfo=UTC)
LATER = NOW + timedelta(days=3)


def away(user: str, delegate: str, *, until: datetime = LATER) -> Delegation:
    return Delegation(user=user, delegate=delegate, until=until, note=None, started_at=NOW)


@pytest.mark.parametrize(
    ("user", "delegate", "until", "reason"),
    [
        ("U0ALICE", "U0ALICE", LATER, "you cannot delegate to yourself"),
        ("U0ALICE", "U0DAN", LATER, "U0DAN is not in your team(s) treasury"),
        ("U0ALICE", "U0BOB", NOW, "the away date must be in the future"),
        ("U0NOBODY", "U0BOB", LATER, "you are not a reviewer or lead of any team"),
        ("U0ALICE", "U0EXT", LATER, "U0EXT is an auditor"),
    ],
)
def test_refused_delegations_say_why(
    user: str, delegate: str, until: datetime, reason: str
) -> None:
    policy = make_policy(compliance={"auditors": ["U0EXT"]}).policy
    with pytest.raises(InvalidCommand) as caught:
        check_delegation(policy, user=user, delegate=delegate, until=until, now=NOW)
    assert reason in str(caught.value)


def test_a_teammate_may_take_over() -> None:
    policy = make_policy().policy
    check_delegation(policy, user="U0ALICE", delegate="U0BOB", until=LATER, now=NOW)
    check_delegation(policy, user="U0ALICE", delegate="U0LEAD", until=LATER, now=NOW)


def test_away_until_a_date_covers_that_day_where_the_desk_works() -> None:
    # The test policy's display timezone is Europe/Berlin (UTC+1 in December).
    berlin = make_policy().policy
    assert away_until(date(2026, 12, 3), now=NOW, policy=berlin) == datetime(
        2026, 12, 3, 23, tzinfo=UTC
    )
    # A business calendar's timezone wins: New York is UTC-5 in December.
    calendar = {"timezone": "America/New_York", "weekdays": ["mon", "tue", "wed", "thu", "fri"]}
    new_york = make_policy(calendar={**calendar, "start": "09:00", "end": "17:00"}).policy
    end = away_until(date(2026, 12, 3), now=NOW, policy=new_york)
    assert end == datetime(2026, 12, 4, 5, tzinfo=UTC)
    # Still away late on the 3rd in New York (already the 4th in UTC); back on the 4th.
    assert away("U0A", "U0B", until=end).active(datetime(2026, 12, 4, 4, 59, tzinfo=UTC))
    assert not away("U0A", "U0B", until=end).active(end)
    assert last_day(end, new_york) == date(2026, 12, 3)
    # A date already over ends the delegation at once.
    assert away_until(date(2026, 11, 30), now=NOW, policy=berlin) == NOW


def test_work_follows_a_chain_of_delegations_and_stops_at_a_loop() -> None:
    chain = [away("U0A", "U0B"), away("U0B", "U0C")]
    assert resolve("U0A", chain, NOW) == "U0C"
    assert resolve("U0A", chain, LATER) == "U0A"  # over: work stays with them
    assert resolve("U0A", [away("U0A", "U0B"), away("U0B", "U0A")], NOW) == "U0B"
    ended = Delegation(
        user="U0A",
        delegate="U0B",
        until=LATER,
        note=None,
        started_at=NOW,
        ended_at=NOW + timedelta(hours=1),
    )
    assert resolve("U0A", [ended], NOW + timedelta(hours=2)) == "U0A"


def test_a_delegate_never_takes_their_own_item_nor_one_they_approved() -> None:
    own = make_item(facts=make_facts(prepared_by="U0BOB"))
    approved = make_item(approvers=["U0BOB"], required_approvals=2)
    assert not may_take(own, "U0BOB")
    assert not may_take(approved, "U0BOB")
    assert may_take(make_item(), "U0BOB")


USERS = st.sampled_from(["U0A", "U0B", "U0C"])


@given(
    preparer=st.none() | USERS,
    approver=st.none() | USERS,
    pairs=st.lists(
        st.tuples(USERS, USERS).filter(lambda p: p[0] != p[1]), max_size=3, unique_by=lambda p: p[0]
    ),
    holder=USERS,
)
def test_no_delegation_hands_an_item_to_its_preparer_or_its_first_approver(
    preparer: str | None, approver: str | None, pairs: list[tuple[str, str]], holder: str
) -> None:
    item = make_item(
        facts=make_facts(prepared_by=preparer),
        approvers=[approver] if approver else [],
        required_approvals=2,
    )
    target = resolve(holder, [away(u, d) for u, d in pairs], NOW)
    if may_take(item, target):
        assert target != preparer
        assert target != approver


def test_reminders_to_someone_away_reach_their_delegate_and_nothing_else_moves() -> None:
    reminder = Notification(
        kind=NoticeKind.DM, target="U0A", dedupe_key="dm:remind:1", item_id=1, payload=Reminder()
    )
    assigned = Notification(
        kind=NoticeKind.DM,
        target="U0A",
        dedupe_key="dm:assigned:1",
        item_id=1,
        payload=Assigned(by="U0LEAD"),
    )
    other = dataclasses.replace(reminder, target="U0C", dedupe_key="dm:remind:2")
    out = redirect_reminders([reminder, assigned, other], [away("U0A", "U0B")], NOW)
    assert [(n.target, n.dedupe_key) for n in out] == [
        ("U0B", "dm:remind:1"),
        ("U0A", "dm:assigned:1"),
        ("U0C", "dm:remind:2"),
    ]
    assert redirect_reminders([reminder], [away("U0A", "U0B")], LATER) == [reminder]

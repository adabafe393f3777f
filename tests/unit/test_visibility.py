"""Who sees what: the pure rule (issue 16.3).

Team setup (tests/builders.py): treasury reviewers U0ALICE, U0BOB, U0CAROL, lead U0LEAD;
ap (ACME-DE in EUR) reviewers U0DAN, U0ERIN, lead U0LEAD2; compliance officer U0AUDIT.
U0NOBODY and U0PREP are in no team.
"""

from __future__ import annotations

from typing import Any

import pytest

from domain.errors import NotAuthorized, NotVisible
from domain.items import ReviewState
from domain.permissions import (
    OPERATOR,
    Operator,
    Person,
    Viewer,
    can_see,
    check_can_act,
    check_can_see,
    sees_everything,
    visible_teams,
)
from domain.policy import LoadedPolicy
from tests.builders import make_facts, make_item, make_policy, policy_data

ALICE, LEAD, DAN, LEAD2, AUDIT = (
    Person(u) for u in ("U0ALICE", "U0LEAD", "U0DAN", "U0LEAD2", "U0AUDIT")
)
NOBODY, PREP = Person("U0NOBODY"), Person("U0PREP")
#: Never see a treasury item: another team's reviewer and lead, someone in no team, and
#: the item's preparer (in no team).
OUTSIDERS = (DAN, LEAD2, NOBODY, PREP)


# --- the pure rule --------------------------------------------------------------------


@pytest.mark.parametrize(
    ("viewer", "treasury", "ap", "no_team", "gone"),
    [
        (ALICE, True, False, False, False),  # a reviewer: their team's items
        (LEAD, True, False, False, False),  # a lead: their team's items
        (DAN, False, True, False, False),
        (LEAD2, False, True, False, False),
        (AUDIT, True, True, True, True),  # compliance: every item
        (OPERATOR, True, True, True, True),  # the CLI on the server: every item
        (NOBODY, False, False, False, False),  # in no team: nothing
        (PREP, False, False, False, False),  # a preparer in no team: nothing either
    ],
)
def test_a_viewer_sees_the_items_of_teams_they_review_or_lead(
    loaded_policy: LoadedPolicy,
    viewer: Viewer,
    treasury: bool,
    ap: bool,
    no_team: bool,
    gone: bool,
) -> None:
    policy = loaded_policy.policy
    assert can_see(policy, viewer, "treasury") is treasury
    assert can_see(policy, viewer, "ap") is ap
    assert can_see(policy, viewer, None) is no_team  # an item of no team: compliance's
    assert can_see(policy, viewer, "disbanded") is gone  # a team the policy no longer has
    assert sees_everything(policy, viewer) is (no_team and gone)


def test_visible_teams_are_in_policy_order_and_none_means_every_item(
    loaded_policy: LoadedPolicy,
) -> None:
    policy = loaded_policy.policy
    assert visible_teams(policy, ALICE) == ("treasury",)
    assert visible_teams(policy, NOBODY) == ()
    assert visible_teams(policy, AUDIT) is None
    assert visible_teams(policy, Operator()) is None
    both = make_policy(teams=[*policy_data()["teams"][:1], _team("ap", ["U0ALICE"])])
    assert visible_teams(both.policy, ALICE) == ("treasury", "ap")


def test_the_preparer_gains_nothing_from_preparing(loaded_policy: LoadedPolicy) -> None:
    item = make_item(facts=make_facts(prepared_by="U0PREP"))
    with pytest.raises(NotVisible, match=r"^you cannot see R-1$"):
        check_can_see(loaded_policy.policy, item, PREP)
    check_can_see(loaded_policy.policy, item, ALICE)


@pytest.mark.parametrize("outsider", OUTSIDERS, ids=lambda v: v.id)
def test_deciding_on_an_unseen_item_is_refused_with_the_same_sentence(
    loaded_policy: LoadedPolicy, outsider: Person
) -> None:
    for state in (ReviewState.PENDING, ReviewState.ESCALATED, ReviewState.DEAD_LETTER):
        with pytest.raises(NotVisible, match=r"^you cannot see R-1$"):
            check_can_act(loaded_policy.policy, make_item(state=state), outsider.id)


def test_who_sees_the_item_is_still_told_why_they_may_not_act(
    loaded_policy: LoadedPolicy,
) -> None:
    escalated = make_item(state=ReviewState.ESCALATED)
    with pytest.raises(NotAuthorized, match="only its team's leads") as refused:
        check_can_act(loaded_policy.policy, escalated, "U0ALICE")
    assert not isinstance(refused.value, NotVisible)
    assert check_can_act(loaded_policy.policy, escalated, "U0LEAD")
    with pytest.raises(NotVisible):
        check_can_act(loaded_policy.policy, make_item(team=None), "U0LEAD")
    assert check_can_act(loaded_policy.policy, make_item(team=None), "U0AUDIT")


def _team(name: str, reviewers: list[str], **extra: Any) -> dict[str, Any]:
    return {"name": name, "channel": f"C0{name.upper()}", "reviewers": reviewers, **extra}

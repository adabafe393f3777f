"""Who sees what: the pure rule, and each read use case that applies it (issue 16.3).

Team setup (tests/builders.py): treasury reviewers U0ALICE, U0BOB, U0CAROL, lead U0LEAD;
ap (ACME-DE in EUR) reviewers U0DAN, U0ERIN, lead U0LEAD2; compliance officer U0AUDIT.
U0NOBODY and U0PREP are in no team.
"""

from __future__ import annotations

import ast
from pathlib import Path
from typing import Any

import pytest

from domain.errors import IllegalTransition, InvalidCommand, ItemNotFound, NotAuthorized, NotVisible
from domain.intake import IntakeRow
from domain.items import Item, ReviewState
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
from domain.usecases import UseCases
from domain.usecases.digests import GROUP_NOT_VISIBLE
from domain.usecases.queries import OPEN_STATES
from tests.builders import make_facts, make_item, make_policy, policy_data
from tests.fakes import FixedClock, InMemoryUnitOfWorkFactory

ROOT = Path(__file__).resolve().parents[2]

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


# --- the read use cases ---------------------------------------------------------------


def _team(name: str, reviewers: list[str], **extra: Any) -> dict[str, Any]:
    return {"name": name, "channel": f"C0{name.upper()}", "reviewers": reviewers, **extra}


@pytest.fixture
async def desk(
    usecases: UseCases, uow_factory: InMemoryUnitOfWorkFactory, clock: FixedClock
) -> dict[str, Item]:
    """R-1 of treasury (prepared by U0PREP), R-2 of ap, R-3 of no team; all pending."""
    rows = [
        make_facts(external_id="T", amount="20000.00", prepared_by="U0PREP"),
        make_facts(external_id="A", entity="ACME-DE", currency="EUR", amount="20000.00"),
    ]
    await usecases.intake.ingest(
        [IntakeRow(line=n + 2, facts=f) for n, f in enumerate(rows)], now=clock.now()
    )
    store = uow_factory.store
    store.last_item_id += 1
    store.items[store.last_item_id] = make_item(id=store.last_item_id, team=None)
    treasury, ap, orphan = uow_factory.items
    assert (treasury.team, ap.team, orphan.team) == ("treasury", "ap", None)
    return {"treasury": treasury, "ap": ap, "none": orphan}


async def test_item_is_shown_only_to_who_may_see_it(
    usecases: UseCases, desk: dict[str, Item]
) -> None:
    queries = usecases.queries
    assert (await queries.item(1, viewer=ALICE)).facts.external_id == "T"
    assert (await queries.item(1, viewer=LEAD)).id == 1
    for everyone in (AUDIT, OPERATOR):
        assert [(await queries.item(i, viewer=everyone)).id for i in (1, 2, 3)] == [1, 2, 3]
    for outsider in OUTSIDERS:
        with pytest.raises(NotVisible, match=r"^you cannot see R-1$"):
            await queries.item(1, viewer=outsider)
    with pytest.raises(NotVisible, match=r"^you cannot see R-3$"):
        await queries.item(3, viewer=LEAD)  # no team: compliance's alone


async def test_a_missing_item_reads_like_an_unseen_one_except_to_who_sees_all(
    usecases: UseCases, desk: dict[str, Item]
) -> None:
    for viewer in (ALICE, DAN, NOBODY):
        with pytest.raises(NotVisible, match=r"^you cannot see R-99$"):
            await usecases.queries.item(99, viewer=viewer)
        with pytest.raises(NotVisible, match=r"^you cannot see R-99$"):
            await usecases.queries.journal_of(99, viewer=viewer)
    for everyone in (AUDIT, OPERATOR):
        with pytest.raises(ItemNotFound, match="there is no item R-99"):
            await usecases.queries.item(99, viewer=everyone)


async def test_journal_of_follows_the_item(usecases: UseCases, desk: dict[str, Item]) -> None:
    assert await usecases.queries.journal_of(1, viewer=ALICE) == []
    assert await usecases.queries.journal_of(1, viewer=OPERATOR) == []
    with pytest.raises(NotVisible, match=r"^you cannot see R-1$"):
        await usecases.queries.journal_of(1, viewer=DAN)


async def test_queue_lists_only_what_the_viewer_sees(
    usecases: UseCases, desk: dict[str, Item]
) -> None:
    async def ids(viewer: Viewer, **filters: Any) -> list[int]:
        return sorted(i.id or 0 for i in await usecases.queries.queue(viewer=viewer, **filters))

    assert await ids(ALICE) == [1]
    assert await ids(DAN) == [2]
    assert await ids(NOBODY) == []
    assert await ids(PREP) == []
    assert await ids(AUDIT) == [1, 2, 3]
    assert await ids(OPERATOR) == [1, 2, 3]
    assert await ids(ALICE, team="ap") == []
    assert await ids(ALICE, teams=["ap", "treasury"]) == [1]
    assert await ids(OPERATOR, team="ap") == [2]


async def test_queue_pages_refuse_a_team_the_viewer_does_not_see(
    usecases: UseCases, desk: dict[str, Item]
) -> None:
    async def page(viewer: Viewer, **scope: Any) -> tuple[list[int], int]:
        items, total = await usecases.queries.queue_page(
            viewer=viewer, states_=OPEN_STATES, limit=10, offset=0, **scope
        )
        return [i.id or 0 for i in items], total

    assert await page(ALICE) == ([1], 1)
    assert await page(ALICE, teams=["treasury"]) == ([1], 1)
    assert await page(NOBODY) == ([], 0)
    assert await page(NOBODY, assignee="U0NOBODY") == ([], 0)
    assert sorted((await page(AUDIT))[0]) == [1, 2, 3]
    with pytest.raises(NotVisible, match="you are not a member of `ap`"):
        await page(ALICE, teams=["ap"])
    with pytest.raises(InvalidCommand, match="there is no team `nosuch`"):
        await page(ALICE, teams=["nosuch"])


async def test_stats_count_only_what_the_viewer_sees(
    usecases: UseCases, desk: dict[str, Item], clock: FixedClock
) -> None:
    def pending(stats: dict[str, int]) -> int:
        return sum(stats[f"pending_{band}"] for band in ("high", "medium", "low"))

    assert pending(await usecases.queries.stats(user="U0ALICE", now=clock.now())) == 1
    assert pending(await usecases.queries.stats(user="U0DAN", now=clock.now())) == 1
    assert pending(await usecases.queries.stats(user="U0NOBODY", now=clock.now())) == 0
    assert pending(await usecases.queries.stats(user="U0PREP", now=clock.now())) == 0
    assert pending(await usecases.queries.stats(user="U0AUDIT", now=clock.now())) == 3


async def test_the_dashboard_shows_only_what_the_viewer_sees(
    usecases: UseCases, desk: dict[str, Item], clock: FixedClock
) -> None:
    nobody = await usecases.queries.dashboard(user="U0NOBODY", now=clock.now())
    assert (nobody.teams, nobody.unclaimed, nobody.my_items) == ((), (), ())
    assert sum(nobody.pending_by_band.values()) == 0
    alice = await usecases.queries.dashboard(user="U0ALICE", now=clock.now())
    assert [i.id for i in alice.unclaimed] == [1]
    audit = await usecases.queries.dashboard(user="U0AUDIT", now=clock.now())
    assert sum(audit.pending_by_band.values()) == 3


async def test_who_leaves_a_team_stops_seeing_its_items_and_their_own_claims(
    uow_factory: InMemoryUnitOfWorkFactory, clock: FixedClock
) -> None:
    """Failed before: My items (queue and Home) listed claims by assignee alone."""
    current = [make_policy()]
    usecases = UseCases.over(uow=uow_factory, policy=lambda: current[0])
    await usecases.intake.ingest([IntakeRow(line=2, facts=make_facts())], now=clock.now())
    await usecases.claims.claim(item_id=1, actor="U0BOB", now=clock.now())
    teams = policy_data()["teams"]
    teams[0]["reviewers"] = ["U0ALICE", "U0CAROL"]  # Bob moves on
    current[0] = make_policy(teams=teams)

    home = await usecases.queries.dashboard(user="U0BOB", now=clock.now())
    assert (home.my_items, home.my_items_total) == ((), 0)
    mine, total = await usecases.queries.queue_page(
        viewer=Person("U0BOB"), states_=OPEN_STATES, assignee="U0BOB", limit=10, offset=0
    )
    assert (mine, total) == ([], 0)
    with pytest.raises(NotVisible, match=r"^you cannot see R-1$"):
        await usecases.queries.item(1, viewer=Person("U0BOB"))


async def test_a_form_is_not_opened_on_an_unseen_or_missing_item(
    usecases: UseCases, desk: dict[str, Item]
) -> None:
    decisions = usecases.decisions
    for outsider in OUTSIDERS:
        with pytest.raises(NotVisible, match=r"^you cannot see R-1$"):
            await decisions.check_may_act(item_id=1, actor=outsider.id)
        with pytest.raises(NotVisible, match=r"^you cannot see R-99$"):
            await decisions.check_may_act(item_id=99, actor=outsider.id)
    with pytest.raises(ItemNotFound):
        await decisions.check_may_act(item_id=99, actor="U0AUDIT")
    assert (await decisions.check_may_act(item_id=1, actor="U0ALICE")).id == 1


async def test_a_settled_item_tells_an_outsider_nothing_about_its_state(
    usecases: UseCases, desk: dict[str, Item], clock: FixedClock
) -> None:
    await usecases.decisions.reject(
        item_id=1, actor="U0ALICE", reason="booked twice by the feed", now=clock.now()
    )
    with pytest.raises(IllegalTransition, match="already rejected"):
        await usecases.decisions.check_may_act(item_id=1, actor="U0BOB")
    with pytest.raises(NotVisible, match=r"^you cannot see R-1$"):
        await usecases.decisions.check_may_act(item_id=1, actor="U0DAN")


async def test_digest_group_forms_are_refused_to_who_cannot_see_the_group(
    usecases: UseCases, uow_factory: InMemoryUnitOfWorkFactory, clock: FixedClock
) -> None:
    rows = [make_facts(external_id=f"D{n}") for n in range(2)]
    await usecases.intake.ingest(
        [IntakeRow(line=n + 2, facts=f) for n, f in enumerate(rows)], now=clock.now()
    )
    assert len(await usecases.digests.digest_window(window="w1", now=clock.now())) == 1
    (cluster_id,) = uow_factory.store.clusters
    digests = usecases.digests
    assert (await digests.cluster_summary(cluster_id=cluster_id, actor="U0ALICE")).size == 2
    for outsider in OUTSIDERS:
        for missing in (cluster_id, 999):
            with pytest.raises(NotVisible, match=rf"^{GROUP_NOT_VISIBLE}$"):
                await digests.cluster_summary(cluster_id=missing, actor=outsider.id)
            with pytest.raises(NotVisible, match=rf"^{GROUP_NOT_VISIBLE}$"):
                await digests.review_cluster(cluster_id=missing, actor=outsider.id, now=clock.now())
    with pytest.raises(InvalidCommand, match="no longer exists"):
        await digests.cluster_summary(cluster_id=999, actor="U0AUDIT")
    assert await digests.review_cluster(cluster_id=cluster_id, actor="U0BOB", now=clock.now()) == 2


# --- no Slack path can forget the rule ------------------------------------------------


def test_handlers_read_items_for_people_only_through_the_viewer() -> None:
    """``Queries.get`` is the desk's own unfiltered read (the notifier's cards); every
    other listener reads an item as the person who asked (``Queries.item``)."""
    offenders = []
    for path in sorted((ROOT / "handlers").rglob("*.py")):
        if path.name == "notifier.py":
            continue
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if (
                isinstance(node, ast.Attribute)
                and node.attr == "get"
                and isinstance(node.value, ast.Attribute)
                and node.value.attr == "queries"
            ):
                offenders.append(f"{path.relative_to(ROOT)}:{node.lineno}")
    assert offenders == []

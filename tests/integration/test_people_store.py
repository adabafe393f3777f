"""People in the SQL store: verdicts and overturns, open counts, delegations, and the
whole auto-assignment path on a real database."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

from domain.assignment import Accuracy, DecisionMark, Overturn, Verdict
from domain.delegation import Delegation
from domain.intake import IntakeRow
from domain.items import ReviewState
from domain.permissions import OPERATOR
from domain.usecases import UseCases
from store.audit.anchors import AnchorFile
from store.audit.log import init_audit
from store.audit.signer import load_or_create_signing_key
from store.engine import Database
from store.people import SqlPeopleRepository
from store.uow import SqlUnitOfWorkFactory
from tests.builders import make_facts, make_policy, policy_data

NOW = datetime(2026, 12, 1, 9, tzinfo=UTC)


def mark(item_id: int, user: str, verdict: Verdict, at: datetime) -> DecisionMark:
    return DecisionMark(item_id=item_id, user=user, verdict=verdict, at=at)


async def test_accuracy_counts_verdicts_in_the_window_and_their_overturns(
    migrated: Database,
) -> None:
    early = NOW - timedelta(days=200)
    async with migrated.writer.begin() as conn:
        people = SqlPeopleRepository(conn)
        await people.note_decisions(
            [],
            [
                mark(1, "U0A", Verdict.APPROVED, NOW),
                mark(2, "U0A", Verdict.REJECTED, NOW),
                mark(3, "U0A", Verdict.APPROVED, early),  # outside the window
                mark(4, "U0B", Verdict.REJECTED, NOW),
            ],
        )
        later = NOW + timedelta(hours=1)
        await people.note_decisions(
            [
                Overturn(item_id=1, verdict=Verdict.APPROVED, at=later),
                Overturn(item_id=4, verdict=Verdict.REJECTED, at=later),
                Overturn(item_id=2, verdict=Verdict.APPROVED, at=later),  # no such verdict
            ],
            [mark(4, "U0C", Verdict.APPROVED, later)],
        )
        # Overturned once: a second overturn of the same item changes nothing more.
        await people.note_decisions(
            [Overturn(item_id=1, verdict=Verdict.APPROVED, at=later + timedelta(hours=1))], []
        )
    async with migrated.reader.connect() as conn:
        found = await SqlPeopleRepository(conn).accuracy(
            ["U0A", "U0B", "U0C", "U0D"], since=NOW - timedelta(days=90)
        )
    assert found == {
        "U0A": Accuracy(decided=2, overturned=1),
        "U0B": Accuracy(decided=1, overturned=1),
        "U0C": Accuracy(decided=1, overturned=0),
    }


async def test_delegations_start_replace_end_and_expire(migrated: Database) -> None:
    until = NOW + timedelta(days=2)
    async with migrated.writer.begin() as conn:
        people = SqlPeopleRepository(conn)
        first = Delegation(user="U0A", delegate="U0B", until=until, note="x", started_at=NOW)
        await people.start_delegation(first)
        second = Delegation(
            user="U0A", delegate="U0C", until=until, note=None, started_at=NOW + timedelta(hours=1)
        )
        await people.start_delegation(second)  # replaces the first
        await people.start_delegation(
            Delegation(
                user="U0D",
                delegate="U0B",
                until=NOW + timedelta(hours=3),
                note=None,
                started_at=NOW,
            )
        )
        at = NOW + timedelta(hours=2)
        assert [(d.user, d.delegate) for d in await people.active_delegations(now=at)] == [
            ("U0A", "U0C"),
            ("U0D", "U0B"),
        ]
        assert [d.user for d in await people.active_delegations(now=NOW + timedelta(hours=4))] == [
            "U0A"
        ]
        ended = await people.end_delegation(user="U0A", now=at)
        assert ended is not None and ended.delegate == "U0C" and ended.ended_at == at
        assert await people.end_delegation(user="U0A", now=at) is None
        assert await people.active_delegations(now=at + timedelta(minutes=1)) == [
            Delegation(
                user="U0D",
                delegate="U0B",
                until=NOW + timedelta(hours=3),
                note=None,
                started_at=NOW,
            )
        ]


async def test_auto_assignment_on_a_real_store(migrated: Database, tmp_path: Path) -> None:
    teams = policy_data()["teams"]
    teams[0] = {**teams[0], "assignment": "auto"}
    loaded = make_policy(
        teams=teams, people=[{"id": "U0CAROL", "teams": ["treasury"], "capacity": 1}]
    )
    signer = load_or_create_signing_key(tmp_path / "audit.pem")
    async with migrated.writer.begin() as conn:
        await init_audit(conn, signer=signer, now=NOW)
    factory = SqlUnitOfWorkFactory(
        database=migrated, signer=signer, anchors=AnchorFile(tmp_path / "anchors.jsonl")
    )
    uc = UseCases.over(uow=factory, policy=lambda: loaded)
    rows = [
        IntakeRow(line=n + 2, facts=make_facts(external_id=f"E{n}", amount="20000.00"), raw="")
        for n in range(4)
    ]
    await uc.intake.ingest(rows, now=NOW)
    items = sorted(await uc.queries.queue(viewer=OPERATOR), key=lambda i: i.facts.external_id)
    # Alice, Bob, Carol (capacity 1), then Alice again (least loaded of those left).
    assert [i.assignee for i in items] == ["U0ALICE", "U0BOB", "U0CAROL", "U0ALICE"]
    assert {i.state for i in items} == {ReviewState.ASSIGNED}
    first = items[0]
    assert first.id is not None
    later = NOW + timedelta(minutes=3)
    await uc.decisions.reject(
        item_id=first.id, actor="U0ALICE", reason="wrong counterparty here", now=later
    )
    async with factory(read_only=True) as uow:
        assert await uow.people.accuracy(["U0ALICE"], since=NOW) == {
            "U0ALICE": Accuracy(decided=1, overturned=0)
        }
        assert await uow.people.open_counts(["U0ALICE", "U0BOB", "U0CAROL"]) == {
            "U0ALICE": 1,
            "U0BOB": 1,
            "U0CAROL": 1,
        }

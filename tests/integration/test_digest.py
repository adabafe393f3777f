"""Digest windows and bulk group decisions on real databases (SQLite, and PostgreSQL when
configured): one summary per team and window, clusters by a deterministic key, atomic
bulk decisions, items needing individual review kept apart, and a window posted once.
"""

from __future__ import annotations

import asyncio
import dataclasses
import json
import random
from collections import Counter
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select, update

from domain.digest import cluster_key, plan_digest
from domain.errors import IllegalTransition, InvalidCommand, NotAuthorized, StaleItem
from domain.intake import IntakeRow
from domain.items import Item, ItemFacts, ItemKind, ReviewState, RiskTier, Route
from domain.notifications import digest_key
from domain.permissions import OPERATOR
from domain.usecases import UseCases
from domain.usecases.digests import APART_KEY
from store.audit.verification import verify_database
from store.engine import Database
from store.tables import audit_records, digest_clusters, outbox
from tests.builders import make_facts
from tests.integration.test_sla_sweep import (
    Policies,
    make_service,
    other_process_database,
    policy_text,
)

T0 = datetime(2026, 11, 16, 9, 0, tzinfo=UTC)
W1 = "2026-11-16T12:00:00+00:00"
W2 = "2026-11-16T16:00:00+00:00"
TREASURY = "C0TREASURY"
APEU = "C0APEU"


def _facts(ref: str, amount: str, **overrides: Any) -> ItemFacts:
    """A small, low-risk treasury line: it waits for the digest."""
    base = {
        "source": "bank",
        "external_id": ref,
        "amount": amount,
        "counterparty": "Globex Ltd",
        "risk_tier": RiskTier.LOW,
        "confidence": "0.95",
        "prepared_by": "U0PREP1",
        "reference": None,
    }
    return make_facts(**(base | overrides))


#: A realistic mixed window: three clusters for treasury, one item apart (dual control:
#: the test policy asks two approvers from 5,000 while materiality stays at 10,000), and
#: one cluster for ap-europe.
MIXED = [
    _facts("g-1", "100.00"),
    _facts("g-2", "120.50"),
    _facts("g-3", "130.25"),
    _facts("i-1", "200.00", currency="EUR", counterparty="Initech"),
    _facts("i-2", "210.00", currency="EUR", counterparty="Initech"),
    _facts("m-1", "300.00", kind=ItemKind.MATCH, score=70),
    _facts("m-2", "310.00", kind=ItemKind.MATCH, score=72),
    _facts("big-1", "6000.00"),
    _facts("de-1", "50.00", entity="ACME-DE", currency="EUR", counterparty="Umbrella AG"),
    _facts("de-2", "55.00", entity="ACME-DE", currency="EUR", counterparty="Umbrella AG"),
]


@pytest.fixture
def policies() -> Policies:
    return Policies(policy_text(dual_control={"amount": "5000.00"}))


@pytest.fixture
async def usecases(migrated: Database, tmp_path: Path, policies: Policies) -> UseCases:
    return await make_service(migrated, tmp_path, policies)


async def _ingest(
    usecases: UseCases, rows: list[ItemFacts], *, now: datetime = T0
) -> dict[str, Item]:
    await usecases.intake.ingest(
        [IntakeRow(line=n + 2, facts=f) for n, f in enumerate(rows)], now=now
    )
    items = await usecases.queries.queue(viewer=OPERATOR, limit=10_000)
    return {i.facts.external_id: i for i in items}


async def _clusters(db: Database) -> list[dict[str, Any]]:
    async with db.reader.connect() as conn:
        rows = await conn.execute(select(digest_clusters).order_by(digest_clusters.c.id))
        return [dict(r) for r in rows.mappings()]


async def _cluster_id(db: Database, team: str, key: str) -> int:
    for c in await _clusters(db):
        if (c["team"], c["cluster_key"]) == (team, key):
            return int(c["id"])
    raise AssertionError(f"no cluster {key!r} for {team}")


async def _events(db: Database) -> list[tuple[str, int | None]]:
    async with db.reader.connect() as conn:
        rows = await conn.execute(
            select(audit_records.c.event, audit_records.c.item_id).order_by(audit_records.c.seq)
        )
        return [(str(e), i) for e, i in rows.all()]


async def _digest_rows(db: Database) -> list[dict[str, Any]]:
    async with db.reader.connect() as conn:
        rows = await conn.execute(
            select(outbox.c.dedupe_key, outbox.c.target, outbox.c.payload, outbox.c.kind)
            .where(outbox.c.dedupe_key.like("digest:%"))
            .order_by(outbox.c.id)
        )
        return [dict(r) for r in rows.mappings()]


GLOBEX = "Globex Ltd|USD|-|unmatched"
GLOBEX_MATCH = "Globex Ltd|USD|-|match"
INITECH = "Initech|EUR|-|unmatched"


# --- posting a window ------------------------------------------------------------------


async def test_a_window_posts_one_summary_and_one_reply_per_cluster_per_team(
    migrated: Database, usecases: UseCases
) -> None:
    items = await _ingest(usecases, MIXED)
    assert {i.route for i in items.values()} == {Route.DIGEST}
    assert items["big-1"].required_approvals == 2

    plans = await usecases.digests.digest_window(window=W1, now=T0 + 3 * timedelta(hours=1))
    assert [p.team for p in plans] == ["ap-europe", "treasury"]
    treasury = plans[1]
    assert treasury.count == 8
    assert treasury.totals == {"USD": Decimal("6960.75"), "EUR": Decimal("410.00")}
    assert treasury.oldest_at == T0
    assert [(c.key, c.size) for c in treasury.clusters] == [
        (GLOBEX, 3),
        (GLOBEX_MATCH, 2),
        (INITECH, 2),
    ]
    assert treasury.apart == (items["big-1"].id,)
    bulk_ids = {i for c in treasury.clusters for i in c.item_ids}
    assert items["big-1"].id not in bulk_ids

    rows = await _digest_rows(migrated)
    parent = f"digest:treasury:{W1}"
    mine = [r for r in rows if r["dedupe_key"].startswith(parent)]
    assert [r["payload"]["template"] for r in mine] == ["digest"] + ["digest_cluster"] * 4
    assert {r["target"] for r in mine} == {TREASURY}
    summary = mine[0]["payload"]
    assert (summary["count"], summary["totals"]) == (8, {"EUR": "410.00", "USD": "6960.75"})
    assert summary["cluster_count"] == 4
    assert [c["key"] for c in summary["clusters"]] == [GLOBEX, GLOBEX_MATCH, INITECH, APART_KEY]
    replies = [r["payload"] for r in mine[1:]]
    assert {r["thread_of"] for r in replies} == {parent}
    assert [(r["key"], r["apart"], r["size"]) for r in replies] == [
        (GLOBEX, False, 3),
        (GLOBEX_MATCH, False, 2),
        (INITECH, False, 2),
        (APART_KEY, True, 1),
    ]
    assert [r["target"] for r in rows if r["dedupe_key"].startswith("digest:ap-europe")] == [
        APEU,
        APEU,
    ]
    posted = [e for e in await _events(migrated) if e[0] == "digest.posted"]
    assert len(posted) == 2


async def test_the_cluster_key_and_the_plan_do_not_depend_on_input_order(
    usecases: UseCases, policies: Policies
) -> None:
    items = list((await _ingest(usecases, MIXED[:8])).values())
    first = plan_digest("treasury", W1, items, policies())
    for seed in range(5):
        shuffled = items[:]
        random.Random(seed).shuffle(shuffled)
        assert plan_digest("treasury", W1, shuffled, policies()) == first
    padded = dataclasses.replace(
        items[0], facts=dataclasses.replace(items[0].facts, counterparty="  Globex Ltd ")
    )
    assert cluster_key(padded) == cluster_key(items[0])


async def test_an_empty_window_posts_nothing(migrated: Database, usecases: UseCases) -> None:
    await _ingest(usecases, [_facts("hot-1", "2500.00", risk_tier=RiskTier.HIGH)])  # immediate
    assert await usecases.digests.digest_window(window=W1, now=T0) == []
    assert await _digest_rows(migrated) == []
    assert await _clusters(migrated) == []
    assert "digest.posted" not in {e for e, _ in await _events(migrated)}


async def test_a_window_run_twice_or_by_two_processes_posts_once(
    migrated: Database, tmp_path: Path, policies: Policies, usecases: UseCases
) -> None:
    await _ingest(usecases, MIXED)
    other_db = await other_process_database(migrated)
    try:
        other = await make_service(other_db, tmp_path, policies)
        results = await asyncio.gather(
            usecases.digests.digest_window(window=W1, now=T0),
            other.digests.digest_window(window=W1, now=T0),
        )
        again = await other.digests.digest_window(window=W1, now=T0)
    finally:
        await other_db.dispose()
    assert sorted(len(r) for r in results) == [0, 2] and again == []
    rows = await _digest_rows(migrated)
    parents = [r["dedupe_key"] for r in rows if r["payload"]["template"] == "digest"]
    assert parents == [f"digest:ap-europe:{W1}", f"digest:treasury:{W1}"]
    assert len(rows) == 2 + 4 + 1  # two summaries, four treasury replies, one ap-europe
    assert Counter(e for e, _ in await _events(migrated))["digest.posted"] == 2


async def test_items_arriving_after_a_window_go_to_the_next_one(
    migrated: Database, usecases: UseCases
) -> None:
    await _ingest(usecases, MIXED[:3])
    assert len(await usecases.digests.digest_window(window=W1, now=T0)) == 1
    await _ingest(usecases, [_facts("g-late", "99.00")], now=T0 + timedelta(hours=4))
    (plan,) = await usecases.digests.digest_window(window=W2, now=T0 + timedelta(hours=4))
    assert plan.count == 1 and plan.clusters[0].key == GLOBEX
    parents = [r for r in await _digest_rows(migrated) if r["payload"]["template"] == "digest"]
    assert [r["dedupe_key"] for r in parents] == [
        f"digest:treasury:{W1}",
        f"digest:treasury:{W2}",
    ]


async def test_a_window_run_again_after_new_items_arrived_posts_nothing_more(
    migrated: Database, usecases: UseCases
) -> None:
    await _ingest(usecases, MIXED[:3])
    await usecases.digests.digest_window(window=W1, now=T0)
    await _ingest(usecases, [_facts("g-late", "99.00")], now=T0 + timedelta(minutes=1))
    assert await usecases.digests.digest_window(window=W1, now=T0 + timedelta(minutes=1)) == []


# --- bulk decisions ----------------------------------------------------------------------


async def test_a_bulk_approval_after_a_reversal_posts_a_second_entry_of_its_own(
    migrated: Database, usecases: UseCases
) -> None:
    """An item posted, changed at the source (its entry reversed) and then approved in a
    digest group gets the next approval number, never the reversed entry back."""
    items = await _ingest(usecases, MIXED[:3])
    g1 = items["g-1"].id or 0
    await usecases.decisions.approve(item_id=g1, actor="U0BOB", now=T0)
    later = T0 + timedelta(minutes=5)
    await _ingest(usecases, [_facts("g-1", "101.00")], now=later)
    await usecases.digests.digest_window(window=W1, now=later)
    cluster_id = await _cluster_id(migrated, "treasury", GLOBEX)

    outcome = await usecases.digests.decide_cluster(
        cluster_id=cluster_id, actor="U0ALICE", now=later + timedelta(hours=1), approve=True
    )

    # Approved, each entry on its way to the ledger (the ledger's answer posts them).
    assert {i.state for i in outcome.items} == {ReviewState.APPROVED}
    entries = await usecases.queries.journal_of(g1, viewer=OPERATOR)
    assert [(e.idempotency_key, e.kind.value, e.reverses) for e in entries] == [
        (f"item-{g1}-approval", "approval", None),
        (f"item-{g1}-reversal-1", "reversal", f"item-{g1}-approval"),
        (f"item-{g1}-approval-2", "approval", None),
    ]
    assert entries[-1].lines[0].debit_minor == 10100
    others = [i.id or 0 for i in outcome.items if i.id != g1]
    for other in others:
        [entry] = await usecases.queries.journal_of(other, viewer=OPERATOR)
        assert entry.idempotency_key == f"item-{other}-approval"


async def test_approve_all_posts_every_item_with_one_record_each_plus_one_for_the_group(
    migrated: Database, usecases: UseCases
) -> None:
    items = await _ingest(usecases, MIXED)
    await usecases.digests.digest_window(window=W1, now=T0)
    cluster_id = await _cluster_id(migrated, "treasury", GLOBEX)
    before = await _events(migrated)

    outcome = await usecases.digests.decide_cluster(
        cluster_id=cluster_id, actor="U0ALICE", now=T0 + timedelta(hours=1), approve=True
    )
    assert [i.facts.external_id for i in outcome.items] == ["g-1", "g-2", "g-3"]
    # Approved, not posted: each entry waits for the ledger's answer.
    assert {i.state for i in outcome.items} == {ReviewState.APPROVED}
    assert not any(i.ledger_ref for i in outcome.items)
    new = (await _events(migrated))[len(before) :]
    assert Counter(e for e, _ in new) == {
        "item.approved_in_bulk": 3,
        "digest.cluster_approved": 1,
        "journal.created": 3,
    }
    assert {i for e, i in new if e == "item.approved_in_bulk"} == {
        items[r].id for r in ("g-1", "g-2", "g-3")
    }
    entries = [await usecases.queries.journal_of(i.id or 0, viewer=OPERATOR) for i in outcome.items]
    assert [len(e) for e in entries] == [1, 1, 1]
    # The apart item and the other groups are untouched.
    assert (await usecases.queries.get(items["big-1"].id or 0)).state is ReviewState.PENDING
    assert (await usecases.queries.get(items["i-1"].id or 0)).state is ReviewState.PENDING
    decided = [
        r
        for r in await _digest_rows(migrated)
        if r["payload"]["template"] == "digest_cluster_decided"
    ]
    assert [(r["payload"]["verdict"], r["payload"]["update_of"]) for r in decided] == [
        ("approved", f"digest:treasury:{W1}:c{cluster_id}")
    ]

    again = await usecases.digests.decide_cluster(
        cluster_id=cluster_id, actor="U0ALICE", now=T0 + timedelta(hours=2), approve=True
    )
    assert again.noop
    with pytest.raises(IllegalTransition, match="already approved by U0ALICE"):
        await usecases.digests.decide_cluster(
            cluster_id=cluster_id,
            actor="U0BOB",
            now=T0 + timedelta(hours=2),
            approve=False,
            reason="these are all duplicates",
        )
    # The tables agree with the replayed log: approvals, decisions and entries in bulk.
    report = await verify_database(migrated, anchors=None, deep=True)
    assert report.ok, report.problem
    assert report.journal_entries == 3


async def test_reject_all_needs_a_reason_and_records_it_on_every_item(
    migrated: Database, usecases: UseCases
) -> None:
    await _ingest(usecases, MIXED)
    await usecases.digests.digest_window(window=W1, now=T0)
    cluster_id = await _cluster_id(migrated, "treasury", INITECH)
    with pytest.raises(InvalidCommand, match="reason"):
        await usecases.digests.decide_cluster(
            cluster_id=cluster_id, actor="U0BOB", now=T0, approve=False, reason="no"
        )
    outcome = await usecases.digests.decide_cluster(
        cluster_id=cluster_id,
        actor="U0BOB",
        now=T0,
        approve=False,
        reason="booked twice by the EUR feed",
    )
    assert {(i.state, i.decision_note) for i in outcome.items} == {
        (ReviewState.REJECTED, "booked twice by the EUR feed")
    }
    rejected = [e for e in await _events(migrated) if e[0] == "item.rejected"]
    assert len(rejected) == 2
    assert Counter(e for e, _ in await _events(migrated))["digest.cluster_rejected"] == 1


async def test_a_group_with_one_changed_item_is_refused_whole_and_nothing_changes(
    migrated: Database, usecases: UseCases
) -> None:
    items = await _ingest(usecases, MIXED)
    await usecases.digests.digest_window(window=W1, now=T0)
    cluster_id = await _cluster_id(migrated, "treasury", GLOBEX)
    # The source data under g-2 changes after the digest went out (still pending).
    amended = dataclasses.replace(MIXED[1], description="corrected by the bank")
    await usecases.intake.ingest([IntakeRow(line=3, facts=amended)], now=T0)
    snapshot = {r: await usecases.queries.get(items[r].id or 0) for r in ("g-1", "g-2", "g-3")}
    before = await _events(migrated)

    with pytest.raises(StaleItem, match=f"{items['g-2'].human_id} changed since the digest"):
        await usecases.digests.decide_cluster(
            cluster_id=cluster_id, actor="U0ALICE", now=T0, approve=True
        )

    assert {r: await usecases.queries.get(items[r].id or 0) for r in snapshot} == snapshot
    # Only the attempt is recorded, in a transaction of its own, naming the group.
    assert await _events(migrated) == [*before, ("decision.refused", None)]
    (cluster,) = [c for c in await _clusters(migrated) if c["id"] == cluster_id]
    assert cluster["state"] == "open"
    # Each item can still be decided on its own.
    one = await usecases.decisions.approve(item_id=items["g-1"].id or 0, actor="U0ALICE", now=T0)
    assert one.item.state is ReviewState.APPROVED


async def test_maker_checker_refuses_approving_a_group_with_an_item_one_prepared(
    migrated: Database, usecases: UseCases
) -> None:
    rows = [*MIXED[:2], dataclasses.replace(MIXED[2], prepared_by="U0BOB")]
    items = await _ingest(usecases, rows)
    await usecases.digests.digest_window(window=W1, now=T0)
    cluster_id = await _cluster_id(migrated, "treasury", GLOBEX)
    with pytest.raises(NotAuthorized, match="maker-checker"):
        await usecases.digests.decide_cluster(
            cluster_id=cluster_id, actor="U0BOB", now=T0, approve=True
        )
    assert {(await usecases.queries.get(i.id or 0)).state for i in items.values()} == {
        ReviewState.PENDING
    }
    outcome = await usecases.digests.decide_cluster(
        cluster_id=cluster_id, actor="U0ALICE", now=T0, approve=True
    )
    assert len(outcome.items) == 3


async def test_items_needing_individual_review_are_never_decided_in_bulk(
    migrated: Database, usecases: UseCases
) -> None:
    items = await _ingest(usecases, MIXED)
    await usecases.digests.digest_window(window=W1, now=T0)
    apart = [c for c in await _clusters(migrated) if c["apart"]]
    big = items["big-1"]
    assert [(c["team"], c["items"]) for c in apart] == [
        ("treasury", [[big.id, big.version, big.content_hash]])
    ]
    for approve in (True, False):
        with pytest.raises(InvalidCommand, match="individual review"):
            await usecases.digests.decide_cluster(
                cluster_id=int(apart[0]["id"]),
                actor="U0ALICE",
                now=T0,
                approve=approve,
                reason="not these, they are fine",
            )
    assert all(
        items["big-1"].id not in [i for i, *_ in c["items"]]
        for c in await _clusters(migrated)
        if not c["apart"]
    )
    first = await usecases.decisions.approve(
        item_id=items["big-1"].id or 0, actor="U0ALICE", now=T0
    )
    assert first.item.state is ReviewState.AWAITING_SECOND_APPROVAL


async def test_a_policy_change_that_makes_items_material_keeps_them_apart(
    migrated: Database, usecases: UseCases, policies: Policies
) -> None:
    items = await _ingest(usecases, MIXED[:3])
    policies.set(policy_text(dual_control={"amount": "5000.00"}, routing={"materiality": "125.00"}))
    (plan,) = await usecases.digests.digest_window(window=W1, now=T0)
    assert plan.apart == (items["g-3"].id,)
    assert plan.clusters[0].item_ids == (items["g-1"].id, items["g-2"].id)


async def test_outsiders_cannot_decide_a_group(migrated: Database, usecases: UseCases) -> None:
    await _ingest(usecases, MIXED)
    await usecases.digests.digest_window(window=W1, now=T0)
    cluster_id = await _cluster_id(migrated, "treasury", GLOBEX)
    before = await _events(migrated)
    with pytest.raises(NotAuthorized):
        await usecases.digests.decide_cluster(
            cluster_id=cluster_id, actor="U0DAN", now=T0, approve=True
        )
    with pytest.raises(NotAuthorized):
        await usecases.digests.cluster_summary(cluster_id=cluster_id, actor="U0DAN")
    # The refused decision is recorded (a form that is not opened is no attempt).
    assert await _events(migrated) == [*before, ("decision.refused", None)]
    async with migrated.reader.connect() as conn:
        body = (
            await conn.execute(
                select(audit_records.c.body).order_by(audit_records.c.seq.desc()).limit(1)
            )
        ).scalar_one()
    record = json.loads(body)
    assert (record["actor"], record["item_id"]) == ("U0DAN", None)
    assert set(record["data"]) == {"action", "cluster_id", "reason"}
    assert (record["data"]["action"], record["data"]["cluster_id"]) == ("approve", cluster_id)
    assert record["data"]["reason"].startswith("you cannot see R-")


async def test_two_reviewers_deciding_one_group_at_once_decide_it_once(
    migrated: Database, tmp_path: Path, policies: Policies, usecases: UseCases
) -> None:
    await _ingest(usecases, MIXED)
    await usecases.digests.digest_window(window=W1, now=T0)
    cluster_id = await _cluster_id(migrated, "treasury", GLOBEX)
    other_db = await other_process_database(migrated)
    try:
        other = await make_service(other_db, tmp_path, policies)
        results = await asyncio.gather(
            usecases.digests.decide_cluster(
                cluster_id=cluster_id, actor="U0ALICE", now=T0, approve=True
            ),
            other.digests.decide_cluster(
                cluster_id=cluster_id,
                actor="U0BOB",
                now=T0,
                approve=False,
                reason="all three are test lines",
            ),
            return_exceptions=True,
        )
    finally:
        await other_db.dispose()
    won = [r for r in results if not isinstance(r, BaseException)]
    lost = [r for r in results if isinstance(r, BaseException)]
    assert len(won) == 1 and len(lost) == 1
    assert isinstance(lost[0], IllegalTransition | StaleItem)
    states = {i.state for i in won[0].items}
    assert len(states) == 1
    events = Counter(e for e, _ in await _events(migrated))
    assert events["digest.cluster_approved"] + events["digest.cluster_rejected"] == 1
    assert events["item.approved_in_bulk"] + events["item.rejected"] == 3


async def test_review_individually_posts_a_card_for_each_open_item(
    migrated: Database, usecases: UseCases
) -> None:
    items = await _ingest(usecases, MIXED)
    await usecases.digests.digest_window(window=W1, now=T0)
    cluster_id = await _cluster_id(migrated, "treasury", GLOBEX)
    await usecases.decisions.reject(
        item_id=items["g-1"].id or 0, actor="U0ALICE", reason="wrong bank account", now=T0
    )
    assert await usecases.digests.review_cluster(cluster_id=cluster_id, actor="U0BOB", now=T0) == 2
    async with migrated.reader.connect() as conn:
        cards = (
            await conn.execute(
                select(outbox.c.item_id, outbox.c.payload).where(
                    outbox.c.dedupe_key.like("card:%:review")
                )
            )
        ).all()
    assert sorted(i for i, _ in cards) == [items["g-2"].id, items["g-3"].id]
    assert all(p["post_if_missing"] for _, p in cards)
    with pytest.raises(NotAuthorized):
        await usecases.digests.review_cluster(cluster_id=cluster_id, actor="U0DAN", now=T0)


async def test_an_sla_reminder_does_not_make_a_digest_group_stale(
    migrated: Database, usecases: UseCases
) -> None:
    await _ingest(usecases, MIXED[:3])
    await usecases.digests.digest_window(window=W1, now=T0)
    cluster_id = await _cluster_id(migrated, "treasury", GLOBEX)
    # The relay's part: Slack accepted the summary at T0, so the clocks start there.
    async with migrated.writer.begin() as conn:
        await conn.execute(
            update(outbox)
            .where(outbox.c.dedupe_key == digest_key("treasury", W1))
            .values(state="sent", sent_at=T0, result_channel="C0TREASURY", result_ts="1.000100")
        )
    assert await usecases.digests.start_clocks(now=T0) == 3
    assert (await usecases.ladder.sla_sweep(now=T0 + timedelta(hours=24))).taken["remind"] == 3
    outcome = await usecases.digests.decide_cluster(
        cluster_id=cluster_id, actor="U0ALICE", now=T0 + timedelta(hours=25), approve=True
    )
    assert len(outcome.items) == 3

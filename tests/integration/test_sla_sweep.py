"""The SLA ladder sweep on real databases (SQLite always, PostgreSQL when configured).

Time is injected: every service call gets an explicit ``now``, so each test walks the
ladder hour by hour without waiting. "Two processes" are two services, each with its own
engines, on the same database.
"""

from __future__ import annotations

import asyncio
import json
from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import yaml
from sqlalchemy import select, text

from domain.errors import NotAuthorized
from domain.intake import IntakeRow
from domain.items import (
    DisputeCategory,
    DisputeOutcome,
    DisputeState,
    Item,
    ItemFacts,
    ItemKind,
    ReviewState,
    RiskTier,
)
from domain.permissions import OPERATOR
from domain.policy import LoadedPolicy, parse_policy
from domain.usecases import UseCases
from scheduler.jobs import SWEEP_BATCH, Jobs
from scheduler.relay import OutboxRelay
from store.audit.anchors import AnchorFile
from store.audit.log import init_audit
from store.audit.signer import load_or_create_signing_key
from store.engine import Database, create_database
from store.outbox import OutboxStore
from store.policy_file import PolicyFile
from store.tables import audit_records, outbox
from store.uow import SqlUnitOfWorkFactory
from tests.builders import make_facts
from tests.conftest import EXAMPLE_POLICY
from tests.fakes import FixedClock

T0 = datetime(2026, 11, 16, 9, 0, tzinfo=UTC)  # a Monday
H = timedelta(hours=1)
TREASURY = "C0TREASURY"
COMPLIANCE = "C0COMPLIANCE"


# --- harness ---------------------------------------------------------------------------


def policy_text(**overrides: Any) -> str:
    """The example policy with top-level sections replaced or merged (dicts merge)."""
    data = yaml.safe_load(EXAMPLE_POLICY.read_text(encoding="utf-8"))
    for key, value in overrides.items():
        if isinstance(value, dict) and isinstance(data.get(key), dict):
            data[key] = {**data[key], **value}
        else:
            data[key] = value
    return yaml.safe_dump(data, sort_keys=False)


class Policies:
    """The policy in force, swappable like a hot reload."""

    def __init__(self, text_: str) -> None:
        self.loaded = parse_policy(text_)

    def set(self, text_: str) -> LoadedPolicy:
        self.loaded = parse_policy(text_)
        return self.loaded

    def __call__(self) -> LoadedPolicy:
        return self.loaded


async def make_service(db: Database, tmp_path: Path, policies: Policies) -> UseCases:
    signer = load_or_create_signing_key(tmp_path / "audit.pem")
    async with db.writer.begin() as conn:
        await init_audit(conn, signer=signer, now=T0)
    factory = SqlUnitOfWorkFactory(
        database=db, signer=signer, anchors=AnchorFile(tmp_path / "anchors.jsonl")
    )
    return UseCases.over(uow=factory, policy=policies)


async def other_process_database(db: Database) -> Database:
    """Separate engines on the same database (what a second ``serve`` process opens)."""
    if db.is_sqlite:
        return create_database(db.url)
    async with db.reader.connect() as conn:
        schema = (await conn.execute(text("SELECT current_schema()"))).scalar_one()
    return create_database(db.url, search_path=str(schema))


def facts(n: int, **overrides: Any) -> ItemFacts:
    """A treasury line a human must see now (high counterparty risk)."""
    base = {
        "source": "bank",
        "external_id": f"sla-{n}",
        "amount": "2500.00",
        "counterparty": "Globex Ltd",
        "risk_tier": RiskTier.HIGH,
        "confidence": "0.95",
        "prepared_by": "U0PREP1",
        "reference": None,
    }
    return make_facts(**(base | overrides))


async def ingest(usecases: UseCases, n: int, *, now: datetime = T0, **overrides: Any) -> list[Item]:
    rows = [IntakeRow(line=i + 2, facts=facts(i, **overrides)) for i in range(n)]
    await usecases.intake.ingest(rows, now=now)
    queued = await usecases.queries.queue(viewer=OPERATOR, limit=10_000)
    return sorted(queued, key=lambda i: i.id or 0)


async def events(db: Database, item_id: int | None = None) -> list[str]:
    stmt = select(audit_records.c.event).order_by(audit_records.c.seq)
    if item_id is not None:
        stmt = stmt.where(audit_records.c.item_id == item_id)
    async with db.reader.connect() as conn:
        return list((await conn.execute(stmt)).scalars())


async def outbox_rows(db: Database) -> list[dict[str, Any]]:
    async with db.reader.connect() as conn:
        rows = await conn.execute(
            select(outbox.c.dedupe_key, outbox.c.kind, outbox.c.target, outbox.c.payload)
            .where(outbox.c.kind != "home")
            .order_by(outbox.c.id)
        )
        return [dict(r) for r in rows.mappings()]


def templates(rows: list[dict[str, Any]]) -> list[tuple[str, str]]:
    """(template, target) of every alert and DM row."""
    return [(str(r["payload"].get("template")), r["target"]) for r in rows if r["kind"] != "card"]


LADDER_EVENTS = ("sla.reminded", "item.escalated", "item.dead_lettered")


@pytest.fixture
def policies() -> Policies:
    return Policies(policy_text(compliance={"leads_resolve_dead_letters": False}))


@pytest.fixture
async def usecases(migrated: Database, tmp_path: Path, policies: Policies) -> UseCases:
    return await make_service(migrated, tmp_path, policies)


# --- the ladder ------------------------------------------------------------------------


async def test_each_rung_is_taken_once_in_order_and_audited(
    migrated: Database, usecases: UseCases
) -> None:
    (item,) = await ingest(usecases, 1)
    assert item.id is not None and item.sla_next_at == T0 + 24 * H
    await usecases.claims.claim(item_id=item.id, actor="U0ALICE", now=T0 + H)

    taken = []
    for hours in (23, 24, 24, 30, 48, 48, 71, 72, 72, 500):
        result = await usecases.ladder.sla_sweep(now=T0 + hours * H)
        taken.append({k: v for k, v in result.taken.items() if v})
    assert taken == [
        {},
        {"remind": 1},
        {},
        {},
        {"escalate": 1},
        {},
        {},
        {"dead_letter": 1},
        {},
        {},
    ]
    final = await usecases.queries.get(item.id)
    assert (final.state, final.ladder_level, final.sla_next_at) == (
        ReviewState.DEAD_LETTER,
        3,
        None,
    )
    history = await events(migrated, item.id)
    assert [e for e in history if e in LADDER_EVENTS] == list(LADDER_EVENTS)
    assert templates(await outbox_rows(migrated)) == [
        ("reminder", "U0ALICE"),  # DM to the assignee
        ("escalated", "U0LEAD"),  # the lead's DM
        ("sla_escalated", TREASURY),  # the team channel post
        ("dead_letter", COMPLIANCE),  # the high-severity alert
    ]


async def test_the_audit_records_say_which_rung_and_why(
    migrated: Database, usecases: UseCases
) -> None:
    (item,) = await ingest(usecases, 1)
    assert item.id is not None
    await usecases.ladder.sla_sweep(now=T0 + 24 * H)
    await usecases.ladder.sla_sweep(now=T0 + 48 * H)
    await usecases.ladder.sla_sweep(now=T0 + 72 * H)
    async with migrated.reader.connect() as conn:
        rows = await conn.execute(
            select(audit_records.c.event, audit_records.c.body)
            .where(audit_records.c.item_id == item.id)
            .order_by(audit_records.c.seq)
        )
        bodies = {event: body for event, body in rows.all()}
    for event, rung in zip(LADDER_EVENTS, ("remind", "escalate", "dead_letter"), strict=True):
        record = json.loads(bodies[event])
        assert record["actor"] == "system"
        assert record["data"]["rung"] == rung
        assert "not decided within" in record["data"]["reason"]
        assert "wall time" in record["data"]["reason"]
    dead = json.loads(bodies["item.dead_lettered"])
    assert dead["data"]["severity"] == "high"
    assert (dead["from"], dead["to"]) == ("escalated", "dead_letter")


async def test_an_unclaimed_item_is_reminded_in_its_team_channel(
    migrated: Database, usecases: UseCases
) -> None:
    await ingest(usecases, 1)
    await usecases.ladder.sla_sweep(now=T0 + 24 * H)
    assert templates(await outbox_rows(migrated)) == [("reminder_unclaimed", TREASURY)]


async def test_an_item_decided_meanwhile_gets_nothing_more(
    migrated: Database, usecases: UseCases
) -> None:
    approved, rejected, waiting = await ingest(usecases, 3)
    assert approved.id and rejected.id and waiting.id
    await usecases.ladder.sla_sweep(now=T0 + 25 * H)
    await usecases.decisions.approve(item_id=approved.id, actor="U0ALICE", now=T0 + 26 * H)
    await usecases.decisions.reject(
        item_id=rejected.id, actor="U0BOB", reason="duplicate of an earlier line", now=T0 + 26 * H
    )
    for hours in (48, 72, 1000):
        await usecases.ladder.sla_sweep(now=T0 + hours * H)
    for decided in (approved, rejected):
        assert decided.id is not None
        item = await usecases.queries.get(decided.id)
        assert item.sla_next_at is None and item.ladder_level == 1
        assert not set(await events(migrated, decided.id)) & {"item.escalated", "sla.escalate"}
    assert (await usecases.queries.get(waiting.id)).state is ReviewState.DEAD_LETTER
    dead = [t for t in templates(await outbox_rows(migrated)) if t[0] == "dead_letter"]
    assert dead == [("dead_letter", COMPLIANCE)]


async def test_after_downtime_only_the_highest_due_rung_is_taken(
    migrated: Database, usecases: UseCases
) -> None:
    late, mid = await ingest(usecases, 2)
    assert late.id and mid.id
    await usecases.claims.claim(item_id=mid.id, actor="U0BOB", now=T0 + 10 * H)
    # Nothing swept for four days, then a sweep at T0+100h: a dead letter for both, and
    # neither a reminder nor an escalation post arrives after the fact.
    result = await usecases.ladder.sla_sweep(now=T0 + 100 * H)
    assert result.taken == {"remind": 0, "escalate": 0, "dead_letter": 2}
    assert {t for t in templates(await outbox_rows(migrated))} == {("dead_letter", COMPLIANCE)}
    async with migrated.reader.connect() as conn:
        bodies = (
            await conn.execute(
                select(audit_records.c.body).where(audit_records.c.event == "item.dead_lettered")
            )
        ).scalars()
        skipped = [json.loads(b)["data"]["skipped"] for b in bodies]
    assert skipped == [["remind", "escalate"]] * 2


async def test_two_processes_sweeping_one_database_take_each_rung_once(
    migrated: Database, tmp_path: Path, policies: Policies, usecases: UseCases
) -> None:
    items = await ingest(usecases, 40)
    other_db = await other_process_database(migrated)
    try:
        other = await make_service(other_db, tmp_path, policies)
        totals: Counter[str] = Counter()
        lost = 0
        for hours in (24, 48, 72):
            results = await asyncio.gather(
                usecases.ladder.sla_sweep(now=T0 + hours * H, limit=15),
                other.ladder.sla_sweep(now=T0 + hours * H, limit=15),
                usecases.ladder.sla_sweep(now=T0 + hours * H),
                other.ladder.sla_sweep(now=T0 + hours * H),
            )
            for r in results:
                totals.update(r.taken)
                lost += r.lost
    finally:
        await other_db.dispose()
    assert dict(totals) == {"remind": 40, "escalate": 40, "dead_letter": 40}
    counts = Counter(e for e in await events(migrated) if e in LADDER_EVENTS)
    assert counts == {e: 40 for e in LADDER_EVENTS}
    rows = await outbox_rows(migrated)
    keys = [r["dedupe_key"] for r in rows]
    assert len(keys) == len(set(keys))
    per_template = Counter(t for t, _ in templates(rows))
    assert per_template == {
        "reminder_unclaimed": 40,
        "escalated": 40,
        "sla_escalated": 40,
        "dead_letter": 40,
    }
    levels = {(await usecases.queries.get(i.id or 0)).ladder_level for i in items}
    assert levels == {3}


async def test_the_scheduler_job_sweeps_more_than_one_batch_per_tick(
    migrated: Database, tmp_path: Path, policies: Policies, usecases: UseCases
) -> None:
    n = SWEEP_BATCH + 37
    await ingest(usecases, n)
    policy_path = tmp_path / "policy.yml"
    policy_path.write_text(policy_text(), encoding="utf-8")
    clock = FixedClock(T0 + 24 * H)

    class _Silent:
        async def deliver(self, message: Any, *, card: Any, now: datetime) -> Any:
            raise AssertionError("the relay is not run in this test")

    store = OutboxStore(migrated)
    jobs = Jobs(
        usecases=usecases,
        clock=clock,
        relay=OutboxRelay(
            store=store, notifier=_Silent(), clock=clock, compliance_channel=lambda: COMPLIANCE
        ),
        database=migrated,
        anchors=AnchorFile(tmp_path / "anchors.jsonl"),
        policy=PolicyFile(policy_path),
    )
    assert await jobs.sla_sweep() == n
    assert await jobs.sla_sweep() == 0


# --- pause and resume ----------------------------------------------------------------


async def test_awaiting_the_counterparty_pauses_the_clock_and_keeps_the_time_used(
    migrated: Database, usecases: UseCases
) -> None:
    (item,) = await ingest(usecases, 1)
    assert item.id is not None
    await usecases.disputes.open_dispute(
        item_id=item.id,
        actor="U0ALICE",
        now=T0 + 4 * H,
        category=DisputeCategory.AMOUNT_MISMATCH,
        description="counterparty booked a different amount",
    )
    paused = await usecases.disputes.update_dispute(
        item_id=item.id,
        actor="U0ALICE",
        now=T0 + 10 * H,
        state=DisputeState.AWAITING_COUNTERPARTY,
    )
    assert paused.item.sla_credit_seconds == 10 * 3600
    assert paused.item.sla_next_at is None
    assert (await usecases.ladder.sla_sweep(now=T0 + 500 * H)).total == 0

    resumed = await usecases.disputes.update_dispute(
        item_id=item.id, actor="U0ALICE", now=T0 + 500 * H, state=DisputeState.OPEN
    )
    # 14h of the 24h were left: due 14h after resuming, not 24h, not at once.
    assert resumed.item.sla_next_at == T0 + 514 * H
    assert (await usecases.ladder.sla_sweep(now=T0 + 514 * H - timedelta(seconds=1))).total == 0
    result = await usecases.ladder.sla_sweep(now=T0 + 514 * H)
    assert result.taken["remind"] == 1
    # The assignee of a disputed item (who opened it) is the one reminded.
    assert templates(await outbox_rows(migrated))[-1] == ("reminder", "U0ALICE")


async def test_a_pause_in_working_time_keeps_working_seconds(
    migrated: Database, tmp_path: Path
) -> None:
    calendar = {"timezone": "UTC", "weekdays": ["mon", "tue", "wed", "thu", "fri"]}
    policies = Policies(policy_text(calendar=calendar, sla={"remind_after": "8h"}))
    usecases = await make_service(migrated, tmp_path, policies)
    (item,) = await ingest(usecases, 1)  # Monday 09:00 UTC
    assert item.id is not None and item.sla_next_at == T0 + 8 * H  # Monday 17:00
    await usecases.disputes.open_dispute(
        item_id=item.id,
        actor="U0ALICE",
        now=T0 + 2 * H,
        category=DisputeCategory.TIMING,
        description="value date is on Tuesday",
    )
    paused = await usecases.disputes.update_dispute(
        item_id=item.id, actor="U0ALICE", now=T0 + 3 * H, state=DisputeState.AWAITING_COUNTERPARTY
    )
    assert paused.item.sla_credit_seconds == 3 * 3600
    # Resumed on Friday at 16:00: 1h left today, 4h on Monday.
    friday_4pm = T0 + 4 * 24 * H + 7 * H
    resumed = await usecases.disputes.update_dispute(
        item_id=item.id, actor="U0ALICE", now=friday_4pm, state=DisputeState.OPEN
    )
    assert resumed.item.sla_next_at == T0 + 7 * 24 * H + 4 * H  # Monday 13:00


async def test_a_resolved_dispute_starts_a_fresh_clock_even_after_a_pause(
    usecases: UseCases,
) -> None:
    (item,) = await ingest(usecases, 1)
    assert item.id is not None
    await usecases.disputes.open_dispute(
        item_id=item.id,
        actor="U0ALICE",
        now=T0,
        category=DisputeCategory.TIMING,
        description="value date differs by a day",
    )
    await usecases.disputes.update_dispute(
        item_id=item.id, actor="U0ALICE", now=T0 + 20 * H, state=DisputeState.AWAITING_COUNTERPARTY
    )
    await usecases.disputes.update_dispute(
        item_id=item.id, actor="U0ALICE", now=T0 + 30 * H, state=DisputeState.OPEN
    )
    resolved = await usecases.disputes.resolve_dispute(
        note="settled with the counterparty",
        item_id=item.id,
        actor="U0ALICE",
        now=T0 + 31 * H,
        outcome=DisputeOutcome.MATCHED,
    )
    assert resolved.item.state is ReviewState.PENDING and resolved.item.ladder_level == 0
    assert resolved.item.sla_next_at == T0 + 31 * H + 24 * H


async def test_a_disputed_item_reaching_the_dead_letter_rung_alerts_compliance(
    migrated: Database, usecases: UseCases
) -> None:
    (item,) = await ingest(usecases, 1)
    assert item.id is not None
    await usecases.disputes.open_dispute(
        item_id=item.id,
        actor="U0ALICE",
        now=T0 + H,
        category=DisputeCategory.SUSPECTED_FRAUD,
        description="the payee account changed last week",
    )
    await usecases.ladder.sla_sweep(now=T0 + 24 * H)
    await usecases.ladder.sla_sweep(now=T0 + 48 * H)
    result = await usecases.ladder.sla_sweep(now=T0 + 72 * H)
    assert result.taken["dead_letter"] == 1
    assert (await usecases.queries.get(item.id)).ladder_level == 3
    after_rung = [t for t in templates(await outbox_rows(migrated)) if t[1] == COMPLIANCE]
    assert after_rung, "nobody was told the disputed item ran out of time"


# --- who may act up the ladder --------------------------------------------------------


async def test_escalated_items_belong_to_leads_and_dead_letters_to_compliance(
    usecases: UseCases,
) -> None:
    first, second = await ingest(usecases, 2)
    assert first.id and second.id
    await usecases.ladder.sla_sweep(now=T0 + 48 * H)
    with pytest.raises(NotAuthorized, match="only its team's leads"):
        await usecases.decisions.approve(item_id=first.id, actor="U0ALICE", now=T0 + 49 * H)
    lead = await usecases.decisions.approve(item_id=first.id, actor="U0LEAD", now=T0 + 49 * H)
    assert lead.item.state is ReviewState.APPROVED

    await usecases.ladder.sla_sweep(now=T0 + 72 * H)
    assert (await usecases.queries.get(second.id)).state is ReviewState.DEAD_LETTER
    for refused in ("U0ALICE", "U0LEAD"):  # the policy keeps dead letters for compliance
        with pytest.raises(NotAuthorized, match="only compliance officers may act"):
            await usecases.decisions.approve(item_id=second.id, actor=refused, now=T0 + 73 * H)
    officer = await usecases.decisions.approve(item_id=second.id, actor="U0AUDIT", now=T0 + 73 * H)
    assert officer.item.state is ReviewState.APPROVED


async def test_leads_may_resolve_dead_letters_when_the_policy_says_so(
    migrated: Database, tmp_path: Path
) -> None:
    usecases = await make_service(migrated, tmp_path, Policies(policy_text()))
    (item,) = await ingest(usecases, 1)
    assert item.id is not None
    await usecases.ladder.sla_sweep(now=T0 + 72 * H)
    with pytest.raises(NotAuthorized, match="compliance officers or team leads"):
        await usecases.decisions.approve(item_id=item.id, actor="U0BOB", now=T0 + 73 * H)
    outcome = await usecases.decisions.approve(item_id=item.id, actor="U0LEAD", now=T0 + 73 * H)
    assert outcome.item.state is ReviewState.APPROVED


async def test_an_amendment_keeps_a_dead_letter_held_and_never_auto_accepts(
    migrated: Database, usecases: UseCases
) -> None:
    # A weak match scored 70 with a risky counterparty: immediate review.
    (item,) = await ingest(usecases, 1, kind=ItemKind.MATCH, score=70)
    assert item.id is not None
    await usecases.ladder.sla_sweep(now=T0 + 72 * H)
    # The engine re-exports it as a strong, low-risk match: normally auto-accepted.
    await ingest(usecases, 1, now=T0 + 80 * H, kind=ItemKind.MATCH, score=97, risk_tier=None)
    held = await usecases.queries.get(item.id)
    assert held.state is ReviewState.DEAD_LETTER and held.ledger_ref is None
    assert held.facts.score == 97
    assert any("auto-accept withheld" in r for r in held.reasons)
    history = await events(migrated, item.id)
    assert "item.amended" in history and "item.auto_accepted" not in history
    assert (await usecases.ladder.sla_sweep(now=T0 + 500 * H)).total == 0


async def test_a_claimed_dead_letter_is_still_never_auto_accepted_by_an_amendment(
    migrated: Database, usecases: UseCases
) -> None:
    (item,) = await ingest(usecases, 1, kind=ItemKind.MATCH, score=70)
    assert item.id is not None
    await usecases.ladder.sla_sweep(now=T0 + 72 * H)
    await usecases.claims.claim(item_id=item.id, actor="U0AUDIT", now=T0 + 73 * H)
    await ingest(usecases, 1, now=T0 + 80 * H, kind=ItemKind.MATCH, score=97, risk_tier=None)
    held = await usecases.queries.get(item.id)
    assert held.state is not ReviewState.POSTED, "auto-posted a dead-lettered item"
    assert "item.auto_accepted" not in await events(migrated, item.id)


async def test_a_claimed_dead_letter_still_belongs_to_compliance(usecases: UseCases) -> None:
    (item,) = await ingest(usecases, 1)
    assert item.id is not None
    await usecases.ladder.sla_sweep(now=T0 + 72 * H)
    await usecases.claims.claim(item_id=item.id, actor="U0AUDIT", now=T0 + 73 * H)
    with pytest.raises(NotAuthorized):
        await usecases.decisions.approve(item_id=item.id, actor="U0LEAD", now=T0 + 74 * H)


# --- deadlines after a policy change -----------------------------------------------------


async def test_refresh_deadlines_moves_every_open_deadline_after_a_policy_change(
    migrated: Database, usecases: UseCases, policies: Policies
) -> None:
    items = await ingest(usecases, 5)
    decided = items[0]
    assert decided.id is not None
    await usecases.decisions.approve(item_id=decided.id, actor="U0ALICE", now=T0 + H)
    versions = {i.id: (await usecases.queries.get(i.id or 0)).version for i in items}

    policies.set(policy_text(sla={"remind_after": "2h", "escalate_after": "3h"}))
    assert await usecases.ladder.refresh_deadlines(now=T0 + H, batch=2) == 4
    assert await usecases.ladder.refresh_deadlines(now=T0 + H) == 0  # already current
    for item in items[1:]:
        current = await usecases.queries.get(item.id or 0)
        assert current.sla_next_at == T0 + 2 * H
        assert current.version == versions[item.id]  # only the derived index moved
    assert (await usecases.queries.get(decided.id)).sla_next_at is None
    assert (await usecases.ladder.sla_sweep(now=T0 + 2 * H)).taken["remind"] == 4

    policies.set(policy_text(sla={"escalate_after": "96h", "dead_letter_after": "120h"}))
    assert await usecases.ladder.refresh_deadlines(now=T0 + 3 * H) == 4
    assert (await usecases.ladder.sla_sweep(now=T0 + 48 * H)).total == 0
    assert (await usecases.ladder.sla_sweep(now=T0 + 96 * H)).taken["escalate"] == 4
    # Items keep the policy version they were routed under.
    assert {(await usecases.queries.get(i.id or 0)).policy_version for i in items} == {
        parse_policy(policy_text(compliance={"leads_resolve_dead_letters": False})).version
    }


async def test_a_sweep_corrects_a_deadline_the_policy_no_longer_supports(
    usecases: UseCases, policies: Policies
) -> None:
    (item,) = await ingest(usecases, 1)
    assert item.id is not None
    policies.set(policy_text(sla={"remind_after": "30h"}))  # no refresh_deadlines yet
    result = await usecases.ladder.sla_sweep(now=T0 + 24 * H)
    assert result.total == 0 and result.lost == 0
    assert (await usecases.queries.get(item.id)).sla_next_at == T0 + 30 * H
    assert (await usecases.ladder.sla_sweep(now=T0 + 30 * H)).taken["remind"] == 1


async def test_the_due_query_reads_only_items_whose_rung_is_due(
    migrated: Database, usecases: UseCases
) -> None:
    early = await ingest(usecases, 3)
    late = [
        await usecases.intake.ingest(
            [IntakeRow(line=1, facts=facts(100 + n))], now=T0 + (n + 1) * 5 * H
        )
        for n in range(4)
    ]
    assert len(late) == 4
    async with usecases.queries._tx.uow(read_only=True) as uow:
        due = await uow.items.due_for_ladder(now=T0 + 24 * H, limit=100)
    assert [i.id for i in due] == [i.id for i in early]
    order = [i.sla_next_at for i in due if i.sla_next_at is not None]
    assert len(order) == len(due) and order == sorted(order)  # earliest first


# --- the claim sweeper -------------------------------------------------------------------


async def test_expired_claims_are_released_once_audited_and_the_card_updated(
    migrated: Database, usecases: UseCases
) -> None:
    fresh, stale = await ingest(usecases, 2)
    assert fresh.id and stale.id
    await usecases.claims.claim(item_id=stale.id, actor="U0ALICE", now=T0)
    await usecases.claims.claim(item_id=fresh.id, actor="U0BOB", now=T0 + 2 * H)
    before = len(await outbox_rows(migrated))
    assert await usecases.claims.release_expired_claims(now=T0 + 4 * H) == []  # not yet expired
    released = await usecases.claims.release_expired_claims(now=T0 + 4 * H + timedelta(seconds=1))
    assert [i.id for i in released] == [stale.id]
    assert released[0].state is ReviewState.PENDING and released[0].assignee is None
    assert await usecases.claims.release_expired_claims(now=T0 + 5 * H) == []
    assert (await usecases.queries.get(fresh.id)).state is ReviewState.ASSIGNED
    assert (await events(migrated, stale.id)).count("item.released") == 1
    new_rows = (await outbox_rows(migrated))[before:]
    assert [(r["kind"], r["dedupe_key"]) for r in new_rows] == [
        ("card", f"card:{stale.id}:v{released[0].version}")
    ]


async def test_an_expired_claim_on_an_escalated_item_returns_it_to_the_leads(
    usecases: UseCases,
) -> None:
    (item,) = await ingest(usecases, 1)
    assert item.id is not None
    await usecases.ladder.sla_sweep(now=T0 + 48 * H)
    await usecases.claims.claim(item_id=item.id, actor="U0LEAD", now=T0 + 49 * H)
    (released,) = await usecases.claims.release_expired_claims(now=T0 + 54 * H)
    assert released.state is ReviewState.ESCALATED and released.ladder_level == 2
    assert released.sla_next_at == T0 + 72 * H

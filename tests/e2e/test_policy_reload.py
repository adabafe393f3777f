"""Policy hot reload and audit anchoring end to end (the jobs called directly).

A valid changed policy file is swapped in and audited, deadlines and the digest schedule
follow it, and items keep the version they were routed under; an invalid one keeps the
old policy and alerts compliance with the validation errors, once per broken content.
The anchor job posts the latest signed checkpoint to compliance and repairs the file.
"""

from __future__ import annotations

import json
from datetime import timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from domain.templates import PolicyInvalid
from store.audit.log import latest_checkpoint
from store.outbox import OutboxStore, RowState
from store.tables import audit_records
from tests.e2e.conftest import Desk, stop_desk
from tests.e2e.ladder_support import (
    COMPLIANCE,
    FAST_LADDER,
    StepClock,
    audit_events,
    desk_settings,
    jobs_of,
    messages_with,
    policy_yaml,
    settle,
    start_policy_desk,
    wait_message,
)
from tests.slack_standin import SlackStandIn

INVALID = "The edited policy file is invalid"


@pytest.fixture
def clock() -> StepClock:
    return StepClock()


@pytest.fixture
async def desk(slack: SlackStandIn, tmp_path: Path, clock: StepClock) -> Any:
    running = await start_policy_desk(
        slack, desk_settings(tmp_path, slack), policy_yaml(), clock=clock
    )
    try:
        yield running
    finally:
        await stop_desk(running)


def _edit(desk: Desk, text: str) -> None:
    desk.settings.policy.write_text(text, encoding="utf-8")


async def _bodies(desk: Desk, event: str) -> list[dict[str, Any]]:
    async with desk.container.database.reader.connect() as conn:
        rows = await conn.execute(
            select(audit_records.c.body)
            .where(audit_records.c.event == event)
            .order_by(audit_records.c.seq)
        )
        return [json.loads(body) for body in rows.scalars()]


async def _invalid_alerts_enqueued(desk: Desk) -> int:
    rows = await OutboxStore(desk.container.database).list_rows(states=list(RowState), limit=1000)
    return sum(isinstance(r.payload, PolicyInvalid) for r in rows)


async def test_a_valid_change_is_swapped_in_audited_and_items_keep_their_version(
    desk: Desk,
) -> None:
    jobs = jobs_of(desk)
    old_version = desk.container.policy.current().version
    (before,) = await desk.ingest()
    assert before.policy_version == old_version
    assert before.sla_next_at == before.sla_started_at + timedelta(hours=24)

    _edit(desk, policy_yaml(sla=FAST_LADDER, digest={"cron": "30 7 1 1 *", "timezone": "UTC"}))
    await jobs.policy_reload()
    new_version = desk.container.policy.current().version
    assert new_version != old_version
    (changed,) = await _bodies(desk, "policy.changed")
    assert changed["data"] == {"old_version": old_version, "new_version": new_version}
    assert changed["policy_version"] == new_version

    # The item keeps the version it was routed under; its deadline follows the new ladder.
    kept = await desk.item(before.id or 0)
    assert kept.policy_version == old_version
    assert kept.sla_next_at == before.sla_started_at + timedelta(seconds=2)
    (after,) = await desk.ingest(risk_tier=None, amount=Decimal("100.00"))  # a digest item
    assert after.policy_version == new_version
    # The digest job follows the new schedule.
    assert desk.server.scheduler is not None
    trigger = str(desk.server.scheduler.get_job("digest").trigger)
    assert "hour='7'" in trigger and "minute='30'" in trigger

    await jobs.policy_reload()  # unchanged file: nothing to do
    assert len(await _bodies(desk, "policy.changed")) == 1
    # A digest item's clock waits for its digest (issue 14); the kept one follows the ladder.
    assert after.sla_waits and after.sla_next_at is None


async def test_an_invalid_file_keeps_the_old_policy_and_alerts_once_per_content(
    desk: Desk, slack: SlackStandIn, clock: StepClock
) -> None:
    jobs = jobs_of(desk)
    version = desk.container.policy.current().version

    _edit(desk, policy_yaml(routing={"materiality": "-5.00"}, surprise="yes"))
    await jobs.policy_reload()
    await jobs.policy_reload()  # the same broken content again: no second alert
    assert desk.container.policy.current().version == version
    first = await wait_message(slack, COMPLIANCE, INVALID)
    assert "routing.materiality: materiality must be positive" in first.all_text()
    assert "surprise: Extra inputs are not permitted" in first.all_text()
    assert version in first.all_text()  # says which policy stays in force

    _edit(desk, policy_yaml(sla={"remind_after": "soon"}))
    await jobs.policy_reload()
    second = await wait_message(slack, COMPLIANCE, "sla.remind_after")
    assert "is not a duration" in second.all_text()

    _edit(desk, "teams: [\n")
    await jobs.policy_reload()
    await wait_message(slack, COMPLIANCE, "not valid YAML")
    assert desk.container.policy.current().version == version
    rejected = await _bodies(desk, "policy.rejected")
    assert [r["data"]["kept"] for r in rejected] == [version] * 3

    _edit(desk, policy_yaml(routing={"materiality": "20000.00"}))
    await jobs.policy_reload()
    assert desk.container.policy.current().version != version
    assert "policy.changed" in await audit_events(desk)
    await settle(desk, clock)
    assert len(messages_with(slack, COMPLIANCE, INVALID)) == 3


async def test_a_different_broken_edit_with_the_same_errors_is_alerted_again(
    desk: Desk,
) -> None:
    jobs = jobs_of(desk)
    _edit(desk, policy_yaml(routing={"materiality": "-5.00"}))
    await jobs.policy_reload()
    _edit(desk, policy_yaml(routing={"materiality": "-7.00"}))
    await jobs.policy_reload()
    assert len(await _bodies(desk, "policy.rejected")) == 2
    assert await _invalid_alerts_enqueued(desk) == 2


async def test_a_policy_that_is_not_utf8_is_rejected_and_alerted_once_per_content(
    desk: Desk, slack: SlackStandIn
) -> None:
    """Saved as Latin-1 or UTF-16: the job raised UnicodeDecodeError at every interval and
    alerted no one; now it is one more invalid policy."""
    jobs = jobs_of(desk)
    version = desk.container.policy.current().version
    latin1 = policy_yaml().replace("treasury", "trésorerie", 1).encode("latin-1")
    assert b"\xe9" in latin1

    desk.settings.policy.write_bytes(latin1)
    await jobs.policy_reload()
    await jobs.policy_reload()  # the same content again: no second alert
    assert desk.container.policy.current().version == version
    (rejected,) = await _bodies(desk, "policy.rejected")
    assert rejected["data"]["kept"] == version
    assert await _invalid_alerts_enqueued(desk) == 1
    alert = await wait_message(slack, COMPLIANCE, "must be UTF-8")
    assert "0xe9 at line" in alert.all_text()

    desk.settings.policy.write_bytes(policy_yaml().encode("utf-16"))  # another content
    await jobs.policy_reload()
    await jobs.policy_reload()
    assert len(await _bodies(desk, "policy.rejected")) == 2
    assert await _invalid_alerts_enqueued(desk) == 2
    assert desk.container.policy.current().version == version


async def test_the_anchor_job_posts_the_latest_checkpoint_and_repairs_the_anchors_file(
    desk: Desk, slack: SlackStandIn, clock: StepClock
) -> None:
    jobs = jobs_of(desk)
    await desk.ingest()
    async with desk.container.database.reader.connect() as conn:
        checkpoint = await latest_checkpoint(conn)
    assert checkpoint is not None
    # A crash between a commit and its anchor: the file lost its last lines.
    desk.settings.audit_anchors.unlink()

    await jobs.anchor()
    anchored = desk.container.anchors.read()
    assert [(a.size, a.root) for a in anchored] == [(checkpoint.size, checkpoint.root)]
    posted = await wait_message(slack, COMPLIANCE, "Audit checkpoint")
    assert f"{checkpoint.size} records" in posted.all_text()
    assert checkpoint.root in posted.all_text()

    await jobs.anchor()  # nothing new: neither a second post nor a second anchor line
    assert len(desk.container.anchors.read()) == 1

    await desk.ingest()
    async with desk.container.database.reader.connect() as conn:
        newer = await latest_checkpoint(conn)
    assert newer is not None and newer.size > checkpoint.size
    await jobs.anchor()
    await wait_message(slack, COMPLIANCE, f"{newer.size} records")
    await settle(desk, clock)
    assert len(messages_with(slack, COMPLIANCE, "Audit checkpoint")) == 2
    assert desk.container.anchors.read()[-1].size == newer.size

"""The anchor job covers a tail that another replica left unsealed when it crashed."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from domain.audit.records import AuditEntry
from store.audit.log import latest_checkpoint, unsealed_tail
from store.audit.sealer import AuditSealer
from store.audit.verification import verify_database
from store.uow import SqlUnitOfWorkFactory
from tests.e2e.conftest import Desk
from tests.e2e.ladder_support import COMPLIANCE, jobs_of, wait_message
from tests.slack_standin import SlackStandIn


async def test_the_anchor_job_seals_a_crashed_replicas_tail_and_posts_it(
    desk: Desk, slack: SlackStandIn
) -> None:
    await desk.ingest()
    container = desk.container
    now = datetime.now(UTC)
    # A replica that batches checkpoints commits two clicks, then dies before sealing.
    replica = SqlUnitOfWorkFactory(
        database=container.database,
        signer=container.signer,
        anchors=container.anchors,
        sealer=AuditSealer(
            database=container.database,
            signer=container.signer,
            anchors=container.anchors,
            clock=container.clock,
            merge_delay=timedelta(hours=1),
        ),
    )
    assert replica.sealer is not None
    replica.sealer.sealed(now)  # it had just sealed: these commits wait for its timer
    async with replica() as work:
        await work.audit.append(
            [
                AuditEntry(
                    time=now,
                    event="item.claimed",
                    actor="U0ALICE",
                    item_id=1,
                    item="R-1",
                    from_state="pending",
                    to_state="assigned",
                    policy_version="sha256:abc",
                    data={"note": "claimed from the other replica"},
                )
            ]
        )
        await work.commit()
    async with container.database.reader.connect() as conn:
        tail = await unsealed_tail(conn)
    assert tail is not None and tail[0] == tail[1]

    await jobs_of(desk).anchor()

    async with container.database.reader.connect() as conn:
        assert await unsealed_tail(conn) is None
        newest = await latest_checkpoint(conn)
    assert newest is not None and newest.size == tail[1]
    assert container.anchors.read()[-1].size == tail[1]
    await wait_message(slack, COMPLIANCE, f"{tail[1]} records")
    report = await verify_database(container.database, anchors=container.anchors)
    assert report.ok, report.problem

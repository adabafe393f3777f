"""Nothing acked is lost with its process (the durable inbox, issue 13).

Two real ``recon-bot serve`` replicas on one PostgreSQL database. A command is acked by
one of them, whose decision is then held at the database (the test locks the item's
row), and that replica is SIGKILLed: acked, never committed. The other replica takes the
dead one for dead once it stops beating, runs the stored command again, and the item is
approved once, its entry reaches the ledger once, and the person is answered.

Needs ``RECON_TEST_POSTGRES_URL`` (skipped, saying so, without it).
"""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import func, select, text

from domain.intake import IntakeRow
from domain.items import ReviewState
from store.tables import audit_records, inbox
from tests.builders import make_facts
from tests.e2e.conftest import MATERIAL, ingest_rows
from tests.e2e.replicas import Replica, Replicas, cluster
from tests.slack_standin import SlackStandIn

pytestmark = pytest.mark.slow


async def test_a_command_acked_by_a_replica_that_dies_before_its_commit_is_made_by_another(
    tmp_path: Path,
) -> None:
    async with cluster(tmp_path, replica_timeout="2") as world:
        slack, ledger, container, replicas = (
            world.slack,
            world.ledger,
            world.container,
            world.replicas,
        )
        try:
            (item,) = await ingest_rows(
                container,
                [IntakeRow(line=1, facts=make_facts(**(MATERIAL | {"external_id": "held"})))],
            )
            for _ in range(2):  # one at a time: replica n holds connection n
                await replicas.start(1)
            holder = await container.database.writer.connect()
            await holder.begin()
            # The decision's write waits on this lock: acked, not committed.
            await holder.execute(
                text("SELECT id FROM items WHERE id = :id FOR UPDATE"), {"id": item.id}
            )
            result = await slack.slash_command("U0ALICE", f"approve {item.human_id}")
            assert result.ack is not None

            async def waiting_on_the_lock() -> bool:
                rows = await holder.execute(
                    text(
                        "SELECT count(*) FROM pg_stat_activity "
                        "WHERE wait_event_type = 'Lock' AND datname = current_database()"
                    )
                )
                return bool(rows.scalar())

            await slack.wait_for(waiting_on_the_lock, timeout=10, message="the held decision")
            async with container.database.reader.connect() as conn:
                stored = (await conn.execute(select(inbox.c.owner, inbox.c.done_at))).all()
            assert len(stored) == 1 and stored[0].done_at is None  # stored before the ack
            dead = _replica_on(replicas, slack, result.ack.connection_id)
            dead.proc.kill()  # SIGKILL: the acked command dies with it
            await dead.proc.wait()
            await holder.rollback()
            await holder.close()

            async def approved() -> bool:
                got = await container.usecases.queries.get(item.id or 0)
                return got.state is ReviewState.POSTED

            await slack.wait_for(approved, timeout=60, message="the command run again")
            async with container.database.reader.connect() as conn:
                records = await conn.execute(
                    select(func.count()).where(
                        audit_records.c.event == "item.approved", audit_records.c.item_id == item.id
                    )
                )
                assert records.scalar() == 1
                row = (await conn.execute(select(inbox.c.owner, inbox.c.done_at))).one()
            assert row.done_at is not None and row.owner != stored[0].owner
            assert len(ledger.entries) == 1 and ledger.duplicates == 0
            await slack.wait_for(
                lambda: [e for e in slack.ephemerals_for("U0ALICE") if "approved" in e.all_text()],
                timeout=10,
                message="the person answered",
            )
            survivor = next(r for r in replicas.running if r is not dead)
            assert "running again an interaction a stopped process had acked" in survivor.logs()
        finally:
            codes = await replicas.stop()
        assert codes.count(0) == 1  # the survivor stops cleanly
        code, said = await replicas.audit_verify()
        assert code == 0, said


def _replica_on(replicas: Replicas, slack: SlackStandIn, connection_id: int) -> Replica:
    """The replica that holds ``connection_id`` (they connected one at a time, in order)."""
    order = [c.id for c in slack.connections]
    return replicas.running[order.index(connection_id)]

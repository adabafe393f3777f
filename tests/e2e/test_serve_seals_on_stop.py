"""``recon-bot serve`` as a real process batches audit checkpoints and seals on SIGTERM."""

from __future__ import annotations

from pathlib import Path

from bot.container import Container
from bot.setup import initialize
from domain.intake import IntakeRow
from store.audit.log import unsealed_tail
from store.audit.verification import verify_database
from tests.builders import make_facts
from tests.e2e.conftest import MATERIAL, e2e_settings, ingest_rows
from tests.e2e.serve_process import start_serve
from tests.slack_standin import SlackStandIn

#: Long enough that only the stop path can seal the second click during the test.
MERGE_DELAY_S = "60"


async def test_serve_leaves_a_click_to_the_sealer_and_seals_it_on_sigterm(
    slack: SlackStandIn, tmp_path: Path
) -> None:
    settings = e2e_settings(tmp_path, slack)
    await initialize(settings)
    container = await Container.open(settings)  # one checkpoint per commit: the ingest
    proc = await start_serve(
        settings, slack, tmp_path, env={"RECON_AUDIT_MERGE_DELAY": MERGE_DELAY_S}
    )
    try:
        await slack.wait_connected(timeout=30)
        rows = [
            IntakeRow(line=n, facts=make_facts(**(MATERIAL | {"external_id": f"seal-{n}"})))
            for n in (1, 2)
        ]
        await ingest_rows(container, rows)

        async def tail() -> tuple[int, int] | None:
            async with container.database.reader.connect() as conn:
                return await unsealed_tail(conn)

        # The first claim seals itself (nothing sealed for a delay); the second, a moment
        # later, waits for the sealer, which would take a minute.
        for user in ("U0ALICE", "U0BOB"):
            result = await slack.slash_command(user, "claim")
            assert not result.timed_out
        pending = await slack.wait_for(tail, timeout=30, message="a claim left unsealed")
    finally:
        logs = (await proc.stop()).logs
    try:
        assert proc.returncode == 0, logs
        assert "audit log sealed at shutdown" in logs
        assert await tail() is None
        report = await verify_database(container.database, anchors=container.anchors)
        assert report.ok, report.problem
        assert report.records >= pending[1]
    finally:
        await container.close()

"""An unmatched bank line whose match a later run finds and two people accept: the real
bot against the stand-in closes the line's item and updates its card in place, without
buttons ("matched by run 2 / match 1")."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from pathlib import Path

from bot.setup import EXAMPLE_POLICY
from domain.gl import LedgerEntry
from domain.items import ReviewState
from domain.matching.stored import MatchState
from domain.permissions import OPERATOR
from tests.e2e.conftest import TREASURY, e2e_settings, start_desk, stop_desk
from tests.e2e.test_statement_review import ACCOUNT, Entry, import_mt940, mt940
from tests.ledger_support import ACCOUNTS_YAML
from tests.slack_standin import SlackStandIn

POLICY = f"""
statements:
  auto_approve: false
  accounts:
    - {{account: "{ACCOUNT}", entity: ACME-US, currency: EUR, gl_account: "1100",
       team: treasury}}
"""


async def test_a_later_accepted_match_closes_the_unmatched_card(
    slack: SlackStandIn, tmp_path: Path
) -> None:
    settings = e2e_settings(tmp_path, slack)
    settings.policy.write_text(EXAMPLE_POLICY.read_text() + ACCOUNTS_YAML + POLICY)
    settings.policy.chmod(0o600)
    desk = await start_desk(slack, settings)
    try:
        usecases, now = desk.container.usecases, desk.container.clock.now
        # 12,000 EUR with no ledger counterpart yet: a material unmatched item, carded.
        text = mt940(
            number="00001", day="250303", opening="0.00", entries=[Entry("12000.00", "INV-9")]
        )
        await import_mt940(desk, text)
        await usecases.statements.approve(statement_id=1, actor="U0ALICE", now=now())
        # serve matches an approved statement at once (in the background): let that run
        # finish, so the runs below are numbered after it and do not race it.
        assert desk.server.matcher is not None
        await desk.server.matcher.drain()
        first = await usecases.matching.run(now=now())
        assert first.unmatched_bank == 1
        (lone,) = [
            i for i in await usecases.queries.queue(viewer=OPERATOR) if i.facts.source == "matching"
        ]
        card = await desk.card(lone)
        assert "Approve" in card.button_labels()
        # The ledger entry arrives; the next run finds the match (held: material).
        async with desk.container.uow() as uow:
            await uow.gl.add_many(
                [
                    LedgerEntry(
                        entry_id="GL-9",
                        account="1100",
                        booked_on=date(2025, 3, 3),
                        amount=Decimal("12000.00"),
                        currency="EUR",
                        reference="INV-9",
                    )
                ],
                run_id=None,
                now=now(),
            )
            await uow.commit()
        await usecases.matching.run(now=now())
        (match,) = await usecases.matching.matches(state=MatchState.PENDING_REVIEW)
        assert match.id is not None and match.run is not None and match.run >= 2
        assert (await desk.item(lone.id or 0)).state is ReviewState.PENDING
        # Dual control per match: Alice's accept waits for Bob's, which closes the line.
        await usecases.matching.accept(match.id, actor="U0ALICE", now=now())
        assert (await desk.item(lone.id or 0)).state is ReviewState.PENDING
        await usecases.matching.accept(match.id, actor="U0BOB", now=now())
        assert (await desk.item(lone.id or 0)).state is ReviewState.MATCHED
        closed = await slack.wait_for(
            lambda: (
                (m := slack.message(TREASURY, card.ts)) is not None
                and f"matched by run {match.run} / match {match.id}" in m.all_text()
                and m
            ),
            timeout=20,
            message="the card shows the closure",
        )
        assert closed.button_labels() == []
    finally:
        await stop_desk(desk)

"""The statement use cases over the in-memory store: import rules, decisions, re-parse,
the audit trail and the Stage 2 query."""

from __future__ import annotations

import asyncio
from datetime import date, timedelta
from decimal import Decimal
from typing import Any

import pytest

from domain.errors import IllegalTransition, InvalidCommand, NotAuthorized, NotVisible, StaleItem
from domain.fx import FxRate
from domain.permissions import OPERATOR, Person
from domain.statements.parsed import StatementFormat
from domain.statements.records import Continuity, MatchStatus, Stage1Status
from domain.statements.stage1 import Correct
from domain.usecases.statements import ImportReport, StatementNotFound, Statements
from tests.builders import make_policy
from tests.fakes import T0, InMemoryUnitOfWorkFactory
from tests.statement_files import (
    JsonStatementParser,
    line,
    statement,
    statement_file,
    statement_policy_overrides,
)

S = Stage1Status
LATER = T0 + timedelta(hours=1)


class Desk:
    """The use cases over one in-memory store, with the JSON test format's parser."""

    def __init__(self, **statements: Any) -> None:
        self.loaded = make_policy(**statement_policy_overrides(**statements))
        self.uows = InMemoryUnitOfWorkFactory()
        self.parser = JsonStatementParser()
        self.cases = Statements(uow=self.uows, policy=lambda: self.loaded, parser=self.parser)

    async def load(self, data: bytes, name: str = "bank.json", **kw: Any) -> ImportReport:
        return await self.cases.import_file(
            file_name=name, data=data, result=self.parser(data), now=T0, **kw
        )

    def audit(self) -> list[tuple[str, str, int | None, str | None]]:
        return [
            (e.event, e.actor, e.data.get("statement_id"), e.to_state)  # type: ignore[union-attr]
            for e in self.uows.audit_entries
        ]


DAY2 = statement(
    statement_id="STMT-2",
    start="2025-03-04",
    end="2025-03-04",
    opening="1150.00",
    closing="1100.00",
    lines=[line("-50.00", "2025-03-04")],
)


async def test_a_new_statement_is_imported_pending_review_with_its_checks_and_original() -> None:
    desk = Desk()
    data = statement_file(statement())
    report = await desk.load(data)
    assert report.to_json() == {
        "files": 1, "statements": 1, "imported": 1, "unchanged": 0, "revised": 0, "rejected": [],
    }  # fmt: skip
    (stored,) = desk.uows.store.statements.values()
    assert stored.stage1_status is S.PENDING_REVIEW and stored.revision == 1
    assert stored.checks.chain_ok is True and stored.checks.continuity is Continuity.UNKNOWN
    assert (stored.team, stored.entity, stored.gl_account) == ("treasury", "ACME-NL", "1100")
    assert desk.uows.store.originals[stored.sha256] == ("bank.json", data)
    assert desk.audit() == [("statement.imported", "system", stored.id, "pending_review")]
    (entry,) = desk.uows.audit_entries
    assert entry.item_id is None and entry.item is None and entry.from_state is None
    assert entry.data["statement"] == "S-1"  # type: ignore[index]


async def test_the_same_statement_again_is_unchanged_and_writes_nothing() -> None:
    desk = Desk()
    await desk.load(statement_file(statement(), DAY2))
    commits = desk.uows.store.commits
    # Another file (a different name and bytes) holding the same statements.
    again = await desk.load(statement_file(DAY2, statement()), name="again.json")
    assert (again.imported, again.unchanged, again.revised) == (0, 2, 0)
    assert desk.uows.store.commits == commits and len(desk.uows.audit_entries) == 2


async def test_a_second_day_is_continuous_with_the_first() -> None:
    desk = Desk()
    await desk.load(statement_file(statement(), DAY2))
    first, second = sorted(desk.uows.store.statements.values(), key=lambda s: s.id or 0)
    assert second.checks.continuity is Continuity.OK and second.checks.previous_id == first.id


async def test_a_changed_re_import_is_a_new_revision_voiding_the_approval() -> None:
    desk = Desk()
    await desk.load(statement_file(statement()))
    approved = await desk.cases.approve(statement_id=1, actor="U0ALICE", now=T0)
    assert approved.stage1_status is S.APPROVED
    changed = statement(closing="1150.01", lines=[line("200.01"), line("-50.00")])
    report = await desk.load(statement_file(changed), name="corrected.json")
    assert (report.imported, report.unchanged, report.revised) == (0, 0, 1)
    revised = desk.uows.store.statements[1]
    assert (revised.stage1_status, revised.revision, revised.approvals) == (S.PENDING_REVIEW, 2, ())
    assert revised.file_name == "corrected.json" and revised.lines[0].amount == Decimal("200.01")
    assert [a[0] for a in desk.audit()] == [
        "statement.imported", "statement.approved", "statement.revised",
    ]  # fmt: skip
    assert desk.uows.audit_entries[-1].data["voided_approvals"] == ["U0ALICE"]  # type: ignore[index]


async def test_an_unknown_account_is_rejected_and_the_good_statements_still_land() -> None:
    desk = Desk()
    stranger = statement(account="DE89370400440532013000", statement_id="X-1")
    wrong_currency = statement(currency="USD", statement_id="X-2", opening="1.00", closing="1.00",
                               lines=[])  # fmt: skip
    report = await desk.load(statement_file(statement(), stranger, wrong_currency, DAY2))
    assert (report.statements, report.imported) == (4, 2)
    assert [r.to_json() for r in report.rejected] == [
        {"file": "bank.json", "statement": "X-1", "where": "statement 2",
         "error": "account DE89…3000 is not one the policy knows "
                  "(statements.accounts)"},
        {"file": "bank.json", "statement": "X-2", "where": "statement 3",
         "error": "account NL81…9999 is listed in EUR in the policy but this statement "
                  "is in USD"},
    ]  # fmt: skip
    assert len(desk.uows.store.statements) == 2


async def test_a_statement_the_store_cannot_hold_is_rejected_whole_and_alone() -> None:
    desk = Desk()
    huge = statement(statement_id="BIG", start="2025-03-05", end="2025-03-05",
                     opening="1.00", closing="1.00",
                     lines=[line("1.00"), line("99999999999999999.00")])  # fmt: skip
    report = await desk.load(statement_file(statement(), huge))
    assert report.imported == 1 and len(report.rejected) == 1
    assert "too large" in report.rejected[0].error
    assert [s.statement_id for s in desk.uows.store.statements.values()] == ["STMT-1"]


async def test_parse_problems_are_reported_per_statement() -> None:
    desk = Desk()
    problem = {"where": "statement 2, line 4", "error": "truncated", "statement": "S9"}
    report = await desk.load(statement_file(statement(), problems=[problem]))
    assert report.statements == 2 and report.imported == 1
    assert [r.to_json() for r in report.rejected] == [
        {
            "file": "bank.json",
            "statement": "S9",
            "where": "statement 2, line 4",
            "error": "truncated",
        }
    ]


async def test_auto_approval_by_policy_needs_chain_and_continuity() -> None:
    desk = Desk(auto_approve=True)
    gap = statement(statement_id="STMT-3", start="2025-03-05", end="2025-03-05",
                    opening="1000.00", closing="1000.00", lines=[])  # fmt: skip
    await desk.load(statement_file(statement(), DAY2, gap))
    by_id = desk.uows.store.statements
    # The first has no predecessor (continuity unknown); the second continues it; the
    # third opens 100.00 below the second's close.
    assert [by_id[i].stage1_status for i in (1, 2, 3)] == [
        S.PENDING_REVIEW, S.APPROVED, S.PENDING_REVIEW,
    ]  # fmt: skip
    assert by_id[3].checks.continuity is Continuity.GAP
    assert by_id[3].checks.continuity_gap == Decimal("-100.00")
    (approval,) = by_id[2].approvals
    assert approval.by_policy and approval.actor == "policy"


async def test_approve_is_refused_with_the_delta_and_edit_then_approve_works() -> None:
    desk = Desk()
    await desk.load(statement_file(statement(closing="1150.05")))
    with pytest.raises(IllegalTransition, match=r"off by -0\.05 EUR"):
        await desk.cases.approve(statement_id=1, actor="U0ALICE", now=T0)
    edited = await desk.cases.edit(
        statement_id=1, change=Correct(line=2, field="amount", value="-49.95"),
        actor="U0BOB", now=T0,
    )  # fmt: skip
    assert edited.checks.chain_ok is True and edited.lines[1].edited
    with pytest.raises(NotAuthorized):
        await desk.cases.approve(statement_id=1, actor="U0BOB", now=LATER)
    done = await desk.cases.approve(statement_id=1, actor="U0ALICE", now=LATER)
    assert done.stage1_status is S.APPROVED
    assert [a[:2] for a in desk.audit()] == [
        ("statement.imported", "system"), ("statement.refused", "U0ALICE"),
        ("statement.edited", "U0BOB"), ("statement.refused", "U0BOB"),
        ("statement.approved", "U0ALICE"),
    ]  # fmt: skip


async def test_only_the_team_may_decide_and_a_stale_view_is_refused() -> None:
    desk = Desk()
    await desk.load(statement_file(statement()))
    # Someone of another team is told what an outsider is told of an item: nothing more.
    with pytest.raises(NotVisible, match=r"^you cannot see S-1$"):
        await desk.cases.approve(statement_id=1, actor="U0DAN", now=T0)
    # A compliance officer sees it but does not review it.
    with pytest.raises(NotAuthorized, match="team treasury"):
        await desk.cases.approve(statement_id=1, actor="U0AUDIT", now=T0)
    with pytest.raises(StaleItem):
        await desk.cases.approve(statement_id=1, actor="U0ALICE", now=T0, expected_version=9)
    # A statement that does not exist reads like one that cannot be seen (no probing)...
    with pytest.raises(NotVisible, match=r"^you cannot see S-9$"):
        await desk.cases.approve(statement_id=9, actor="U0ALICE", now=T0)
    # ...except to whoever sees every team.
    with pytest.raises(StatementNotFound, match="S-9"):
        await desk.cases.approve(statement_id=9, actor="U0AUDIT", now=T0)


async def test_reject_then_re_import_of_the_same_file_stays_rejected_a_reparse_revives() -> None:
    desk = Desk()
    data = statement_file(statement())
    await desk.load(data)
    rejected = await desk.cases.reject(statement_id=1, actor="U0ALICE", reason="bad", now=T0)
    assert rejected.stage1_status is S.REJECTED
    assert (await desk.load(data)).unchanged == 1
    assert desk.uows.store.statements[1].stage1_status is S.REJECTED
    revived = await desk.cases.reparse(statement_id=1, now=LATER, actor="operator")
    assert (revived.stage1_status, revived.revision) == (S.PENDING_REVIEW, 2)
    assert desk.parser.calls[-1] is StatementFormat.CAMT053
    assert desk.audit()[-1] == ("statement.revised", "operator", 1, "pending_review")


async def test_reject_then_a_changed_re_import_is_a_new_revision_in_review() -> None:
    desk = Desk()
    await desk.load(statement_file(statement()))
    await desk.cases.reject(statement_id=1, actor="U0ALICE", reason="wrong", now=T0)
    report = await desk.load(statement_file(statement(closing="1150.00", lines=[
        line("150.00"), line("0.00")])))  # fmt: skip
    assert report.revised == 1
    assert desk.uows.store.statements[1].stage1_status is S.PENDING_REVIEW


async def test_reparse_with_another_format_and_a_file_that_no_longer_holds_it() -> None:
    desk = Desk()
    await desk.load(statement_file(statement()))
    revised = await desk.cases.reparse(statement_id=1, now=T0, format=StatementFormat.MT940)
    assert revised.format is StatementFormat.MT940
    stored = desk.uows.store.statements[1]
    desk.uows.store.originals[stored.sha256] = ("bank.json", statement_file(DAY2))
    with pytest.raises(InvalidCommand, match="found no statement S-1"):
        await desk.cases.reparse(statement_id=1, now=T0)


async def test_listing_counts_lines_and_hides_other_teams() -> None:
    desk = Desk()
    await desk.load(statement_file(statement(), DAY2))
    listed = await desk.cases.listing(viewer=OPERATOR)
    assert [(s.id, n) for s, n in listed] == [(1, 2), (2, 1)]
    assert await desk.cases.listing(viewer=Person("U0DAN")) == []
    pending = await desk.cases.listing(viewer=OPERATOR, status=S.APPROVED)
    assert pending == []
    with pytest.raises(NotVisible, match=r"^you cannot see S-1$"):
        await desk.cases.get(1, viewer=Person("U0DAN"))
    with pytest.raises(NotVisible, match=r"^you cannot see S-7$"):
        await desk.cases.get(7, viewer=Person("U0DAN"))
    with pytest.raises(StatementNotFound):
        await desk.cases.get(7, viewer=OPERATOR)


async def test_lines_of_approved_statements_are_stage_two_input() -> None:
    desk = Desk()
    await desk.load(statement_file(statement(), DAY2))
    assert await desk.cases.approved_lines() == []
    await desk.cases.edit(statement_id=1, change=Correct(line=1, field="reference", value="X"),
                          actor="U0BOB", now=T0)  # fmt: skip
    await desk.cases.approve(statement_id=1, actor="U0ALICE", now=T0)
    lines = await desk.cases.approved_lines()
    assert [(s.id, ln.number, ln.reference, ln.match_status) for s, ln in lines] == [
        (1, 1, "X", MatchStatus.UNMATCHED), (1, 2, "FEE", MatchStatus.UNMATCHED),
    ]  # fmt: skip
    assert await desk.cases.approved_lines(after=(1, 1)) == lines[1:]


async def test_refused_decisions_are_audited_and_name_only_statements_that_exist() -> None:
    desk = Desk()
    await desk.load(statement_file(statement(closing="1150.05")))
    with pytest.raises(IllegalTransition):
        await desk.cases.approve(statement_id=1, actor="U0ALICE", now=LATER)
    with pytest.raises(NotVisible):
        await desk.cases.reject(statement_id=9, actor="U0ALICE", reason="x", now=LATER)
    with pytest.raises(InvalidCommand):
        await desk.cases.edit(statement_id=1, change=Correct(line=7, field="amount", value="1"),
                              actor="U0BOB", now=LATER)  # fmt: skip
    refused = [e for e in desk.uows.audit_entries if e.event == "statement.refused"]
    assert [(e.actor, e.data) for e in refused] == [
        ("U0ALICE", {"action": "approve", "statement": "S-1", "statement_id": 1,
                     "reason": "S-1 cannot be approved: the balance chain is off by -0.05 EUR "
                               "(opening + entries - closing; tolerance 0.000925925925925925925"
                               "9259259259 EUR); edit the lines or reject it"}),
        ("U0ALICE", {"action": "reject", "statement": "S-9",
                     "reason": "you cannot see S-9"}),
        ("U0BOB", {"action": "edit", "statement": "S-1", "statement_id": 1,
                   "reason": "S-1 has no line 7"}),
    ]  # fmt: skip
    assert desk.uows.store.statements[1].version == 1


async def test_a_statement_imported_before_its_predecessor_is_rechecked_when_it_comes() -> None:
    desk = Desk(auto_approve=True)
    await desk.load(statement_file(DAY2), name="day2.json")
    assert desk.uows.store.statements[1].checks.continuity is Continuity.UNKNOWN
    await desk.load(statement_file(statement()), name="day1.json")
    day2 = desk.uows.store.statements[1]
    assert (day2.checks.continuity, day2.checks.previous_id) == (Continuity.OK, 2)
    # Now continuous with a holding chain: the policy approves it.
    assert day2.stage1_status is S.APPROVED and day2.approvals[0].by_policy
    assert [a[:3] for a in desk.audit()] == [
        ("statement.imported", "system", 1), ("statement.imported", "system", 2),
        ("statement.rechecked", "system", 1), ("statement.approved", "policy", 1),
    ]  # fmt: skip


async def test_a_revision_with_another_closing_rechecks_the_next_one_waiting() -> None:
    desk = Desk()
    await desk.load(statement_file(statement(), DAY2))
    closes_lower = statement(closing="1140.00", lines=[line("190.00"), line("-50.00")])
    await desk.load(statement_file(closes_lower), name="corrected.json")
    day2 = desk.uows.store.statements[2]
    assert (day2.checks.continuity, day2.checks.continuity_gap) == (
        Continuity.GAP, Decimal("10.00"),
    )  # fmt: skip
    assert desk.audit()[-1] == ("statement.rechecked", "system", 2, "pending_review")


async def test_a_decided_statement_keeps_the_checks_it_was_decided_on() -> None:
    desk = Desk()
    await desk.load(statement_file(DAY2))
    await desk.cases.reject(statement_id=1, actor="U0ALICE", reason="late", now=T0)
    await desk.load(statement_file(statement()))
    assert desk.uows.store.statements[1].checks.continuity is Continuity.UNKNOWN


async def test_two_imports_of_one_file_at_once_store_each_statement_once() -> None:
    desk = Desk()
    data = statement_file(statement(), DAY2)
    first, second = await asyncio.gather(desk.load(data), desk.load(data, name="copy.json"))
    assert first.imported + second.imported == 2
    assert first.unchanged + second.unchanged == 2
    assert first.rejected == second.rejected == []
    assert len(desk.uows.store.statements) == 2
    assert [a[0] for a in desk.audit()] == ["statement.imported"] * 2


def _statement_cards(desk: Desk) -> list[tuple[str, str | None]]:
    """(dedupe key, update_of) of the statement cards queued, in order."""
    return [
        (key, queued.notification.update_of)
        for key, queued in desk.uows.store.outbox.items()
        if key.startswith("statement:")
    ]


async def test_each_change_queues_its_card_in_its_own_transaction_exactly_once() -> None:
    desk = Desk()
    data = statement_file(statement(closing="1150.05"))
    await desk.load(data)
    await desk.load(data)  # unchanged: nothing more
    with pytest.raises(IllegalTransition):  # refused: nothing queued
        await desk.cases.approve(statement_id=1, actor="U0ALICE", now=T0)
    await desk.cases.edit(statement_id=1, change=Correct(line=2, field="amount", value="-49.95"),
                          actor="U0BOB", now=T0)  # fmt: skip
    await desk.cases.approve(statement_id=1, actor="U0ALICE", now=LATER)
    await desk.load(statement_file(statement(closing="1150.00")))  # a changed re-import
    assert _statement_cards(desk) == [
        ("statement:1:r1", None),
        ("statement:1:r1:v2", "statement:1:r1"),
        ("statement:1:r1:v3", "statement:1:r1"),
        ("statement:1:r2", None),
        ("statement:1:r1:v4", "statement:1:r1"),
    ]


async def test_entries_are_read_a_page_at_a_time_for_who_may_see_them() -> None:
    desk = Desk()
    await desk.load(statement_file(statement(lines=[line("1.00") for _ in range(5)],
                                             closing="1005.00")))  # fmt: skip
    page = await desk.cases.entries(1, viewer=Person("U0ALICE"), page=1, page_size=2)
    assert [ln.number for ln in page.lines] == [3, 4]
    assert (page.page, page.pages, page.totals.counted, page.statement.lines) == (1, 3, 5, ())
    last = await desk.cases.entries(1, viewer=Person("U0ALICE"), page=99, page_size=2)
    assert (last.page, [ln.number for ln in last.lines]) == (2, [5])
    with pytest.raises(NotVisible):
        await desk.cases.entries(1, viewer=Person("U0DAN"), page=0, page_size=2)


async def test_the_tolerance_converts_at_the_dated_rate_of_the_statements_day() -> None:
    """A stored ECB-style rate on or before the statement's date replaces the policy's
    static EUR rate (1.08), and the checks keep its date and source."""
    desk = Desk()
    # 1 USD = 0.80 EUR on the day before the statement: 1 EUR = 1.25 USD.
    rate = FxRate(on=date(2025, 3, 2), base="USD", currency="EUR", rate=Decimal("0.80"),
                  source="ecb-test")  # fmt: skip
    desk.uows.store.fx_rates[rate.key] = rate
    await desk.load(statement_file(statement()))
    [(stored, _)] = await desk.cases.listing(viewer=OPERATOR, limit=10)
    checks = stored.checks
    assert checks.tolerance_rate == Decimal("1.25")
    assert (checks.tolerance_rate_on, checks.tolerance_rate_source) == (
        date(2025, 3, 2),
        "ecb-test",
    )
    assert checks.tolerance == Decimal("0.001") / Decimal("1.25")

    static = Desk()  # no dated rate: the policy's static rate, with no date
    await static.load(statement_file(statement()))
    [(plain, _)] = await static.cases.listing(viewer=OPERATOR, limit=10)
    assert plain.checks.tolerance_rate == Decimal("1.08")
    assert plain.checks.tolerance_rate_on is None


def tiered_desk(reviewers_cap: str) -> Desk:
    """A desk whose escalation graph caps the reviewers' approvals at ``reviewers_cap``
    (USD) and makes the leads' tier read-only."""
    desk = Desk()
    desk.loaded = make_policy(
        escalation={
            "tiers": [
                {"name": "reviewers", "role": "reviewer", "approve_up_to": reviewers_cap},
                {"name": "leads", "role": "lead", "read_only": True},
            ],
            "edges": [{"from": "reviewers", "to": "leads", "after": "48h"}],
        },
        **statement_policy_overrides(),
    )
    return desk


async def test_statement_reviews_honour_the_tiers_caps_on_the_turnover() -> None:
    # 200.00 in and 50.00 out: 250.00 EUR, 270.00 USD at 1.08.
    desk = tiered_desk("269.99")
    await desk.load(statement_file(statement()))
    with pytest.raises(NotAuthorized, match=r"S-1 \(money in and out\) is 270\.00 USD; .* 269\.99"):
        await desk.cases.approve(statement_id=1, actor="U0ALICE", now=T0)
    assert desk.uows.store.statements[1].stage1_status is S.PENDING_REVIEW
    assert desk.audit()[-1][0] == "statement.refused"
    # Rejecting is no approval: the cap does not apply.
    rejected = await desk.cases.reject(
        statement_id=1, actor="U0ALICE", now=T0, reason="wrong bank account used"
    )
    assert rejected.stage1_status is S.REJECTED

    roomy = tiered_desk("270.00")
    await roomy.load(statement_file(statement()))
    approved = await roomy.cases.approve(statement_id=1, actor="U0ALICE", now=T0)
    assert approved.stage1_status is S.APPROVED


async def test_a_read_only_tier_decides_no_statement() -> None:
    desk = tiered_desk("100000.00")
    await desk.load(statement_file(statement()))
    for decide in (
        desk.cases.approve(statement_id=1, actor="U0LEAD", now=T0),
        desk.cases.reject(statement_id=1, actor="U0LEAD", now=T0, reason="wrong bank account used"),
    ):
        with pytest.raises(NotAuthorized, match=r"tier \(leads\) is read-only"):
            await decide
    assert desk.uows.store.statements[1].stage1_status is S.PENDING_REVIEW

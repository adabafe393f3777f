"""Matching's Slack side without Slack: which messages a run and a decision queue (the
notification rules), who may decide (MatchReview), and the block builders within
Slack's limits."""

from __future__ import annotations

import dataclasses
from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest

from domain.errors import NotAuthorized, NotVisible
from domain.gl import LedgerEntry, StoredLedgerEntry
from domain.items import Approval
from domain.matching.checks import CheckKind
from domain.matching.records import Band
from domain.matching.stored import CheckRecord, CheckState, MatchRecord, MatchState, Resolution
from domain.notifications import (
    Notification,
    for_match_decision,
    for_match_run,
    match_card_key,
    match_summary_key,
)
from domain.permissions import OPERATOR, Person
from domain.statements.records import (
    EditKind,
    LineEdit,
    MatchStatus,
    Stage1Status,
    StatementLine,
)
from domain.templates import MatchCard, MatchSummary, NoticeKind
from domain.usecases import UseCases
from domain.usecases.match_review import MatchOverview, MatchView
from domain.usecases.matching import MatchRefused
from domain.usecases.transaction import REFUSED
from handlers.blocks.limits import (
    FIELD_TEXT_CHARS,
    HEADER_TEXT_CHARS,
    MESSAGE_MAX_BLOCKS,
    SECTION_TEXT_CHARS,
)
from handlers.blocks.matches import (
    SUMMARY_CHECKS,
    form_metadata,
    match_card,
    match_list,
    match_reject_modal,
    match_summary,
    resolve_check_modal,
)
from handlers.command_line import Command, Usage, Verb, parse
from handlers.ids import MatchButton, MatchField
from handlers.matches import parse_match_value, parse_reject, parse_resolve
from tests.builders import make_policy
from tests.fakes import T0, InMemoryUnitOfWorkFactory
from tests.statement_files import line, make_statement, statement, statement_policy_overrides

NOW = T0 + timedelta(days=1)
GL = "1100"
POLICY = make_policy(compliance={"auditors": ["U0AUDITOR"]}, **statement_policy_overrides())


def _entry(eid: str, amount: str, day: str = "2025-03-03", **fields: Any) -> LedgerEntry:
    return LedgerEntry(
        entry_id=eid,
        account=GL,
        booked_on=date.fromisoformat(day),
        amount=Decimal(amount),
        currency="EUR",
        **fields,
    )


LINES = [
    line("200.00", reference="INV-1", counterparty="Globex"),  # exact: auto-accepted
    line("300.00", "2025-03-03", reference="PAYMENT", counterparty="Initech"),  # review
    line("-50.00", reference="FEE"),  # unmatched
    line("20000.00", reference="INV-9", counterparty="Umbrella"),  # material: held
    line("75.00", reference="DUP-1"),  # a duplicate pair: a check
    line("75.00", reference="DUP-1"),
]
ENTRIES = [
    _entry("E-1", "200.00", reference="INV-1", counterparty="Globex"),
    _entry("E-2", "300.00", "2025-03-05", reference="ZZ-771", counterparty="Initech"),
    _entry("E-4", "20000.00", reference="INV-9", counterparty="Umbrella"),
]


async def _setup() -> tuple[UseCases, InMemoryUnitOfWorkFactory, int]:
    factory = InMemoryUnitOfWorkFactory()
    total = sum((Decimal(ln["amount"]) for ln in LINES), Decimal(0))
    raw = statement(lines=LINES, closing=str(Decimal("1000.00") + total))
    async with factory() as uow:
        stored = await uow.statements.add(
            dataclasses.replace(make_statement(raw), stage1_status=Stage1Status.APPROVED)
        )
        await uow.gl.add_many(ENTRIES, run_id=None, now=T0)
        await uow.commit()
    assert stored.id is not None
    return UseCases.over(uow=factory, policy=lambda: POLICY), factory, stored.id


def _queued(factory: InMemoryUnitOfWorkFactory) -> list[Notification]:
    return [q.notification for q in factory.store.outbox.values()]


# --- what a run and a decision queue ----------------------------------------------------------


@pytest.mark.asyncio
async def test_a_run_queues_one_card_per_pending_match_and_one_summary() -> None:
    uc, factory, sid = await _setup()
    await uc.matching.run(now=NOW)
    pending = await uc.matching.matches(state=MatchState.PENDING_REVIEW)
    auto = await uc.matching.matches(state=MatchState.AUTO_ACCEPTED)
    assert len(pending) == 2 and len(auto) == 1
    queued = _queued(factory)
    cards = [n for n in queued if isinstance(n.payload, MatchCard)]
    assert sorted(c.dedupe_key for c in cards) == sorted(match_card_key(m.id or 0) for m in pending)
    assert all(c.update_of is None and c.target == "C0TREASURY" for c in cards)
    summaries = [n for n in queued if isinstance(n.payload, MatchSummary)]
    # The post alone (its key names the statement only): a later change edits it.
    assert [(n.dedupe_key, n.update_of) for n in summaries] == [(match_summary_key(sid), None)]
    assert {n.payload for n in summaries} == {MatchSummary(statement_id=sid, cause="run")}
    # Nothing for the auto-accepted match: nobody needs to look at it.
    assert auto[0].id is not None
    assert match_card_key(auto[0].id) not in {n.dedupe_key for n in queued}


@pytest.mark.asyncio
async def test_a_first_run_posts_the_summary_once_and_a_later_run_edits_it_once() -> None:
    uc, factory, sid = await _setup()
    await uc.matching.run(now=NOW)

    def summaries(at: datetime) -> list[tuple[str, str | None]]:
        return [
            (q.notification.dedupe_key, q.notification.update_of)
            for q in factory.store.outbox.values()
            if isinstance(q.notification.payload, MatchSummary) and q.enqueued_at == at
        ]

    # One post, and no edit of it: the relay renders the summary as stored when it
    # posts it, so an edit queued with it would only send the same summary again.
    assert summaries(NOW) == [(match_summary_key(sid), None)]
    # The fee's ledger entry arrives: the next run changes the statement, and edits.
    async with factory() as uow:
        await uow.gl.add_many([_entry("E-5", "-50.00", reference="FEE")], run_id=None, now=NOW)
        await uow.commit()
    later = NOW + timedelta(hours=1)
    await uc.matching.run(now=later)
    assert summaries(later) == [
        (f"{match_summary_key(sid)}:run:{later.isoformat()}", match_summary_key(sid))
    ]


@pytest.mark.asyncio
async def test_a_run_that_changes_nothing_queues_nothing() -> None:
    uc, factory, _ = await _setup()
    await uc.matching.run(now=NOW)
    before = set(factory.store.outbox)
    await uc.matching.run(now=NOW + timedelta(hours=1))
    assert set(factory.store.outbox) == before


@pytest.mark.asyncio
async def test_a_decision_rewrites_the_card_and_edits_the_summary() -> None:
    uc, factory, sid = await _setup()
    await uc.matching.run(now=NOW)
    pending = await uc.matching.matches(state=MatchState.PENDING_REVIEW)
    target = pending[0]
    assert target.id is not None
    later = NOW + timedelta(minutes=5)
    done = await uc.match_review.reject(
        target.id, actor="U0ALICE", reason="not the same payment", now=later, expected_version=1
    )
    assert done.state is MatchState.REJECTED and done.version == 2
    new = [q.notification for q in factory.store.outbox.values() if q.enqueued_at == later]
    card = next(n for n in new if isinstance(n.payload, MatchCard))
    assert card.update_of == match_card_key(target.id)
    assert card.payload == MatchCard(match_id=target.id, version=2)
    assert any(
        isinstance(n.payload, MatchSummary) and n.update_of == match_summary_key(sid) for n in new
    )
    rejected = [a for a in factory.store.audit if a.event == "match.rejected"]
    data = rejected[-1].data
    assert isinstance(data, dict) and data["why"] == "not the same payment"
    # Both sides are back in the pool.
    for key in target.ledger_entries:
        assert factory.store.gl[(key.entry_id, key.account)].match_status is MatchStatus.UNMATCHED
    number = target.bank_lines[0][1]
    back = next(ln for ln in factory.store.statements[sid].lines if ln.number == number)
    assert back.match_status is MatchStatus.UNMATCHED


@pytest.mark.asyncio
async def test_resolving_a_check_edits_the_summary() -> None:
    uc, factory, sid = await _setup()
    await uc.matching.run(now=NOW)
    dup = next(
        c
        for c in await uc.matching.checks(state=CheckState.OPEN)
        if c.kind is CheckKind.DUPLICATE_BANK
    )
    assert dup.id is not None
    later = NOW + timedelta(minutes=1)
    await uc.match_review.resolve_check(
        dup.id, Resolution.NOT_DUPLICATE, note="two invoices", actor="U0BOB", now=later
    )
    new = [q.notification for q in factory.store.outbox.values() if q.enqueued_at == later]
    # Only the edit: the post is in the outbox already.
    assert [(n.payload, n.update_of) for n in new] == [
        (MatchSummary(statement_id=sid, cause="check"), match_summary_key(sid))
    ]


@pytest.mark.asyncio
async def test_an_auditor_is_refused_and_the_refusal_is_audited() -> None:
    uc, factory, sid = await _setup()
    await uc.matching.run(now=NOW)
    with pytest.raises(NotAuthorized):
        await uc.match_review.accept_all(sid, actor="U0AUDITOR", now=NOW)
    refused = [a for a in factory.store.audit if a.event == REFUSED]
    assert refused[-1].actor == "U0AUDITOR"
    data = refused[-1].data
    assert isinstance(data, dict) and data["action"] == "match_accept_all"
    assert await uc.matching.matches(state=MatchState.ACCEPTED) == []


@pytest.mark.asyncio
async def test_someone_of_another_team_may_not_decide_or_see() -> None:
    uc, _, sid = await _setup()
    await uc.matching.run(now=NOW)
    pending = await uc.matching.matches(state=MatchState.PENDING_REVIEW)
    assert pending[0].id is not None
    with pytest.raises(NotVisible):
        await uc.match_review.accept(
            pending[0].id, actor="U0DAN", now=NOW, expected_version=pending[0].version
        )
    with pytest.raises(NotVisible):
        await uc.match_review.view(pending[0].id, viewer=Person("U0DAN"))
    records, total = await uc.match_review.pending(viewer=OPERATOR, statement=sid)
    assert total == 2 and len(records) == 2


@pytest.mark.asyncio
async def test_the_overview_counts_the_bands_and_lists_open_checks() -> None:
    uc, _, sid = await _setup()
    await uc.matching.run(now=NOW)
    overview = await uc.match_review.overview(sid, viewer=OPERATOR)
    assert (overview.auto_accepted, overview.pending_review) == (1, 2)
    assert overview.unmatched_bank >= 1
    assert any(c.kind is CheckKind.DUPLICATE_BANK for c in overview.open_checks)


async def _material(uc: UseCases) -> MatchRecord:
    pending = await uc.matching.matches(state=MatchState.PENDING_REVIEW)
    return next(m for m in pending if m.held is not None)  # 20,000.00 EUR: dual control


@pytest.mark.asyncio
async def test_dual_control_needs_two_different_people_to_accept_a_match() -> None:
    uc, factory, _ = await _setup()
    await uc.matching.run(now=NOW)
    material = await _material(uc)
    assert material.id is not None
    journal = len(factory.store.journal)
    first = await uc.match_review.accept(
        material.id, actor="U0ALICE", now=NOW, expected_version=material.version
    )
    assert first.state is MatchState.PENDING_REVIEW
    assert [a.user for a in first.approvals] == ["U0ALICE"]
    assert len(factory.store.journal) == journal  # nothing posted on a first approval
    assert "match.approval_recorded" in [a.event for a in factory.store.audit]
    card = factory.store.outbox[f"{match_card_key(material.id)}:v{first.version}"]
    assert card.notification.update_of == match_card_key(material.id)
    with pytest.raises(MatchRefused, match="second, different person"):
        await uc.match_review.accept(
            material.id, actor="U0ALICE", now=NOW, expected_version=first.version
        )
    again = [m for m in factory.store.matches.values() if m.id == material.id]
    assert [(m.state, m.version) for m in again] == [(MatchState.PENDING_REVIEW, first.version)]
    done = await uc.match_review.accept(
        material.id, actor="U0BOB", now=NOW, expected_version=first.version
    )
    assert done.state is MatchState.ACCEPTED and done.decided_by == "U0BOB"
    assert [a.user for a in done.approvals] == ["U0ALICE", "U0BOB"]
    assert len(factory.store.journal) == journal + 1


@pytest.mark.asyncio
async def test_accept_all_gives_a_first_approval_where_dual_control_applies() -> None:
    uc, factory, sid = await _setup()
    await uc.matching.run(now=NOW)
    for check in await uc.matching.checks(state=CheckState.OPEN):
        assert check.id is not None
        await uc.match_review.resolve_check(
            check.id, Resolution.EXPLAINED, note="seen", actor="U0LEAD", now=NOW
        )
    journal = len(factory.store.journal)
    done = await uc.match_review.accept_all(sid, actor="U0ALICE", now=NOW)
    assert sorted(m.state.value for m in done) == ["accepted", "pending_review"]
    assert len(factory.store.journal) == journal + 1
    # Alice again: her first approval stays hers; nothing is accepted.
    assert await uc.match_review.accept_all(sid, actor="U0ALICE", now=NOW) == []
    last = await uc.match_review.accept_all(sid, actor="U0BOB", now=NOW)
    assert [(m.state, [a.user for a in m.approvals]) for m in last] == [
        (MatchState.ACCEPTED, ["U0ALICE", "U0BOB"])
    ]
    assert len(factory.store.journal) == journal + 2
    assert await uc.matching.matches(state=MatchState.PENDING_REVIEW) == []


@pytest.mark.asyncio
async def test_who_edited_the_statement_may_not_accept_its_matches_when_the_policy_says_so() -> (
    None
):
    loaded = make_policy(
        compliance={"auditors": ["U0AUDITOR"]},
        **statement_policy_overrides(edit_needs_other_approver=True),
    )
    uc, factory, sid = await _setup()
    uc = UseCases.over(uow=factory, policy=lambda: loaded)
    async with factory() as uow:
        head = await uow.statements.get(sid)
        assert head is not None
        edit = LineEdit(
            kind=EditKind.CORRECT,
            line=2,
            field="reference",
            old="PAYMNT",
            new="PAYMENT",
            actor="U0ALICE",
            at=T0,
        )
        assert await uow.statements.update(
            dataclasses.replace(head, edits=(edit,)), expected_version=head.version
        )
        await uow.commit()
    await uc.matching.run(now=NOW)
    pending = (await uc.matching.matches(state=MatchState.PENDING_REVIEW))[0]
    assert pending.id is not None
    with pytest.raises(NotAuthorized, match="maker-checker"):
        await uc.match_review.accept(
            pending.id, actor="U0ALICE", now=NOW, expected_version=pending.version
        )
    refused = [a for a in factory.store.audit if a.event == REFUSED]
    assert refused and refused[-1].actor == "U0ALICE"
    # Someone else may; and the editor may still reject (a rejection posts nothing).
    done = await uc.match_review.accept(
        pending.id, actor="U0BOB", now=NOW, expected_version=pending.version
    )
    assert done.state in (MatchState.ACCEPTED, MatchState.PENDING_REVIEW)
    assert "U0BOB" in {a.user for a in done.approvals}
    # Without the policy's rule, the editor accepts like anyone else.
    off = make_policy(**statement_policy_overrides(edit_needs_other_approver=False))
    plain = UseCases.over(uow=factory, policy=lambda: off)
    other = next(
        m for m in await uc.matching.matches(state=MatchState.PENDING_REVIEW) if m.id != done.id
    )
    assert other.id is not None
    kept = await plain.match_review.accept(
        other.id, actor="U0ALICE", now=NOW, expected_version=other.version
    )
    assert "U0ALICE" in {a.user for a in kept.approvals}


async def _tiered_setup(reviewers_cap: str) -> tuple[UseCases, InMemoryUnitOfWorkFactory, int]:
    """A run under an escalation graph that caps the reviewers' approvals at
    ``reviewers_cap`` (USD) and makes the leads' tier read-only, as Stage 1's tier tests do."""
    loaded = make_policy(
        compliance={"auditors": ["U0AUDITOR"]},
        escalation={
            "tiers": [
                {"name": "reviewers", "role": "reviewer", "approve_up_to": reviewers_cap},
                {"name": "leads", "role": "lead", "read_only": True},
            ],
            "edges": [{"from": "reviewers", "to": "leads", "after": "48h"}],
        },
        **statement_policy_overrides(),
    )
    _, factory, sid = await _setup()
    uc = UseCases.over(uow=factory, policy=lambda: loaded)
    await uc.matching.run(now=NOW)
    return uc, factory, sid


def _refusals(factory: InMemoryUnitOfWorkFactory) -> list[tuple[str, object]]:
    out = []
    for entry in factory.store.audit:
        if entry.event == REFUSED and isinstance(entry.data, dict):
            out.append((entry.actor, entry.data["action"]))
    return out


async def _review_match(uc: UseCases) -> MatchRecord:
    pending = await uc.matching.matches(state=MatchState.PENDING_REVIEW)
    return next(m for m in pending if m.held is None)  # 300.00 EUR: 324.00 USD at 1.08


@pytest.mark.asyncio
async def test_a_tiers_cap_refuses_accepting_a_match_above_it_on_every_path() -> None:
    uc, factory, _ = await _tiered_setup("323.99")
    review = await _review_match(uc)
    assert review.id is not None
    cap = rf"match {review.id} is 324\.00 USD; your escalation tier approves up to 323\.99 USD"
    with pytest.raises(NotAuthorized, match=cap):
        await uc.match_review.accept(
            review.id, actor="U0ALICE", now=NOW, expected_version=review.version
        )
    assert _refusals(factory) == [("U0ALICE", "match_accept")]
    # The use case the CLI calls refuses too: the rule is the use case's, not Slack's.
    with pytest.raises(NotAuthorized, match=cap):
        await uc.matching.accept(review.id, actor="U0ALICE", now=NOW)
    assert factory.store.matches[review.id].state is MatchState.PENDING_REVIEW
    assert factory.store.matches[review.id].approvals == ()
    # Rejecting is no approval: the cap does not apply.
    rejected = await uc.match_review.reject(
        review.id, actor="U0ALICE", reason="not ours", now=NOW, expected_version=review.version
    )
    assert rejected.state is MatchState.REJECTED

    roomy, _, _ = await _tiered_setup("324.00")
    again = await _review_match(roomy)
    assert again.id is not None
    done = await roomy.match_review.accept(
        again.id, actor="U0ALICE", now=NOW, expected_version=again.version
    )
    assert done.state is MatchState.ACCEPTED


@pytest.mark.asyncio
async def test_accept_all_is_refused_whole_when_one_match_is_above_the_tiers_cap() -> None:
    uc, factory, sid = await _tiered_setup("1000.00")
    for check in await uc.matching.checks(state=CheckState.OPEN):
        assert check.id is not None  # resolving a check approves nothing: no cap
        await uc.match_review.resolve_check(
            check.id, Resolution.EXPLAINED, note="seen", actor="U0BOB", now=NOW
        )
    material = await _material(uc)  # 20,000.00 EUR: 21,600.00 USD
    journal = len(factory.store.journal)
    with pytest.raises(NotAuthorized, match=rf"match {material.id} is 21600\.00 USD"):
        await uc.match_review.accept_all(sid, actor="U0ALICE", now=NOW)
    assert _refusals(factory) == [("U0ALICE", "match_accept_all")]
    # Nothing of it stays: the match under the cap is not accepted either.
    assert len(await uc.matching.matches(state=MatchState.PENDING_REVIEW)) == 2
    assert all(not m.approvals for m in factory.store.matches.values())
    assert len(factory.store.journal) == journal


@pytest.mark.asyncio
async def test_a_read_only_tier_decides_nothing_in_stage_2() -> None:
    uc, factory, sid = await _tiered_setup("100000.00")
    review = await _review_match(uc)
    check = (await uc.matching.checks(state=CheckState.OPEN))[0]
    assert review.id is not None and check.id is not None
    read_only = r"your escalation tier \(leads\) is read-only"
    with pytest.raises(NotAuthorized, match=read_only):
        await uc.match_review.accept(
            review.id, actor="U0LEAD", now=NOW, expected_version=review.version
        )
    with pytest.raises(NotAuthorized, match=read_only):
        await uc.match_review.reject(
            review.id, actor="U0LEAD", reason="no", now=NOW, expected_version=review.version
        )
    with pytest.raises(NotAuthorized, match=read_only):
        await uc.match_review.accept_all(sid, actor="U0LEAD", now=NOW)
    with pytest.raises(NotAuthorized, match=read_only):
        await uc.match_review.resolve_check(
            check.id, Resolution.EXPLAINED, note="seen", actor="U0LEAD", now=NOW
        )
    assert _refusals(factory) == [
        ("U0LEAD", "match_accept"),
        ("U0LEAD", "match_reject"),
        ("U0LEAD", "match_accept_all"),
        ("U0LEAD", "check_resolve"),
    ]
    assert factory.store.matches[review.id].state is MatchState.PENDING_REVIEW
    assert len(await uc.matching.checks(state=CheckState.OPEN)) >= 1


@pytest.mark.asyncio
async def test_app_home_counts_the_matches_waiting_for_the_viewers_teams() -> None:
    uc, _, _ = await _setup()
    before = await uc.queries.dashboard(user="U0ALICE", now=NOW)
    assert before.matches_awaiting == 0
    await uc.matching.run(now=NOW)
    treasury = await uc.queries.dashboard(user="U0ALICE", now=NOW)
    other = await uc.queries.dashboard(user="U0DAN", now=NOW)
    assert (treasury.matches_awaiting, other.matches_awaiting) == (2, 0)


# --- the rules, pure --------------------------------------------------------------------------


def _record(**fields: Any) -> MatchRecord:
    base: dict[str, Any] = {
        "id": 40,
        "key": "k",
        "band": Band.PENDING_REVIEW,
        "score": 72,
        "state": MatchState.PENDING_REVIEW,
        "components": {
            "amount_fit": "within_tolerance",
            "amount_difference": "0.05",
            "date_distance_days": 2,
            "reference_similarity": 64,
            "reference_basis": "reference",
            "counterparty_similarity": 90,
            "amount_points": 35,
            "date_points": 6,
            "reference_points": 15,
            "counterparty_points": 16,
        },
        "statement_id": 1,
        "bank_lines": ((1, 2),),
        "ledger_entries": (),
        "sides_digest": "d",
        "held": None,
        "created_at": NOW,
        "updated_at": NOW,
    }
    base.update(fields)
    return MatchRecord(**base)


def _statement() -> Any:
    raw = statement(lines=[line("300.00", reference="PAYMENT")], closing="1300.00")
    return dataclasses.replace(make_statement(raw), id=1, stage1_status=Stage1Status.APPROVED)


def test_an_auto_accepted_match_gets_no_card_and_a_dissolved_one_an_edit() -> None:
    stmt = _statement()
    auto = _record(state=MatchState.AUTO_ACCEPTED)
    dissolved = _record(id=41, state=MatchState.REJECTED, version=2, held="dissolved: gone")
    out = for_match_run(
        [stmt], [auto, dissolved], checks_opened=[], summarized=[1], policy=POLICY.policy, now=NOW
    )
    keys = [n.dedupe_key for n in out if n.kind is NoticeKind.ALERT]
    # The team's App Homes count the matches waiting: they refresh.
    homes = {n.target for n in out if n.kind is NoticeKind.HOME}
    assert homes == {"U0ALICE", "U0BOB", "U0CAROL", "U0LEAD", "U0AUDIT"}
    assert keys == [
        f"{match_card_key(41)}:v2",
        match_summary_key(1),
        f"{match_summary_key(1)}:run:{NOW.isoformat()}",
    ]
    assert out[0].update_of == match_card_key(41)


def test_a_run_that_only_opened_a_check_edits_the_summary() -> None:
    out = for_match_run(
        [_statement()], [], checks_opened=[1], summarized=[1], policy=POLICY.policy, now=NOW
    )
    alerts = [n.payload for n in out if n.kind is NoticeKind.ALERT]
    assert alerts == [MatchSummary(statement_id=1, cause="run")] * 2
    idle = for_match_run(
        [_statement()], [], checks_opened=[], summarized=[1], policy=POLICY.policy, now=NOW
    )
    assert idle == []


def test_a_statement_first_summary_is_the_post_alone() -> None:
    first = for_match_run(
        [_statement()], [], checks_opened=[1], summarized=[], policy=POLICY.policy, now=NOW
    )
    alerts = [(n.dedupe_key, n.update_of) for n in first if n.kind is NoticeKind.ALERT]
    assert alerts == [(match_summary_key(1), None)]


def test_a_decision_on_two_matches_rewrites_both_and_edits_the_summary_once() -> None:
    decided = [
        _record(state=MatchState.ACCEPTED, version=2),
        _record(id=41, state=MatchState.ACCEPTED, version=2),
    ]
    out = [
        n
        for n in for_match_decision(decided, _statement(), POLICY.policy, NOW)
        if n.kind is NoticeKind.ALERT
    ]
    assert [type(n.payload) for n in out] == [MatchCard, MatchCard, MatchSummary, MatchSummary]
    assert [n.update_of for n in out] == [
        match_card_key(40),
        match_card_key(41),
        None,
        match_summary_key(1),
    ]


# --- block builders ---------------------------------------------------------------------------


def _view(record: MatchRecord, *, lines: int = 1) -> MatchView:
    stmt = _statement()
    return MatchView(
        match=record,
        statement=stmt,
        bank_lines=tuple(
            StatementLine(
                number=i,
                amount=Decimal("300.00"),
                booking_date=date(2025, 3, 3),
                reference="PAYMENT " + "x" * 300,
                counterparty="Initech & <Partners>",
            )
            for i in range(1, lines + 1)
        ),
        ledger_entries=(
            StoredLedgerEntry(
                entry=_entry("E-2", "299.95", "2025-03-05", reference="ZZ-771"),
                version=1,
                match_status=MatchStatus.MATCHED,
                content_hash="h",
            ),
        ),
    )


def _texts(payload: dict[str, Any]) -> list[str]:
    out: list[str] = []

    def walk(node: Any) -> None:
        if isinstance(node, dict):
            if node.get("type") in ("mrkdwn", "plain_text"):
                out.append(str(node["text"]))
            for value in node.values():
                walk(value)
        elif isinstance(node, list):
            for value in node:
                walk(value)

    walk(payload["blocks"])
    return out


def test_a_pending_card_shows_both_sides_the_score_the_differences_and_two_buttons() -> None:
    msg = match_card(_view(_record(), lines=5), policy=POLICY.policy, now=NOW)
    payload = msg.payload()
    text = "\n".join(_texts(payload))
    assert "*Bank*" in text and "*Ledger*" in text and "E-2" in text
    assert "Score 72/100* = amount 35 + date 6 + reference 15 + counterparty 16" in text
    assert "2 days apart" in text and "reference similarity 64%" in text
    assert "amount difference 0.05 EUR" in text
    assert "&lt;Partners&gt;" in text and "<Partners>" not in text
    actions = [
        e["action_id"] for b in payload["blocks"] if b["type"] == "actions" for e in b["elements"]
    ]
    assert actions == [f"{MatchButton.ACCEPT.value}:40", f"{MatchButton.REJECT.value}:40"]
    values = {
        e["value"] for b in payload["blocks"] if b["type"] == "actions" for e in b["elements"]
    }
    assert values == {"40:1"}
    for block in payload["blocks"]:
        for field in block.get("fields", []):
            assert len(field["text"]) <= FIELD_TEXT_CHARS
        if block["type"] == "header":
            assert len(block["text"]["text"]) <= HEADER_TEXT_CHARS


def test_a_held_card_says_which_gate_held_it_and_who_approved_first() -> None:
    held = _record(score=100, held="materiality: 20000.00 EUR is 21600.00 USD")
    text = "\n".join(_texts(match_card(_view(held), policy=POLICY.policy, now=NOW).payload()))
    assert "held for a person" in text and "materiality" in text
    assert "Accepted by" not in text
    first = dataclasses.replace(held, approvals=(Approval(user="U0ALICE", at=NOW),), version=2)
    payload = match_card(_view(first), policy=POLICY.policy, now=NOW).payload()
    assert "Accepted by <@U0ALICE>" in "\n".join(_texts(payload))
    buttons = [e for b in payload["blocks"] if b["type"] == "actions" for e in b["elements"]]
    assert {e["value"] for e in buttons} == {"40:2"}  # the version after the first approval


def test_a_decided_card_says_who_and_when_and_has_no_buttons() -> None:
    done = _record(state=MatchState.ACCEPTED, version=2, decided_by="U0ALICE", decided_at=NOW)
    payload = match_card(_view(done), policy=POLICY.policy, now=NOW).payload()
    assert not [b for b in payload["blocks"] if b["type"] == "actions"]
    text = "\n".join(_texts(payload))
    assert "*Accepted* by <@U0ALICE>" in text


def _overview(checks: int, pending: int = 3) -> MatchOverview:
    return MatchOverview(
        statement=_statement(),
        auto_accepted=5,
        pending_review=pending,
        accepted=0,
        rejected=0,
        unmatched_bank=2,
        unmatched_ledger=1,
        gl_account=GL,
        open_checks=tuple(
            CheckRecord(
                id=i,
                key=f"k{i}",
                kind=CheckKind.DUPLICATE_BANK,
                state=CheckState.OPEN,
                statement_id=1,
                detail="lines 5 and 6: 75.00 EUR DUP-1 " + "y" * 3000,
                created_at=NOW,
            )
            for i in range(1, checks + 1)
        ),
    )


@pytest.mark.parametrize("checks", [0, 1, SUMMARY_CHECKS, 60])
def test_the_summary_stays_within_slack_limits(checks: int) -> None:
    payload = match_summary(_overview(checks), policy=POLICY.policy, now=NOW).payload()
    assert len(payload["blocks"]) <= MESSAGE_MAX_BLOCKS
    resolves = [b["accessory"]["action_id"] for b in payload["blocks"] if "accessory" in b]
    assert len(resolves) == min(checks, SUMMARY_CHECKS)
    for block in payload["blocks"]:
        if block["type"] == "section" and "text" in block:
            assert len(block["text"]["text"]) <= SECTION_TEXT_CHARS
    text = "\n".join(_texts(payload))
    assert "*5* auto-accepted" in text and "*3* pending review" in text
    assert "*2* unmatched bank lines" in text and "*1* unmatched ledger entries" in text
    if checks > SUMMARY_CHECKS:
        assert f"and {checks - SUMMARY_CHECKS} more" in text


def test_accept_all_is_offered_only_while_matches_wait() -> None:
    offered = match_summary(_overview(0, pending=3), policy=POLICY.policy, now=NOW).payload()
    gone = match_summary(_overview(0, pending=0), policy=POLICY.policy, now=NOW).payload()

    def buttons(payload: dict[str, Any]) -> list[str]:
        return [
            e["action_id"]
            for b in payload["blocks"]
            if b["type"] == "actions"
            for e in b["elements"]
        ]

    assert buttons(offered) == [f"{MatchButton.ACCEPT_ALL.value}:1"]
    assert buttons(gone) == []


def test_the_list_is_limited_and_says_how_many_there_are() -> None:
    records = [_record(id=i) for i in range(1, 80)]
    msg = match_list(records, total=79, statement=None)
    assert len(msg.blocks) <= MESSAGE_MAX_BLOCKS
    assert "20 of 79 shown" in "\n".join(_texts(msg.payload()))
    empty = match_list([], total=0, statement="S-3")
    assert "No matches of S-3" in empty.text


def test_the_resolve_form_offers_only_the_resolutions_of_the_kind() -> None:
    check = _overview(1).open_checks[0]
    transfer = dataclasses.replace(check, kind=CheckKind.INTERNAL_TRANSFER)
    view = resolve_check_modal(transfer, channel="C0TREASURY").to_dict()
    select = next(b for b in view["blocks"] if b["block_id"] == MatchField.RESOLUTION.value)
    assert [o["value"] for o in select["element"]["options"]] == [
        "transfer_confirmed",
        "explained",
    ]
    assert match_reject_modal(_record()).to_dict()["callback_id"] == "recon.match_reject_modal"


def _submitted(metadata: str, values: dict[str, Any]) -> dict[str, Any]:
    return {
        "private_metadata": metadata,
        "state": {"values": {k: {"value": v} for k, v in values.items()}},
    }


def test_the_forms_put_errors_under_the_field() -> None:
    meta = form_metadata(7, None, "C0TREASURY")
    errors = parse_resolve(_submitted(meta, {}))
    assert set(errors) == {MatchField.RESOLUTION.value, MatchField.NOTE.value}  # type: ignore[arg-type]
    ok = parse_resolve(
        _submitted(
            meta,
            {
                MatchField.RESOLUTION.value: {"selected_option": {"value": "not_duplicate"}},
                MatchField.NOTE.value: {"value": " two invoices "},
            },
        )
    )
    assert not isinstance(ok, dict)
    assert ok[1] is Resolution.NOT_DUPLICATE and ok[2] == "two invoices"
    refused = parse_reject(_submitted(form_metadata(40, 1, None), {}))
    assert refused == {MatchField.REASON.value: "Give a reason."}


def test_a_card_value_reads_back_and_a_forged_one_is_refused() -> None:
    assert parse_match_value("40:2") == (40, 2)
    for forged in ("40", "x:1", "40:0", "٤٠:1"):
        with pytest.raises(Exception, match="not from recon-bot"):
            parse_match_value(forged)


def test_the_commands_parse() -> None:
    assert parse("matches") == Command(verb=Verb.MATCHES)
    assert parse("matches S-12") == Command(verb=Verb.MATCHES, item_id=12)
    assert parse("accept-all S-12") == Command(verb=Verb.ACCEPT_ALL, item_id=12)
    assert isinstance(parse("accept-all"), Usage)
    assert isinstance(parse("matches R-9"), Usage)


def match_payloads() -> list[dict[str, Any]]:
    """Every Stage 2 surface rendered once (the manifest test checks their ids)."""
    record = _record()
    return [
        match_card(_view(record), policy=POLICY.policy, now=NOW).payload(),
        match_summary(_overview(2), policy=POLICY.policy, now=NOW).payload(),
        match_reject_modal(record, channel="C0TREASURY").to_dict(),
        resolve_check_modal(_overview(1).open_checks[0]).to_dict(),
        match_list([record], total=1, statement=None).payload(),
    ]

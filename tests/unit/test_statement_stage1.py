"""The Stage 1 state machine: every action from every state, against its table."""

from __future__ import annotations

import dataclasses
from datetime import date, timedelta
from decimal import Decimal
from typing import Any

import pytest

from domain.errors import IllegalTransition, InvalidCommand, NotAuthorized
from domain.statements import stage1
from domain.statements.checks import check
from domain.statements.records import Checks, Continuity, EditKind, Stage1Status, Statement
from domain.statements.stage1 import (
    ALLOWED_FROM,
    LEADS_TO,
    POLICY,
    AddLine,
    Correct,
    RemoveLine,
    StatementAction,
    StatementTransition,
)
from tests.fakes import T0
from tests.statement_files import statement
from tests.unit.test_statement_checks import policy, stored

S = Stage1Status
LOADED = policy()
LATER = T0 + timedelta(hours=1)


def checked(statement_: Statement) -> Statement:
    return dataclasses.replace(statement_, checks=check(statement_, previous=None, loaded=LOADED))


def recheck(changed: Statement) -> Checks:
    return check(changed, previous=None, loaded=LOADED)


def good(status: Stage1Status = S.PENDING_REVIEW, **changes: Any) -> Statement:
    """A stored statement whose chain holds (continuity unknown)."""
    base = checked(stored(statement(), LOADED, id=1))
    return dataclasses.replace(base, stage1_status=status, **changes)


def continuous(status: Stage1Status = S.PENDING_REVIEW) -> Statement:
    base = good(status)
    return dataclasses.replace(
        base, checks=dataclasses.replace(base.checks, continuity=Continuity.OK)
    )


def off() -> Statement:
    return checked(stored(statement(closing="1150.05"), LOADED, id=1))


def act(action: StatementAction, subject: Statement) -> StatementTransition:
    if action is StatementAction.APPROVE:
        return stage1.approve(subject, actor="U0ALICE", now=LATER, edit_needs_other_approver=True)
    if action is StatementAction.AUTO_APPROVE:
        return stage1.auto_approve(subject, now=LATER)
    if action is StatementAction.EDIT:
        return stage1.edit(
            subject, Correct(line=1, field="reference", value="INV-9"), actor="U0BOB",
            now=LATER, recheck=recheck,
        )  # fmt: skip
    if action is StatementAction.REJECT:
        return stage1.reject(subject, actor="U0ALICE", reason="wrong file", now=LATER)
    if action is StatementAction.RECHECK:
        gap = dataclasses.replace(subject.checks, continuity=Continuity.GAP)
        return stage1.recheck(subject, gap, cause="S-0 before it changed", now=LATER)
    fresh = good(revision=1)
    return stage1.revise(subject, fresh, actor="system", cause="reparse", now=LATER)


@pytest.mark.parametrize("action", list(StatementAction))
@pytest.mark.parametrize("state", list(S))
def test_every_action_from_every_state_follows_the_table(
    action: StatementAction, state: Stage1Status
) -> None:
    subject = continuous(state)
    if state not in ALLOWED_FROM[action]:
        with pytest.raises(IllegalTransition):
            result = act(action, subject)
            # A repeat is a noop, never a move (a second rejection, say).
            assert result.noop and result.statement == subject
            raise IllegalTransition("noop")
        return
    result = act(action, subject)
    assert result.statement.stage1_status in LEADS_TO[action]
    assert result.statement.version == subject.version + 1
    (event,) = result.events
    assert (event.from_state, event.to_state) == (state.value, result.statement.stage1_status)


def test_approve_is_refused_with_the_delta_while_the_chain_is_off() -> None:
    with pytest.raises(IllegalTransition, match=r"off by -0\.05 EUR"):
        stage1.approve(off(), actor="U0ALICE", now=LATER, edit_needs_other_approver=True)


def test_approve_records_who_and_when_and_a_repeat_changes_nothing() -> None:
    first = stage1.approve(good(), actor="U0ALICE", now=LATER, edit_needs_other_approver=True)
    (approval,) = first.statement.approvals
    assert (approval.actor, approval.at, approval.by_policy) == ("U0ALICE", LATER, False)
    assert first.events[0].name == "statement.approved" and first.events[0].actor == "U0ALICE"
    again = stage1.approve(
        first.statement, actor="U0ALICE", now=LATER, edit_needs_other_approver=True
    )
    assert again.noop and again.events == ()


def test_a_statement_whose_chain_cannot_be_shown_may_be_approved_by_a_person() -> None:
    derived = checked(stored(statement(opening_derived=True), LOADED, id=1))
    assert derived.checks.chain_ok is None
    moved = stage1.approve(derived, actor="U0ALICE", now=LATER, edit_needs_other_approver=True)
    assert moved.statement.stage1_status is S.APPROVED


def test_edit_then_approve_re_validates_and_a_second_person_approves() -> None:
    broken = off()  # closing says 1150.05: one line was read as -50.00, it was -49.95
    fixed = stage1.edit(
        broken, Correct(line=2, field="amount", value="-49.95"), actor="U0BOB", now=LATER,
        recheck=recheck,
    )  # fmt: skip
    statement_ = fixed.statement
    assert statement_.checks.chain_ok is True and statement_.checks.delta == 0
    (event,) = fixed.events
    assert event.name == "statement.edited"
    assert {k: event.data[k] for k in ("line", "field", "old", "new")} == {
        "line": 2,
        "field": "amount",
        "old": "-50.00",
        "new": "-49.95",
    }
    assert event.actor == "U0BOB" and event.data["chain_ok"] is True
    with pytest.raises(NotAuthorized, match="someone else must approve"):
        stage1.approve(statement_, actor="U0BOB", now=LATER, edit_needs_other_approver=True)
    approved = stage1.approve(
        statement_, actor="U0ALICE", now=LATER, edit_needs_other_approver=True
    )
    assert approved.statement.stage1_status is S.APPROVED
    assert approved.events[0].data["edited"] is True


def test_the_editor_may_approve_when_the_policy_does_not_ask_for_another() -> None:
    edited = stage1.edit(
        good(), Correct(line=1, field="counterparty", value="ACME"), actor="U0BOB", now=LATER,
        recheck=recheck,
    ).statement  # fmt: skip
    moved = stage1.approve(edited, actor="U0BOB", now=LATER, edit_needs_other_approver=False)
    assert moved.statement.stage1_status is S.APPROVED


def test_edits_are_a_layer_the_parsed_lines_can_be_read_back_from() -> None:
    original = good()
    step1 = stage1.edit(
        original, Correct(line=1, field="booking_date", value="2025-03-04"), actor="U0BOB",
        now=LATER, recheck=recheck,
    ).statement  # fmt: skip
    step2 = stage1.edit(
        step1, AddLine(amount="10.00", reference="MISSING"), actor="U0BOB", now=LATER,
        recheck=recheck,
    ).statement  # fmt: skip
    step3 = stage1.edit(
        step2, RemoveLine(line=2), actor="U0BOB", now=LATER,
        recheck=recheck,
    ).statement  # fmt: skip
    assert [e.kind for e in step3.edits] == [EditKind.CORRECT, EditKind.ADD, EditKind.REMOVE]
    assert [(ln.number, ln.edited, ln.added, ln.removed) for ln in step3.lines] == [
        (1, True, False, False),
        (2, False, False, True),
        (3, False, True, False),
    ]
    assert step3.lines[0].booking_date == date(2025, 3, 4)
    # 1000 + 200 + 10 (the -50 removed) = 1210, against a closing of 1150.
    assert step3.checks.delta == Decimal("60.00") and step3.checks.chain_ok is False
    assert step3.parsed_lines() == original.parsed_lines() == original.lines


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (Correct(line=9, field="amount", value="1.00"), "has no line 9"),
        (Correct(line=1, field="description", value="x"), "cannot be edited"),
        (Correct(line=1, field="amount", value="1.001"), "more decimals than EUR allows"),
        (Correct(line=1, field="booking_date", value="03/04/2025"), "is not a date"),
        (AddLine(amount="abc"), "is not a decimal"),
    ],
)
def test_a_bad_edit_is_refused_with_a_reason(change: stage1.Edit, message: str) -> None:
    with pytest.raises(InvalidCommand, match=message):
        stage1.edit(good(), change, actor="U0BOB", now=LATER, recheck=recheck)


def test_an_edit_to_the_same_value_is_a_noop() -> None:
    same = stage1.edit(
        good(), Correct(line=1, field="amount", value="200.00"), actor="U0BOB", now=LATER,
        recheck=recheck,
    )  # fmt: skip
    assert same.noop and same.events == ()


def test_reject_needs_a_reason_and_then_only_a_revision_brings_it_back() -> None:
    with pytest.raises(InvalidCommand, match="give a reason"):
        stage1.reject(good(), actor="U0ALICE", reason="   ", now=LATER)
    rejected = stage1.reject(good(), actor="U0ALICE", reason="wrong  file", now=LATER).statement
    assert rejected.stage1_status is S.REJECTED and rejected.rejection == "wrong file"
    with pytest.raises(IllegalTransition, match="re-parse or a re-import"):
        stage1.approve(rejected, actor="U0BOB", now=LATER, edit_needs_other_approver=True)
    revised = stage1.revise(rejected, good(), actor="system", cause="reimport", now=LATER)
    after = revised.statement
    assert (after.stage1_status, after.revision, after.rejection) == (S.PENDING_REVIEW, 2, None)
    assert revised.events[0].data["cause"] == "reimport"


def test_a_revision_voids_the_approvals_and_edits_of_the_old_one() -> None:
    approved = stage1.approve(
        good(), actor="U0ALICE", now=LATER, edit_needs_other_approver=True
    ).statement
    revised = stage1.revise(approved, good(), actor="system", cause="reimport", now=LATER)
    assert revised.statement.approvals == () and revised.statement.edits == ()
    assert revised.events[0].data["voided_approvals"] == ["U0ALICE"]


def test_the_policy_approves_only_when_chain_and_continuity_hold() -> None:
    moved = stage1.auto_approve(continuous(), now=LATER)
    (approval,) = moved.statement.approvals
    assert (approval.actor, approval.by_policy) == (POLICY, True)
    assert moved.events[0].data["by_policy"] is True
    with pytest.raises(IllegalTransition, match="continuity is unknown"):
        stage1.auto_approve(good(), now=LATER)
    broken = dataclasses.replace(
        off(), checks=dataclasses.replace(off().checks, continuity=Continuity.OK)
    )
    with pytest.raises(IllegalTransition, match="chain does not hold"):
        stage1.auto_approve(broken, now=LATER)


def test_a_recheck_with_the_same_checks_is_a_noop() -> None:
    subject = good()
    same = stage1.recheck(subject, subject.checks, cause="S-0 before it changed", now=LATER)
    assert same.noop and same.events == ()

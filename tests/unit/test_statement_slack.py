"""A statement in Slack, without Slack: the card, the entries pages, the forms, the list,
the notifications a change queues and the ``/recon`` grammar, within Slack's limits."""

from __future__ import annotations

import dataclasses
from datetime import date
from decimal import Decimal
from typing import Any

import pytest

from domain.notifications import NoticeKind, for_statement, statement_card_key
from domain.statements.records import (
    Approval,
    Checks,
    Continuity,
    EntriesPage,
    Stage1Status,
    Statement,
    StatementLine,
)
from domain.statements.stage1 import AddLine, Correct, RemoveLine
from domain.templates import StatementCard
from handlers.blocks.limits import (
    MESSAGE_MAX_BLOCKS,
    MODAL_TITLE_CHARS,
    VIEW_MAX_BLOCKS,
)
from handlers.blocks.statements import (
    ENTRIES_PAGE_SIZE,
    LIST_PAGE_SIZE,
    edit_modal,
    entries_modal,
    form_metadata,
    statement_card,
    statement_list,
    statement_reject_modal,
)
from handlers.command_line import Command, Usage, Verb, parse
from handlers.forms import FormErrors, PayloadError
from handlers.ids import ENTRIES_PAGE_PATTERN, LIST_PAGE_PATTERN, StatementButton
from handlers.statement_forms import (
    EditForm,
    parse_edit,
    parse_entries_page,
    parse_form_metadata,
    parse_list_offset,
    parse_statement_reject,
    parse_statement_value,
    requested_line,
)
from tests.builders import make_policy
from tests.fakes import T0
from tests.statement_files import make_statement, statement_policy_overrides

POLICY = make_policy(**statement_policy_overrides()).policy


def one(**changes: Any) -> Statement:
    """A stored statement (id 1 unless given) whose chain holds: 1000 + 150 = 1150 EUR."""
    return make_statement(None, **({"id": 1} | changes))


def with_lines(n: int) -> Statement:
    lines = tuple(
        StatementLine(number=i, amount=Decimal(i) / 100, booking_date=date(2025, 3, 3))
        for i in range(1, n + 1)
    )
    return one(lines=lines)


def walk(node: Any) -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = []
    if isinstance(node, dict):
        found.append(node)
        for value in node.values():
            found += walk(value)
    elif isinstance(node, list):
        for value in node:
            found += walk(value)
    return found


def action_ids(payload: Any) -> list[str]:
    return [n["action_id"] for n in walk(payload) if "action_id" in n and n.get("type") == "button"]


def labels(payload: dict[str, Any]) -> list[str]:
    return [n["text"]["text"] for n in walk(payload["blocks"]) if n.get("type") == "button"]


def text_of(payload: dict[str, Any]) -> str:
    return "\n".join(str(n["text"]) for n in walk(payload) if isinstance(n.get("text"), str))


# --- the card ----------------------------------------------------------------------------------


def test_the_card_shows_what_a_reviewer_checks_and_the_buttons_pending_review_allows() -> None:
    card = statement_card(one(bank="ACME BANK"), policy=POLICY, now=T0).payload()
    assert len(card["blocks"]) <= MESSAGE_MAX_BLOCKS
    text = text_of(card)
    for shown in (
        "Bank statement S-1 · revision 1",
        "ACME BANK",
        "2025-03-03",
        "1,000.00 EUR",
        "1,150.00 EUR",
        "delta 0.00 EUR, within",
        "Pending review",
        "bank.json",
        "ab" * 32,  # the full SHA-256...
        "SHA-256 `abababababab`",  # ...and the short one
    ):
        assert shown in text, shown
    assert labels(card) == ["Approve", "Edit", "Reject", "View entries"]
    assert action_ids(card) == [
        "recon.stmt_approve:1",
        "recon.stmt_edit:1",
        "recon.stmt_reject:1",
        "recon.stmt_entries:1",
    ]
    assert {b["value"] for b in walk(card) if b.get("type") == "button"} == {"1:1"}


def test_the_card_never_shows_the_whole_account() -> None:
    statement_ = one()
    text = text_of(statement_card(statement_, policy=POLICY, now=T0).payload())
    assert statement_.account.replace(" ", "") not in text.replace(" ", "")
    assert statement_.account[:4] in text and statement_.account[-4:] in text


def test_an_off_chain_says_by_how_much_and_totals_count_only_lines_that_count() -> None:
    lines = (
        StatementLine(number=1, amount=Decimal("200.00")),
        StatementLine(number=2, amount=Decimal("-50.05")),
        StatementLine(number=3, amount=Decimal("-9.00"), removed=True),
    )
    statement_ = one(
        lines=lines,
        checks=Checks(
            delta=Decimal("-0.05"), chain_ok=False, tolerance=Decimal("0.001"), tolerance_rate=None
        ),
    )
    text = text_of(statement_card(statement_, policy=POLICY, now=T0).payload())
    assert "off by -0.05 EUR (tolerance 0.001 EUR)" in text
    assert "200.00 EUR" in text and "50.05 EUR" in text  # credits, debits
    assert "2 entries (1 removed)" in text


@pytest.mark.parametrize(
    ("status", "buttons"),
    [
        (Stage1Status.APPROVED, ["View entries"]),
        (Stage1Status.REJECTED, ["View entries"]),
    ],
)
def test_a_decided_card_offers_only_view_entries_and_says_who(
    status: Stage1Status, buttons: list[str]
) -> None:
    statement_ = one(
        stage1_status=status,
        approvals=(Approval(actor="U0ALICE", at=T0),) if status is Stage1Status.APPROVED else (),
        rejection="wrong closing" if status is Stage1Status.REJECTED else None,
    )
    card = statement_card(statement_, policy=POLICY, now=T0).payload()
    assert labels(card) == buttons
    text = text_of(card)
    if status is Stage1Status.APPROVED:
        assert "Approved* by <@U0ALICE>" in text
    else:
        assert "Rejected*: wrong closing" in text and "re-import" in text


def test_a_card_of_a_replaced_revision_says_so_and_offers_nothing() -> None:
    card = statement_card(one(revision=3), policy=POLICY, now=T0, revision=2).payload()
    assert labels(card) == []
    assert "Replaced by revision 3" in text_of(card)
    assert all(b["block_id"].startswith("stmt.1.r2.") for b in card["blocks"])


def test_a_derived_opening_says_the_chain_is_checked_only_against_the_previous_statement() -> None:
    statement_ = one(
        opening_derived=True,
        checks=Checks(
            delta=None,
            chain_ok=None,
            tolerance=Decimal("0.001"),
            tolerance_rate=None,
            chain_note="OFX states only a closing balance",
        ),
    )
    text = text_of(statement_card(statement_, policy=POLICY, now=T0).payload())
    assert "only be checked against the previous statement" in text
    assert "not checkable: OFX states only a closing balance" in text


@pytest.mark.parametrize(
    ("continuity", "gap", "shown"),
    [
        (Continuity.OK, None, "follows S-7"),
        (Continuity.GAP, Decimal("12.50"), "gap of 12.50 against S-7"),
        (Continuity.UNKNOWN, None, "unknown (no previous statement)"),
    ],
)
def test_continuity_is_shown(continuity: Continuity, gap: Decimal | None, shown: str) -> None:
    base = one()
    checks = dataclasses.replace(
        base.checks, continuity=continuity, continuity_gap=gap, previous_id=7
    )
    text = text_of(statement_card(one(checks=checks), policy=POLICY, now=T0).payload())
    assert shown in text


def test_long_texts_stay_within_the_limits() -> None:
    statement_ = one(
        bank="B" * 5000,
        file_name="f" * 5000,
        rejection="r " * 3000,
        stage1_status=Stage1Status.REJECTED,
    )
    statement_card(statement_, policy=POLICY, now=T0).payload()  # slack_sdk validates


# --- entries -----------------------------------------------------------------------------------


def test_500_entries_page_forward_and_back_each_page_within_100_blocks() -> None:
    statement_ = with_lines(500)
    pages = 500 // ENTRIES_PAGE_SIZE
    seen: list[int] = []
    for page in range(pages):
        view = entries_modal(
            EntriesPage.of(statement_, page=page, page_size=ENTRIES_PAGE_SIZE)
        ).to_dict()
        assert len(view["blocks"]) <= VIEW_MAX_BLOCKS
        assert len(view["title"]["text"]) <= MODAL_TITLE_CHARS
        ids = action_ids(view)
        assert len(ids) == len(set(ids))  # Slack refuses duplicate action ids in a view
        assert all(ENTRIES_PAGE_PATTERN.match(i) for i in ids)
        assert f"Page {page + 1} of {pages}" in text_of(view)
        nav = labels(view)
        assert nav == (["Previous"] if page else []) + (["Next"] if page < pages - 1 else [])
        seen += [int(b["block_id"].split(".")[1]) for b in view["blocks"]
                 if b["block_id"].split(".")[1].isdigit()]  # fmt: skip
    assert seen == list(range(1, 501))


def test_a_page_past_the_end_shows_the_last_and_no_entries_is_said() -> None:
    view = entries_modal(EntriesPage.of(with_lines(45), page=99, page_size=20)).to_dict()
    assert "Page 3 of 3" in text_of(view) and "entries 41-45 of 45" in text_of(view)
    empty = entries_modal(EntriesPage.of(one(lines=()), page=0, page_size=20)).to_dict()
    assert "No entries" in text_of(empty) and labels(empty) == []


def test_removed_added_and_edited_entries_are_marked() -> None:
    lines = (
        StatementLine(number=1, amount=Decimal("1.00"), removed=True),
        StatementLine(number=2, amount=Decimal("2.00"), added=True),
        StatementLine(number=3, amount=Decimal("3.00"), edited=True, reference="R3"),
    )
    text = text_of(entries_modal(EntriesPage.of(one(lines=lines), page=0, page_size=20)).to_dict())
    assert "~*#1*" in text and "(removed)" in text
    assert "(added by a reviewer)" in text and "ref R3" in text and "(edited)" in text


# --- forms -------------------------------------------------------------------------------------


def submitted(statement_: Statement, **values: Any) -> dict[str, Any]:
    """A view_submission's view of the edit form with these element states."""
    return {
        "private_metadata": form_metadata(statement_),
        "state": {"values": {k: {"value": v} for k, v in values.items()}},
    }


def edit_form(view: dict[str, Any], *, statement: Statement) -> EditForm | FormErrors:
    """The form read as the handler reads it: with the one entry whose number was typed."""
    number = requested_line(view)
    line = next((ln for ln in statement.lines if ln.number == number), None)
    return parse_edit(view, statement=statement, line=line)


def pick(value: str) -> dict[str, Any]:
    return {"type": "static_select", "selected_option": {"value": value}}


def typed(text: str) -> dict[str, Any]:
    return {"type": "plain_text_input", "value": text}


def test_the_forms_serialise_within_slacks_limits() -> None:
    for view in (edit_modal(one()), statement_reject_modal(one())):
        data = view.to_dict()
        assert len(data["title"]["text"]) <= MODAL_TITLE_CHARS
        assert len(data["blocks"]) <= VIEW_MAX_BLOCKS
    assert parse_form_metadata(form_metadata(one())).statement_id == 1


def test_an_edit_form_is_read_into_one_edit() -> None:
    s = one()
    form = edit_form(submitted(s, stmt_operation=pick("correct"), stmt_line=typed("#2"),
                                stmt_field=pick("amount"), stmt_value=typed("-12.50")),
                      statement=s)  # fmt: skip
    assert isinstance(form, EditForm)
    assert form.change == Correct(line=2, field="amount", value="-12.50")
    form = edit_form(submitted(s, stmt_operation=pick("remove"), stmt_line=typed("1")),
                      statement=s)  # fmt: skip
    assert isinstance(form, EditForm) and form.change == RemoveLine(line=1)
    day = {"type": "datepicker", "selected_date": "2025-03-03"}
    form = edit_form(submitted(s, stmt_operation=pick("add"), stmt_amount=typed("7.10"),
                                stmt_date=day, stmt_reference=typed("MISSING")),
                      statement=s)  # fmt: skip
    assert isinstance(form, EditForm)
    assert form.change == AddLine(amount="7.10", booking_date=date(2025, 3, 3), reference="MISSING")


@pytest.mark.parametrize(
    ("values", "field"),
    [
        ({"stmt_line": typed("99"), "stmt_field": pick("amount"), "stmt_value": typed("1")},
         "stmt_line"),
        ({"stmt_line": typed("x"), "stmt_field": pick("amount"), "stmt_value": typed("1")},
         "stmt_line"),
        ({"stmt_line": typed("1"), "stmt_field": pick("amount"), "stmt_value": typed("1.234")},
         "stmt_value"),
        ({"stmt_line": typed("1"), "stmt_field": pick("amount"), "stmt_value": typed("")},
         "stmt_value"),
        ({"stmt_line": typed("1"), "stmt_field": pick("booking_date"),
          "stmt_value": typed("3/3/2025")}, "stmt_value"),
        ({"stmt_line": typed("1"), "stmt_value": typed("1")}, "stmt_field"),
        ({"stmt_operation": pick("add"), "stmt_amount": typed("abc")}, "stmt_amount"),
        ({"stmt_operation": pick("add")}, "stmt_amount"),
        ({"stmt_operation": pick("add"), "stmt_amount": typed("1.00"),
          "stmt_date": {"selected_date": "2025-04-01"}}, "stmt_date"),
        ({"stmt_operation": pick("remove")}, "stmt_line"),
    ],
)  # fmt: skip
def test_edit_form_mistakes_come_back_under_their_field(values: dict[str, Any], field: str) -> None:
    s = one()
    form = edit_form(
        {"private_metadata": form_metadata(s), "state": {"values": {
            k: {"value": v} for k, v in values.items()}}},
        statement=s,
    )  # fmt: skip
    assert isinstance(form, FormErrors) and set(form) == {field}


def test_a_removed_entry_cannot_be_corrected_or_removed_again() -> None:
    s = one()
    lines = (dataclasses.replace(s.lines[0], removed=True), *s.lines[1:])
    s = dataclasses.replace(s, lines=lines)
    form = edit_form(submitted(s, stmt_operation=pick("remove"), stmt_line=typed("1")),
                      statement=s)  # fmt: skip
    assert isinstance(form, FormErrors) and "removed already" in form["stmt_line"]


def test_reject_form_needs_a_reason() -> None:
    s = one()
    view = {"private_metadata": form_metadata(s), "state": {"values": {}}}
    assert parse_statement_reject(view) == FormErrors({"stmt_reason": "Give a reason."})
    view["state"] = {"values": {"stmt_reason": {"value": typed("  wrong  ")}}}
    form = parse_statement_reject(view)
    assert not isinstance(form, FormErrors) and form.reason == "wrong"


def test_our_values_coming_back_unreadable_are_payload_errors() -> None:
    assert parse_statement_value("12:3") == (12, 3)
    for bad in ("12", "a:3", "0:1", "١٢:3", "12:0"):
        assert parse_statement_value(bad) is None
    assert parse_entries_page("4:2") == (4, 2)
    assert parse_list_offset("10") == 10
    for call in (
        lambda: parse_entries_page("x"),
        lambda: parse_list_offset("-1"),
        lambda: parse_form_metadata('{"statement_id": 0, "version": 1}'),
        lambda: parse_form_metadata("not json"),
    ):
        with pytest.raises(PayloadError):
            call()


# --- the list ----------------------------------------------------------------------------------


def test_the_list_pages_like_the_queue() -> None:
    rows = [(one(id=i), 3) for i in range(11, 11 + LIST_PAGE_SIZE)]
    middle = statement_list(rows, offset=10, total=35).payload()
    assert len(middle["blocks"]) <= MESSAGE_MAX_BLOCKS
    assert labels(middle) == ["Show"] * LIST_PAGE_SIZE + ["Previous", "Next"]
    navs = [i for i in action_ids(middle) if LIST_PAGE_PATTERN.match(i)]
    assert navs == ["recon.stmt_list_page:0", "recon.stmt_list_page:20"]
    assert "11-20 of 35" in text_of(middle)
    last = statement_list(rows[:5], offset=30, total=35).payload()
    assert labels(last)[-1] == "Previous"
    assert "No bank statements" in statement_list([], offset=0, total=0).text
    shows = [i for i in action_ids(middle) if not LIST_PAGE_PATTERN.match(i)]
    assert shows == [f"{StatementButton.SHOW.value}:{i}" for i in range(11, 21)]


# --- notifications -----------------------------------------------------------------------------


def test_a_new_statement_posts_its_card_and_refreshes_its_teams_homes() -> None:
    s = one()
    out = for_statement(None, s, POLICY, T0)
    (card,) = [n for n in out if n.kind is NoticeKind.ALERT]
    assert card.dedupe_key == statement_card_key(1, 1) == "statement:1:r1"
    assert card.update_of is None and card.target == POLICY.channel_for(s.team)
    assert card.payload == StatementCard(statement_id=1, revision=1, version=1)
    homes = {n.target for n in out if n.kind is NoticeKind.HOME}
    team = POLICY.team(s.team)
    assert team is not None and set(team.reviewers) <= homes


def test_a_change_edits_the_card_in_place_and_a_revision_posts_a_new_one() -> None:
    before = one()
    edited = dataclasses.replace(before, version=2)
    (card,) = [n for n in for_statement(before, edited, POLICY, T0) if n.kind is NoticeKind.ALERT]
    assert (card.dedupe_key, card.update_of) == ("statement:1:r1:v2", "statement:1:r1")
    assert not [n for n in for_statement(before, edited, POLICY, T0) if n.kind is NoticeKind.HOME]
    revised = dataclasses.replace(before, version=3, revision=2)
    cards = [n for n in for_statement(before, revised, POLICY, T0) if n.kind is NoticeKind.ALERT]
    assert [(n.dedupe_key, n.update_of) for n in cards] == [
        ("statement:1:r2", None),
        ("statement:1:r1:v3", "statement:1:r1"),
    ]
    assert isinstance(cards[1].payload, StatementCard) and cards[1].payload.revision == 1
    approved = dataclasses.replace(before, version=2, stage1_status=Stage1Status.APPROVED)
    assert [n for n in for_statement(before, approved, POLICY, T0) if n.kind is NoticeKind.HOME]


# --- /recon ------------------------------------------------------------------------------------


def test_recon_statements_and_statement_id_parse() -> None:
    assert parse("statements") == Command(verb=Verb.STATEMENTS)
    assert parse("statement S-12") == Command(verb=Verb.STATEMENT, item_id=12)
    assert parse("statement s-3") == Command(verb=Verb.STATEMENT, item_id=3)
    assert isinstance(parse("statement"), Usage)
    bad = parse("statement R-12")
    assert isinstance(bad, Usage) and "S-12" in bad.problem

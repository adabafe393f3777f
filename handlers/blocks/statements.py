"""A bank statement in Slack (Stage 1): its card and the ``/recon statements`` list.
Its modals (the entries, the edit and reject forms) are in
:mod:`handlers.blocks.statement_modals`, and how its period, balance chain and continuity
read in :mod:`handlers.blocks.statement_facts`; every name stays importable from here.

The card shows what a reviewer checks against the bank's original: balances, totals,
the balance chain's delta and verdict, continuity, the entries' count, the format and
the file with its SHA-256. It offers only the buttons the Stage 1 table allows from the
statement's status (``domain.statements.stage1.ALLOWED_FROM``); **View entries** is
always there. A card of a revision the statement has left says so and offers nothing.

Block ids start ``stmt.<id>.r<revision>.`` so a card is found by id, never by text.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from decimal import Decimal
from typing import Final

from slack_sdk.models.blocks import (
    ActionsBlock,
    Block,
    ButtonElement,
    HeaderBlock,
    MarkdownTextObject,
    PlainTextObject,
    SectionBlock,
)

from domain.policy import Policy
from domain.statements.records import LineTotals, Stage1Status, Statement, mask_account
from domain.statements.stage1 import ALLOWED_FROM, StatementAction
from handlers.blocks.items import timezone_of
from handlers.blocks.limits import (
    FIELD_TEXT_CHARS,
    HEADER_TEXT_CHARS,
    MESSAGE_MAX_BLOCKS,
    SECTION_TEXT_CHARS,
)
from handlers.blocks.message import Message
from handlers.blocks.mrkdwn import clip, escape, fit, mention, money, one_line, plural, slack_date
from handlers.blocks.sections import context, section
from handlers.blocks.statement_facts import chain_text, continuity_text, period_text, tolerance_text
from handlers.blocks.statement_modals import (
    ENTRIES_PAGE_SIZE,
    FIELD_LABELS,
    MAX_EDIT_VALUE_CHARS,
    MAX_STATEMENT_REASON_CHARS,
    OPERATIONS,
    edit_modal,
    entries_modal,
    form_metadata,
    statement_reject_modal,
)
from handlers.ids import StatementButton, list_page_action_id, statement_action_id

__all__ = [
    "CARD_BUTTONS",
    "ENTRIES_PAGE_SIZE",
    "FIELD_LABELS",
    "LABELS",
    "LIST_PAGE_SIZE",
    "MAX_EDIT_VALUE_CHARS",
    "MAX_STATEMENT_REASON_CHARS",
    "OPERATIONS",
    "STATUS_LABELS",
    "chain_text",
    "continuity_text",
    "edit_modal",
    "entries_modal",
    "form_metadata",
    "statement_card",
    "statement_list",
    "statement_reject_modal",
    "statement_value",
    "tolerance_text",
]

#: Statements per ``/recon statements`` page (one block each, far under 50 per message).
LIST_PAGE_SIZE: Final = 10

LABELS: Final[dict[StatementButton, str]] = {
    StatementButton.APPROVE: "Approve",
    StatementButton.EDIT: "Edit",
    StatementButton.REJECT: "Reject",
    StatementButton.VIEW_ENTRIES: "View entries",
}
#: The buttons a card carries (Show is the list's).
CARD_BUTTONS: Final = (
    StatementButton.APPROVE,
    StatementButton.EDIT,
    StatementButton.REJECT,
    StatementButton.VIEW_ENTRIES,
)
_NEEDS: Final[dict[StatementButton, StatementAction]] = {
    StatementButton.APPROVE: StatementAction.APPROVE,
    StatementButton.EDIT: StatementAction.EDIT,
    StatementButton.REJECT: StatementAction.REJECT,
}
STATUS_LABELS: Final[dict[Stage1Status, str]] = {
    Stage1Status.PENDING_REVIEW: "Pending review",
    Stage1Status.APPROVED: "Approved",
    Stage1Status.REJECTED: "Rejected",
}


def statement_value(statement: Statement) -> str:
    """``12:3``: which statement, at which version the user saw it."""
    assert statement.id is not None
    return f"{statement.id}:{statement.version}"


def _bid(statement: Statement, part: str, revision: int | None = None) -> str:
    return f"stmt.{statement.id}.r{revision or statement.revision}.{part}"


def _field(label: str, value: str) -> MarkdownTextObject:
    return MarkdownTextObject(text=fit(f"*{label}*\n{value}", FIELD_TEXT_CHARS))


def _amount(statement: Statement, value: Decimal | None) -> str:
    return money(value, statement.currency) if isinstance(value, Decimal) else "—"


def _status_text(statement: Statement, policy: Policy) -> str:
    tz = timezone_of(policy)
    label = STATUS_LABELS[statement.stage1_status]
    if statement.stage1_status is Stage1Status.APPROVED and statement.approvals:
        who = ", ".join(
            "the policy" if a.by_policy else f"{mention(a.actor)} {slack_date(a.at, tz)}"
            for a in statement.approvals
        )
        return f":white_check_mark: *{label}* by {who}"
    if statement.stage1_status is Stage1Status.REJECTED:
        reason = escape(one_line(statement.rejection or ""))
        return f":x: *{label}*: {clip(reason, 500)} (a re-parse or a re-import brings it back)"
    return f":hourglass_flowing_sand: *{label}*"


def _buttons(statement: Statement) -> list[ButtonElement]:
    assert statement.id is not None
    out = []
    for action in CARD_BUTTONS:
        label = LABELS[action]
        needed = _NEEDS.get(action)
        if needed is not None and statement.stage1_status not in ALLOWED_FROM[needed]:
            continue
        out.append(
            ButtonElement(
                text=PlainTextObject(text=label),
                action_id=statement_action_id(action, statement.id),
                value=statement_value(statement),
                style={StatementButton.APPROVE: "primary", StatementButton.REJECT: "danger"}.get(
                    action
                ),
            )
        )
    return out


def _fallback(statement: Statement) -> str:
    return escape(
        clip(
            f"Bank statement {statement.human_id} · {mask_account(statement.account)} · "
            f"{period_text(statement)} · {STATUS_LABELS[statement.stage1_status].lower()}",
            300,
        )
    )


def statement_card(
    statement: Statement,
    *,
    policy: Policy,
    now: datetime,
    revision: int | None = None,
    totals: LineTotals | None = None,
) -> Message:
    """The card of a statement (of ``revision``, by default its current one).

    Args:
        statement: A stored statement with its lines.
        policy: The current policy (display timezone).
        now: Unused for now but kept like every renderer's (times are Slack dates).
        revision: The revision the card in the channel shows; when the statement has
            moved on, the card says it was replaced and offers no buttons.
        totals: Its lines' totals (summed by the store); by default from its lines.
    """
    shown = revision or statement.revision
    h = statement.human_id
    header = f"Bank statement {h} · revision {shown}"
    blocks: list[Block] = [
        HeaderBlock(block_id=_bid(statement, "header", shown), text=clip(header, HEADER_TEXT_CHARS))
    ]
    if shown != statement.revision:
        blocks.append(
            section(
                _bid(statement, "replaced", shown),
                f":arrows_counterclockwise: Replaced by revision {statement.revision} "
                f"(a re-parse or a re-import); review that card instead.",
            )
        )
        return Message(text=_fallback(statement), blocks=blocks)
    bank = escape(one_line(statement.bank or "unknown bank"))
    sums = totals if totals is not None else statement.totals()
    entries = plural(sums.counted, "entry", "entries")
    if sums.removed:
        entries += f" ({sums.removed} removed)"
    blocks.append(
        SectionBlock(
            block_id=_bid(statement, "facts"),
            fields=[
                _field("Bank · account", f"{bank} · `{mask_account(statement.account)}`"),
                _field("Period", period_text(statement)),
                _field("Currency · format", f"{statement.currency} · {statement.format.value}"),
                _field("Entries", entries),
                _field("Opening", _amount(statement, statement.opening)),
                _field("Closing", _amount(statement, statement.closing)),
                _field("Total credits", money(sums.credits, statement.currency)),
                _field("Total debits", money(sums.debits, statement.currency)),
                _field("Balance chain", chain_text(statement)),
                _field("Continuity", continuity_text(statement)),
            ],
        )
    )
    notes = []
    if statement.opening_derived:
        notes.append(
            ":information_source: The opening is derived from the closing (the file states "
            "only a closing balance): the chain can only be checked against the previous "
            "statement."
        )
    if statement.checks.control_ok is False:
        problems = "; ".join(escape(one_line(p)) for p in statement.checks.control_problems)
        notes.append(f":warning: Control totals: {problems}")
    if statement.checks.out_of_period:
        numbers = ", ".join(f"#{n}" for n in statement.checks.out_of_period[:20])
        notes.append(f":warning: Dated outside the period: {numbers}")
    if statement.edits:
        notes.append(
            f":pencil2: {plural(len(statement.edits), 'edit')} by "
            + ", ".join(mention(a) for a in sorted(statement.editors))
            + " (the parsed original is kept)"
        )
    notes.append(_status_text(statement, policy))
    blocks.append(section(_bid(statement, "status"), "\n".join(notes)))
    buttons = _buttons(statement)
    blocks.append(ActionsBlock(block_id=_bid(statement, "actions"), elements=buttons))
    blocks.append(
        context(
            _bid(statement, "file"),
            f"File {escape(one_line(statement.file_name))} · SHA-256 `{statement.sha256[:12]}`"
            f" · team {escape(statement.team)} · v{statement.version}",
        )
    )
    blocks.append(context(_bid(statement, "sha256"), f"SHA-256 `{statement.sha256}`"))
    assert len(blocks) <= MESSAGE_MAX_BLOCKS
    return Message(text=_fallback(statement), blocks=blocks)


# --- list -------------------------------------------------------------------------------------


def statement_list(rows: Sequence[tuple[Statement, int]], *, offset: int, total: int) -> Message:
    """``/recon statements``: one page of the statements waiting for review, a short row
    each with its **Show** button, then Previous/Next (like the queue)."""
    if not rows:
        text = "No bank statements are waiting for review."
        if offset:
            text += " (This page is past the end of the list.)"
        return Message(text=text, blocks=[section("stmts.none", text)])
    shown = rows[:LIST_PAGE_SIZE]
    blocks: list[Block] = [
        HeaderBlock(block_id="stmts.header", text=f"Statements awaiting review ({total})")
    ]
    for statement, count in shown:
        blocks.append(
            SectionBlock(
                block_id=f"stmts.{statement.id}",
                text=MarkdownTextObject(
                    text=fit(
                        f"*{statement.human_id}* · `{mask_account(statement.account)}` · "
                        f"{period_text(statement)} · {statement.currency} · "
                        f"{plural(count, 'entry', 'entries')}\n{chain_text(statement)} · "
                        f"{continuity_text(statement)}",
                        SECTION_TEXT_CHARS,
                    )
                ),
                accessory=ButtonElement(
                    text=PlainTextObject(text="Show"),
                    action_id=statement_action_id(StatementButton.SHOW, statement.id or 0),
                    value=statement_value(statement),
                ),
            )
        )
    last = offset + len(shown)
    blocks.append(context("stmts.page", f"{offset + 1}-{last} of {total}"))
    nav = []
    if offset > 0:
        back = max(0, offset - LIST_PAGE_SIZE)
        nav.append(
            ButtonElement(
                text=PlainTextObject(text="Previous"),
                action_id=list_page_action_id(back),
                value=str(back),
            )
        )
    if last < total:
        nav.append(
            ButtonElement(
                text=PlainTextObject(text="Next"),
                action_id=list_page_action_id(last),
                value=str(last),
            )
        )
    if nav:
        blocks.append(ActionsBlock(block_id="stmts.nav", elements=nav))
    assert len(blocks) <= MESSAGE_MAX_BLOCKS
    return Message(text=f"{total} bank statements awaiting review", blocks=blocks)

"""A bank statement in Slack (Stage 1): its card, its entries (paged), the edit and
reject forms, and the ``/recon statements`` list.

The card shows what a reviewer checks against the bank's original: balances, totals,
the balance chain's delta and verdict, continuity, the entries' count, the format and
the file with its SHA-256. It offers only the buttons the Stage 1 table allows from the
statement's status (``domain.statements.stage1.ALLOWED_FROM``); **View entries** is
always there. A card of a revision the statement has left says so and offers nothing.

Block ids start ``stmt.<id>.r<revision>.`` so a card is found by id, never by text.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import datetime
from decimal import Decimal
from typing import Final

from slack_sdk.models.blocks import (
    ActionsBlock,
    Block,
    ButtonElement,
    ContextBlock,
    DatePickerElement,
    DividerBlock,
    HeaderBlock,
    InputBlock,
    MarkdownTextObject,
    Option,
    PlainTextInputElement,
    PlainTextObject,
    SectionBlock,
    StaticSelectElement,
)
from slack_sdk.models.views import View

from domain.policy import Policy
from domain.statements.records import (
    Continuity,
    EntriesPage,
    LineTotals,
    Stage1Status,
    Statement,
    StatementLine,
    mask_account,
)
from domain.statements.stage1 import ALLOWED_FROM, StatementAction
from handlers.blocks.items import timezone_of
from handlers.blocks.limits import (
    CONTEXT_TEXT_CHARS,
    FIELD_TEXT_CHARS,
    HEADER_TEXT_CHARS,
    MESSAGE_MAX_BLOCKS,
    MODAL_TITLE_CHARS,
    SECTION_TEXT_CHARS,
    VIEW_MAX_BLOCKS,
)
from handlers.blocks.message import Message
from handlers.blocks.mrkdwn import clip, escape, fit, mention, money, one_line, plural, slack_date
from handlers.ids import (
    INPUT_ACTION_ID,
    StatementButton,
    StatementField,
    StatementModal,
    entries_page_action_id,
    list_page_action_id,
    statement_action_id,
)

#: Entries per page of the entries modal: one section each, plus a header, a footer and
#: the Previous/Next row, far under Slack's 100 blocks per view.
ENTRIES_PAGE_SIZE: Final = 20
#: Statements per ``/recon statements`` page (one block each, far under 50 per message).
LIST_PAGE_SIZE: Final = 10
#: Longest texts accepted in the statement forms.
MAX_STATEMENT_REASON_CHARS: Final = 2000
MAX_EDIT_VALUE_CHARS: Final = 200

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
#: Edit form: what to do, as offered in its first select.
OPERATIONS: Final[dict[str, str]] = {
    "correct": "Correct an entry",
    "add": "Add a missing entry",
    "remove": "Remove a duplicated entry",
}
#: Edit form: the fields of an entry a reviewer may correct.
FIELD_LABELS: Final[dict[str, str]] = {
    "amount": "Amount",
    "booking_date": "Booking date",
    "value_date": "Value date",
    "reference": "Reference",
    "counterparty": "Counterparty",
}


def statement_value(statement: Statement) -> str:
    """``12:3``: which statement, at which version the user saw it."""
    assert statement.id is not None
    return f"{statement.id}:{statement.version}"


def _bid(statement: Statement, part: str, revision: int | None = None) -> str:
    return f"stmt.{statement.id}.r{revision or statement.revision}.{part}"


def _field(label: str, value: str) -> MarkdownTextObject:
    return MarkdownTextObject(text=fit(f"*{label}*\n{value}", FIELD_TEXT_CHARS))


def _context(block_id: str, text: str) -> ContextBlock:
    return ContextBlock(
        block_id=block_id, elements=[MarkdownTextObject(text=fit(text, CONTEXT_TEXT_CHARS))]
    )


def _section(block_id: str, text: str) -> SectionBlock:
    return SectionBlock(
        block_id=block_id, text=MarkdownTextObject(text=fit(text, SECTION_TEXT_CHARS))
    )


def _amount(statement: Statement, value: Decimal | None) -> str:
    return money(value, statement.currency) if isinstance(value, Decimal) else "—"


def tolerance_text(statement: Statement) -> str:
    """The tolerance in the statement's currency, to 6 places at most (a converted
    tolerance has many)."""
    value = statement.checks.tolerance
    shown = (
        value.quantize(Decimal("0.000001")).normalize() if value.as_tuple().exponent != 0 else value
    )
    return f"{shown:f} {statement.currency}"


def chain_text(statement: Statement) -> str:
    """The balance chain's delta and verdict, in one line."""
    checks = statement.checks
    tolerance = tolerance_text(statement)
    if checks.chain_ok is None or checks.delta is None:
        note = checks.chain_note or "the format cannot show the chain"
        return f":grey_question: not checkable: {escape(one_line(note))}"
    delta = f"{checks.delta} {statement.currency}"
    if checks.chain_ok:
        return f":white_check_mark: delta {delta}, within {tolerance}"
    return f":x: off by {delta} (tolerance {tolerance})"


def continuity_text(statement: Statement) -> str:
    """Whether the opening follows the previous statement's closing."""
    checks = statement.checks
    previous = f"S-{checks.previous_id}" if checks.previous_id is not None else "the previous"
    match checks.continuity:
        case Continuity.OK:
            text = f":white_check_mark: follows {previous}"
        case Continuity.GAP:
            gap = "" if checks.continuity_gap is None else f" of {checks.continuity_gap}"
            text = f":warning: gap{gap} against {previous}'s closing"
        case _:
            text = ":grey_question: unknown (no previous statement)"
    if checks.overlap:
        text += " · periods overlap"
    return text


def _period(statement: Statement) -> str:
    start, end = statement.period_start.isoformat(), statement.period_end.isoformat()
    return start if start == end else f"{start} → {end}"


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
            f"{_period(statement)} · {STATUS_LABELS[statement.stage1_status].lower()}",
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
            _section(
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
                _field("Period", _period(statement)),
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
    blocks.append(_section(_bid(statement, "status"), "\n".join(notes)))
    buttons = _buttons(statement)
    blocks.append(ActionsBlock(block_id=_bid(statement, "actions"), elements=buttons))
    blocks.append(
        _context(
            _bid(statement, "file"),
            f"File {escape(one_line(statement.file_name))} · SHA-256 `{statement.sha256[:12]}`"
            f" · team {escape(statement.team)} · v{statement.version}",
        )
    )
    blocks.append(_context(_bid(statement, "sha256"), f"SHA-256 `{statement.sha256}`"))
    assert len(blocks) <= MESSAGE_MAX_BLOCKS
    return Message(text=_fallback(statement), blocks=blocks)


# --- entries ----------------------------------------------------------------------------------


def _entry_text(statement: Statement, line: StatementLine) -> str:
    day = line.day.isoformat() if line.day else "no date"
    parts = [f"*#{line.number}*", day, money(line.amount, statement.currency)]
    if line.reference:
        parts.append(f"ref {escape(one_line(line.reference))}")
    if line.counterparty:
        parts.append(escape(one_line(line.counterparty)))
    text = " · ".join(parts)
    if line.description:
        text += f"\n{clip(escape(one_line(line.description)), 300)}"
    if line.removed:
        text = f"~{text}~ _(removed)_"
    elif line.added:
        text += " _(added by a reviewer)_"
    elif line.edited:
        text += " _(edited)_"
    return text


def entries_modal(view: EntriesPage) -> View:
    """One page of a statement's entries, with Previous/Next (``views.update``): at most
    :data:`ENTRIES_PAGE_SIZE` entries, so a view stays far under 100 blocks however long
    the statement."""
    statement = view.statement
    assert statement.id is not None
    page, pages = view.page, view.pages
    shown = view.lines[:ENTRIES_PAGE_SIZE]
    total = view.totals.counted + view.totals.removed
    blocks: list[Block] = [
        _section(
            "entries.summary",
            f"*{statement.human_id}* · `{mask_account(statement.account)}` · "
            f"{_period(statement)} · {plural(view.totals.counted, 'entry', 'entries')}\n"
            f"Balance chain: {chain_text(statement)}",
        ),
        DividerBlock(block_id="entries.divider"),
    ]
    blocks += [_section(f"entries.{ln.number}", _entry_text(statement, ln)) for ln in shown]
    if not shown:
        blocks.append(_section("entries.none", "_No entries._"))
    start = view.first
    blocks.append(
        _context(
            "entries.page",
            f"Page {page + 1} of {pages} · entries {start + 1 if shown else 0}-"
            f"{start + len(shown)} of {total}",
        )
    )
    nav = []
    if page > 0:
        nav.append(
            ButtonElement(
                text=PlainTextObject(text="Previous"),
                action_id=entries_page_action_id(page - 1),
                value=f"{statement.id}:{page - 1}",
            )
        )
    if page < pages - 1:
        nav.append(
            ButtonElement(
                text=PlainTextObject(text="Next"),
                action_id=entries_page_action_id(page + 1),
                value=f"{statement.id}:{page + 1}",
            )
        )
    if nav:
        blocks.append(ActionsBlock(block_id="entries.nav", elements=nav))
    assert len(blocks) <= VIEW_MAX_BLOCKS
    return View(
        type="modal",
        callback_id=StatementModal.ENTRIES.value,
        title=PlainTextObject(text=clip(f"Entries of {statement.human_id}", MODAL_TITLE_CHARS)),
        close=PlainTextObject(text="Close"),
        private_metadata=json.dumps({"statement_id": statement.id, "page": page}),
        blocks=blocks,
    )


# --- forms ------------------------------------------------------------------------------------


def form_metadata(statement: Statement, channel: str | None = None) -> str:
    """``private_metadata`` of the edit and reject forms: the statement, its version, and
    the channel of the card they were opened from (where the outcome is told)."""
    assert statement.id is not None
    data: dict[str, object] = {"statement_id": statement.id, "version": statement.version}
    if channel:
        data["channel"] = channel
    return json.dumps(data, separators=(",", ":"))


def _text_input(
    field: StatementField,
    label: str,
    *,
    max_length: int = MAX_EDIT_VALUE_CHARS,
    optional: bool = True,
    multiline: bool = False,
    hint: str | None = None,
) -> InputBlock:
    return InputBlock(
        block_id=field.value,
        label=PlainTextObject(text=label),
        element=PlainTextInputElement(
            action_id=INPUT_ACTION_ID, max_length=max_length, multiline=multiline or None
        ),
        hint=PlainTextObject(text=hint) if hint else None,
        optional=optional,
    )


def _select(
    field: StatementField, label: str, options: dict[str, str], *, initial: str | None = None
) -> InputBlock:
    opts = [Option(value=k, text=PlainTextObject(text=v)) for k, v in options.items()]
    chosen = next((o for o in opts if o.value == initial), None)
    return InputBlock(
        block_id=field.value,
        label=PlainTextObject(text=label),
        element=StaticSelectElement(action_id=INPUT_ACTION_ID, options=opts, initial_option=chosen),
        optional=initial is None,
    )


def _summary(statement: Statement) -> SectionBlock:
    return _section(
        "summary",
        f"*{statement.human_id}* · `{mask_account(statement.account)}` · {_period(statement)}"
        f" · {plural(len(statement.counted), 'entry', 'entries')}\n"
        f"Balance chain: {chain_text(statement)}",
    )


def edit_modal(statement: Statement, *, channel: str | None = None) -> View:
    """Correct one field of an entry (by number), add a missing entry, or remove a
    duplicated one. The submission is validated in the ack (errors under the field)."""
    currency = statement.currency
    blocks: list[Block] = [
        _summary(statement),
        _select(StatementField.OPERATION, "What to do", OPERATIONS, initial="correct"),
        _text_input(
            StatementField.LINE,
            "Entry number",
            max_length=9,
            hint="For a correction or a removal: the # shown in View entries.",
        ),
        _select(StatementField.FIELD, "Field to correct", FIELD_LABELS),
        _text_input(
            StatementField.VALUE,
            "New value",
            hint=f"Amounts signed in {currency} (-12.50 for a debit); dates YYYY-MM-DD; "
            "empty clears a reference or counterparty.",
        ),
        _text_input(
            StatementField.AMOUNT,
            "Amount of the missing entry",
            max_length=40,
            hint=f"Signed, in {currency}.",
        ),
        InputBlock(
            block_id=StatementField.DATE.value,
            label=PlainTextObject(text="Booking date of the missing entry"),
            element=DatePickerElement(action_id=INPUT_ACTION_ID),
            optional=True,
        ),
        _text_input(StatementField.REFERENCE, "Reference of the missing entry"),
        _text_input(StatementField.COUNTERPARTY, "Counterparty of the missing entry"),
    ]
    return View(
        type="modal",
        callback_id=StatementModal.EDIT.value,
        title=PlainTextObject(text=clip(f"Edit {statement.human_id}", MODAL_TITLE_CHARS)),
        submit=PlainTextObject(text="Save"),
        close=PlainTextObject(text="Cancel"),
        private_metadata=form_metadata(statement, channel),
        blocks=blocks,
    )


def statement_reject_modal(statement: Statement, *, channel: str | None = None) -> View:
    """Reject with a reason; only a re-parse or a re-import brings it back."""
    return View(
        type="modal",
        callback_id=StatementModal.REJECT.value,
        title=PlainTextObject(text=clip(f"Reject {statement.human_id}", MODAL_TITLE_CHARS)),
        submit=PlainTextObject(text="Reject"),
        close=PlainTextObject(text="Cancel"),
        private_metadata=form_metadata(statement, channel),
        blocks=[
            _summary(statement),
            _text_input(
                StatementField.REASON,
                "Reason",
                max_length=MAX_STATEMENT_REASON_CHARS,
                optional=False,
                multiline=True,
                hint="Only a re-parse or a re-import (a new revision) brings it back to review.",
            ),
        ],
    )


# --- list -------------------------------------------------------------------------------------


def statement_list(rows: Sequence[tuple[Statement, int]], *, offset: int, total: int) -> Message:
    """``/recon statements``: one page of the statements waiting for review, a short row
    each with its **Show** button, then Previous/Next (like the queue)."""
    if not rows:
        text = "No bank statements are waiting for review."
        if offset:
            text += " (This page is past the end of the list.)"
        return Message(text=text, blocks=[_section("stmts.none", text)])
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
                        f"{_period(statement)} · {statement.currency} · "
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
    blocks.append(_context("stmts.page", f"{offset + 1}-{last} of {total}"))
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

"""A bank statement's modals (Stage 1): its entries, paged with Previous/Next, and the
edit and reject forms (their ``private_metadata`` names the statement, its version and
the card's channel)."""

from __future__ import annotations

import json
from typing import Final

from slack_sdk.models.blocks import (
    ActionsBlock,
    Block,
    ButtonElement,
    DatePickerElement,
    DividerBlock,
    InputBlock,
    Option,
    PlainTextInputElement,
    PlainTextObject,
    SectionBlock,
    StaticSelectElement,
)
from slack_sdk.models.views import View

from domain.statements.records import EntriesPage, Statement, StatementLine, mask_account
from handlers.blocks.limits import MODAL_TITLE_CHARS, VIEW_MAX_BLOCKS
from handlers.blocks.mrkdwn import clip, escape, money, one_line, plural
from handlers.blocks.sections import context, section
from handlers.blocks.statement_facts import chain_text, period_text
from handlers.ids import INPUT_ACTION_ID, StatementField, StatementModal, entries_page_action_id

#: Entries per page of the entries modal: one section each, plus a header, a footer and
#: the Previous/Next row, far under Slack's 100 blocks per view.
ENTRIES_PAGE_SIZE: Final = 20
#: Longest texts accepted in the statement forms.
MAX_STATEMENT_REASON_CHARS: Final = 2000
MAX_EDIT_VALUE_CHARS: Final = 200

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
        section(
            "entries.summary",
            f"*{statement.human_id}* · `{mask_account(statement.account)}` · "
            f"{period_text(statement)} · {plural(view.totals.counted, 'entry', 'entries')}\n"
            f"Balance chain: {chain_text(statement)}",
        ),
        DividerBlock(block_id="entries.divider"),
    ]
    blocks += [section(f"entries.{ln.number}", _entry_text(statement, ln)) for ln in shown]
    if not shown:
        blocks.append(section("entries.none", "_No entries._"))
    start = view.first
    blocks.append(
        context(
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
    return section(
        "summary",
        f"*{statement.human_id}* · `{mask_account(statement.account)}` · {period_text(statement)}"
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

"""Matching in Slack (Stage 2): a match's card, a statement's summary, the reject and
resolve forms, and the ``/recon matches`` list.

The card puts the bank line(s) and the ledger entry or entries side by side (date,
amount, reference, counterparty), the score with each component, and the differences
(amount, days apart, reference similarity); a match the routing guard held says which
gate held it. **Accept** and **Reject** are offered only while the match waits for a
person; a decided card says the outcome, who and when. The summary counts the bands,
lists the open checks each with **Resolve**, and offers **Accept all** while matches
wait. Everything is rendered from the store as it is when the message goes out.

Block ids start ``match.<id>.`` (a card) and ``msum.<statement id>.`` (a summary).
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import date, datetime
from decimal import Decimal
from typing import Final

from slack_sdk.models.blocks import (
    ActionsBlock,
    Block,
    ButtonElement,
    ContextBlock,
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

from domain.matching.stored import RESOLUTIONS, CheckRecord, MatchRecord, MatchState, Resolution
from domain.policy import Policy
from domain.statements.records import format_statement_id
from domain.usecases.match_review import MatchOverview, MatchView
from handlers.blocks.items import timezone_of
from handlers.blocks.limits import (
    CONTEXT_TEXT_CHARS,
    FIELD_TEXT_CHARS,
    HEADER_TEXT_CHARS,
    MESSAGE_MAX_BLOCKS,
    MESSAGE_TEXT_CHARS,
    MODAL_TITLE_CHARS,
    SECTION_TEXT_CHARS,
)
from handlers.blocks.message import Message
from handlers.blocks.mrkdwn import clip, escape, fit, mention, money, one_line, plural, slack_date
from handlers.ids import INPUT_ACTION_ID, MatchButton, MatchField, MatchModal, match_action_id

#: Open checks a summary lists with their Resolve buttons (the rest are counted): each
#: takes one block, and the summary stays far under Slack's 50 blocks per message.
SUMMARY_CHECKS: Final = 20
#: Matches per ``/recon matches`` answer (one block each).
LIST_LIMIT: Final = 20
#: Longest texts accepted in the Stage 2 forms.
MAX_MATCH_REASON_CHARS: Final = 2000
MAX_CHECK_NOTE_CHARS: Final = 2000

RESOLUTION_LABELS: Final = {
    Resolution.CONFIRMED_DUPLICATE: "Confirmed duplicate (excluded)",
    Resolution.NOT_DUPLICATE: "Not a duplicate",
    Resolution.TRANSFER_CONFIRMED: "Transfer confirmed",
    Resolution.EXPLAINED: "Explained (see the note)",
}
_STATE_LABELS: Final = {
    MatchState.PENDING_REVIEW: "pending review",
    MatchState.ACCEPTED: "accepted",
    MatchState.REJECTED: "rejected",
    MatchState.AUTO_ACCEPTED: "auto-accepted",
}


def match_value(record: MatchRecord) -> str:
    """``40:2``: which match, at which version the person saw it."""
    assert record.id is not None
    return f"{record.id}:{record.version}"


def match_label(record: MatchRecord) -> str:
    """``M-40``: how people name a match."""
    return f"M-{record.id}"


def _day(value: date | None) -> str:
    return value.isoformat() if value is not None else "no date"


def _ref(text: str | None) -> str:
    return f"`{escape(clip(one_line(text), 60))}`" if text else "_no reference_"


def _who(text: str | None) -> str:
    return escape(clip(one_line(text), 60)) if text else "_no counterparty_"


def _bank_side(view: MatchView) -> str:
    code = view.statement.currency
    rows = [
        f"#{line.number} · {_day(line.booking_date or line.value_date)} · "
        f"*{money(line.amount, code)}*\n{_ref(line.reference)} · {_who(line.counterparty)}"
        for line in view.bank_lines
    ]
    return fit(f"*Bank* ({view.statement.human_id})\n" + "\n".join(rows), FIELD_TEXT_CHARS)


def _ledger_side(view: MatchView) -> str:
    rows = [
        f"{escape(clip(e.entry.entry_id, 40))} · {_day(e.entry.booked_on)} · "
        f"*{money(e.entry.amount, e.entry.currency)}*\n"
        f"{_ref(e.entry.reference)} · {_who(e.entry.counterparty)}"
        for e in view.ledger_entries
    ]
    account = view.ledger_entries[0].entry.account if view.ledger_entries else "GL"
    return fit(f"*Ledger* ({escape(account)})\n" + "\n".join(rows), FIELD_TEXT_CHARS)


def score_text(record: MatchRecord) -> str:
    """``Score 72/100 = amount 40 + date 7 + reference 15 + counterparty 10``."""
    c = record.components
    return (
        f"*Score {record.score}/100* = amount {c.get('amount_points', 0)} + date "
        f"{c.get('date_points', 0)} + reference {c.get('reference_points', 0)} + counterparty "
        f"{c.get('counterparty_points', 0)}"
    )


def differences_text(record: MatchRecord, currency: str) -> str:
    """The differences made visible: amount, days apart, reference and name similarity."""
    c = record.components
    difference = Decimal(str(c.get("amount_difference", "0")))
    fit_label = str(c.get("amount_fit", "")).replace("_", " ")
    amount = (
        "amounts equal"
        if difference == 0
        else f"amount difference {money(difference, currency)} ({fit_label})"
    )
    days = int(c.get("date_distance_days", 0))
    apart = "same day" if days == 0 else f"{plural(days, 'day')} apart"
    basis = escape(str(c.get("reference_basis", "")))
    return (
        f"{amount} · {apart} · reference similarity {c.get('reference_similarity', 0)}%"
        + (f" ({basis})" if basis else "")
        + f" · counterparty similarity {c.get('counterparty_similarity', 0)}%"
    )


def _status_text(record: MatchRecord, policy: Policy) -> str:
    tz = timezone_of(policy)
    if record.state is MatchState.PENDING_REVIEW:
        if record.held:
            text = (
                f":raised_hand: Scored in the auto-accept band but *held for a person* by "
                f"the routing guard: {escape(record.held)}"
            )
        else:
            text = ":hourglass_flowing_sand: *Pending review* (score 60-84): accept or reject."
        if record.approvals:
            first = ", ".join(mention(a.user) for a in record.approvals)
            text += (
                f"\n:busts_in_silhouette: Accepted by {first}; under dual control a second, "
                "different person accepts."
            )
        return text
    when = slack_date(record.decided_at, tz) if record.decided_at else "earlier"
    if record.state is MatchState.REJECTED and record.held and record.held.startswith("dissolved"):
        return f":wastebasket: *Dissolved* by a later run {when}: {escape(record.held)}"
    icon = {MatchState.ACCEPTED: ":white_check_mark:", MatchState.REJECTED: ":x:"}.get(
        record.state, ":white_check_mark:"
    )
    return (
        f"{icon} *{_STATE_LABELS[record.state].capitalize()}* by "
        f"{mention(record.decided_by)} {when}"
    )


def match_card(view: MatchView, *, policy: Policy, now: datetime) -> Message:
    """A match's card (see the module docstring)."""
    record = view.match
    assert record.id is not None
    bid = f"match.{record.id}"
    blocks: list[Block] = [
        HeaderBlock(
            block_id=f"{bid}.header",
            text=clip(
                f"Match {match_label(record)} · {view.statement.human_id} · score {record.score}",
                HEADER_TEXT_CHARS,
            ),
        ),
        SectionBlock(
            block_id=f"{bid}.status",
            text=MarkdownTextObject(text=fit(_status_text(record, policy), SECTION_TEXT_CHARS)),
        ),
        SectionBlock(
            block_id=f"{bid}.sides",
            fields=[
                MarkdownTextObject(text=_bank_side(view)),
                MarkdownTextObject(text=_ledger_side(view)),
            ],
        ),
        SectionBlock(
            block_id=f"{bid}.score",
            text=MarkdownTextObject(
                text=fit(
                    score_text(record) + "\n" + differences_text(record, view.statement.currency),
                    SECTION_TEXT_CHARS,
                )
            ),
        ),
    ]
    if record.state is MatchState.PENDING_REVIEW:
        blocks.append(
            ActionsBlock(
                block_id=f"{bid}.actions",
                elements=[
                    ButtonElement(
                        text=PlainTextObject(text="Accept"),
                        action_id=match_action_id(MatchButton.ACCEPT, record.id),
                        value=match_value(record),
                        style="primary",
                    ),
                    ButtonElement(
                        text=PlainTextObject(text="Reject"),
                        action_id=match_action_id(MatchButton.REJECT, record.id),
                        value=match_value(record),
                        style="danger",
                    ),
                ],
            )
        )
    blocks.append(
        ContextBlock(
            block_id=f"{bid}.footer",
            elements=[
                MarkdownTextObject(
                    text=fit(
                        f"{match_label(record)} v{record.version} · "
                        f"{_STATE_LABELS[record.state]} · found "
                        f"{slack_date(record.created_at, timezone_of(policy))}",
                        CONTEXT_TEXT_CHARS,
                    )
                )
            ],
        )
    )
    text = clip(
        f"Match {match_label(record)} of {view.statement.human_id}: score {record.score}, "
        f"{_STATE_LABELS[record.state]}",
        MESSAGE_TEXT_CHARS,
    )
    return Message(text=escape(text), blocks=blocks)


def check_text(check: CheckRecord) -> str:
    """``Check 7 · duplicate bank: ...`` (one line)."""
    return (
        f"*Check {check.id}* · {check.kind.value.replace('_', ' ')}: "
        f"{escape(clip(one_line(check.detail), 400))}"
    )


def match_summary(overview: MatchOverview, *, policy: Policy, now: datetime) -> Message:
    """A statement's matching summary (see the module docstring)."""
    statement = overview.statement
    assert statement.id is not None
    bid = f"msum.{statement.id}"
    counts = (
        f"*{overview.auto_accepted}* auto-accepted · *{overview.pending_review}* pending "
        f"review · *{overview.accepted}* accepted by a person · *{overview.unmatched_bank}* "
        f"unmatched bank lines · *{overview.unmatched_ledger}* unmatched ledger entries"
        + (f" ({escape(overview.gl_account)})" if overview.gl_account else "")
    )
    blocks: list[Block] = [
        HeaderBlock(
            block_id=f"{bid}.header",
            text=clip(f"Matching · {statement.human_id} · {statement.currency}", HEADER_TEXT_CHARS),
        ),
        SectionBlock(
            block_id=f"{bid}.counts", text=MarkdownTextObject(text=fit(counts, SECTION_TEXT_CHARS))
        ),
    ]
    checks = overview.open_checks
    if checks:
        blocks.append(
            SectionBlock(
                block_id=f"{bid}.checks",
                text=MarkdownTextObject(
                    text=f":warning: *{plural(len(checks), 'open check')}*: Accept all waits "
                    "until every one is resolved."
                ),
            )
        )
    for check in checks[:SUMMARY_CHECKS]:
        assert check.id is not None
        blocks.append(
            SectionBlock(
                block_id=f"{bid}.check.{check.id}",
                text=MarkdownTextObject(text=fit(check_text(check), SECTION_TEXT_CHARS)),
                accessory=ButtonElement(
                    text=PlainTextObject(text="Resolve"),
                    action_id=match_action_id(MatchButton.RESOLVE, check.id),
                    value=str(check.id),
                ),
            )
        )
    if len(checks) > SUMMARY_CHECKS:
        blocks.append(
            ContextBlock(
                block_id=f"{bid}.more",
                elements=[
                    MarkdownTextObject(
                        text=f"and {len(checks) - SUMMARY_CHECKS} more: `recon-bot checks`"
                    )
                ],
            )
        )
    if overview.pending_review:
        blocks.append(
            ActionsBlock(
                block_id=f"{bid}.actions",
                elements=[
                    ButtonElement(
                        text=PlainTextObject(text=f"Accept all ({overview.pending_review})"[:75]),
                        action_id=match_action_id(MatchButton.ACCEPT_ALL, statement.id),
                        value=str(statement.id),
                        style="primary",
                    )
                ],
            )
        )
    blocks.append(
        ContextBlock(
            block_id=f"{bid}.footer",
            elements=[
                MarkdownTextObject(
                    text=f"As of {slack_date(now, timezone_of(policy))} · "
                    f"`/recon matches {statement.human_id}` lists the pending ones"
                )
            ],
        )
    )
    assert len(blocks) <= MESSAGE_MAX_BLOCKS
    text = (
        f"Matching of {statement.human_id}: {overview.auto_accepted} auto-accepted, "
        f"{overview.pending_review} pending review, {overview.unmatched_bank} unmatched bank, "
        f"{overview.unmatched_ledger} unmatched ledger, {len(checks)} open checks"
    )
    return Message(text=text, blocks=blocks)


# --- forms ------------------------------------------------------------------------------------


def form_metadata(target_id: int, version: int | None, channel: str | None) -> str:
    """``private_metadata`` of the Stage 2 forms: the match (and the version seen) or the
    check, and the channel of the message the form was opened from."""
    data: dict[str, object] = {"id": target_id}
    if version is not None:
        data["version"] = version
    if channel:
        data["channel"] = channel
    return json.dumps(data, separators=(",", ":"))


def _text_input(field: MatchField, label: str, *, max_length: int, hint: str) -> InputBlock:
    return InputBlock(
        block_id=field.value,
        label=PlainTextObject(text=label),
        element=PlainTextInputElement(
            action_id=INPUT_ACTION_ID, multiline=True, max_length=max_length
        ),
        hint=PlainTextObject(text=hint),
        optional=False,
    )


def match_reject_modal(record: MatchRecord, *, channel: str | None = None) -> View:
    """Reject a match with a reason: both sides go back to the pool."""
    assert record.id is not None
    return View(
        type="modal",
        callback_id=MatchModal.REJECT.value,
        title=PlainTextObject(text=clip(f"Reject {match_label(record)}", MODAL_TITLE_CHARS)),
        submit=PlainTextObject(text="Reject"),
        close=PlainTextObject(text="Cancel"),
        private_metadata=form_metadata(record.id, record.version, channel),
        blocks=[
            SectionBlock(
                block_id="match.summary",
                text=MarkdownTextObject(text=fit(score_text(record), SECTION_TEXT_CHARS)),
            ),
            _text_input(
                MatchField.REASON,
                "Reason",
                max_length=MAX_MATCH_REASON_CHARS,
                hint="Both sides go back to the pool; a later run may pair them again.",
            ),
        ],
    )


def resolve_check_modal(check: CheckRecord, *, channel: str | None = None) -> View:
    """Resolve an open check: the resolutions that fit its kind, and a required note."""
    assert check.id is not None
    options = [
        Option(value=r.value, text=PlainTextObject(text=RESOLUTION_LABELS[r]))
        for r in Resolution
        if r in RESOLUTIONS[check.kind]
    ]
    return View(
        type="modal",
        callback_id=MatchModal.RESOLVE.value,
        title=PlainTextObject(text=clip(f"Resolve check {check.id}", MODAL_TITLE_CHARS)),
        submit=PlainTextObject(text="Resolve"),
        close=PlainTextObject(text="Cancel"),
        private_metadata=form_metadata(check.id, None, channel),
        blocks=[
            SectionBlock(
                block_id="check.summary",
                text=MarkdownTextObject(text=fit(check_text(check), SECTION_TEXT_CHARS)),
            ),
            InputBlock(
                block_id=MatchField.RESOLUTION.value,
                label=PlainTextObject(text="Resolution"),
                element=StaticSelectElement(action_id=INPUT_ACTION_ID, options=options),
                optional=False,
            ),
            _text_input(
                MatchField.NOTE,
                "Note",
                max_length=MAX_CHECK_NOTE_CHARS,
                hint="Why: it goes to the audit log with the resolution.",
            ),
        ],
    )


# --- list -------------------------------------------------------------------------------------


def match_list(records: Sequence[MatchRecord], *, total: int, statement: str | None) -> Message:
    """``/recon matches [STATEMENT]``: the first pending matches, one row each (the id,
    statement, score, and what held it), and how many there are."""
    where = f" of {statement}" if statement else " in your teams"
    if not records:
        text = f"No matches{where} are waiting for review."
        return Message(
            text=text,
            blocks=[SectionBlock(block_id="mlist.none", text=MarkdownTextObject(text=text))],
        )
    blocks: list[Block] = [
        HeaderBlock(
            block_id="mlist.header",
            text=clip(f"Matches pending review{where} ({total})", HEADER_TEXT_CHARS),
        )
    ]
    for record in records[:LIST_LIMIT]:
        c = record.components
        held = f" · held: {escape(clip(record.held, 120))}" if record.held else ""
        sides = f"{plural(len(record.bank_lines), 'bank line')} ↔ " + plural(
            len(record.ledger_entries), "ledger entry", "ledger entries"
        )
        blocks.append(
            SectionBlock(
                block_id=f"mlist.{record.id}",
                text=MarkdownTextObject(
                    text=fit(
                        f"*{match_label(record)}* · {format_statement_id(record.statement_id)}"
                        f" · score *{record.score}* · {sides}"
                        f" · {c.get('date_distance_days', 0)}d apart{held}",
                        SECTION_TEXT_CHARS,
                    )
                ),
            )
        )
    shown = min(len(records), LIST_LIMIT)
    blocks.append(
        ContextBlock(
            block_id="mlist.footer",
            elements=[
                MarkdownTextObject(
                    text=f"{shown} of {total} shown · each has its card with Accept and "
                    "Reject in the team channel"
                )
            ],
        )
    )
    assert len(blocks) <= MESSAGE_MAX_BLOCKS
    return Message(text=f"{total} matches pending review{where}", blocks=blocks)

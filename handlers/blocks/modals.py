"""The reject, escalate and dispute modals, and the dispute's note and resolve forms.

Each input block's id is a ``handlers.ids.Field`` and its element's action id is
``handlers.ids.INPUT_ACTION_ID``; ``handlers.forms`` reads them back. ``private_metadata``
is a :class:`handlers.forms.ModalMetadata`: the item, the version the user saw, and the
message to update afterwards.
"""

from __future__ import annotations

import json

from slack_sdk.models.blocks import (
    Block,
    DatePickerElement,
    InputBlock,
    MarkdownTextObject,
    Option,
    PlainTextInputElement,
    PlainTextObject,
    SectionBlock,
    StaticSelectElement,
)
from slack_sdk.models.views import View

from domain.items import DisputeCategory, DisputeOutcome, DisputeState, Item
from domain.money import minor_units
from domain.policy import Policy
from domain.sla import sla_due_at
from domain.states import MIN_REASON_WORDS
from handlers.blocks.buttons import item_id_of
from handlers.blocks.items import (
    CATEGORY_LABELS,
    KIND_LABELS,
    OUTCOME_LABELS,
    timezone_of,
    write_off_progress,
)
from handlers.blocks.limits import MODAL_TITLE_CHARS, SECTION_TEXT_CHARS
from handlers.blocks.mrkdwn import clip, fit, money, slack_date, user_text
from handlers.forms import (
    MAX_ADJUSTMENT_CHARS,
    MAX_CONTACT_CHARS,
    MAX_DESCRIPTION_CHARS,
    MAX_EVIDENCE_CHARS,
    MAX_NOTE_CHARS,
    MAX_REASON_CHARS,
    ModalMetadata,
)
from handlers.ids import INPUT_ACTION_ID, Field, Modal


def _metadata(item: Item, channel: str | None, ts: str | None) -> str:
    return ModalMetadata(
        item_id=item_id_of(item), version=item.version, channel=channel, ts=ts
    ).encode()


def _summary(item: Item, policy: Policy | None) -> SectionBlock:
    """Which item the form is about; with the policy, also when a decision is due."""
    f = item.facts
    text = (
        f"*{item.human_id}* · {money(f.amount, f.currency)} · {KIND_LABELS[f.kind]}\n"
        f"{user_text(f.entity, 100, one_line=True)}"
    )
    if f.counterparty:
        text += f" · {user_text(f.counterparty, 200, one_line=True)}"
    due = sla_due_at(item, policy) if policy is not None else None
    if policy is not None and due is not None:
        text += f"\nDecision due {slack_date(due, timezone_of(policy))}"
    return SectionBlock(
        block_id="summary", text=MarkdownTextObject(text=fit(text, SECTION_TEXT_CHARS))
    )


def _text_input(
    field: Field,
    *,
    label: str,
    max_length: int,
    optional: bool = False,
    multiline: bool = False,
    placeholder: str | None = None,
    hint: str | None = None,
) -> InputBlock:
    return InputBlock(
        block_id=field.value,
        label=PlainTextObject(text=label),
        element=PlainTextInputElement(
            action_id=INPUT_ACTION_ID,
            multiline=multiline or None,
            max_length=max_length,
            placeholder=PlainTextObject(text=placeholder) if placeholder else None,
        ),
        hint=PlainTextObject(text=hint) if hint else None,
        optional=optional,
    )


def _required_reason(placeholder: str, kept: str) -> Block:
    """The required Reason input of the reject forms (at least ``MIN_REASON_WORDS`` words)."""
    return _text_input(
        Field.REASON,
        label="Reason",
        max_length=MAX_REASON_CHARS,
        multiline=True,
        placeholder=placeholder,
        hint=f"At least {MIN_REASON_WORDS} words. {kept}",
    )


def _modal(
    callback_id: Modal, *, title: str, submit: str, blocks: list[Block], metadata: str
) -> View:
    return View(
        type="modal",
        callback_id=callback_id.value,
        title=PlainTextObject(text=clip(title, MODAL_TITLE_CHARS)),
        submit=PlainTextObject(text=submit),
        close=PlainTextObject(text="Cancel"),
        private_metadata=metadata,
        blocks=blocks,
    )


def _item_modal(
    callback_id: Modal,
    item: Item,
    *,
    title: str,
    submit: str,
    fields: list[Block],
    policy: Policy | None,
    channel: str | None,
    ts: str | None,
) -> View:
    """A form about one item: its summary above ``fields``, the item and card in metadata."""
    return _modal(
        callback_id,
        title=f"{title} {item.human_id}",
        submit=submit,
        blocks=[_summary(item, policy), *fields],
        metadata=_metadata(item, channel, ts),
    )


def reject_modal(
    item: Item,
    *,
    policy: Policy | None = None,
    channel: str | None = None,
    ts: str | None = None,
) -> View:
    """Asks why the item is rejected (required, at least ``MIN_REASON_WORDS`` words).

    Args:
        item: The stored item, at the version the user clicked on.
        policy: When given, the form also shows when a decision is due.
        channel: Channel of the message to update after the decision, if any.
        ts: That message's ts.
    """
    return _item_modal(
        Modal.REJECT,
        item,
        title="Reject",
        submit="Reject",
        fields=[
            _required_reason("What is wrong with this item?", "It is kept in the audit log."),
        ],
        policy=policy,
        channel=channel,
        ts=ts,
    )


def escalate_modal(
    item: Item,
    *,
    policy: Policy | None = None,
    channel: str | None = None,
    ts: str | None = None,
) -> View:
    """Sends the item to the team leads, with an optional reason."""
    return _item_modal(
        Modal.ESCALATE,
        item,
        title="Escalate",
        submit="Escalate",
        fields=[
            _text_input(
                Field.REASON,
                label="Reason",
                max_length=MAX_REASON_CHARS,
                multiline=True,
                optional=True,
                placeholder="What should the leads know?",
                hint="Optional. The leads see it with the item.",
            ),
        ],
        policy=policy,
        channel=channel,
        ts=ts,
    )


def step_up_modal(
    item: Item,
    *,
    policy: Policy | None = None,
    note: str | None = None,
    channel: str | None = None,
    ts: str | None = None,
) -> View:
    """Step-up confirmation: the approver retypes the item's amount to approve it.

    The amount is not pre-filled, and the summary above shows it: the point is that the
    approver reads it and types it, so a large approval is never one absent-minded click.
    ``note`` (from ``/recon approve ID note``) travels in the metadata's place: the form
    has no other input, so it is shown and kept in the Note field, editable.
    """
    return _item_modal(
        Modal.STEP_UP,
        item,
        title="Approve",
        submit="Approve",
        fields=[
            _text_input(
                Field.AMOUNT,
                label=f"Type the amount ({item.facts.currency}) to approve",
                max_length=MAX_ADJUSTMENT_CHARS,
                placeholder=f"e.g. {_amount_example(item.facts.currency).lstrip('-')}",
                hint="This is a large item: its approval needs the amount retyped (step-up).",
            ),
            InputBlock(
                block_id=Field.NOTE.value,
                label=PlainTextObject(text="Note"),
                element=PlainTextInputElement(
                    action_id=INPUT_ACTION_ID,
                    max_length=MAX_NOTE_CHARS,
                    initial_value=clip(note, MAX_NOTE_CHARS) if note else None,
                ),
                optional=True,
            ),
        ],
        policy=policy,
        channel=channel,
        ts=ts,
    )


def _amount_example(currency: str) -> str:
    decimals = minor_units(currency)
    return "-125" if decimals == 0 else "-125." + "5" + "0" * (decimals - 1)


def dispute_modal(
    item: Item,
    *,
    policy: Policy | None = None,
    channel: str | None = None,
    ts: str | None = None,
) -> View:
    """Opens a dispute: category, description and the optional details of the claim."""
    currency = item.facts.currency
    category = StaticSelectElement(
        action_id=INPUT_ACTION_ID,
        placeholder=PlainTextObject(text="Choose a category"),
        options=[
            Option(value=value.value, text=PlainTextObject(text=CATEGORY_LABELS[value]))
            for value in DisputeCategory
        ],
    )
    return _item_modal(
        Modal.DISPUTE,
        item,
        title="Dispute",
        submit="Open dispute",
        fields=[
            InputBlock(
                block_id=Field.CATEGORY.value,
                label=PlainTextObject(text="Category"),
                element=category,
            ),
            _text_input(
                Field.DESCRIPTION,
                label="Description",
                max_length=MAX_DESCRIPTION_CHARS,
                multiline=True,
                placeholder="What is disputed, and why?",
                hint=f"At least {MIN_REASON_WORDS} words.",
            ),
            _text_input(
                Field.CONTACT,
                label="Counterparty contact",
                max_length=MAX_CONTACT_CHARS,
                optional=True,
                placeholder="Name, email or phone",
            ),
            InputBlock(
                block_id=Field.EXPECTED_DATE.value,
                label=PlainTextObject(text="Expected resolution date"),
                element=DatePickerElement(
                    action_id=INPUT_ACTION_ID,
                    placeholder=PlainTextObject(text="Pick a date"),
                ),
                optional=True,
            ),
            _text_input(
                Field.EVIDENCE,
                label="Evidence links",
                max_length=MAX_EVIDENCE_CHARS,
                multiline=True,
                optional=True,
                placeholder="https://...",
                hint="One http(s) URL per line.",
            ),
            _text_input(
                Field.ADJUSTMENT,
                label=f"Proposed adjustment ({currency})",
                max_length=MAX_ADJUSTMENT_CHARS,
                optional=True,
                placeholder=f"e.g. {_amount_example(currency)}",
                hint=(
                    f"A plain amount in {currency} with at most {minor_units(currency)} "
                    "decimals, no thousands separators."
                ),
            ),
        ],
        policy=policy,
        channel=channel,
        ts=ts,
    )


def note_modal(
    item: Item,
    *,
    policy: Policy | None = None,
    channel: str | None = None,
    ts: str | None = None,
) -> View:
    """Adds a note to the item's dispute (one required text, kept in the audit log)."""
    return _item_modal(
        Modal.NOTE,
        item,
        title="Note on",
        submit="Add note",
        fields=[
            _text_input(
                Field.NOTE,
                label="Note",
                max_length=MAX_NOTE_CHARS,
                multiline=True,
                placeholder="What happened on this dispute?",
                hint="Kept in the dispute's timeline and the audit log.",
            ),
        ],
        policy=policy,
        channel=channel,
        ts=ts,
    )


def resolve_modal(
    item: Item,
    *,
    policy: Policy,
    channel: str | None = None,
    ts: str | None = None,
) -> View:
    """Closes the item's dispute: outcome, amount (adjusted, written off) and a note.

    While a write-off waits for its second sign-off the form starts on that write-off and
    its amount, and says who signed off so far.
    """
    currency = item.facts.currency
    options = {
        value: Option(value=value.value, text=PlainTextObject(text=OUTCOME_LABELS[value]))
        for value in DisputeOutcome
    }
    dispute = item.dispute
    pending = (
        dispute is not None
        and dispute.state is not DisputeState.RESOLVED
        and bool(dispute.write_off_approvals)
    )
    outcome = StaticSelectElement(
        action_id=INPUT_ACTION_ID,
        placeholder=PlainTextObject(text="Choose an outcome"),
        options=list(options.values()),
        initial_option=options[DisputeOutcome.WRITTEN_OFF] if pending else None,
    )
    fixed = dispute.resolution_amount if dispute is not None and pending else None
    blocks: list[Block] = [_summary(item, policy)]
    progress = write_off_progress(item, policy)
    if progress:
        blocks.append(
            SectionBlock(block_id="progress", text=MarkdownTextObject(text=fit(progress, 3000)))
        )
    blocks += [
        InputBlock(
            block_id=Field.OUTCOME.value,
            label=PlainTextObject(text="Outcome"),
            element=outcome,
            hint=PlainTextObject(
                text="Matched, adjusted and withdrawn send the item back to review; "
                "written off approves it for the write-off account."
            ),
        ),
        InputBlock(
            block_id=Field.AMOUNT.value,
            label=PlainTextObject(text=f"Amount ({currency})"),
            element=PlainTextInputElement(
                action_id=INPUT_ACTION_ID,
                max_length=MAX_ADJUSTMENT_CHARS,
                initial_value=str(fixed) if fixed is not None else None,
                placeholder=PlainTextObject(text=f"e.g. {_amount_example(currency)}"),
            ),
            hint=PlainTextObject(
                text=(
                    f"Adjusted: required. Written off: the amount written off (default: "
                    f"the proposed adjustment, else the item's amount). In {currency}, "
                    f"at most {minor_units(currency)} decimals. Empty for the others."
                )
            ),
            optional=True,
        ),
        _text_input(
            Field.NOTE,
            label="Note",
            max_length=MAX_NOTE_CHARS,
            multiline=True,
            placeholder="How was it settled?",
            hint=f"At least {MIN_REASON_WORDS} words. Kept in the audit log.",
        ),
    ]
    if policy.step_up is not None:
        # Not pre-filled: a large write-off is signed off by reading the amount and
        # typing it, never by one absent-minded click (as for approvals).
        blocks.append(
            InputBlock(
                block_id=Field.STEP_UP.value,
                label=PlainTextObject(text=f"Retype the amount written off ({currency})"),
                element=PlainTextInputElement(
                    action_id=INPUT_ACTION_ID, max_length=MAX_ADJUSTMENT_CHARS
                ),
                hint=PlainTextObject(
                    text=(
                        "Step-up: a write-off of "
                        f"{policy.step_up.amount} {policy.reporting_currency} or more "
                        "needs its amount typed again here. Empty for the other outcomes."
                    )
                ),
                optional=True,
            )
        )
    return _modal(
        Modal.RESOLVE,
        title=f"Resolve {item.human_id}",
        submit="Resolve",
        blocks=blocks,
        metadata=_metadata(item, channel, ts),
    )


def digest_reject_modal(cluster_id: int, *, size: int, title: str) -> View:
    """Asks why a whole digest group is rejected (every item gets the same reason)."""
    blocks: list[Block] = [
        SectionBlock(
            block_id="group",
            text=MarkdownTextObject(
                text=fit(f"Reject all *{size}* item(s) of *{user_text(title, 200)}*.", 3000)
            ),
        ),
        _required_reason(
            "What is wrong with these items?", "It is kept in the audit log for each item."
        ),
    ]
    return _modal(
        Modal.DIGEST_REJECT,
        title="Reject group",
        submit="Reject all",
        blocks=blocks,
        metadata=json.dumps({"cluster_id": cluster_id}, separators=(",", ":")),
    )

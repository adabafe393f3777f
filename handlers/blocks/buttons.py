"""Buttons: the item actions a state allows, and pagination.

An item shows a button only when the review state machine would accept that action
from the item's current state (``domain.states.ALLOWED_FROM``), so a card never offers
a click that can only fail, and a settled item (posted, rejected) offers none at all.
Of the two dispute-state buttons only the one that moves the dispute is offered:
**Awaiting counterparty** while it is open, **Resume** while it waits.
"""

from __future__ import annotations

from collections.abc import Sequence

from slack_sdk.models.blocks import ButtonElement, ConfirmObject, PlainTextObject

from domain.items import DisputeState, Item
from domain.states import ALLOWED_FROM, TERMINAL, Action
from handlers.blocks.mrkdwn import clip
from handlers.ids import ItemAction, NavAction, item_action_id, item_value

LABELS: dict[ItemAction, str] = {
    ItemAction.APPROVE: "Approve",
    ItemAction.REJECT: "Reject",
    ItemAction.ESCALATE: "Escalate",
    ItemAction.DISPUTE: "Dispute",
    ItemAction.CLAIM: "Claim",
    ItemAction.RELEASE: "Release",
    ItemAction.DETAILS: "Details",
    ItemAction.AWAIT_COUNTERPARTY: "Awaiting counterparty",
    ItemAction.RESUME: "Resume",
    ItemAction.NOTE: "Add note",
    ItemAction.RESOLVE: "Resolve",
}

_STYLES: dict[ItemAction, str] = {ItemAction.APPROVE: "primary", ItemAction.REJECT: "danger"}

_DOMAIN_ACTION: dict[ItemAction, Action] = {
    ItemAction.APPROVE: Action.APPROVE,
    ItemAction.REJECT: Action.REJECT,
    ItemAction.ESCALATE: Action.ESCALATE,
    ItemAction.DISPUTE: Action.DISPUTE,
    ItemAction.CLAIM: Action.CLAIM,
    ItemAction.RELEASE: Action.RELEASE,
    ItemAction.AWAIT_COUNTERPARTY: Action.UPDATE_DISPUTE,
    ItemAction.RESUME: Action.UPDATE_DISPUTE,
    ItemAction.NOTE: Action.NOTE_DISPUTE,
    ItemAction.RESOLVE: Action.RESOLVE_DISPUTE,
}

#: The dispute state each dispute-state button moves a dispute out of.
_DISPUTE_FROM: dict[ItemAction, DisputeState] = {
    ItemAction.AWAIT_COUNTERPARTY: DisputeState.OPEN,
    ItemAction.RESUME: DisputeState.AWAITING_COUNTERPARTY,
}

#: The decision buttons of a full item card, in display order.
CARD_ACTIONS: tuple[ItemAction, ...] = (
    ItemAction.APPROVE,
    ItemAction.REJECT,
    ItemAction.ESCALATE,
    ItemAction.DISPUTE,
    ItemAction.CLAIM,
    ItemAction.RELEASE,
    ItemAction.AWAIT_COUNTERPARTY,
    ItemAction.RESUME,
    ItemAction.NOTE,
    ItemAction.RESOLVE,
)

#: The shorter set on a list row (queue page, App Home).
ROW_ACTIONS: tuple[ItemAction, ...] = (
    ItemAction.CLAIM,
    ItemAction.RELEASE,
    ItemAction.APPROVE,
    ItemAction.REJECT,
    ItemAction.DETAILS,
)


def item_id_of(item: Item) -> int:
    """The stored item's id.

    Raises:
        ValueError: the item was never stored (it has no id to act on).
    """
    if item.id is None:
        raise ValueError("only stored items can be rendered")
    return item.id


def offers(item: Item, action: ItemAction) -> bool:
    """Whether the item's current state allows the action (Details: while not settled)."""
    if item.state in TERMINAL:
        return False
    if action is ItemAction.DETAILS:
        return True
    if item.state not in ALLOWED_FROM[_DOMAIN_ACTION[action]]:
        return False
    if action in _DISPUTE_FROM:
        return item.dispute is not None and item.dispute.state is _DISPUTE_FROM[action]
    return True


def _approve_confirm(item: Item) -> ConfirmObject | None:
    """Dual control: say whose approval this would be before recording it."""
    if item.required_approvals < 2:
        return None
    position = len(item.approvals) + 1
    return ConfirmObject(
        title=PlainTextObject(text=clip(f"Approve {item.human_id}?", 100)),
        text=PlainTextObject(
            text=(
                f"{item.human_id} needs {item.required_approvals} approvals from different "
                f"people, none of them its preparer. Yours will be {position} of "
                f"{item.required_approvals}."
            )
        ),
        confirm=PlainTextObject(text="Approve"),
        deny=PlainTextObject(text="Cancel"),
    )


def item_buttons(item: Item, actions: Sequence[ItemAction]) -> list[ButtonElement]:
    """The buttons among ``actions`` that the item's state allows, in that order.

    Action ids carry the item id (unique across a list of items); values carry the version
    the user sees, so a click on a stale card changes nothing.
    """
    item_id = item_id_of(item)
    value = item_value(item_id, item.version)
    buttons: list[ButtonElement] = []
    for action in actions:
        if not offers(item, action):
            continue
        buttons.append(
            ButtonElement(
                text=PlainTextObject(text=LABELS[action]),
                action_id=item_action_id(action, item_id),
                value=value,
                style=_STYLES.get(action),
                confirm=_approve_confirm(item) if action is ItemAction.APPROVE else None,
            )
        )
    return buttons


def nav_button(action: NavAction, *, label: str, value: str) -> ButtonElement:
    """A pagination or refresh button; ``value`` says what to load.

    Previous and Next share their action id, so each goes in its own actions block
    (Slack wants action ids unique within a block).
    """
    return ButtonElement(
        text=PlainTextObject(text=label),
        action_id=action.value,
        value=value,
    )

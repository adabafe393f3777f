"""Step-up confirmation: approving a large item asks the approver to retype its amount.

The policy's ``step_up: {amount: ...}`` is in the reporting currency; an item needs a
step-up when its reporting amount (as routing computes it) is at or above it, or when
it has no reporting amount at all (no rate: the desk cannot tell it is below, so it
asks). Without ``step_up`` nothing changes.

The approver retypes the amount in the item's own currency, as the card shows it;
thousands separators and the sign are ignored (a ledger line's sign is not what the
approver is confirming, its size is). Each approver of a dual-control item steps up on
their own approval. The audit record of the approval keeps ``step_up: true`` and the
amount typed.

Write-offs too: signing off a dispute's write-off whose written-off amount is at or
above the step-up amount (in the reporting currency, at the rate that sizes the
write-off) needs that amount retyped, by each signer (:func:`check_write_off_step_up`).
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from domain.errors import InvalidCommand, MoneyError, NotAuthorized
from domain.fx import AppliedRate
from domain.items import Item
from domain.money import parse_amount
from domain.policy import LoadedPolicy
from domain.routing import reporting_amount, to_reporting, write_off_amount

#: Longest amount text read (anything longer is not an amount a person retyped).
MAX_TYPED_CHARS = 40


class StepUpRequired(NotAuthorized):
    """The approval needs the amount retyped first (a form asks for it)."""


class StepUpMismatch(InvalidCommand):
    """The amount retyped is not the item's amount."""


@dataclass(frozen=True, slots=True, kw_only=True)
class StepUp:
    """What an approver typed to confirm an approval (the raw text, as typed)."""

    typed: str


def needs_step_up(item: Item, loaded: LoadedPolicy) -> bool:
    """Whether approving ``item`` needs the amount retyped under ``loaded``'s policy."""
    rule = loaded.policy.step_up
    if rule is None:
        return False
    amount = reporting_amount(item.facts, loaded)
    return amount is None or abs(amount) >= rule.amount


def typed_amount(item: Item, typed: str) -> Decimal:
    """The amount ``typed`` means, at the item currency's scale.

    Raises:
        StepUpMismatch: it is not an amount in the item's currency.
    """
    raw = typed.strip().replace(",", "").replace(" ", "")
    if not raw or len(raw) > MAX_TYPED_CHARS:
        raise StepUpMismatch(f"type the amount of {item.human_id} in {item.facts.currency}")
    try:
        return parse_amount(raw, item.facts.currency)
    except MoneyError:
        raise StepUpMismatch(
            f"{typed.strip()[:MAX_TYPED_CHARS]!r} is not an amount in {item.facts.currency}"
        ) from None


def check_step_up(item: Item, loaded: LoadedPolicy, step_up: StepUp | None) -> dict[str, Any]:
    """What the approval's audit record adds for the step-up ({} when none is needed).

    Raises:
        StepUpRequired: the item needs a step-up and none was given.
        StepUpMismatch: the amount typed is not the item's amount.
    """
    if not needs_step_up(item, loaded):
        return {}
    if step_up is None:
        raise StepUpRequired(
            f"approving {item.human_id} needs its amount retyped (step-up); "
            "use its Approve button or `/recon approve` to get the form"
        )
    check_typed_amount(item, step_up.typed)
    return {"step_up": True, "step_up_amount": step_up.typed.strip()}


def check_typed_amount(item: Item, typed: str) -> None:
    """Raises StepUpMismatch unless ``typed`` is the item's amount (the form checks it
    before its ack, the approval again when it runs).

    Raises:
        StepUpMismatch: not an amount, or not this item's.
    """
    if abs(typed_amount(item, typed)) != abs(item.facts.amount):
        raise StepUpMismatch(
            f"that is not the amount of {item.human_id}; nothing was approved — "
            "check the amount and type it again"
        )


def write_off_step_up(
    item: Item, loaded: LoadedPolicy, *, amount: Decimal | None, rate: AppliedRate | None
) -> Decimal | None:
    """The amount (item currency) a write-off sign-off must retype, or None when it
    needs no step-up: no ``step_up`` in the policy, or the written-off amount (see
    :func:`domain.routing.write_off_amount`) is below it in the reporting currency. An
    amount without a rate needs it (the desk cannot tell it is below)."""
    rule = loaded.policy.step_up
    if rule is None:
        return None
    written_off = write_off_amount(item, amount)
    reporting = to_reporting(written_off, item.facts.currency, loaded, rate=rate)
    if reporting is not None and abs(reporting) < rule.amount:
        return None
    return written_off


def check_write_off_step_up(
    item: Item,
    loaded: LoadedPolicy,
    step_up: StepUp | None,
    *,
    amount: Decimal | None,
    rate: AppliedRate | None,
) -> dict[str, Any]:
    """What a write-off sign-off's audit records add for the step-up ({} when none is
    needed).

    Raises:
        StepUpRequired: the write-off needs a step-up and none was given.
        StepUpMismatch: the amount typed is not the amount written off.
    """
    needed = write_off_step_up(item, loaded, amount=amount, rate=rate)
    if needed is None:
        return {}
    if step_up is None:
        raise StepUpRequired(
            f"writing off {needed} {item.facts.currency} of {item.human_id} needs the amount "
            "retyped (step-up); use its Resolve form"
        )
    check_typed_write_off(item, step_up.typed, needed)
    return {"step_up": True, "step_up_amount": step_up.typed.strip()}


def check_typed_write_off(item: Item, typed: str, written_off: Decimal) -> None:
    """Raises StepUpMismatch unless ``typed`` is ``written_off`` (the form checks it
    before its ack, the sign-off again when it runs).

    Raises:
        StepUpMismatch: not an amount, or not the amount written off.
    """
    if abs(typed_amount(item, typed)) != abs(written_off):
        raise StepUpMismatch(
            f"that is not the amount written off ({written_off} {item.facts.currency}); "
            "nothing was signed off — check the amount and type it again"
        )

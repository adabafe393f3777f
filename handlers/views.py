"""Modal submissions: validation errors travel in the ack; the decision follows it."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from decimal import Decimal
from typing import TypeVar
from zoneinfo import ZoneInfo

from slack_bolt.async_app import AsyncApp

from domain.errors import DomainError
from domain.items import DisputeOutcome, Item
from domain.permissions import Person
from domain.step_up import StepUp, StepUpMismatch, check_typed_amount, check_typed_write_off
from domain.usecases.transaction import Outcome
from handlers.blocks.mrkdwn import error_text
from handlers.commands import describe_approval, describe_note, describe_resolution
from handlers.context import Ctx, Deps, guarded, reply_to
from handlers.forms import (
    DisputeForm,
    EscalateForm,
    FormErrors,
    ModalMetadata,
    NoteForm,
    RejectForm,
    parse_dispute,
    parse_escalate,
    parse_metadata,
    parse_note,
    parse_reject,
    parse_resolve,
    parse_step_up,
)
from handlers.ids import Field, Modal

F = TypeVar("F")


def register(app: AsyncApp, deps: Deps) -> None:
    """Adds the modal submission listeners."""
    app.view(Modal.REJECT.value)(guarded(deps, on_reject))
    app.view(Modal.ESCALATE.value)(guarded(deps, on_escalate))
    app.view(Modal.DISPUTE.value)(guarded(deps, on_dispute))
    app.view(Modal.NOTE.value)(guarded(deps, on_note))
    app.view(Modal.RESOLVE.value)(guarded(deps, on_resolve))
    app.view(Modal.STEP_UP.value)(guarded(deps, on_step_up))


async def _current(ctx: Ctx, metadata: ModalMetadata, first_field: Field) -> Item | None:
    """The item if it is still the version the form was opened on; else acks with an error.

    Read as the submitter sees it: a forged submission for an item they may not see is
    told "you cannot see R-5", never the item's new state.
    """
    item = await ctx.deps.usecases.queries.item(metadata.item_id, viewer=Person(ctx.user))
    if item.version != metadata.version:
        await ctx.ack(
            response_action="errors",
            errors={
                first_field.value: (
                    f"{item.human_id} changed since you opened this form (it is now "
                    f"{item.state.label}). Nothing was changed: close the "
                    "form and look at the item again."
                )
            },
        )
        return None
    return item


async def _item_form(
    ctx: Ctx, first_field: Field, parse: Callable[[Item], F | FormErrors]
) -> tuple[Item, F] | None:
    """The item a form was opened on, and the form read against it (its currency).

    For forms whose inputs mean something only for the item: the item is loaded first
    (:func:`_current`), then ``parse`` reads the form. None when the ack has already
    carried the problem (the item changed, or the form's errors).
    """
    metadata = parse_metadata(str(ctx.body["view"].get("private_metadata", "")))
    item = await _current(ctx, metadata, first_field)
    if item is None:
        return None
    form = parse(item)
    if isinstance(form, FormErrors):
        await _errors(ctx, form)
        return None
    return item, form


async def _errors(ctx: Ctx, errors: FormErrors) -> None:
    await ctx.ack(response_action="errors", errors=dict(errors))


async def _tell(ctx: Ctx, metadata: ModalMetadata, text: str) -> None:
    await reply_to(ctx.client, {}, ctx.user, text, channel=metadata.channel)


async def _ack_and_decide(
    ctx: Ctx, metadata: ModalMetadata, decision: Callable[[], Awaitable[str]]
) -> None:
    """Acks the valid form, then runs the service call; refusals reach the user privately."""
    await ctx.ack()
    try:
        text = await decision()
    except DomainError as exc:
        await _tell(ctx, metadata, f":no_entry: {error_text(exc)}")
        return
    await _tell(ctx, metadata, text)


async def _reason_form(
    ctx: Ctx,
    form: RejectForm | EscalateForm | FormErrors,
    decision: Callable[..., Awaitable[Outcome]],
    done: str,
) -> None:
    """A form whose one input is a Reason: validate in the ack, then one service call."""
    if isinstance(form, FormErrors):
        await _errors(ctx, form)
        return
    if await _current(ctx, form.metadata, Field.REASON) is None:
        return

    async def decide() -> str:
        outcome = await decision(
            item_id=form.metadata.item_id,
            actor=ctx.user,
            reason=form.reason,
            now=ctx.deps.clock.now(),
            expected_version=form.metadata.version,
        )
        return done.format(ref=outcome.item.human_id)

    await _ack_and_decide(ctx, form.metadata, decide)


async def on_reject(ctx: Ctx) -> None:
    """The reject form."""
    await _reason_form(
        ctx,
        parse_reject(ctx.body["view"]),
        ctx.deps.usecases.decisions.reject,
        ":x: {ref} rejected.",
    )


async def on_escalate(ctx: Ctx) -> None:
    """The escalate form."""
    await _reason_form(
        ctx,
        parse_escalate(ctx.body["view"]),
        ctx.deps.usecases.decisions.escalate,
        ":arrow_double_up: {ref} escalated to its leads.",
    )


async def on_dispute(ctx: Ctx) -> None:
    """The dispute form (the amount is checked against the item's currency)."""

    def parse(item: Item) -> DisputeForm | FormErrors:
        today = ctx.deps.clock.now().astimezone(_tz(ctx)).date()
        return parse_dispute(ctx.body["view"], currency=item.facts.currency, today=today)

    submitted = await _item_form(ctx, Field.CATEGORY, parse)
    if submitted is None:
        return
    _, form = submitted

    async def decide() -> str:
        outcome = await ctx.deps.usecases.disputes.open_dispute(
            item_id=form.metadata.item_id,
            actor=ctx.user,
            now=ctx.deps.clock.now(),
            category=form.category,
            description=form.description,
            counterparty_contact=form.counterparty_contact,
            expected_resolution=form.expected_resolution,
            evidence_links=form.evidence_links,
            proposed_adjustment=form.proposed_adjustment,
            expected_version=form.metadata.version,
        )
        return f":mag: Dispute opened on {outcome.item.human_id}."

    await _ack_and_decide(ctx, form.metadata, decide)


async def on_note(ctx: Ctx) -> None:
    """The dispute note form."""
    form = parse_note(ctx.body["view"])
    if isinstance(form, FormErrors):
        await _errors(ctx, form)
        return
    assert isinstance(form, NoteForm)
    if await _current(ctx, form.metadata, Field.NOTE) is None:
        return

    async def decide() -> str:
        outcome = await ctx.deps.usecases.disputes.note_dispute(
            item_id=form.metadata.item_id,
            actor=ctx.user,
            now=ctx.deps.clock.now(),
            text=form.text,
            expected_version=form.metadata.version,
        )
        return describe_note(outcome.item)

    await _ack_and_decide(ctx, form.metadata, decide)


async def on_resolve(ctx: Ctx) -> None:
    """The resolve form (the amount is checked against the item's currency)."""
    submitted = await _item_form(
        ctx,
        Field.OUTCOME,
        lambda item: parse_resolve(ctx.body["view"], currency=item.facts.currency),
    )
    if submitted is None:
        return
    item, form = submitted
    step_up = None
    if form.outcome is DisputeOutcome.WRITTEN_OFF:
        needed = await ctx.deps.usecases.disputes.write_off_step_up(
            item_id=item.id or 0, actor=ctx.user, amount=form.amount
        )
        if needed is not None:
            problem = _write_off_step_up_problem(item, needed, form.step_up)
            if problem is not None:
                # Under the step-up field; under the amount if the form has none (it
                # was opened before the policy asked for a step-up).
                fields = {b.get("block_id") for b in ctx.body["view"].get("blocks", [])}
                where = Field.STEP_UP if Field.STEP_UP.value in fields else Field.AMOUNT
                await _errors(ctx, FormErrors({where.value: problem}))
                return
            step_up = StepUp(typed=form.step_up or "")

    async def decide() -> str:
        outcome = await ctx.deps.usecases.disputes.resolve_dispute(
            item_id=form.metadata.item_id,
            actor=ctx.user,
            now=ctx.deps.clock.now(),
            outcome=form.outcome,
            note=form.note,
            amount=form.amount,
            expected_version=form.metadata.version,
            step_up=step_up,
        )
        return describe_resolution(
            outcome.item, form.outcome, noop=outcome.noop, policy=ctx.deps.policy().policy
        )

    await _ack_and_decide(ctx, form.metadata, decide)


def _write_off_step_up_problem(item: Item, needed: Decimal, typed: str | None) -> str | None:
    """What is wrong with the step-up of a write-off of ``needed``, or None."""
    if typed is None:
        return (
            f"Writing off {needed} {item.facts.currency} needs the amount retyped "
            "(step-up): type it here."
        )
    try:
        check_typed_write_off(item, typed, needed)
    except StepUpMismatch as exc:
        return error_text(exc)
    return None


async def on_step_up(ctx: Ctx) -> None:
    """The step-up form: a mistyped amount is an error under the field, in the ack (the
    form stays open); a match approves, with the proof in the approval's audit record."""
    submitted = await _item_form(
        ctx,
        Field.AMOUNT,
        lambda item: parse_step_up(ctx.body["view"], currency=item.facts.currency),
    )
    if submitted is None:
        return
    item, form = submitted
    try:
        check_typed_amount(item, form.typed)
    except StepUpMismatch as exc:
        await _errors(ctx, FormErrors({Field.AMOUNT.value: error_text(exc)}))
        return

    async def decide() -> str:
        outcome = await ctx.deps.usecases.decisions.approve(
            item_id=form.metadata.item_id,
            actor=ctx.user,
            now=ctx.deps.clock.now(),
            note=form.note,
            expected_version=form.metadata.version,
            step_up=StepUp(typed=form.typed),
        )
        return describe_approval(outcome.item, noop=outcome.noop, entry=outcome.journal_entry)

    await _ack_and_decide(ctx, form.metadata, decide)


def _tz(ctx: Ctx) -> ZoneInfo:
    """The policy's timezone: "today" for the expected-resolution date is the desk's day."""
    return ZoneInfo(ctx.deps.policy().policy.digest.timezone)

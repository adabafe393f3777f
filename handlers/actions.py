"""Button clicks on cards, queue lists and the App Home: ack, parse, one service call."""

from __future__ import annotations

from slack_bolt.async_app import AsyncApp

from domain.errors import InvalidCommand
from domain.items import DisputeState
from handlers.command_line import QueueScope
from handlers.commands import (
    ItemForm,
    approve_or_step_up,
    open_item_modal,
    send_details,
    send_queue_page,
)
from handlers.context import Ctx, Deps, guarded
from handlers.forms import parse_home_page, parse_queue_cursor
from handlers.home import publish_home
from handlers.ids import ItemAction, NavAction, item_action_pattern, parse_item_value
from handlers.payloads import BlockAction


def register(app: AsyncApp, deps: Deps) -> None:
    """Adds every button listener."""
    item_handlers = {
        ItemAction.APPROVE: _approve,
        ItemAction.REJECT: _reject,
        ItemAction.ESCALATE: _escalate,
        ItemAction.DISPUTE: _dispute,
        ItemAction.CLAIM: _claim,
        ItemAction.RELEASE: _release,
        ItemAction.DETAILS: _details,
        ItemAction.AWAIT_COUNTERPARTY: _await_counterparty,
        ItemAction.RESUME: _resume,
        ItemAction.NOTE: _note,
        ItemAction.RESOLVE: _resolve,
    }
    for action, handler in item_handlers.items():
        app.action(item_action_pattern(action))(guarded(deps, handler))
    app.action(NavAction.QUEUE_PAGE.value)(guarded(deps, _queue_page, durable=False))
    app.action(NavAction.HOME_PAGE.value)(guarded(deps, _home_page, durable=False))
    app.action(NavAction.HOME_REFRESH.value)(guarded(deps, _home_page, durable=False))


def _target(action: BlockAction) -> tuple[int, int]:
    parsed = parse_item_value(action.action.value)
    if parsed is None:
        raise InvalidCommand("that button is not from recon-bot; refresh the card and try again")
    return parsed


async def _approve(ctx: Ctx) -> None:
    await ctx.ack()
    action = BlockAction.model_validate(ctx.body)
    item_id, version = _target(action)
    await approve_or_step_up(
        ctx,
        item_id=item_id,
        trigger_id=action.trigger_id,
        expected_version=version,
        channel=None if action.in_view else action.channel_id,
        ts=None if action.in_view else action.message_ts,
    )


async def _modal(ctx: Ctx, form: ItemForm) -> None:
    await ctx.ack()
    action = BlockAction.model_validate(ctx.body)
    item_id, version = _target(action)
    await open_item_modal(
        ctx,
        item_id=item_id,
        form=form,
        trigger_id=action.trigger_id,
        expected_version=version,
        channel=None if action.in_view else action.channel_id,
        ts=None if action.in_view else action.message_ts,
    )


async def _reject(ctx: Ctx) -> None:
    await _modal(ctx, ItemForm.REJECT)


async def _escalate(ctx: Ctx) -> None:
    await _modal(ctx, ItemForm.ESCALATE)


async def _dispute(ctx: Ctx) -> None:
    await _modal(ctx, ItemForm.DISPUTE)


async def _note(ctx: Ctx) -> None:
    await _modal(ctx, ItemForm.NOTE)


async def _resolve(ctx: Ctx) -> None:
    await _modal(ctx, ItemForm.RESOLVE)


async def _dispute_state(ctx: Ctx, state: DisputeState) -> None:
    await ctx.ack()
    action = BlockAction.model_validate(ctx.body)
    item_id, version = _target(action)
    outcome = await ctx.deps.usecases.disputes.update_dispute(
        item_id=item_id,
        actor=action.user.id,
        now=ctx.deps.clock.now(),
        state=state,
        expected_version=version,
    )
    ref = outcome.item.human_id
    if state is DisputeState.AWAITING_COUNTERPARTY:
        text = (
            f":double_vertical_bar: The dispute on {ref} awaits the counterparty; "
            "its SLA clock is paused."
        )
    else:
        text = f":arrow_forward: The dispute on {ref} is open again; its SLA clock runs."
    await ctx.reply(("Nothing changed: " if outcome.noop else "") + text)


async def _await_counterparty(ctx: Ctx) -> None:
    await _dispute_state(ctx, DisputeState.AWAITING_COUNTERPARTY)


async def _resume(ctx: Ctx) -> None:
    await _dispute_state(ctx, DisputeState.OPEN)


async def _claim(ctx: Ctx) -> None:
    await ctx.ack()
    action = BlockAction.model_validate(ctx.body)
    item_id, version = _target(action)
    outcome = await ctx.deps.usecases.claims.claim(
        item_id=item_id, actor=action.user.id, now=ctx.deps.clock.now(), expected_version=version
    )
    until = outcome.item.claim_expires_at
    when = f" until <!date^{int(until.timestamp())}^{{time}}|{until:%H:%M} UTC>" if until else ""
    prefix = "You already hold" if outcome.noop else "You claimed"
    await ctx.reply(f"{prefix} {outcome.item.human_id}{when}.")


async def _release(ctx: Ctx) -> None:
    await ctx.ack()
    action = BlockAction.model_validate(ctx.body)
    item_id, _ = _target(action)
    outcome = await ctx.deps.usecases.claims.release(
        item_id=item_id, actor=action.user.id, now=ctx.deps.clock.now()
    )
    await ctx.reply(f"{outcome.item.human_id} is back in the queue.")


async def _details(ctx: Ctx) -> None:
    await ctx.ack()
    action = BlockAction.model_validate(ctx.body)
    item_id, _ = _target(action)
    await send_details(ctx, item_id)


async def _queue_page(ctx: Ctx) -> None:
    await ctx.ack()
    action = BlockAction.model_validate(ctx.body)
    cursor = parse_queue_cursor(action.action.value)
    scope = QueueScope.read(cursor.scope)
    await send_queue_page(ctx, user=action.user.id, scope=scope, offset=cursor.offset)


async def _home_page(ctx: Ctx) -> None:
    await ctx.ack()
    action = BlockAction.model_validate(ctx.body)
    page = parse_home_page(action.action.value) if action.action.value else 0
    await publish_home(ctx.client, ctx.deps, user=action.user.id, page=page)

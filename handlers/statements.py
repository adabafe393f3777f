"""Bank statements in Slack (Stage 1): the card's buttons, the entries modal's paging, the
edit and reject forms, and ``/recon statements`` / ``/recon statement ID``.

Thin listeners like the items' (STYLE #7): ack first, parse, one use case call, render.
Every refusal (a chain that is off, maker-checker, a stale card, someone of another team)
comes from the use case and reaches the user privately through ``guarded``.
"""

from __future__ import annotations

from slack_bolt.async_app import AsyncApp

from domain.errors import DomainError, InvalidCommand, StaleItem
from domain.permissions import Person
from domain.statements.records import EntriesPage, Stage1Status, Statement
from domain.statements.stage1 import AddLine, Correct, Edit, RemoveLine
from handlers.blocks.mrkdwn import error_text
from handlers.blocks.statements import (
    ENTRIES_PAGE_SIZE,
    LIST_PAGE_SIZE,
    chain_text,
    edit_modal,
    entries_modal,
    statement_card,
    statement_list,
    statement_reject_modal,
)
from handlers.context import Ctx, Deps, guarded, reply_to
from handlers.ids import (
    ENTRIES_PAGE_PATTERN,
    LIST_PAGE_PATTERN,
    StatementButton,
    StatementField,
    StatementModal,
    statement_action_pattern,
)
from handlers.payloads import BlockAction
from handlers.statement_forms import (
    EditForm,
    FormErrors,
    parse_edit,
    parse_entries_page,
    parse_form_metadata,
    parse_list_offset,
    parse_statement_reject,
    parse_statement_value,
    requested_line,
)


def register(app: AsyncApp, deps: Deps) -> None:
    """Adds the statement buttons and forms."""
    buttons = {
        StatementButton.APPROVE: _approve,
        StatementButton.EDIT: _edit,
        StatementButton.REJECT: _reject,
        StatementButton.VIEW_ENTRIES: _entries,
        StatementButton.SHOW: _show,
    }
    for action, handler in buttons.items():
        app.action(statement_action_pattern(action))(guarded(deps, handler))
    app.action(ENTRIES_PAGE_PATTERN)(guarded(deps, _entries_page, durable=False))
    app.action(LIST_PAGE_PATTERN)(guarded(deps, _list_page, durable=False))
    app.view(StatementModal.EDIT.value)(guarded(deps, on_edit))
    app.view(StatementModal.REJECT.value)(guarded(deps, on_reject))


def _target(action: BlockAction) -> tuple[int, int]:
    parsed = parse_statement_value(action.action.value)
    if parsed is None:
        raise InvalidCommand("that button is not from recon-bot; refresh the card and try again")
    return parsed


async def _seen(ctx: Ctx, statement_id: int, *, with_lines: bool = True) -> Statement:
    """The statement as the acting user may see it (``you cannot see S-5`` otherwise)."""
    return await ctx.deps.usecases.statements.get(
        statement_id, viewer=Person(ctx.user), with_lines=with_lines
    )


def describe_statement_approval(statement: Statement) -> str:
    """What the approver is told."""
    edited = " (edited, then approved)" if statement.edits else ""
    return f":white_check_mark: {statement.human_id} approved{edited}; its lines go to matching."


async def _approve(ctx: Ctx) -> None:
    await ctx.ack()
    action = BlockAction.model_validate(ctx.body)
    statement_id, version = _target(action)
    after = await ctx.deps.usecases.statements.approve(
        statement_id=statement_id,
        actor=action.user.id,
        now=ctx.deps.clock.now(),
        expected_version=version,
    )
    await ctx.reply(describe_statement_approval(after))


def _stale(statement: Statement, version: int) -> None:
    if statement.version != version:
        raise StaleItem(
            f"{statement.human_id} changed since you saw it (it is now "
            f"{statement.stage1_status.value}); look at its card again"
        )


async def _edit(ctx: Ctx) -> None:
    await ctx.ack()
    action = BlockAction.model_validate(ctx.body)
    statement_id, version = _target(action)
    statement = await _seen(ctx, statement_id, with_lines=False)
    _stale(statement, version)
    if statement.stage1_status is not Stage1Status.PENDING_REVIEW:
        raise InvalidCommand(f"{statement.human_id} is {statement.stage1_status.value}")
    channel = None if action.in_view else action.channel_id
    await ctx.client.views_open(
        trigger_id=action.trigger_id, view=edit_modal(statement, channel=channel)
    )


async def _reject(ctx: Ctx) -> None:
    await ctx.ack()
    action = BlockAction.model_validate(ctx.body)
    statement_id, version = _target(action)
    statement = await _seen(ctx, statement_id, with_lines=False)
    _stale(statement, version)
    channel = None if action.in_view else action.channel_id
    await ctx.client.views_open(
        trigger_id=action.trigger_id, view=statement_reject_modal(statement, channel=channel)
    )


async def _entries(ctx: Ctx) -> None:
    await ctx.ack()
    action = BlockAction.model_validate(ctx.body)
    statement_id, _ = _target(action)
    page = await _entries_of(ctx, statement_id, 0)
    await ctx.client.views_open(trigger_id=action.trigger_id, view=entries_modal(page))


async def _entries_page(ctx: Ctx) -> None:
    await ctx.ack()
    action = BlockAction.model_validate(ctx.body)
    statement_id, number = parse_entries_page(action.action.value)
    page = await _entries_of(ctx, statement_id, number)
    await ctx.client.views_update(view_id=action.container.view_id or "", view=entries_modal(page))


async def _entries_of(ctx: Ctx, statement_id: int, page: int) -> EntriesPage:
    """One page of entries, read page by page (never the whole statement)."""
    return await ctx.deps.usecases.statements.entries(
        statement_id, viewer=Person(ctx.user), page=page, page_size=ENTRIES_PAGE_SIZE
    )


async def _show(ctx: Ctx) -> None:
    await ctx.ack()
    action = BlockAction.model_validate(ctx.body)
    statement_id, _ = _target(action)
    await send_statement(ctx, statement_id)


async def _list_page(ctx: Ctx) -> None:
    await ctx.ack()
    action = BlockAction.model_validate(ctx.body)
    offset = parse_list_offset(action.action.value)
    await send_statements(ctx, offset=offset)


# --- forms ------------------------------------------------------------------------------------


async def _tell(ctx: Ctx, channel: str | None, text: str) -> None:
    """Tells the submitter privately: ephemeral in the card's channel, else a DM."""
    await reply_to(ctx.client, {}, ctx.user, text, channel=channel, http=ctx.deps.http)


async def on_edit(ctx: Ctx) -> None:
    """The edit form: checked against the statement in the ack (errors under the field),
    then the use case applies it and re-validates the chain."""
    view = ctx.body["view"]
    metadata = parse_form_metadata(str(view.get("private_metadata", "")))
    number = requested_line(view)
    statement, line = await ctx.deps.usecases.statements.line(
        metadata.statement_id, number or 0, viewer=Person(ctx.user)
    )
    if statement.version != metadata.version:
        await ctx.ack(
            response_action="errors",
            errors={
                StatementField.OPERATION.value: (
                    f"{statement.human_id} changed since you opened this form (it is now "
                    f"{statement.stage1_status.value}, balance chain {chain_text(statement)}). "
                    "Nothing was changed: close the form and look at its card again."
                )
            },
        )
        return
    form = parse_edit(view, statement=statement, line=line)
    if isinstance(form, FormErrors):
        await ctx.ack(response_action="errors", errors=dict(form))
        return
    await ctx.ack()
    try:
        after = await ctx.deps.usecases.statements.edit(
            statement_id=metadata.statement_id,
            change=form.change,
            actor=ctx.user,
            now=ctx.deps.clock.now(),
            expected_version=metadata.version,
        )
    except DomainError as exc:
        await _tell(ctx, metadata.channel, f":no_entry: {error_text(exc)}")
        return
    await _tell(
        ctx,
        metadata.channel,
        f":pencil2: {after.human_id} edited ({_what(form)}); {chain_text(after)}.",
    )


def _what(form: EditForm) -> str:
    change: Edit = form.change
    if isinstance(change, Correct):
        return f"entry #{change.line}, {change.field.replace('_', ' ')}"
    if isinstance(change, AddLine):
        return "a missing entry added"
    assert isinstance(change, RemoveLine)
    return f"entry #{change.line} removed"


async def on_reject(ctx: Ctx) -> None:
    """The reject form: a reason is required (checked in the ack)."""
    form = parse_statement_reject(ctx.body["view"])
    if isinstance(form, FormErrors):
        await ctx.ack(response_action="errors", errors=dict(form))
        return
    await ctx.ack()
    try:
        after = await ctx.deps.usecases.statements.reject(
            statement_id=form.metadata.statement_id,
            actor=ctx.user,
            reason=form.reason,
            now=ctx.deps.clock.now(),
            expected_version=form.metadata.version,
        )
    except DomainError as exc:
        await _tell(ctx, form.metadata.channel, f":no_entry: {error_text(exc)}")
        return
    await _tell(
        ctx,
        form.metadata.channel,
        f":x: {after.human_id} rejected; a re-parse or a re-import brings it back to review.",
    )


# --- commands ---------------------------------------------------------------------------------


async def send_statement(ctx: Ctx, statement_id: int) -> None:
    """``/recon statement ID``: the card, privately (to someone who may see it)."""
    statement, totals = await ctx.deps.usecases.statements.card(
        statement_id, viewer=Person(ctx.user)
    )
    msg = statement_card(
        statement, policy=ctx.deps.policy().policy, now=ctx.deps.clock.now(), totals=totals
    )
    await ctx.reply(msg.text, msg.blocks)


async def send_statements(ctx: Ctx, *, offset: int = 0) -> None:
    """``/recon statements``: one page of those waiting for review in the user's teams."""
    rows, total = await ctx.deps.usecases.statements.waiting(
        viewer=Person(ctx.user), limit=LIST_PAGE_SIZE, offset=offset
    )
    msg = statement_list(rows, offset=offset, total=total)
    await ctx.reply(msg.text, msg.blocks)

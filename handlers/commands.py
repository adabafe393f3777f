"""``/recon``: parse, ack, one service call, render (STYLE #7)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date
from enum import StrEnum
from typing import assert_never

from slack_bolt.async_app import AsyncApp
from slack_sdk.errors import SlackApiError
from slack_sdk.models.views import View

from domain.delegation import away_until
from domain.errors import InvalidCommand, StaleItem
from domain.items import DisputeOutcome, Item, JournalEntry, ReviewState, dispute_id
from domain.permissions import Person
from domain.policy import Policy
from domain.states import Action
from domain.usecases.delegations import Handover
from domain.usecases.queries import OPEN_STATES
from handlers import blocks
from handlers.blocks.buttons import item_id_of
from handlers.blocks.items import write_off_progress
from handlers.blocks.queue import QUEUE_PAGE_SIZE
from handlers.command_line import Command, QueueScope, Scope, Usage, Verb, parse
from handlers.context import Ctx, Deps, guarded
from handlers.ids import COMMAND
from handlers.matches import accept_all, send_matches
from handlers.payloads import SlashCommand
from handlers.statements import send_statement, send_statements


def register(app: AsyncApp, deps: Deps) -> None:
    """Adds the ``/recon`` listener."""
    app.command(COMMAND)(guarded(deps, on_recon))


async def on_recon(ctx: Ctx) -> None:
    """Every ``/recon`` subcommand. Pure answers travel in the ack; the rest follow it."""
    cmd = SlashCommand.model_validate(ctx.body)
    parsed = parse(cmd.text)
    if isinstance(parsed, Usage):
        msg = blocks.usage_error(parsed.problem)
        await ctx.ack(text=msg.text, blocks=msg.blocks)
        return
    if parsed.verb is Verb.HELP:
        msg = blocks.help_message()
        await ctx.ack(text=msg.text, blocks=msg.blocks)
        return
    await ctx.ack()
    await _HANDLERS[parsed.verb](ctx, cmd, parsed)


async def _queue(ctx: Ctx, cmd: SlashCommand, parsed: Command) -> None:
    scope = QueueScope(scope=parsed.scope, team=parsed.team)
    await send_queue_page(ctx, user=cmd.user_id, scope=scope, offset=0)


async def send_queue_page(ctx: Ctx, *, user: str, scope: QueueScope, offset: int) -> None:
    """Renders one page of a queue scope (mine, one team's, all of the user's) to the user."""
    deps = ctx.deps
    teams: Sequence[str] | None
    assignee: str | None
    match scope.scope:
        case Scope.MINE:
            title, teams, assignee = "My items", None, user
        case Scope.TEAM:
            team = scope.team or ""
            title, teams, assignee = f"Open in {team}", [team], None
        case Scope.ALL:
            title, teams, assignee = "Open in my teams", None, None
        case _:
            assert_never(scope.scope)
    now = deps.clock.now()
    items, total = await deps.usecases.queries.queue_page(
        viewer=Person(user),
        states_=OPEN_STATES,
        teams=teams,
        assignee=assignee,
        limit=QUEUE_PAGE_SIZE,
        offset=offset,
    )
    msg = blocks.queue_page(
        items,
        title=title,
        scope=scope.value,
        offset=offset,
        page_size=QUEUE_PAGE_SIZE,
        total=total,
        policy=deps.policy().policy,
        now=now,
    )
    await ctx.reply(msg.text, msg.blocks)


async def _show(ctx: Ctx, cmd: SlashCommand, parsed: Command) -> None:
    assert parsed.item_id is not None
    await send_details(ctx, parsed.item_id)


async def send_details(ctx: Ctx, item_id: int) -> None:
    """The item's details, privately (to someone who may see it)."""
    deps = ctx.deps
    item = await deps.usecases.queries.item(item_id, viewer=Person(ctx.user))
    history = await deps.history(item_id)
    msg = blocks.item_details(
        item, policy=deps.policy().policy, now=deps.clock.now(), history=history
    )
    await ctx.reply(msg.text, msg.blocks)


async def _claim(ctx: Ctx, cmd: SlashCommand, parsed: Command) -> None:
    outcome = await ctx.deps.usecases.claims.claim_next(actor=cmd.user_id, now=ctx.deps.clock.now())
    item = outcome.item
    msg = blocks.item_card(item, policy=ctx.deps.policy().policy, now=ctx.deps.clock.now())
    await ctx.reply(f"You claimed {item.human_id}. {msg.text}", msg.blocks)


async def _approve(ctx: Ctx, cmd: SlashCommand, parsed: Command) -> None:
    assert parsed.item_id is not None
    await approve_or_step_up(
        ctx, item_id=parsed.item_id, trigger_id=cmd.trigger_id, note=parsed.text
    )


async def approve_or_step_up(
    ctx: Ctx,
    *,
    item_id: int,
    trigger_id: str,
    note: str | None = None,
    expected_version: int | None = None,
    channel: str | None = None,
    ts: str | None = None,
) -> None:
    """Approves the item, or opens the step-up form when its approval needs the amount
    retyped (the approval then happens when the form is submitted)."""
    deps = ctx.deps
    decisions = deps.usecases.decisions
    large = await decisions.step_up_needed(
        item_id=item_id, actor=ctx.user, now=deps.clock.now(), expected_version=expected_version
    )
    if large is not None:
        view = blocks.step_up_modal(
            large, policy=deps.policy().policy, note=note, channel=channel, ts=ts
        )
        await _open(ctx, trigger_id, view)
        return
    outcome = await decisions.approve(
        item_id=item_id,
        actor=ctx.user,
        now=deps.clock.now(),
        note=note,
        expected_version=expected_version,
    )
    await ctx.reply(describe_approval(outcome.item, noop=outcome.noop, entry=outcome.journal_entry))


def describe_approval(item: Item, *, noop: bool, entry: JournalEntry | None = None) -> str:
    """One line saying what an approval did (its entry goes to the ledger; the card shows
    the ledger's reference once the ledger has accepted it)."""
    if noop:
        return f"You already approved {item.human_id}; nothing more to do."
    if item.state is ReviewState.AWAITING_SECOND_APPROVAL:
        return (
            f":hourglass: Your approval of {item.human_id} is recorded "
            f"({len(item.approvals)} of {item.required_approvals}); "
            "waiting for a second approver."
        )
    if item.state is ReviewState.POSTED:
        return f":white_check_mark: {item.human_id} approved and posted as {item.ledger_ref}."
    if entry is not None and entry.hold is not None:
        return (
            f":white_check_mark: {item.human_id} approved. Its journal entry {entry.ledger_ref} "
            f"waits ({entry.hold}) and is not sent to the ledger yet."
        )
    ref = f" {entry.ledger_ref}" if entry is not None else ""
    return (
        f":white_check_mark: {item.human_id} approved. Its journal entry{ref} is on its way "
        "to the ledger; the card shows the ledger's reference once it is posted."
    )


async def _reject(ctx: Ctx, cmd: SlashCommand, parsed: Command) -> None:
    assert parsed.item_id is not None and parsed.text
    outcome = await ctx.deps.usecases.decisions.reject(
        item_id=parsed.item_id, actor=cmd.user_id, reason=parsed.text, now=ctx.deps.clock.now()
    )
    if outcome.noop:
        await ctx.reply(f"You already rejected {outcome.item.human_id}.")
    else:
        await ctx.reply(f":x: {outcome.item.human_id} rejected.")


async def _escalate(ctx: Ctx, cmd: SlashCommand, parsed: Command) -> None:
    assert parsed.item_id is not None
    outcome = await ctx.deps.usecases.decisions.escalate(
        item_id=parsed.item_id, actor=cmd.user_id, reason=parsed.text, now=ctx.deps.clock.now()
    )
    verb = "was already" if outcome.noop else "is now"
    await ctx.reply(f":arrow_double_up: {outcome.item.human_id} {verb} escalated to its leads.")


async def _dispute(ctx: Ctx, cmd: SlashCommand, parsed: Command) -> None:
    assert parsed.item_id is not None
    await open_item_modal(
        ctx, item_id=parsed.item_id, form=ItemForm.DISPUTE, trigger_id=cmd.trigger_id
    )


class ItemForm(StrEnum):
    """The modal forms opened on an item, each for one action."""

    REJECT = "reject"
    ESCALATE = "escalate"
    DISPUTE = "dispute"
    NOTE = "note"
    RESOLVE = "resolve"

    @property
    def action(self) -> Action:
        """The action the form leads to (checked before the form opens)."""
        match self:
            case ItemForm.REJECT:
                return Action.REJECT
            case ItemForm.ESCALATE:
                return Action.ESCALATE
            case ItemForm.DISPUTE:
                return Action.DISPUTE
            case ItemForm.NOTE:
                return Action.NOTE_DISPUTE
            case ItemForm.RESOLVE:
                return Action.RESOLVE_DISPUTE
            case _:
                assert_never(self)


async def open_item_modal(
    ctx: Ctx,
    *,
    item_id: int,
    form: ItemForm,
    trigger_id: str,
    expected_version: int | None = None,
    channel: str | None = None,
    ts: str | None = None,
) -> None:
    """Opens an item's form (reject, escalate, dispute, note, resolve) for a user who may
    act on it.

    A click on a stale card (``expected_version`` older than the item) opens nothing: the
    user is told the item changed, so nobody decides on data they have not seen.
    """
    deps = ctx.deps
    item = await deps.usecases.decisions.check_may_act(
        item_id=item_id, actor=ctx.user, action=form.action, now=deps.clock.now()
    )
    if expected_version is not None and item.version != expected_version:
        raise StaleItem(
            f"{item.human_id} changed since this card was drawn (it is now "
            f"{item.state.label}); look at the updated card and try again"
        )
    policy = deps.policy().policy
    match form:
        case ItemForm.REJECT:
            view = blocks.reject_modal(item, channel=channel, ts=ts)
        case ItemForm.ESCALATE:
            view = blocks.escalate_modal(item, channel=channel, ts=ts)
        case ItemForm.DISPUTE:
            view = blocks.dispute_modal(item, policy=policy, channel=channel, ts=ts)
        case ItemForm.NOTE:
            view = blocks.note_modal(item, policy=policy, channel=channel, ts=ts)
        case ItemForm.RESOLVE:
            view = blocks.resolve_modal(item, policy=policy, channel=channel, ts=ts)
        case _:
            assert_never(form)
    await _open(ctx, trigger_id, view)


async def _open(ctx: Ctx, trigger_id: str, view: View) -> None:
    """Opens a modal; a redelivered click's second open is quietly dropped."""
    try:
        await ctx.client.views_open(trigger_id=trigger_id, view=view)
    except SlackApiError as exc:
        error = exc.response.get("error")
        if error == "exchanged_trigger_id":
            # A redelivered click: its first delivery already opened this form.
            return
        if error == "expired_trigger_id":
            raise InvalidCommand("that took too long to open; click the button again") from None
        raise


async def _resolve(ctx: Ctx, cmd: SlashCommand, parsed: Command) -> None:
    assert parsed.item_id is not None
    await open_item_modal(
        ctx, item_id=parsed.item_id, form=ItemForm.RESOLVE, trigger_id=cmd.trigger_id
    )


async def _note(ctx: Ctx, cmd: SlashCommand, parsed: Command) -> None:
    assert parsed.item_id is not None and parsed.text
    outcome = await ctx.deps.usecases.disputes.note_dispute(
        item_id=parsed.item_id, actor=cmd.user_id, text=parsed.text, now=ctx.deps.clock.now()
    )
    await ctx.reply(describe_note(outcome.item))


def describe_note(item: Item) -> str:
    """One line saying a note was added to the item's dispute."""
    return f":memo: Note added to the dispute on {item.human_id}."


def describe_resolution(item: Item, outcome: DisputeOutcome, *, noop: bool, policy: Policy) -> str:
    """One line saying what a resolution did: closed, or a write-off's sign-off progress."""
    dispute = item.dispute
    if noop:
        if item.state is ReviewState.DISPUTED:
            return (
                f"You already signed off the write-off of {item.human_id}; it needs a "
                "different person for the next sign-off."
            )
        return f"You already resolved the dispute on {item.human_id}; nothing more to do."
    progress = write_off_progress(item, policy)
    if progress is not None:
        return f":hourglass: Your sign-off is recorded. {progress}"
    ident = dispute_id(item_id_of(item), dispute.number) if dispute else item.human_id
    done = f":white_check_mark: Dispute {ident} resolved ({outcome.label})"
    if item.state is ReviewState.POSTED:
        return f"{done}; {item.human_id} is posted as {item.ledger_ref}."
    if item.state is ReviewState.APPROVED:
        return f"{done}; {item.human_id} is approved."
    return f"{done}; {item.human_id} is back in review."


async def _assign(ctx: Ctx, cmd: SlashCommand, parsed: Command) -> None:
    assert parsed.item_id is not None and parsed.user
    outcome = await ctx.deps.usecases.claims.assign(
        item_id=parsed.item_id, actor=cmd.user_id, assignee=parsed.user, now=ctx.deps.clock.now()
    )
    holder = outcome.item.assignee or parsed.user
    away = (
        "" if holder == parsed.user else f" (<@{parsed.user}> is away; it went to their delegate)"
    )
    await ctx.reply(f"{outcome.item.human_id} is assigned to <@{holder}>{away}.")


async def _away(ctx: Ctx, cmd: SlashCommand, parsed: Command) -> None:
    assert parsed.until is not None and parsed.user
    now = ctx.deps.clock.now()
    handover = await ctx.deps.usecases.delegations.away(
        actor=cmd.user_id,
        delegate=parsed.user,
        until=away_until(parsed.until, now=now, policy=ctx.deps.policy().policy),
        note=parsed.text,
        now=now,
    )
    await ctx.reply(describe_away(handover, parsed.until))


def describe_away(handover: Handover, until: date) -> str:
    """The away confirmation: to whom work goes and what moved."""
    parts = [
        f"You are away until {until.isoformat()}: your work goes to "
        f"<@{handover.delegation.delegate}>."
    ]
    if handover.handed:
        parts.append(f"Handed over: {', '.join(i.human_id for i in handover.handed)}.")
    if handover.returned:
        parts.append(
            "Back in the queue (your delegate may not take them): "
            + ", ".join(i.human_id for i in handover.returned)
            + "."
        )
    return " ".join(parts)


async def _back(ctx: Ctx, cmd: SlashCommand, parsed: Command) -> None:
    ended = await ctx.deps.usecases.delegations.back(actor=cmd.user_id, now=ctx.deps.clock.now())
    if ended is None:
        await ctx.reply("You were not away; nothing changed.")
        return
    await ctx.reply(
        f"Welcome back: new work reaches you again. Items <@{ended.delegate}> took over stay "
        "with them."
    )


async def _stats(ctx: Ctx, cmd: SlashCommand, parsed: Command) -> None:
    now = ctx.deps.clock.now()
    stats = await ctx.deps.usecases.queries.stats(user=cmd.user_id, now=now)
    msg = blocks.stats_message(stats, now=now)
    await ctx.reply(msg.text, msg.blocks)


async def _statements(ctx: Ctx, cmd: SlashCommand, parsed: Command) -> None:
    await send_statements(ctx)


async def _statement(ctx: Ctx, cmd: SlashCommand, parsed: Command) -> None:
    assert parsed.item_id is not None  # the statement's id
    await send_statement(ctx, parsed.item_id)


async def _matches(ctx: Ctx, cmd: SlashCommand, parsed: Command) -> None:
    await send_matches(ctx, parsed.item_id)


async def _accept_all(ctx: Ctx, cmd: SlashCommand, parsed: Command) -> None:
    assert parsed.item_id is not None  # the statement's id
    await accept_all(ctx, parsed.item_id)


_HANDLERS = {
    Verb.MATCHES: _matches,
    Verb.ACCEPT_ALL: _accept_all,
    Verb.STATEMENTS: _statements,
    Verb.STATEMENT: _statement,
    Verb.QUEUE: _queue,
    Verb.SHOW: _show,
    Verb.CLAIM: _claim,
    Verb.APPROVE: _approve,
    Verb.REJECT: _reject,
    Verb.ESCALATE: _escalate,
    Verb.DISPUTE: _dispute,
    Verb.RESOLVE: _resolve,
    Verb.NOTE: _note,
    Verb.ASSIGN: _assign,
    Verb.STATS: _stats,
    Verb.AWAY: _away,
    Verb.BACK: _back,
}

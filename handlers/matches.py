"""Matching in Slack (Stage 2): a match card's Accept and Reject, a summary's Resolve and
Accept all, their forms, and ``/recon matches`` / ``/recon accept-all``.

Thin listeners like the items' (STYLE #7): ack first, parse, one use case call
(:class:`~domain.usecases.match_review.MatchReview`), tell the person. Every refusal (an
auditor, someone of another team, a stale card, an open check) comes from the use case,
is audited there, and reaches the person privately through ``guarded``. The cards and the
summary are rewritten by the outbox rows the decision queued, never from here.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from pydantic import BaseModel, ConfigDict, ValidationError
from pydantic import Field as Attr
from slack_bolt.async_app import AsyncApp

from domain.errors import DomainError, InvalidCommand
from domain.items import parse_ascii_number
from domain.matching.stored import RESOLUTIONS, MatchState, Resolution
from domain.permissions import Person
from domain.statements.records import format_statement_id
from handlers.blocks.matches import (
    LIST_LIMIT,
    MAX_CHECK_NOTE_CHARS,
    MAX_MATCH_REASON_CHARS,
    match_label,
    match_list,
    match_reject_modal,
    resolve_check_modal,
)
from handlers.blocks.mrkdwn import error_text
from handlers.context import Ctx, Deps, guarded, reply_to
from handlers.forms import FormErrors, PayloadError
from handlers.ids import MatchButton, MatchField, MatchModal, match_action_pattern
from handlers.payloads import BlockAction
from handlers.submitted import SubmittedView

_MAX_ID = 10**15


def register(app: AsyncApp, deps: Deps) -> None:
    """Adds the Stage 2 buttons and forms."""
    buttons = {
        MatchButton.ACCEPT: _accept,
        MatchButton.REJECT: _reject,
        MatchButton.RESOLVE: _resolve,
        MatchButton.ACCEPT_ALL: _accept_all,
    }
    for action, handler in buttons.items():
        app.action(match_action_pattern(action))(guarded(deps, handler))
    app.view(MatchModal.REJECT.value)(guarded(deps, on_reject))
    app.view(MatchModal.RESOLVE.value)(guarded(deps, on_resolve))


# --- parsing at the edge ----------------------------------------------------------------------


def parse_match_value(value: str) -> tuple[int, int]:
    """``40:2`` -> (match 40, version 2).

    Raises:
        InvalidCommand: not a value a match card wrote.
    """
    left, sep, right = value.partition(":")
    match_id = parse_ascii_number(left, maximum=_MAX_ID)
    version = parse_ascii_number(right, maximum=_MAX_ID)
    if not sep or not match_id or not version:
        raise InvalidCommand("that button is not from recon-bot; refresh the card and try again")
    return match_id, version


def parse_target(value: str) -> int:
    """The check or statement id a Resolve or Accept all button carries.

    Raises:
        InvalidCommand: not a value a summary wrote.
    """
    target = parse_ascii_number(value.strip(), maximum=_MAX_ID)
    if not target:
        raise InvalidCommand("that button is not from recon-bot; refresh the message and try again")
    return target


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid", strict=True)


class MatchFormMetadata(_Frozen):
    """What the Stage 2 forms remember: the match (with the version seen) or the check,
    and the channel of the message they were opened from (where the outcome is told)."""

    id: int = Attr(gt=0)
    version: int | None = Attr(default=None, ge=1)
    channel: str | None = Attr(default=None, pattern=r"^[A-Z][A-Z0-9]{1,40}$")


def _read(view: Mapping[str, Any]) -> tuple[SubmittedView, MatchFormMetadata]:
    try:
        submitted = SubmittedView.model_validate(view)
        return submitted, MatchFormMetadata.model_validate_json(submitted.private_metadata)
    except ValidationError:
        raise PayloadError("view_submission is not a recon-bot matching form") from None


def _required_text(
    submitted: SubmittedView, field: MatchField, limit: int, errors: FormErrors, missing: str
) -> str | None:
    text = submitted.text(field)
    if text is None:
        errors[field.value] = missing
        return None
    if len(text) > limit:
        errors[field.value] = f"Keep it under {limit} characters (this has {len(text)})."
        return None
    return text


def parse_reject(view: Mapping[str, Any]) -> tuple[MatchFormMetadata, str] | FormErrors:
    """The reject form: a reason is required."""
    submitted, metadata = _read(view)
    errors = FormErrors()
    reason = _required_text(
        submitted, MatchField.REASON, MAX_MATCH_REASON_CHARS, errors, "Give a reason."
    )
    if reason is None or metadata.version is None:
        return errors or FormErrors({MatchField.REASON.value: "Give a reason."})
    return metadata, reason


def parse_resolve(
    view: Mapping[str, Any],
) -> tuple[MatchFormMetadata, Resolution, str] | FormErrors:
    """The resolve form: a resolution the use case accepts, and a note (required)."""
    submitted, metadata = _read(view)
    errors = FormErrors()
    raw = submitted.choice(MatchField.RESOLUTION)
    resolution = None
    if raw is None:
        errors[MatchField.RESOLUTION.value] = "Pick how the check is resolved."
    else:
        try:
            resolution = Resolution(raw)
        except ValueError:
            errors[MatchField.RESOLUTION.value] = "Pick one of the resolutions offered."
    note = _required_text(
        submitted,
        MatchField.NOTE,
        MAX_CHECK_NOTE_CHARS,
        errors,
        "Write a note: it goes to the audit log with the resolution.",
    )
    if errors or resolution is None or note is None:
        return errors
    return metadata, resolution, note


# --- buttons ----------------------------------------------------------------------------------


async def _tell(ctx: Ctx, channel: str | None, text: str) -> None:
    """Tells the person privately: ephemeral in the message's channel, else a DM."""
    await reply_to(ctx.client, {}, ctx.user, text, channel=channel, http=ctx.deps.http)


async def _accept(ctx: Ctx) -> None:
    await ctx.ack()
    action = BlockAction.model_validate(ctx.body)
    match_id, version = parse_match_value(action.action.value)
    done = await ctx.deps.usecases.match_review.accept(
        match_id, actor=action.user.id, now=ctx.deps.clock.now(), expected_version=version
    )
    if done.state is MatchState.PENDING_REVIEW:
        await ctx.reply(
            f":busts_in_silhouette: First approval of {match_label(done)} recorded; under dual "
            "control a second, different person accepts it."
        )
        return
    await ctx.reply(f":white_check_mark: {match_label(done)} accepted; its journal entry is made.")


async def _reject(ctx: Ctx) -> None:
    await ctx.ack()
    action = BlockAction.model_validate(ctx.body)
    match_id, version = parse_match_value(action.action.value)
    view = await ctx.deps.usecases.match_review.view(match_id, viewer=Person(action.user.id))
    if view.match.version != version:
        raise InvalidCommand(
            f"{match_label(view.match)} changed since you saw it (it is now "
            f"{view.match.state.value}, score {view.match.score}); look at its card again"
        )
    channel = None if action.in_view else action.channel_id
    await ctx.client.views_open(
        trigger_id=action.trigger_id, view=match_reject_modal(view.match, channel=channel)
    )


async def _resolve(ctx: Ctx) -> None:
    await ctx.ack()
    action = BlockAction.model_validate(ctx.body)
    check_id = parse_target(action.action.value)
    check = await ctx.deps.usecases.match_review.check(check_id, viewer=Person(action.user.id))
    channel = None if action.in_view else action.channel_id
    await ctx.client.views_open(
        trigger_id=action.trigger_id, view=resolve_check_modal(check, channel=channel)
    )


async def _accept_all(ctx: Ctx) -> None:
    await ctx.ack()
    action = BlockAction.model_validate(ctx.body)
    await accept_all(ctx, parse_target(action.action.value))


async def accept_all(ctx: Ctx, statement_id: int) -> None:
    """Accept all (the summary's button and ``/recon accept-all``); a refusal lists the
    open checks (the use case's sentence)."""
    done = await ctx.deps.usecases.match_review.accept_all(
        statement_id, actor=ctx.user, now=ctx.deps.clock.now()
    )
    name = format_statement_id(statement_id)
    accepted = [m for m in done if m.state is MatchState.ACCEPTED]
    first = [m for m in done if m.state is MatchState.PENDING_REVIEW]
    if not done:
        await ctx.reply(
            f"No matches of {name} are waiting for your acceptance; nothing was changed."
        )
        return
    text = (
        f":white_check_mark: {len(accepted)} matches of {name} accepted; their journal "
        "entries are made."
    )
    if first:
        text += (
            f" {len(first)} need a second, different approver (dual control): your first "
            f"approval is recorded on {', '.join(match_label(m) for m in first)}."
        )
    await ctx.reply(text)


# --- forms ------------------------------------------------------------------------------------


async def on_reject(ctx: Ctx) -> None:
    """The reject form: a reason is required (checked in the ack)."""
    form = parse_reject(ctx.body["view"])
    if isinstance(form, FormErrors):
        await ctx.ack(response_action="errors", errors=dict(form))
        return
    await ctx.ack()
    metadata, reason = form
    try:
        done = await ctx.deps.usecases.match_review.reject(
            metadata.id,
            actor=ctx.user,
            reason=reason,
            now=ctx.deps.clock.now(),
            expected_version=metadata.version,
        )
    except DomainError as exc:
        await _tell(ctx, metadata.channel, f":no_entry: {error_text(exc)}")
        return
    await _tell(
        ctx,
        metadata.channel,
        f":x: {match_label(done)} rejected; both sides are back in the pool.",
    )


async def on_resolve(ctx: Ctx) -> None:
    """The resolve form: a resolution that fits the check's kind and a note, checked in
    the ack (errors under the field)."""
    form = parse_resolve(ctx.body["view"])
    if isinstance(form, FormErrors):
        await ctx.ack(response_action="errors", errors=dict(form))
        return
    metadata, resolution, note = form
    check = await ctx.deps.usecases.match_review.check(metadata.id, viewer=Person(ctx.user))
    if resolution not in RESOLUTIONS[check.kind]:
        fits = ", ".join(sorted(r.value for r in RESOLUTIONS[check.kind]))
        await ctx.ack(
            response_action="errors",
            errors={
                MatchField.RESOLUTION.value: f"A {check.kind.value} check takes one of: {fits}."
            },
        )
        return
    await ctx.ack()
    try:
        resolved = await ctx.deps.usecases.match_review.resolve_check(
            metadata.id, resolution, note=note, actor=ctx.user, now=ctx.deps.clock.now()
        )
    except DomainError as exc:
        await _tell(ctx, metadata.channel, f":no_entry: {error_text(exc)}")
        return
    await _tell(
        ctx,
        metadata.channel,
        f":white_check_mark: Check {resolved.id} resolved ({resolution.value}).",
    )


# --- commands ---------------------------------------------------------------------------------


async def send_matches(ctx: Ctx, statement_id: int | None) -> None:
    """``/recon matches [STATEMENT]``: the pending matches, privately."""
    records, total = await ctx.deps.usecases.match_review.pending(
        viewer=Person(ctx.user), statement=statement_id, limit=LIST_LIMIT
    )
    name = format_statement_id(statement_id) if statement_id is not None else None
    msg = match_list(records, total=total, statement=name)
    await ctx.reply(msg.text, msg.blocks)

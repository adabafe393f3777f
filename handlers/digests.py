"""Digest group buttons: Approve all, Reject all (asks for a reason), Review individually."""

from __future__ import annotations

from slack_bolt.async_app import AsyncApp

from domain.errors import InvalidCommand
from domain.items import MAX_ITEM_ID, parse_ascii_number
from handlers.blocks.modals import digest_reject_modal
from handlers.blocks.mrkdwn import error_text
from handlers.context import Ctx, Deps, guarded, reply_to
from handlers.forms import FormErrors, parse_digest_reject
from handlers.ids import DigestAction, Modal
from handlers.payloads import BlockAction


def register(app: AsyncApp, deps: Deps) -> None:
    """Adds the digest listeners."""
    app.action(DigestAction.APPROVE_ALL.value)(guarded(deps, _approve_all))
    app.action(DigestAction.REJECT_ALL.value)(guarded(deps, _reject_all))
    app.action(DigestAction.REVIEW.value)(guarded(deps, _review))
    app.view(Modal.DIGEST_REJECT.value)(guarded(deps, on_reject_all))


def _cluster(action: BlockAction) -> int:
    cluster_id = parse_ascii_number(action.action.value, maximum=MAX_ITEM_ID)
    if cluster_id is None:
        raise InvalidCommand("that button is not from a recon-bot digest")
    return cluster_id


async def _approve_all(ctx: Ctx) -> None:
    await ctx.ack()
    action = BlockAction.model_validate(ctx.body)
    outcome = await ctx.deps.usecases.digests.decide_cluster(
        cluster_id=_cluster(action), actor=action.user.id, now=ctx.deps.clock.now(), approve=True
    )
    if outcome.noop:
        await ctx.reply("You already approved this group.")
        return
    refs = ", ".join(i.human_id for i in outcome.items[:10])
    await ctx.reply(f":white_check_mark: Approved and posted {len(outcome.items)} item(s): {refs}")


async def _reject_all(ctx: Ctx) -> None:
    await ctx.ack()
    action = BlockAction.model_validate(ctx.body)
    cluster_id = _cluster(action)
    summary = await ctx.deps.usecases.digests.cluster_summary(
        cluster_id=cluster_id, actor=action.user.id, now=ctx.deps.clock.now()
    )
    await ctx.client.views_open(
        trigger_id=action.trigger_id,
        view=digest_reject_modal(cluster_id, size=summary.size, title=summary.title),
    )


async def on_reject_all(ctx: Ctx) -> None:
    """The group reject form: the reason travels to every item's audit record."""
    form = parse_digest_reject(ctx.body["view"])
    if isinstance(form, FormErrors):
        await ctx.ack(response_action="errors", errors=dict(form))
        return
    await ctx.ack()
    try:
        outcome = await ctx.deps.usecases.digests.decide_cluster(
            cluster_id=form.cluster_id,
            actor=ctx.user,
            now=ctx.deps.clock.now(),
            approve=False,
            reason=form.reason,
        )
    except InvalidCommand as exc:
        await reply_to(ctx.client, {}, ctx.user, f":no_entry: {error_text(exc)}")
        return
    await reply_to(ctx.client, {}, ctx.user, f":x: Rejected {len(outcome.items)} item(s).")


async def _review(ctx: Ctx) -> None:
    await ctx.ack()
    action = BlockAction.model_validate(ctx.body)
    posted = await ctx.deps.usecases.digests.review_cluster(
        cluster_id=_cluster(action), actor=action.user.id, now=ctx.deps.clock.now()
    )
    await ctx.reply(f"Posting {posted} card(s) to review one by one.")

"""What every listener shares: its dependencies, a guard that always acks, and replies.

Ack first: every listener acks within Slack's 3 s (target: well under 100 ms) and does
slow work after. The guard makes sure that a listener that raises still acks (so the user
never sees a timeout), and that the user always hears why, in one ephemeral line. It
also counts listeners in flight, so shutdown can wait for them.

Nothing acked is lost: just before the ack, the guard stores the interaction in the
durable inbox (:class:`Inbox`, ``store.inbox``), so that another process runs it again
if this one dies before its change commits. Listeners that only show things
(``durable=False``: paging, App Home; channel messages that are not a thread reply) are
not stored.
"""

from __future__ import annotations

import asyncio
import logging
import secrets
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any, Protocol

import aiohttp
from slack_bolt.context.ack.async_ack import AsyncAck
from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient
from slack_sdk.webhook.async_client import AsyncWebhookClient

from domain.errors import DomainError, TakenOver
from domain.policy import LoadedPolicy
from domain.ports import Clock
from domain.usecases import UseCases
from handlers.blocks.mrkdwn import error_text

log = logging.getLogger(__name__)

History = Callable[[int], Awaitable[list[dict[str, Any]]]]


class InFlight:
    """Counts running listeners; ``drained()`` waits until none is left."""

    def __init__(self) -> None:
        self._count = 0
        self._idle = asyncio.Event()
        self._idle.set()

    @property
    def count(self) -> int:
        """Listeners running now."""
        return self._count

    def enter(self) -> None:
        """A listener started."""
        self._count += 1
        self._idle.clear()

    def leave(self) -> None:
        """A listener finished."""
        self._count -= 1
        if self._count == 0:
            self._idle.set()

    async def drained(self, within: float) -> bool:
        """Waits up to ``within`` seconds for every listener to finish; False if they didn't."""
        try:
            async with asyncio.timeout(within):
                await self._idle.wait()
        except TimeoutError:
            return False
        return True


class KeyedLocks:
    """One asyncio lock per key (a user id), forgotten when nobody holds or awaits it."""

    def __init__(self) -> None:
        self._locks: dict[str, tuple[asyncio.Lock, int]] = {}

    def __len__(self) -> int:
        return len(self._locks)

    @asynccontextmanager
    async def hold(self, key: str) -> AsyncIterator[None]:
        """Runs the block while no other block holds ``key`` (first come, first served)."""
        lock, users = self._locks.get(key) or (asyncio.Lock(), 0)
        self._locks[key] = (lock, users + 1)
        try:
            async with lock:
                yield
        finally:
            lock, users = self._locks[key]
            if users == 1:
                del self._locks[key]
            else:
                self._locks[key] = (lock, users - 1)


class Inbox(Protocol):
    """Where each interaction is stored before its ack (``store.inbox.SqlInbox``)."""

    async def receive(self, body: Mapping[str, Any]) -> bool:
        """Stores ``body`` for the running listener; False: a copy already taken."""
        ...

    def resume(self) -> bool:
        """Whether the running listener serves an interaction dispatched again."""
        ...

    async def finish(self) -> None:
        """The running listener ended (never raises)."""
        ...

    def taken_over(self, kind: str) -> None:
        """Counts a change rolled back because another run of its interaction committed
        first."""
        ...


class _AlreadyTaken(Exception):
    """Another copy of this interaction was taken: acked, nothing else to do."""


#: Slack's errors for a form opened too late: a replayed click's trigger has expired.
_EXPIRED_TRIGGER = frozenset({"expired_trigger_id", "invalid_trigger_id"})


@dataclass(frozen=True, slots=True, kw_only=True)
class Deps:
    """Dependencies of the listeners (built by ``bot.app``)."""

    usecases: UseCases
    policy: Callable[[], LoadedPolicy]
    clock: Clock
    history: History
    inflight: InFlight
    #: One HTTP session for every response_url post (a new one per reply costs a TCP
    #: connection and measurable event-loop time under load). None: one per call.
    http: aiohttp.ClientSession | None = None
    #: At most this many listeners do their post-ack work at once. Acks are never gated:
    #: fewer busy tasks keep each event-loop turn short, so acks go out on time.
    work_gate: asyncio.Semaphore | None = None
    #: App Home publishes of one user run one at a time, so the last one published is
    #: also the last one read: a slow refresh can never overwrite a newer view.
    home_locks: KeyedLocks = field(default_factory=KeyedLocks)
    #: The durable inbox (None: interactions are not stored, e.g. in unit tests).
    inbox: Inbox | None = None


@dataclass(slots=True, kw_only=True)
class Ctx:
    """One request: the guarded ack, the raw body (parsed by the listener), the client."""

    ack: Callable[..., Awaitable[None]]
    body: dict[str, Any]
    client: AsyncWebClient
    deps: Deps
    acked: bool = False

    @property
    def user(self) -> str:
        """The Slack user who acted."""
        user = self.body.get("user_id") or (self.body.get("user") or {}).get("id")
        if not user:
            event = self.body.get("event") or {}
            user = event.get("user")
        return str(user or "")

    async def reply(self, text: str, blocks: list[Any] | None = None) -> None:
        """Tells the acting user privately, by the best route the payload offers.

        Order: the request's ``response_url`` (slash commands, message buttons), an
        ephemeral message in the channel, else a DM (App Home and modals have neither).
        """
        await reply_to(self.client, self.body, self.user, text, blocks, http=self.deps.http)


async def reply_to(
    client: AsyncWebClient,
    body: dict[str, Any],
    user: str,
    text: str,
    blocks: list[Any] | None = None,
    *,
    channel: str | None = None,
    http: aiohttp.ClientSession | None = None,
) -> None:
    """See ``Ctx.reply``. Never raises: a failed reply is logged."""
    payload: dict[str, Any] = {"text": text}
    if blocks is not None:
        payload["blocks"] = blocks
    response_url = body.get("response_url")
    channel = channel or body.get("channel_id") or (body.get("channel") or {}).get("id")
    try:
        if response_url:
            await _post_response_url(response_url, payload, http)
        elif channel and not str(channel).startswith("D"):
            await client.chat_postEphemeral(channel=channel, user=user, **payload)
        else:
            await client.chat_postMessage(channel=user, **payload)
    except (TimeoutError, SlackApiError, OSError):
        log.warning("could not reply to user", extra={"event": "reply_failed", "user": user})


async def _post_response_url(
    response_url: str, payload: dict[str, Any], http: aiohttp.ClientSession | None
) -> None:
    webhook = AsyncWebhookClient(url=response_url, timeout=10, retry_handlers=[], session=http)
    await webhook.send_dict(
        body={"response_type": "ephemeral", "replace_original": False, **payload}
    )


Listener = Callable[[Ctx], Awaitable[None]]


def guarded(
    deps: Deps,
    listener: Listener,
    *,
    durable: bool | Callable[[Mapping[str, Any]], bool] = True,
) -> Callable[..., Awaitable[None]]:
    """Wraps a listener so that it always acks and never fails silently; a ``durable``
    one's interaction (or one ``durable(body)`` accepts) is stored before its ack
    (module docstring)."""

    # Not functools.wraps: Bolt injects arguments by the signature it inspects, and
    # __wrapped__ would make it see the inner ``(ctx)`` instead of ``(ack, body, client)``.
    async def run(ack: AsyncAck, body: dict[str, Any], client: AsyncWebClient) -> None:
        gated = False
        stores = durable(body) if callable(durable) else durable
        inbox = deps.inbox if stores else None
        replay = inbox is not None and inbox.resume()

        async def ack_once(*args: Any, **kwargs: Any) -> None:
            nonlocal gated
            if not ctx.acked:
                ctx.acked = True
                # Stored before the ack, unless the ack itself is the whole answer (form
                # errors) or this is a stored interaction run again (acked long ago).
                stored = (
                    inbox is None
                    or replay
                    or kwargs.get("response_action") == "errors"
                    or await inbox.receive(body)
                )
                await ack(*args, **kwargs)
                if not stored:
                    raise _AlreadyTaken
                if deps.work_gate is not None:
                    await deps.work_gate.acquire()
                    gated = True

        ctx = Ctx(ack=ack_once, body=body, client=client, deps=deps)
        deps.inflight.enter()
        try:
            await listener(ctx)
        except _AlreadyTaken:
            pass
        except TakenOver as exc:  # another process answers: nothing to tell the user
            if inbox is not None:
                inbox.taken_over(str(exc))
        except DomainError as exc:
            if not await _ack_unless_taken(ack_once):
                return
            if getattr(exc, "__notes__", None):  # e.g. a refusal the audit log missed
                log.warning(
                    "refusal not recorded",
                    extra={
                        "event": "refusal_not_audited",
                        "listener": listener.__name__,
                        "notes": list(exc.__notes__),
                    },
                )
            await ctx.reply(f":no_entry: {error_text(exc)}")
        except SlackApiError as exc:
            if replay and exc.response.get("error") in _EXPIRED_TRIGGER:
                # A form cannot open from a click this old: ask for a new one.
                await ctx.reply(
                    ":arrows_counterclockwise: recon-bot restarted before this form could "
                    "open. Click the button again."
                )
            elif await _ack_unless_taken(ack_once):
                await _failed(ctx, listener.__name__)
        except Exception:
            if await _ack_unless_taken(ack_once):
                await _failed(ctx, listener.__name__)
        finally:
            if not ctx.acked:  # a listener that forgot to ack must not time the user out
                await _ack_unless_taken(ack_once)
            if inbox is not None:
                await inbox.finish()
            if gated and deps.work_gate is not None:
                deps.work_gate.release()
            deps.inflight.leave()

    run.__name__ = run.__qualname__ = listener.__name__
    return run


async def _ack_unless_taken(ack: Callable[[], Awaitable[None]]) -> bool:
    """Acks (if not yet); False when the interaction turned out to be a copy of one
    already taken (then there is nobody to answer here)."""
    try:
        await ack()
    except _AlreadyTaken:
        return False
    return True


async def _failed(ctx: Ctx, listener: str) -> None:
    """An unexpected failure (acked): logged with a reference the user is given."""
    ref = secrets.token_hex(3)
    log.exception(
        "listener failed", extra={"event": "listener_failed", "listener": listener, "ref": ref}
    )
    await ctx.reply(
        f":warning: Something went wrong on our side (ref `{ref}`). "
        "Check the item before trying again."
    )

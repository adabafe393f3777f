"""Driving the stand-in as people would: slash commands, clicks, modal submissions, home tabs.

:class:`SlackDriver` is a base of :class:`~tests.slack_standin.server.SlackStandIn`; every
method here builds the payload Slack would send, delivers it over Socket Mode, and waits
for the bot's acknowledgement. :class:`SlackUser` binds those methods to one user.

The actions live by concept: buttons in :mod:`.clicks`, modals in :mod:`.modals`,
people's own messages in :mod:`.people_messages`, the shared steps in :mod:`.driver_base`
and what each delivery came to in :mod:`.deliveries`; slash commands, the Home tab and
waiting stay here.

Driver methods fail with a clear ``AssertionError`` when the thing a person would look
for is not on screen (no such button, no open modal, unknown input label ...).
"""

from __future__ import annotations

import asyncio
import inspect
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from .clicks import Clicks
from .deliveries import DeliveryResult as DeliveryResult
from .deliveries import SubmissionResult as SubmissionResult
from .deliveries import UserMessage as UserMessage
from .modals import Modals
from .people_messages import PeopleMessages
from .state import JSON, Ephemeral, View

__all__ = ["DeliveryResult", "SlackDriver", "SlackUser", "SubmissionResult", "UserMessage"]


class SlackDriver(Clicks, Modals, PeopleMessages):
    """People-like actions. Concrete transport lives in ``SlackStandIn``."""

    default_command = "/recon"

    def as_user(self, user_id: str) -> SlackUser:
        """A :class:`SlackUser` acting as ``user_id``."""
        self._require_user(user_id)
        return SlackUser(self, user_id)

    # ----------------------------------------------------------------- slash commands

    async def slash_command(
        self,
        user: str,
        text: str = "",
        *,
        channel: str | None = None,
        command: str | None = None,
        require_ack: bool = True,
    ) -> DeliveryResult:
        """Types ``command text`` in ``channel`` as ``user`` and waits for the ack.

        Args:
            user: The user issuing the command.
            text: Everything after the command name.
            channel: Where it is typed; defaults to the user's DM with the bot.
            command: The command, default ``/recon``.
            require_ack: Raise AssertionError when the bot does not ack in time.

        Returns:
            The delivery, with the ack payload/latency and the minted trigger_id and
            response_url. A message in the ack payload is shown like Slack shows it
            (ephemeral, or in channel for ``response_type: in_channel``).
        """
        self._require_user(user)
        chan = self._require_channel(channel) if channel else self.dm_channel(user)
        trigger_id = self.mint_trigger(user, source="slash_commands")
        response_url = self.mint_response_url(user=user, channel=chan.id, origin="slash_commands")
        payload: JSON = {
            "token": self.verification_token,
            "team_id": self.team_id,
            "team_domain": self.team_domain,
            "channel_id": chan.id,
            "channel_name": chan.payload_name,
            "user_id": user,
            "user_name": self.users[user].name,
            "command": command or self.default_command,
            "text": text,
            "api_app_id": self.app_id,
            "is_enterprise_install": "false",
            "response_url": response_url,
            "trigger_id": trigger_id,
        }
        env = await self.deliver("slash_commands", payload, accepts_response_payload=True)
        ack = await self._await_ack(env, require_ack=require_ack, what="slash command")
        return DeliveryResult(env, ack, payload, trigger_id, response_url)

    async def open_home(self, user: str, *, require_ack: bool = True) -> DeliveryResult:
        """Opens the app's Home tab as ``user`` (an ``app_home_opened`` event).

        Raises:
            AssertionError: the app does not subscribe to ``app_home_opened`` (Slack would
                send nothing, and the tab would never show the bot's view).
        """
        self._require_user(user)
        if not self.subscribes("app_home_opened"):
            raise AssertionError("the app does not subscribe to app_home_opened")
        event: JSON = {
            "type": "app_home_opened",
            "user": user,
            "channel": self.dm_channel(user).id,
            "tab": "home",
            "event_ts": self._next_ts(),
        }
        home = self.home_of(user)
        if home is not None:
            event["view"] = home.to_payload(app_id=self.app_id, bot_id=self.bot_id)
        return await self.deliver_event(event, require_ack=require_ack)

    # ----------------------------------------------------------------- waiting

    async def wait_for(
        self,
        predicate: Callable[[], Any],
        timeout: float = 5.0,  # noqa: ASYNC109 - the documented test-helper signature
        *,
        message: str | None = None,
    ) -> Any:
        """Waits until ``predicate()`` (sync or async) is truthy and returns its value.

        Re-checks after every change the stand-in records and at least every 50 ms
        (for conditions on state outside the stand-in).

        Raises:
            AssertionError: Still falsy after ``timeout`` seconds.
        """
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while True:
            result = predicate()
            if inspect.isawaitable(result):
                result = await result
            if result:
                return result
            remaining = deadline - loop.time()
            if remaining <= 0:
                raise AssertionError(message or f"condition not met within {timeout:g}s")
            change = self._change_future()
            try:
                await asyncio.wait_for(change, min(remaining, 0.05))
            except TimeoutError:
                pass


class SlackUser:
    """One person using Slack: the driver's methods with ``user`` bound.

    Args:
        slack: The stand-in.
        user_id: The acting user's id (must be in the directory).
    """

    def __init__(self, slack: SlackDriver, user_id: str) -> None:
        self.slack = slack
        self.id = user_id

    async def slash_command(
        self, text: str = "", *, channel: str | None = None, command: str | None = None
    ) -> DeliveryResult:
        """See :meth:`SlackDriver.slash_command`."""
        return await self.slack.slash_command(self.id, text, channel=channel, command=command)

    async def click(
        self,
        label: str,
        *,
        channel: str | None = None,
        ts: str | None = None,
        view_id: str | None = None,
        block_id: str | None = None,
        action_id: str | None = None,
    ) -> DeliveryResult:
        """See :meth:`SlackDriver.click`."""
        return await self.slack.click(
            self.id,
            label,
            channel=channel,
            ts=ts,
            view_id=view_id,
            block_id=block_id,
            action_id=action_id,
        )

    async def submit_modal(
        self,
        values_by_label: Mapping[str, str | Sequence[str] | int | float] | None = None,
        *,
        view_id: str | None = None,
    ) -> SubmissionResult:
        """See :meth:`SlackDriver.submit_modal`."""
        return await self.slack.submit_modal(self.id, values_by_label, view_id=view_id)

    async def close_modal(self) -> DeliveryResult | None:
        """See :meth:`SlackDriver.close_modal`."""
        return await self.slack.close_modal(self.id)

    async def open_home(self) -> DeliveryResult:
        """See :meth:`SlackDriver.open_home`."""
        return await self.slack.open_home(self.id)

    @property
    def home(self) -> View | None:
        """This user's home tab, or None."""
        return self.slack.home_of(self.id)

    @property
    def modal(self) -> View | None:
        """The modal this user sees, or None."""
        return self.slack.open_modal(self.id)

    def ephemerals(self, channel: str | None = None) -> list[Ephemeral]:
        """Ephemeral messages shown to this user."""
        return self.slack.ephemerals_for(self.id, channel)

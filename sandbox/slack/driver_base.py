"""The driver's base: the transport hooks the server implements and the steps every action shares.

Every people-like action builds the payload Slack would send, delivers it over Socket Mode
with :meth:`DriverBase.deliver`, and waits for the bot's acknowledgement with
:meth:`DriverBase._await_ack`.
"""

from __future__ import annotations

import asyncio
import time

from .deliveries import DeliveryResult
from .state import JSON, Ack, Channel, Envelope, StandInState, User

__all__ = ["DriverBase"]


class DriverBase(StandInState):
    """Transport hooks and shared steps. Concrete transport lives in ``SlackStandIn``."""

    # ----------------------------------------------------------------- transport hooks

    async def deliver(
        self,
        envelope_type: str,
        payload: JSON,
        *,
        accepts_response_payload: bool,
        retry_attempt: int = 0,
        retry_reason: str = "",
    ) -> Envelope:
        """Sends one envelope over Socket Mode (implemented by the server)."""
        raise NotImplementedError

    def mint_response_url(
        self,
        *,
        user: str,
        channel: str,
        origin: str,
        message_ts: str | None = None,
        ephemeral: bool = False,
    ) -> str:
        """Mints a response_url (implemented by the server)."""
        raise NotImplementedError

    # ----------------------------------------------------------------- helpers

    def _require_user(self, user_id: str) -> User:
        user = self.users.get(user_id)
        if user is None:
            known = sorted(u for u in self.users if u != self.bot_user_id)
            raise AssertionError(f"unknown user {user_id!r}; add_user() it first (known: {known})")
        return user

    def _require_channel(self, ref: str) -> Channel:
        channel = self.find_channel(ref)
        if channel is None:
            known = sorted(c.id for c in self.channels.values() if not c.is_im)
            raise AssertionError(
                f"unknown channel {ref!r}; add_channel() it first (known: {known})"
            )
        return channel

    def _user_obj(self, user_id: str) -> JSON:
        user = self.users[user_id]
        return {"id": user.id, "username": user.name, "name": user.name, "team_id": self.team_id}

    def _team_obj(self) -> JSON:
        return {"id": self.team_id, "domain": self.team_domain}

    async def _await_ack(self, env: Envelope, *, require_ack: bool, what: str) -> Ack | None:
        ack = await asyncio.shield(env.done)
        if ack is None and require_ack:
            raise AssertionError(
                f"the bot did not ack the {what} envelope {env.envelope_id} within "
                f"{self.limits.ack_timeout_s:g}s (Slack would show the user an error)"
            )
        return ack

    async def deliver_event(self, event: JSON, *, require_ack: bool = True) -> DeliveryResult:
        """Delivers an Events API ``event_callback`` wrapping ``event`` and waits for the ack."""
        payload: JSON = {
            "token": self.verification_token,
            "team_id": self.team_id,
            "api_app_id": self.app_id,
            "event": event,
            "type": "event_callback",
            "event_id": f"Ev{self._next_seq():08d}{self._short_id().upper()}",
            "event_time": int(time.time()),
            "authorizations": [
                {
                    "enterprise_id": None,
                    "team_id": self.team_id,
                    "user_id": self.bot_user_id,
                    "is_bot": True,
                    "is_enterprise_install": False,
                }
            ],
            "is_ext_shared_channel": False,
            "event_context": f"4-{event.get('type', 'event')}-{self.team_id}",
        }
        env = await self.deliver("events_api", payload, accepts_response_payload=False)
        ack = await self._await_ack(env, require_ack=require_ack, what=str(event.get("type")))
        return DeliveryResult(env, ack, payload)

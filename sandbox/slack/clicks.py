"""Clicking buttons as people would: in messages, ephemerals, modals and home tabs."""

from __future__ import annotations

import copy
from collections.abc import Mapping, Sequence
from typing import Any

from .deliveries import DeliveryResult
from .driver_base import DriverBase
from .state import JSON, Channel, Ephemeral, Message, View, iter_buttons

__all__ = ["Clicks"]


class Clicks(DriverBase):
    """Finds a button by its label and delivers the ``block_actions`` payload."""

    def _find_button(
        self,
        blocks: Sequence[JSON],
        label: str,
        where: str,
        *,
        block_id: str | None = None,
        action_id: str | None = None,
    ) -> tuple[Mapping[str, Any], Mapping[str, Any]]:
        found = [
            (b, e)
            for b, e in iter_buttons(list(blocks))
            if (block_id is None or b.get("block_id") == block_id)
            and (action_id is None or e.get("action_id") == action_id)
        ]
        matches = [(b, e) for b, e in found if (e.get("text") or {}).get("text") == label]
        if not matches:
            labels = [str((e.get("text") or {}).get("text", "")) for _, e in found]
            raise AssertionError(
                f"no button labelled {label!r} in {where}; buttons there: {labels}"
            )
        if len(matches) > 1:
            ids = [str(e.get("action_id")) for _, e in matches]
            blocks_ids = [str(b.get("block_id")) for b, _ in matches]
            raise AssertionError(
                f"{len(matches)} buttons labelled {label!r} in {where} "
                f"(block_ids {blocks_ids}, action_ids {ids}); pass block_id=/action_id= to pick one"
            )
        return matches[0]

    def _action(self, block: Mapping[str, Any], button: Mapping[str, Any]) -> JSON:
        action: JSON = {
            "action_id": button.get("action_id"),
            "block_id": block.get("block_id"),
            "text": copy.deepcopy(button.get("text")),
            "type": "button",
            "action_ts": self._next_ts(),
        }
        for key in ("value", "style", "url"):
            if key in button:
                action[key] = button[key]
        return action

    async def click(
        self,
        user: str,
        label: str,
        *,
        channel: str | None = None,
        ts: str | None = None,
        view_id: str | None = None,
        block_id: str | None = None,
        action_id: str | None = None,
        require_ack: bool = True,
    ) -> DeliveryResult:
        """Clicks the button labelled ``label`` as ``user``.

        Where the button is looked for: with ``view_id``, in that view; with ``channel``,
        in the newest message (or ephemeral shown to ``user``) that has such a button,
        or exactly the one at ``ts``; with neither, in the user's open modal, else their
        home tab. ``block_id``/``action_id`` narrow the search when several buttons
        share a label (e.g. one "Approve" per row).

        Returns:
            The delivery of the ``block_actions`` payload, with the ack.

        Raises:
            AssertionError: No such button (available labels are listed), or several.
        """
        self._require_user(user)
        if channel is None:
            view = (
                self.views.get(view_id)
                if view_id
                else (self.open_modal(user) or self.home_of(user))
            )
            if view is None or view.closed:
                what = f"view {view_id}" if view_id else f"an open modal or home tab for {user}"
                raise AssertionError(f"nothing to click: no {what}")
            block, button = self._find_button(
                view.blocks,
                label,
                f"{view.type} view {view.id}",
                block_id=block_id,
                action_id=action_id,
            )
            return await self._click_in_view(user, view, block, button, require_ack)
        chan = self._require_channel(channel)
        candidates: list[Message | Ephemeral] = [*self.messages_in(chan.id)]
        candidates.extend(self.ephemerals_for(user, chan.id))
        candidates.sort(key=lambda m: m.ts)
        if ts is not None:
            candidates = [m for m in candidates if m.ts == ts]
            if not candidates:
                raise AssertionError(f"no message with ts {ts!r} in {channel}")
        for msg in reversed(candidates):
            has_it = any(
                (e.get("text") or {}).get("text") == label
                and (block_id is None or b.get("block_id") == block_id)
                and (action_id is None or e.get("action_id") == action_id)
                for b, e in iter_buttons(msg.blocks)
            )
            if has_it:
                block, button = self._find_button(
                    msg.blocks or [],
                    label,
                    f"message {msg.ts}",
                    block_id=block_id,
                    action_id=action_id,
                )
                return await self._click_in_message(user, chan, msg, block, button, require_ack)
        seen = [(m.ts, m.button_labels()) for m in candidates if m.button_labels()]
        raise AssertionError(
            f"no button labelled {label!r} in {channel}"
            f"{f' at ts {ts}' if ts else ''}; messages with buttons: {seen}"
        )

    async def _click_in_message(
        self,
        user: str,
        chan: Channel,
        msg: Message | Ephemeral,
        block: Mapping[str, Any],
        button: Mapping[str, Any],
        require_ack: bool,
    ) -> DeliveryResult:
        ephemeral = isinstance(msg, Ephemeral)
        trigger_id = self.mint_trigger(user, source="block_actions")
        response_url = self.mint_response_url(
            user=user,
            channel=chan.id,
            origin="block_actions",
            message_ts=msg.ts,
            ephemeral=ephemeral,
        )
        container: JSON = {
            "type": "message",
            "message_ts": msg.ts,
            "channel_id": chan.id,
            "is_ephemeral": ephemeral,
        }
        if msg.thread_ts:
            container["thread_ts"] = msg.thread_ts
        payload: JSON = {
            "type": "block_actions",
            "user": self._user_obj(user),
            "api_app_id": self.app_id,
            "token": self.verification_token,
            "container": container,
            "trigger_id": trigger_id,
            "team": self._team_obj(),
            "enterprise": None,
            "is_enterprise_install": False,
            "channel": {"id": chan.id, "name": chan.payload_name},
            "state": {"values": {}},
            "response_url": response_url,
            "actions": [self._action(block, button)],
        }
        if isinstance(msg, Message):
            payload["message"] = msg.to_payload()
        env = await self.deliver("interactive", payload, accepts_response_payload=False)
        ack = await self._await_ack(env, require_ack=require_ack, what="block_actions")
        return DeliveryResult(env, ack, payload, trigger_id, response_url)

    async def _click_in_view(
        self,
        user: str,
        view: View,
        block: Mapping[str, Any],
        button: Mapping[str, Any],
        require_ack: bool,
    ) -> DeliveryResult:
        trigger_id = self.mint_trigger(user, source="block_actions")
        payload: JSON = {
            "type": "block_actions",
            "user": self._user_obj(user),
            "api_app_id": self.app_id,
            "token": self.verification_token,
            "container": {"type": "view", "view_id": view.id},
            "trigger_id": trigger_id,
            "team": self._team_obj(),
            "enterprise": None,
            "is_enterprise_install": False,
            "view": view.to_payload(app_id=self.app_id, bot_id=self.bot_id),
            "state": {"values": copy.deepcopy(view.state_values)},
            "actions": [self._action(block, button)],
        }
        env = await self.deliver("interactive", payload, accepts_response_payload=False)
        ack = await self._await_ack(env, require_ack=require_ack, what="block_actions")
        return DeliveryResult(env, ack, payload, trigger_id, None)

"""Driving the stand-in as people would: slash commands, clicks, modal submissions, home tabs.

:class:`SlackDriver` is a base of :class:`~tests.slack_standin.server.SlackStandIn`; every
method here builds the payload Slack would send, delivers it over Socket Mode, and waits
for the bot's acknowledgement. :class:`SlackUser` binds those methods to one user.

Driver methods fail with a clear ``AssertionError`` when the thing a person would look
for is not on screen (no such button, no open modal, unknown input label ...).
"""

from __future__ import annotations

import asyncio
import copy
import datetime as dt
import inspect
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from .state import (
    JSON,
    Ack,
    Channel,
    Envelope,
    Ephemeral,
    Message,
    StandInState,
    User,
    View,
    element_state,
    iter_buttons,
)

__all__ = ["DeliveryResult", "SlackDriver", "SlackUser", "SubmissionResult", "UserMessage"]


@dataclass
class DeliveryResult:
    """What happened to one payload delivered to the bot.

    Attributes:
        envelope: The envelope sent (its ``ack`` is set even for late acks).
        ack: The acknowledgement received within the deadline, or None on timeout.
        payload: The payload delivered.
        trigger_id: The trigger_id minted for the payload, if any.
        response_url: The response_url minted for the payload, if any.
    """

    envelope: Envelope
    ack: Ack | None
    payload: JSON
    trigger_id: str | None = None
    response_url: str | None = None

    @property
    def envelope_id(self) -> str:
        """The envelope's id."""
        return self.envelope.envelope_id

    @property
    def ack_payload(self) -> JSON | None:
        """The ``payload`` of the ack (None when the ack carried none or never came)."""
        return self.ack.payload if self.ack else None

    @property
    def latency_ms(self) -> float | None:
        """Milliseconds from sending the envelope to receiving its ack."""
        return self.ack.latency_ms if self.ack else None

    @property
    def timed_out(self) -> bool:
        """True when no ack arrived within Slack's deadline."""
        return self.envelope.timed_out


@dataclass
class UserMessage:
    """A message a person posted, edited or deleted, and the event Slack sent about it.

    Attributes:
        message: The message as it is now in the conversation (``deleted`` once deleted).
        delivery: The ``message`` event's delivery, or None when the app does not
            subscribe to message events of that kind of conversation (Slack then sends
            nothing; the message is still there for ``conversations.history``/``.replies``).
    """

    message: Message
    delivery: DeliveryResult | None


@dataclass
class SubmissionResult(DeliveryResult):
    """A ``view_submission`` delivery, plus what the user now sees.

    Attributes:
        view: The submitted view (its ``state_values`` hold what was entered).
        modal_after: The modal on top of the user's stack after Slack applied the ack.
    """

    view: View | None = None
    modal_after: View | None = None

    @property
    def response_action(self) -> str | None:
        """The ack's ``response_action`` (``errors``/``update``/``push``/``clear``) or None."""
        payload = self.ack_payload or {}
        action = payload.get("response_action")
        return str(action) if action is not None else None

    @property
    def errors(self) -> dict[str, str]:
        """The ``errors`` map of a ``response_action: errors`` ack ({} otherwise)."""
        payload = self.ack_payload or {}
        errors = payload.get("errors") if payload.get("response_action") == "errors" else None
        return dict(errors) if isinstance(errors, Mapping) else {}


def _label_of(block: Mapping[str, Any]) -> str:
    return str((block.get("label") or {}).get("text", ""))


def _option_text(option: Mapping[str, Any]) -> str:
    return str((option.get("text") or {}).get("text", ""))


def _all_options(element: Mapping[str, Any]) -> list[Mapping[str, Any]]:
    options = list(element.get("options") or [])
    for group in element.get("option_groups") or []:
        options.extend(group.get("options") or [])
    return [o for o in options if isinstance(o, Mapping)]


def _is_empty(entry: Mapping[str, Any]) -> bool:
    for key, value in entry.items():
        if key == "type":
            continue
        if value not in (None, "", []):
            return False
    return True


class SlackDriver(StandInState):
    """People-like actions. Concrete transport lives in ``SlackStandIn``."""

    default_command = "/recon"

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

    def as_user(self, user_id: str) -> SlackUser:
        """A :class:`SlackUser` acting as ``user_id``."""
        self._require_user(user_id)
        return SlackUser(self, user_id)

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

    # ----------------------------------------------------------------- buttons

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

    # ----------------------------------------------------------------- modals

    def _resolve_entry(self, element: Mapping[str, Any], raw: Any, label: str) -> Any:
        kind = str(element.get("type"))
        if kind in ("static_select", "radio_buttons", "external_select"):
            return self._pick_option(element, str(raw), label)
        if kind in ("multi_static_select", "checkboxes", "multi_external_select"):
            items = [raw] if isinstance(raw, str) else list(raw)
            return [self._pick_option(element, str(item), label) for item in items]
        if kind in ("multi_users_select", "multi_conversations_select", "multi_channels_select"):
            return [str(item) for item in ([raw] if isinstance(raw, str) else raw)]
        text = str(raw)
        if kind == "datepicker":
            try:
                if len(text) != 10:
                    raise ValueError(text)
                dt.date.fromisoformat(text)
            except ValueError:
                raise AssertionError(
                    f"{label!r}: datepicker needs YYYY-MM-DD, got {text!r}"
                ) from None
            return text
        if kind == "timepicker":
            try:
                dt.time.fromisoformat(text)
            except ValueError:
                raise AssertionError(f"{label!r}: timepicker needs HH:MM, got {text!r}") from None
            return text
        if kind == "number_input":
            return self._check_number(element, text, label)
        if kind in ("plain_text_input", "email_text_input", "url_text_input"):
            if text == "":
                return None
            min_len = element.get("min_length")
            max_len = element.get("max_length")
            if isinstance(min_len, int) and len(text) < min_len:
                raise AssertionError(f"{label!r}: Slack requires at least {min_len} characters")
            if isinstance(max_len, int) and len(text) > max_len:
                raise AssertionError(f"{label!r}: Slack allows at most {max_len} characters")
            return text
        return text

    @staticmethod
    def _check_number(element: Mapping[str, Any], text: str, label: str) -> str | None:
        if text == "":
            return None
        try:
            number = float(text)
        except ValueError:
            raise AssertionError(f"{label!r}: number_input got non-number {text!r}") from None
        if not element.get("is_decimal_allowed") and not text.lstrip("-").isdigit():
            raise AssertionError(f"{label!r}: number_input does not allow decimals ({text!r})")
        low, high = element.get("min_value"), element.get("max_value")
        if low is not None and number < float(low):
            raise AssertionError(f"{label!r}: {text} is below min_value={low}")
        if high is not None and number > float(high):
            raise AssertionError(f"{label!r}: {text} is above max_value={high}")
        return text

    @staticmethod
    def _pick_option(element: Mapping[str, Any], wanted: str, label: str) -> JSON:
        options = _all_options(element)
        for option in options:
            if _option_text(option) == wanted:
                return copy.deepcopy(dict(option))
        for option in options:
            if option.get("value") == wanted:
                return copy.deepcopy(dict(option))
        texts = [_option_text(o) for o in options]
        raise AssertionError(f"{label!r}: no option {wanted!r}; options: {texts}")

    def _modal_for(self, user: str, view_id: str | None) -> View:
        view = self.views.get(view_id) if view_id else self.open_modal(user)
        if view is None or view.closed or view.type != "modal":
            what = f"modal {view_id}" if view_id else f"open modal for {user}"
            raise AssertionError(f"no {what}")
        return view

    async def submit_modal(
        self,
        user: str,
        values_by_label: Mapping[str, str | Sequence[str] | int | float] | None = None,
        *,
        view_id: str | None = None,
        require_ack: bool = True,
    ) -> SubmissionResult:
        """Fills the open modal's inputs by label and presses its submit button.

        Args:
            user: The user submitting.
            values_by_label: Input label -> entry: text for text/url/email/number inputs,
                the option's visible text for selects/radio buttons, a list of option
                texts for multi-selects/checkboxes, ``YYYY-MM-DD`` for datepickers, ids for
                user/conversation selects. Inputs not mentioned keep their initial value.
            view_id: Submit this modal instead of the top of the user's stack.
            require_ack: Raise AssertionError when the bot does not ack in time.

        Returns:
            The delivery; Slack's handling of the ack (``errors`` keeps the modal open,
            ``update``/``push``/``clear`` or a bare ack closing it) is already applied.

        Raises:
            AssertionError: Unknown label, bad entry, or a required input left empty
                (the Slack client would refuse to submit).
        """
        self._require_user(user)
        view = self._modal_for(user, view_id)
        if not view.spec.get("submit"):
            raise AssertionError(f"modal {view.id} has no submit button")
        wanted = dict(values_by_label or {})
        inputs = [
            b
            for b in view.blocks
            if b.get("type") == "input" and isinstance(b.get("element"), dict)
        ]
        labels = [_label_of(b) for b in inputs]
        unknown = [k for k in wanted if k not in labels]
        if unknown:
            raise AssertionError(
                f"modal {view.id} has no input labelled {unknown}; labels: {labels}"
            )
        state: JSON = copy.deepcopy(view.state_values)
        for block in inputs:
            element = block["element"]
            label = _label_of(block)
            if label in wanted:
                entry = element_state(element, self._resolve_entry(element, wanted[label], label))
            else:
                entry = state.get(block["block_id"], {}).get(element["action_id"]) or element_state(
                    element, None
                )
            if not block.get("optional") and _is_empty(entry):
                raise AssertionError(
                    f"required input {label!r} is empty; Slack would not let {user} submit"
                )
            state.setdefault(block["block_id"], {})[element["action_id"]] = entry
        view.state_values = state
        trigger_id = self.mint_trigger(user, source="view_submission")
        payload: JSON = {
            "type": "view_submission",
            "team": self._team_obj(),
            "user": self._user_obj(user),
            "api_app_id": self.app_id,
            "token": self.verification_token,
            "trigger_id": trigger_id,
            "view": view.to_payload(app_id=self.app_id, bot_id=self.bot_id),
            "response_urls": [],
            "is_enterprise_install": False,
            "enterprise": None,
        }
        env = await self.deliver("interactive", payload, accepts_response_payload=True)
        ack = await self._await_ack(env, require_ack=require_ack, what="view_submission")
        return SubmissionResult(
            env, ack, payload, trigger_id, None, view=view, modal_after=self.open_modal(user)
        )

    async def close_modal(self, user: str, *, require_ack: bool = True) -> DeliveryResult | None:
        """Presses the modal's close button (X).

        Slack closes the top modal (the whole stack with ``clear_on_close``) and, only
        when the view set ``notify_on_close``, sends ``view_closed``; that delivery is
        returned, else None.
        """
        view = self._modal_for(user, None)
        cleared = bool(view.spec.get("clear_on_close"))
        notify = bool(view.spec.get("notify_on_close"))
        self.close_views(user, all_views=cleared)
        if not notify:
            return None
        payload: JSON = {
            "type": "view_closed",
            "team": self._team_obj(),
            "user": self._user_obj(user),
            "api_app_id": self.app_id,
            "token": self.verification_token,
            "view": view.to_payload(app_id=self.app_id, bot_id=self.bot_id),
            "is_cleared": cleared,
            "is_enterprise_install": False,
            "enterprise": None,
        }
        env = await self.deliver("interactive", payload, accepts_response_payload=False)
        ack = await self._await_ack(env, require_ack=require_ack, what="view_closed")
        return DeliveryResult(env, ack, payload)

    # ----------------------------------------------------------------- events

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

    # ----------------------------------------------------------------- people's messages

    def _postable_by(self, user: str, channel: str) -> Channel:
        self._require_user(user)
        chan = self._require_channel(channel)
        if chan.archived:
            raise AssertionError(f"{chan.id} is archived; nobody can post there")
        if not chan.is_im and user not in chan.members:
            raise AssertionError(f"{user} is not a member of {chan.id} (not_in_channel)")
        return chan

    def _own_message(self, user: str, channel: str, ts: str) -> tuple[Channel, Message]:
        chan = self._postable_by(user, channel)
        msg = self.message(chan.id, ts)
        if msg is None or msg.deleted:
            raise AssertionError(f"no message {ts} in {chan.id} (message_not_found)")
        if msg.user != user or msg.bot_id is not None:
            # Slack lets people edit and delete only their own messages.
            raise AssertionError(f"{user} cannot change {ts}: not theirs (cant_update_message)")
        return chan, msg

    async def _message_event(
        self, chan: Channel, event: JSON, *, require_ack: bool
    ) -> DeliveryResult | None:
        """Delivers a ``message`` event if the app subscribes to that conversation's kind."""
        if not self.subscribes(chan.message_event):
            return None
        return await self.deliver_event(
            {**event, "channel": chan.id, "channel_type": chan.channel_type},
            require_ack=require_ack,
        )

    def _user_message_payload(self, msg: Message) -> JSON:
        """A person's message as message events carry it (``client_msg_id`` included)."""
        payload = msg.to_payload()
        payload["client_msg_id"] = f"cm-{msg.channel}-{msg.ts}"
        if msg.thread_ts is not None and msg.is_reply:
            parent = self.message(msg.channel, msg.thread_ts)
            if parent is not None:
                payload["parent_user_id"] = parent.user
        return payload

    async def post_reply(
        self,
        user: str,
        channel: str,
        thread_ts: str,
        text: str,
        *,
        require_ack: bool = True,
    ) -> UserMessage:
        """Replies as ``user`` in the thread of the message at ``thread_ts``.

        The reply is stored in the channel (``conversations.replies`` shows it) and, when
        the app subscribes to the conversation's message events (``message.channels``,
        ``message.groups``, ``message.im``), a ``message`` event is delivered. Naming a
        reply as ``thread_ts`` replies in its thread, as Slack's clients do.
        """
        chan = self._postable_by(user, channel)
        parent = self.message(chan.id, thread_ts)
        if parent is None or parent.deleted:
            raise AssertionError(f"no message {thread_ts} in {chan.id} to reply to")
        root = parent.thread_ts if parent.is_reply and parent.thread_ts else parent.ts
        msg = self.record_message(
            chan, text=text, blocks=None, thread_ts=root, source="user", user=user
        )
        payload = self._user_message_payload(msg)
        event: JSON = {**payload, "event_ts": msg.ts}
        return UserMessage(msg, await self._message_event(chan, event, require_ack=require_ack))

    async def post_message(
        self, user: str, channel: str, text: str, *, require_ack: bool = True
    ) -> UserMessage:
        """Posts a top-level message as ``user`` (not in any thread)."""
        chan = self._postable_by(user, channel)
        msg = self.record_message(chan, text=text, blocks=None, source="user", user=user)
        event: JSON = {**self._user_message_payload(msg), "event_ts": msg.ts}
        return UserMessage(msg, await self._message_event(chan, event, require_ack=require_ack))

    async def edit_message(
        self, user: str, channel: str, ts: str, text: str, *, require_ack: bool = True
    ) -> UserMessage:
        """Edits ``user``'s own message: a ``message_changed`` event with ``message`` (as it
        is now, with ``edited``) and ``previous_message`` (as it was)."""
        chan, msg = self._own_message(user, channel, ts)
        previous = self._user_message_payload(msg)
        self.revise_message(msg, text=text, blocks=None, by="user")
        assert msg.edited_ts is not None
        event: JSON = {
            "type": "message",
            "subtype": "message_changed",
            "hidden": True,
            "message": self._user_message_payload(msg),
            "previous_message": previous,
            "ts": msg.edited_ts,
            "event_ts": msg.edited_ts,
        }
        return UserMessage(msg, await self._message_event(chan, event, require_ack=require_ack))

    async def delete_message(
        self, user: str, channel: str, ts: str, *, require_ack: bool = True
    ) -> UserMessage:
        """Deletes ``user``'s own message: a ``message_deleted`` event with ``deleted_ts``
        and ``previous_message``; the message leaves history and replies."""
        chan, msg = self._own_message(user, channel, ts)
        previous = self._user_message_payload(msg)
        msg.deleted = True
        self._changed()
        at = self._next_ts()
        event: JSON = {
            "type": "message",
            "subtype": "message_deleted",
            "hidden": True,
            "deleted_ts": msg.ts,
            "previous_message": previous,
            "ts": at,
            "event_ts": at,
        }
        return UserMessage(msg, await self._message_event(chan, event, require_ack=require_ack))

    async def join_channel(self, user: str, channel: str, *, require_ack: bool = True) -> None:
        """``user`` joins ``channel``: Slack posts a ``channel_join`` message there."""
        self._require_user(user)
        chan = self._require_channel(channel)
        chan.members.add(user)
        msg = self.record_message(
            chan, text=f"<@{user}> has joined the channel", blocks=None, source="user", user=user
        )
        event: JSON = {
            **self._user_message_payload(msg),
            "subtype": "channel_join",
            "event_ts": msg.ts,
        }
        event.pop("client_msg_id", None)
        await self._message_event(chan, event, require_ack=require_ack)

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

"""Filling in and closing modals as people would, entries checked as the Slack client does."""

from __future__ import annotations

import copy
import datetime as dt
from collections.abc import Mapping, Sequence
from typing import Any

from .deliveries import DeliveryResult, SubmissionResult
from .driver_base import DriverBase
from .state import JSON, View, element_state

__all__ = ["Modals"]


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


class Modals(DriverBase):
    """Submits a modal's inputs by label, or closes it."""

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

"""Slack's ``views.*`` Web API methods: opening, pushing, updating and publishing views.

Modals need a fresh trigger_id and stack to ``limits.modal_stack_depth``; updates honour
``hash`` and ``external_id`` as Slack does; ``views.publish`` keeps one home tab per user.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from .limits import validate_view
from .network import NetworkBase, _err, _str_or_none
from .records import JSON, View

__all__ = ["ViewsApi"]


class ViewsApi(NetworkBase):
    """The ``views.*`` methods of :class:`~sandbox.slack.webapi.WebApi`."""

    def _view_payload(self, view: View) -> JSON:
        return {"ok": True, "view": view.to_payload(app_id=self.app_id, bot_id=self.bot_id)}

    def _check_view(self, view: Any, expected_type: str) -> JSON | None:
        check = validate_view(view, expected_type=expected_type, limits=self.limits)
        if check.error:
            return _err(check.error, response_metadata={"messages": list(check.messages)})
        return None

    def _external_id_taken(self, view: Mapping[str, Any], except_id: str | None = None) -> bool:
        external_id = view.get("external_id")
        if not external_id:
            return False
        return any(
            v.external_id == external_id and not v.closed and v.id != except_id
            for v in self.views.values()
        )

    def _m_views_open(self, params: JSON) -> JSON:
        trigger, error = self.check_trigger(params.get("trigger_id"))
        if trigger is None:
            return _err(error or "invalid_trigger_id")
        spec = params.get("view")
        problem = self._check_view(spec, "modal")
        if problem or not isinstance(spec, dict):
            return problem or _err("invalid_arguments")
        if self._external_id_taken(spec):
            return _err("duplicate_external_id")
        trigger.exchanged_by = "views.open"
        if self.modal_stacks.get(trigger.user):
            self.close_views(trigger.user, all_views=True)
        view = self.create_view(trigger.user, spec)
        self.modal_stacks[trigger.user] = [view.id]
        return self._view_payload(view)

    def _m_views_push(self, params: JSON) -> JSON:
        trigger, error = self.check_trigger(params.get("trigger_id"))
        if trigger is None:
            return _err(error or "invalid_trigger_id")
        spec = params.get("view")
        problem = self._check_view(spec, "modal")
        if problem or not isinstance(spec, dict):
            return problem or _err("invalid_arguments")
        stack = self.modal_stacks.get(trigger.user) or []
        if not stack:
            return _err(
                "invalid_arguments",
                response_metadata={
                    "messages": ["[ERROR] no open modal to push onto [json-pointer:/view]"]
                },
            )
        if len(stack) >= self.limits.modal_stack_depth:
            return _err("push_limit_reached")
        if self._external_id_taken(spec):
            return _err("duplicate_external_id")
        trigger.exchanged_by = "views.push"
        view = self.create_view(trigger.user, spec, root_view_id=stack[0], previous=stack[-1])
        stack.append(view.id)
        return self._view_payload(view)

    def _m_views_update(self, params: JSON) -> JSON:
        view_id, external_id = (
            _str_or_none(params.get("view_id")),
            _str_or_none(params.get("external_id")),
        )
        if view_id is None and external_id is None:
            return _err(
                "invalid_arguments",
                response_metadata={"messages": ["[ERROR] view_id or external_id is required"]},
            )
        target: View | None = None
        for view in self.views.values():
            if (view_id and view.id == view_id) or (
                external_id and view.external_id == external_id
            ):
                target = view
        if target is None or target.closed:
            return _err("not_found")
        expected_hash = _str_or_none(params.get("hash"))
        if expected_hash is not None and expected_hash != target.hash:
            return _err("hash_conflict")
        spec = params.get("view")
        problem = self._check_view(spec, target.type)
        if problem or not isinstance(spec, dict):
            return problem or _err("invalid_arguments")
        if self._external_id_taken(spec, except_id=target.id):
            return _err("duplicate_external_id")
        self.replace_view(target, spec)
        return self._view_payload(target)

    def _m_views_publish(self, params: JSON) -> JSON:
        user = _str_or_none(params.get("user_id"))
        if user is None or user not in self.users:
            return _err("user_not_found")
        spec = params.get("view")
        problem = self._check_view(spec, "home")
        if problem or not isinstance(spec, dict):
            return problem or _err("invalid_arguments")
        current = self.home_of(user)
        expected_hash = _str_or_none(params.get("hash"))
        if current is not None and expected_hash is not None and expected_hash != current.hash:
            return _err("hash_conflict")
        if current is None:
            current = self.create_view(user, spec)
            self.homes[user] = current.id
        else:
            self.replace_view(current, spec)
        return self._view_payload(current)

"""Slack payloads parsed at the edge into small pydantic models (nothing past here digs in dicts).

Only the fields the bot uses are modelled; everything else Slack sends is ignored.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field


class _Model(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True)


class SlashCommand(_Model):
    """A ``/recon`` invocation."""

    user_id: str
    channel_id: str = ""
    text: str = ""
    trigger_id: str = ""
    response_url: str = ""
    command: str = ""


class _Id(_Model):
    id: str


class _Container(_Model):
    type: str = ""
    channel_id: str | None = None
    message_ts: str | None = None
    view_id: str | None = None


class _Action(_Model):
    action_id: str
    block_id: str = ""
    value: str = ""


class BlockAction(_Model):
    """A button click in a message, a modal or the App Home."""

    user: _Id
    actions: list[_Action] = Field(min_length=1)
    trigger_id: str = ""
    response_url: str | None = None
    container: _Container = _Container()
    channel: _Id | None = None

    @property
    def action(self) -> _Action:
        """The clicked element."""
        return self.actions[0]

    @property
    def channel_id(self) -> str | None:
        """The channel of the message clicked, if any."""
        return self.container.channel_id or (self.channel.id if self.channel else None)

    @property
    def message_ts(self) -> str | None:
        """The ts of the message clicked, if any."""
        return self.container.message_ts

    @property
    def in_view(self) -> bool:
        """Whether the click came from a modal or the App Home."""
        return self.container.type == "view"


class _View(_Model):
    id: str = ""
    callback_id: str = ""
    private_metadata: str = ""
    hash: str = ""
    state: dict[str, Any] = Field(default_factory=dict)


class ViewSubmission(_Model):
    """A modal's submit."""

    user: _Id
    view: _View

    @property
    def values(self) -> dict[str, dict[str, Any]]:
        """``view.state.values``: block_id -> action_id -> element state."""
        values = self.view.state.get("values", {})
        return values if isinstance(values, dict) else {}


class AppHomeOpened(_Model):
    """The ``app_home_opened`` event."""

    user: str
    tab: str = "home"

"""What a delivery to the bot came to: the envelope, its ack, and what the user now sees.

The driver's methods (:mod:`sandbox.slack.driver`) return these records.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from .state import JSON, Ack, Envelope, Message, View

__all__ = ["DeliveryResult", "SubmissionResult", "UserMessage"]


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

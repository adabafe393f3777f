"""A faithful local stand-in for Slack (Web API, Socket Mode, response_urls).

The tests run the bot against it and `recon-bot sandbox` serves it to a browser.

Start one with ``async with SlackStandIn() as slack:``, point slack_sdk at
``slack.api_url``, and drive it as people would (``slash_command``, ``click``,
``submit_modal``, ``open_home``). Importing this package has no side effects.
"""

from .driver import DeliveryResult, SlackDriver, SlackUser, SubmissionResult, UserMessage
from .faults import FaultPlan
from .limits import LIMITS, SlackLimits, validate_blocks, validate_message, validate_view
from .server import SlackStandIn
from .state import (
    Ack,
    ApiCall,
    Channel,
    ConnectionRecord,
    Envelope,
    Ephemeral,
    ManualClock,
    Message,
    ResponsePost,
    StandInState,
    Trigger,
    User,
    View,
)

__all__ = [
    "LIMITS",
    "Ack",
    "ApiCall",
    "Channel",
    "ConnectionRecord",
    "DeliveryResult",
    "Envelope",
    "Ephemeral",
    "FaultPlan",
    "ManualClock",
    "Message",
    "ResponsePost",
    "SlackDriver",
    "SlackLimits",
    "SlackStandIn",
    "SlackUser",
    "StandInState",
    "SubmissionResult",
    "Trigger",
    "User",
    "UserMessage",
    "View",
    "validate_blocks",
    "validate_message",
    "validate_view",
]

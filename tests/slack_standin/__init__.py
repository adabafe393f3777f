"""The Slack stand-in for tests: a re-export of ``sandbox.slack``, its one implementation.

The stand-in moved into the product (``recon-bot sandbox`` serves it to a browser); this
package keeps ``tests.slack_standin`` importable for the tests that use it.

Start one with ``async with SlackStandIn() as slack:``, point slack_sdk at
``slack.api_url``, and drive it as people would (``slash_command``, ``click``,
``submit_modal``, ``open_home``). Importing this package has no side effects.
"""

from sandbox.slack.driver import (
    DeliveryResult,
    SlackDriver,
    SlackUser,
    SubmissionResult,
    UserMessage,
)
from sandbox.slack.faults import FaultPlan
from sandbox.slack.limits import (
    LIMITS,
    SlackLimits,
    validate_blocks,
    validate_message,
    validate_view,
)
from sandbox.slack.server import SlackStandIn
from sandbox.slack.state import (
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

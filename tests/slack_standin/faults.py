"""Re-export of ``sandbox.slack.faults`` (the one implementation)."""

from sandbox.slack.faults import *  # noqa: F403

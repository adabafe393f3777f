"""Re-export of ``sandbox.slack.limits`` (the one implementation)."""

from sandbox.slack.limits import *  # noqa: F403

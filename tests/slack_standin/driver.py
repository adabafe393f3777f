"""Re-export of ``sandbox.slack.driver`` (the one implementation)."""

from sandbox.slack.driver import *  # noqa: F403

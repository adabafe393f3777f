"""Re-export of ``sandbox.slack.state`` (the one implementation)."""

from sandbox.slack.state import *  # noqa: F403

"""Re-export of ``sandbox.slack.server`` (the one implementation)."""

from sandbox.slack.server import *  # noqa: F403

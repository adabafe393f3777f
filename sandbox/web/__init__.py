"""The sandbox's web page: a local Slack in the browser, over the stand-in's state."""

from .server import SandboxPage

__all__ = ["SandboxPage"]

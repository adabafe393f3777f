"""Reaching Slack: the tokens checked for presence and shape, and the first Web API call,
so a missing token or an unreachable Slack is one clear sentence (never printing a token).
"""

from __future__ import annotations

import os
import socket

import aiohttp
from slack_sdk.web.async_client import AsyncWebClient
from slack_sdk.web.async_slack_response import AsyncSlackResponse

from bot.container import SetupError
from bot.errors import BotError
from bot.redaction import redact
from bot.settings import Settings


def slack_tokens(settings: Settings) -> tuple[str, str]:
    """The bot and app tokens, checked for presence and shape.

    Raises:
        SetupError: naming what is missing or malformed (never printing a token).
    """
    problems = []
    bot = settings.slack_bot_token.get_secret_value() if settings.slack_bot_token else ""
    app = settings.slack_app_token.get_secret_value() if settings.slack_app_token else ""
    if not bot:
        problems.append("SLACK_BOT_TOKEN is not set (a bot token, xoxb-...)")
    elif not bot.startswith("xoxb-"):
        problems.append("SLACK_BOT_TOKEN does not look like a bot token (it must start xoxb-)")
    if not app:
        problems.append("SLACK_APP_TOKEN is not set (an app-level token, xapp-...)")
    elif not app.startswith("xapp-"):
        problems.append("SLACK_APP_TOKEN does not look like an app-level token (xapp-...)")
    if problems:
        raise SetupError("; ".join(problems))
    return bot, app


class SlackUnreachable(BotError):
    """Slack's Web API did not answer; the message names the URL, never a token."""


async def reach_slack(client: AsyncWebClient) -> AsyncSlackResponse:
    """``auth.test``: the first call, so an unreachable Slack is one clear sentence.

    Raises:
        SlackUnreachable: the connection failed or timed out.
    """
    try:
        return await client.auth_test()
    except (aiohttp.ClientError, OSError, TimeoutError) as exc:
        raise SlackUnreachable(
            f"could not reach Slack at {redact(client.base_url)} ({_reason(exc)}); "
            "check the network, a proxy, or RECON_SLACK_API_URL"
        ) from None


def _reason(exc: BaseException) -> str:
    os_error = getattr(exc, "os_error", exc)  # aiohttp wraps the socket's OSError
    if isinstance(os_error, socket.gaierror):
        return f"cannot resolve its host name: {os_error.strerror}"
    if isinstance(os_error, OSError) and os_error.errno:
        return os.strerror(os_error.errno).lower()
    if isinstance(exc, TimeoutError):
        return "timed out"
    return redact(str(exc)) or exc.__class__.__name__

"""The Slack process: :func:`serve` (``recon-bot serve``) runs the bot until a signal.

The pieces live by concept: the Bolt app and its listeners' dependencies in
``bot.bolt_app``, the tokens and the first call to Slack in ``bot.slack_access``, the
running bot and its bounded stop (issue 13) in ``bot.server``. Their names stay
importable from here.
"""

from __future__ import annotations

import asyncio
import logging
import os
import signal

from bot.bolt_app import LISTENER_WORKERS, create_app, make_deps
from bot.container import Container
from bot.observability import Observability, measured_client
from bot.server import (
    CALL_GRACE_S,
    DELIVERY_GRACE_S,
    LISTENER_GRACE_S,
    RELAY_JOIN_S,
    SOCKET_CLOSE_S,
    Server,
)
from bot.settings import Settings
from bot.setup import desk_files
from bot.slack_access import SlackUnreachable, slack_tokens
from store.private_files import exposed_files

__all__ = [
    "CALL_GRACE_S",
    "DELIVERY_GRACE_S",
    "LISTENER_GRACE_S",
    "LISTENER_WORKERS",
    "RELAY_JOIN_S",
    "SOCKET_CLOSE_S",
    "Server",
    "SlackUnreachable",
    "create_app",
    "make_deps",
    "serve",
    "slack_tokens",
]

log = logging.getLogger("recon_bot")


async def serve(settings: Settings) -> None:
    """``recon-bot serve``: run until SIGTERM or SIGINT."""
    bot_token, app_token = slack_tokens(settings)
    observability = Observability()
    container = await Container.open(settings, batch_seals=True, observability=observability)
    for exposed in exposed_files(desk_files(settings)):
        log.warning(exposed, extra={"event": "desk_file_exposed"})
    client = measured_client(
        token=bot_token, base_url=settings.slack_api_url, metrics=observability.metrics
    )
    server = Server(
        container=container, app_token=app_token, client=client, observability=observability
    )
    loop = asyncio.get_running_loop()

    def on_signal(signum: int) -> None:
        if not server.stop.is_set():
            server.stop.set()
            return
        # A second signal during the stop: exit now. Every change is one committed
        # transaction and undelivered rows come back after their lease (as after a
        # crash), so nothing is corrupted; the next start seals the audit log's tail.
        log.warning("second signal: exiting at once", extra={"event": "stop_forced"})
        logging.shutdown()
        os._exit(128 + signum)

    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, on_signal, sig)
    try:
        await server.run()
    finally:
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.remove_signal_handler(sig)
        await container.close()
        observability.shutdown()

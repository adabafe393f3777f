"""Serves the sandbox page and turns a person's clicks into Slack's payloads.

The page never builds a payload itself: it posts "click this button in this message as
this person" (or "submit this modal with these entries by label") and the stand-in's
driver, the same code the end-to-end tests use, builds exactly what Slack would send and
delivers it to the bot over Socket Mode. Everything is served from this package on
127.0.0.1; the page loads nothing from anywhere else.
"""

from __future__ import annotations

import asyncio
import json
import logging
import socket
from importlib import resources
from typing import Any

from aiohttp import web

from sandbox.slack.driver import SlackDriver
from sandbox.slack.state import Ephemeral, Message, View

JSON = dict[str, Any]
_HOST = "127.0.0.1"
_STATIC = {"app.js": "text/javascript", "app.css": "text/css", "index.html": "text/html"}

log = logging.getLogger("recon_bot.sandbox")


def _message(msg: Message | Ephemeral, *, ephemeral: bool, bot: str) -> JSON:
    return {
        "ts": msg.ts,
        "thread_ts": msg.thread_ts,
        # An ephemeral's ``user`` is who sees it; the bot is who says it.
        "user": bot if ephemeral else msg.user,
        "text": msg.text or "",
        "blocks": msg.blocks or [],
        "ephemeral": ephemeral,
        "edited": bool(msg.history),
    }


def _view(view: View) -> JSON:
    return {"id": view.id, "type": view.type, "spec": view.spec}


class SandboxPage:
    """The page and its small JSON API over a running stand-in.

    Args:
        slack: The stand-in the bot is connected to.
        people: The people the page can act as, id -> label (``alice (reviewer)``).
        port: The port to bind on 127.0.0.1 (0 picks a free one).
    """

    def __init__(self, *, slack: SlackDriver, people: dict[str, str], port: int) -> None:
        self.slack = slack
        self.people = people
        self._want_port = port
        self._port: int | None = None
        self._runner: web.AppRunner | None = None

    @property
    def url(self) -> str:
        """``http://127.0.0.1:PORT`` once started."""
        if self._port is None:
            raise RuntimeError("the sandbox page is not started")
        return f"http://{_HOST}:{self._port}"

    async def start(self) -> None:
        """Binds 127.0.0.1 (only loopback) and serves."""
        app = web.Application(middlewares=[self._errors])
        app.router.add_get("/", self._index)
        app.router.add_get("/static/{name}", self._static)
        app.router.add_get("/api/state", self._state)
        app.router.add_post("/api/click", self._click)
        app.router.add_post("/api/submit", self._submit)
        app.router.add_post("/api/close", self._close)
        app.router.add_post("/api/command", self._command)
        app.router.add_post("/api/home", self._home)
        runner = web.AppRunner(app, shutdown_timeout=1.0, access_log=None)
        await runner.setup()
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((_HOST, self._want_port))
            await web.SockSite(runner, sock).start()
        except BaseException:
            sock.close()
            await runner.cleanup()
            raise
        self._port = int(sock.getsockname()[1])
        self._runner = runner

    async def stop(self) -> None:
        """Stops serving and releases the port."""
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    # ----------------------------------------------------------------- plumbing

    @web.middleware
    async def _errors(self, request: web.Request, handler: Any) -> web.StreamResponse:
        # A click the stand-in refuses (no such button, a required field left empty) is
        # the person's to fix: say why in the page, never a stack trace.
        try:
            response: web.StreamResponse = await handler(request)
            return response
        except AssertionError as exc:
            return web.json_response({"ok": False, "error": str(exc)}, status=400)
        except (KeyError, ValueError, json.JSONDecodeError) as exc:
            return web.json_response({"ok": False, "error": f"bad request: {exc}"}, status=400)

    async def _body(self, request: web.Request) -> tuple[str, JSON]:
        body = await request.json()
        if not isinstance(body, dict):
            raise ValueError("a JSON object is expected")
        user = str(body["as"])
        if user not in self.people:
            raise ValueError(f"unknown person {user}")
        return user, body

    async def _index(self, request: web.Request) -> web.StreamResponse:
        return self._file("index.html")

    async def _static(self, request: web.Request) -> web.StreamResponse:
        name = request.match_info["name"]
        if name not in _STATIC:
            raise web.HTTPNotFound()
        return self._file(name)

    @staticmethod
    def _file(name: str) -> web.Response:
        text = resources.files("sandbox.web").joinpath("static", name).read_text("utf-8")
        return web.Response(
            text=text,
            content_type=_STATIC[name],
            headers={"Cache-Control": "no-store", "Content-Security-Policy": "default-src 'self'"},
        )

    # ----------------------------------------------------------------- reading

    async def _state(self, request: web.Request) -> web.StreamResponse:
        user = request.query.get("as", "")
        if user not in self.people:
            user = next(iter(self.people))
        return web.json_response(self.snapshot(user))

    def snapshot(self, user: str) -> JSON:
        """What ``user`` sees now: their channels, DM, ephemerals, home tab and modals."""
        slack = self.slack
        dm = slack.dm_channel(user)
        channels = []
        for chan in slack.channels.values():
            if chan.is_im and chan.id != dm.id:
                continue
            if not chan.is_im and user not in chan.members:
                continue
            messages = [
                _message(m, ephemeral=False, bot=slack.bot_user_id)
                for m in slack.messages_in(chan.id)
            ]
            messages += [
                _message(e, ephemeral=True, bot=slack.bot_user_id)
                for e in slack.ephemerals_for(user, chan.id)
                if not e.deleted
            ]
            messages.sort(key=lambda m: str(m["ts"]))
            channels.append(
                {
                    "id": chan.id,
                    "name": "recon-bot (app DM)" if chan.is_im else chan.name,
                    "is_im": chan.is_im,
                    "messages": messages,
                }
            )
        home = slack.home_of(user)
        return {
            "as": user,
            "people": self.people,
            "users": {u.id: u.name for u in slack.users.values()},
            "channels": channels,
            "home": _view(home) if home is not None else None,
            "modals": [_view(v) for v in slack.modal_stack(user)],
        }

    # ----------------------------------------------------------------- acting

    async def _click(self, request: web.Request) -> web.StreamResponse:
        user, body = await self._body(request)
        result = await self.slack.click(
            user,
            str(body["label"]),
            channel=body.get("channel"),
            ts=body.get("ts"),
            view_id=body.get("view_id"),
            block_id=body.get("block_id"),
            action_id=body.get("action_id"),
        )
        await self._settle()
        return web.json_response({"ok": True, "ack": result.ack_payload})

    async def _submit(self, request: web.Request) -> web.StreamResponse:
        user, body = await self._body(request)
        values = body.get("values") or {}
        if not isinstance(values, dict):
            raise ValueError("values must be an object of label -> entry")
        result = await self.slack.submit_modal(user, values, view_id=body.get("view_id"))
        await self._settle()
        return web.json_response({"ok": True, "errors": result.errors})

    async def _close(self, request: web.Request) -> web.StreamResponse:
        user, _ = await self._body(request)
        await self.slack.close_modal(user)
        return web.json_response({"ok": True})

    async def _command(self, request: web.Request) -> web.StreamResponse:
        user, body = await self._body(request)
        text = str(body["text"]).strip()
        command, _, rest = text.partition(" ")
        if command != "/recon":
            raise ValueError("the sandbox runs /recon commands only, e.g. /recon queue")
        await self.slack.slash_command(user, rest.strip(), channel=body.get("channel"))
        await self._settle()
        return web.json_response({"ok": True})

    async def _home(self, request: web.Request) -> web.StreamResponse:
        user, _ = await self._body(request)
        await self.slack.open_home(user)
        await self._settle()
        return web.json_response({"ok": True})

    @staticmethod
    async def _settle() -> None:
        # The bot answers after its ack (views.open, chat.update): a short pause lets the
        # page's next read show most answers at once; the page polls for the rest.
        await asyncio.sleep(0.15)

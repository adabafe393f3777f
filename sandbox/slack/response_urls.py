"""Slack's response_urls: minted per slash command or click, answered on ``/response/<id>``.

A response_url posts ephemerally to the user who acted (or ``in_channel``), replaces or
deletes the message it came from, and works 5 times within 30 minutes (``limits``).
"""

from __future__ import annotations

import secrets
import time
from typing import Any

from aiohttp import web

from .limits import validate_message
from .network import NetworkBase, _str_or_none
from .records import JSON, Ephemeral, Message, ResponsePost, ResponseUrl, _truthy

__all__ = ["ResponseUrls"]


class ResponseUrls(NetworkBase):
    """Mints response_urls and answers the posts made to them."""

    def mint_response_url(
        self,
        *,
        user: str,
        channel: str,
        origin: str,
        message_ts: str | None = None,
        ephemeral: bool = False,
    ) -> str:
        """Mints a response_url answering to ``user`` in ``channel``.

        Args:
            user: Who sees ephemeral responses.
            channel: Where responses go.
            origin: ``"slash_commands"`` or ``"block_actions"``.
            message_ts: The originating message (for ``replace_original``/``delete_original``).
            ephemeral: Whether that originating message is an ephemeral one.

        Returns:
            ``http://127.0.0.1:PORT/response/<id>``; usable 5 times within 30 minutes.
        """
        url_id = secrets.token_urlsafe(12)
        url = f"{self.base_url}/response/{url_id}"
        self.response_urls[url_id] = ResponseUrl(
            url_id, url, user, channel, self.now(), origin, message_ts, ephemeral
        )
        return url

    def _origin_of(self, rurl: ResponseUrl) -> Message | Ephemeral | None:
        if rurl.message_ts is None:
            return None
        if rurl.message_is_ephemeral:
            for eph in self.ephemerals:
                if eph.ts == rurl.message_ts and eph.user == rurl.user and not eph.deleted:
                    return eph
            return None
        msg = self.message(rurl.channel, rurl.message_ts)
        return None if msg is None or msg.deleted else msg

    async def _handle_response_url(self, request: web.Request) -> web.StreamResponse:
        await self._reachable.wait()
        url_id = request.match_info["url_id"]
        try:
            body: Any = await request.json()
        except ValueError:
            body = None
        body = body if isinstance(body, dict) else {}
        status, error = self._respond(url_id, body)
        self.response_posts.append(ResponsePost(url_id, body, status, error, time.monotonic()))
        self._changed()
        return web.Response(status=status, text=error or "ok", content_type="text/plain")

    def _respond(self, url_id: str, body: JSON) -> tuple[int, str | None]:
        rurl = self.response_urls.get(url_id)
        if rurl is None:
            return 404, "no_service"
        fault = self.faults.check("response_url", rurl.channel)
        if fault is not None:
            return fault.status, str(fault.body.get("error"))
        if not body:
            return 400, "invalid_payload"
        if self.now() - rurl.minted_at > self.limits.response_url_ttl_s:
            return 404, "expired_url"
        if rurl.uses >= self.limits.response_url_uses:
            return 404, "used_url"
        rurl.uses += 1
        origin = self._origin_of(rurl)
        if _truthy(body.get("delete_original")):
            if origin is None:
                return 404, "message_not_found"
            origin.deleted = True
            return 200, None
        text, blocks = _str_or_none(body.get("text")), body.get("blocks")
        code, _errors = validate_message(text, blocks, body.get("attachments"), limits=self.limits)
        if code:
            return 400, code
        if _truthy(body.get("replace_original")) and origin is not None:
            self.revise_message(origin, text=text, blocks=blocks, by="response_url")
        elif body.get("response_type") == "in_channel":
            channel = self.channels[rurl.channel]
            self.record_message(
                channel,
                text=text,
                blocks=blocks,
                thread_ts=_str_or_none(body.get("thread_ts")),
                source="response_url",
            )
        else:
            self.record_ephemeral(
                rurl.channel, rurl.user, text=text, blocks=blocks, source="response_url"
            )
        return 200, None

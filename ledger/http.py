"""The ``http`` sink: ``POST`` each entry to the ledger's URL, keyed by ``Idempotency-Key``.

The contract (kept stable: ledgers depend on it): ``POST`` with ``Content-Type:
application/json``, header ``Idempotency-Key`` (the entry's key, the same on every
attempt) and the body of :func:`domain.ledger.request_body`. The ledger answers 201 (or
200) with ``{"reference": "..."}``, and 409 with the same body for a key it already
holds. Any other 4xx refuses the entry for good, except 408 and 429 (the ledger is busy,
not refusing); those, 5xx, timeouts and refused connections are worth another try.

aiohttp, not httpx: it is already installed and used for Slack (slack-bolt's async
client), so the process keeps one HTTP stack and gains no dependency.
"""

from __future__ import annotations

import asyncio
import json

import aiohttp

from domain.items import JournalEntry
from domain.ledger import Accepted, Outcome, Refused, Unavailable, request_body

#: 4xx answers that say "not now" rather than "never": retried like a 5xx.
_BUSY = frozenset({408, 429})
#: The most of an error body kept in an outcome (and so in logs and alerts).
_ERROR_CHARS = 200


class HttpLedgerSink:
    """Posts entries to ``url`` (see module docstring); open with ``async with`` or call
    :meth:`close` when done."""

    def __init__(self, *, url: str, timeout: float) -> None:
        self._url = url
        self._timeout = aiohttp.ClientTimeout(total=timeout)
        self._session: aiohttp.ClientSession | None = None

    async def __aenter__(self) -> HttpLedgerSink:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    def _client(self) -> aiohttp.ClientSession:
        if self._session is None or self._session.closed:
            self._session = aiohttp.ClientSession(timeout=self._timeout)
        return self._session

    async def close(self) -> None:
        """Closes the connection pool."""
        if self._session is not None:
            await self._session.close()
            self._session = None

    async def send(self, entry: JournalEntry) -> Outcome:
        """One ``POST`` of ``entry``; every answer (or its absence) is an outcome."""
        headers = {
            "Content-Type": "application/json",
            "Idempotency-Key": entry.idempotency_key,
        }
        data = json.dumps(request_body(entry), separators=(",", ":"))
        try:
            async with self._client().post(self._url, data=data, headers=headers) as response:
                status = response.status
                text = await response.text()
        except TimeoutError:
            return Unavailable(error="timeout")
        except (aiohttp.ClientError, OSError) as exc:
            return Unavailable(error=f"network: {exc.__class__.__name__}")
        except asyncio.CancelledError:
            raise
        return _outcome(status, text)


def _outcome(status: int, text: str) -> Outcome:
    if 200 <= status < 300 or status == 409:
        reference = _reference(text)
        if reference is None:
            # The ledger may hold the entry, but without its reference there is nothing
            # to record: ask again (it answers 409 with the reference).
            return Unavailable(error=f"HTTP {status} without a reference")
        return Accepted(reference=reference, duplicate=status == 409)
    snippet = " ".join(text.split())[:_ERROR_CHARS]
    error = f"HTTP {status}" + (f": {snippet}" if snippet else "")
    if 400 <= status < 500 and status not in _BUSY:
        return Refused(error=error)
    return Unavailable(error=error)


def _reference(text: str) -> str | None:
    try:
        body = json.loads(text)
    except ValueError:
        return None
    reference = body.get("reference") if isinstance(body, dict) else None
    if isinstance(reference, str | int) and str(reference).strip():
        return str(reference).strip()[:200]
    return None

"""A stand-in for an ERP's ledger API on 127.0.0.1, speaking the ``http`` sink's contract.

``POST /entries`` with ``Idempotency-Key`` and the JSON body stores the entry under its
key and answers 201 ``{"reference": "GL-<n>"}``; the same key again answers 409 with the
same reference (and counts a repeat). It checks the contract on every request (the
header equals the body's key, amounts are decimal strings, lines balance) and answers
422 when it is broken, so a test that breaks the contract fails.

Faults, each for the next ``n`` requests (or, for ``failure_rate``, at random):

- ``fail_next(n, status)``: answer ``status`` (500 by default) without storing;
- ``refuse_next(n, status)``: answer a 4xx (422 by default) without storing;
- ``time_out_next(n, store=...)``: never answer in time (the client times out), having
  stored the entry first when ``store`` (the ledger took it, the answer was lost);
- ``slow(seconds)``: every answer waits that long;
- ``hold_next()``: store the entry, then hold the answer until released (to kill the
  bot between the ledger's acceptance and its record);
- ``failure_rate(p, rng)``: each request fails with probability ``p``, half as a 500,
  half as a timeout.

``duplicates`` counts entries stored twice: the same ``ledger_ref`` (our entry) under a
second key, or a key stored again after it was stored. A correct bot keeps it at 0.
"""

from __future__ import annotations

import asyncio
import json
import random
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from typing import Any

from aiohttp import web

#: How long a "timed out" request waits before answering (longer than any client timeout).
_NEVER = 3600.0


@dataclass
class StoredEntry:
    """One entry the ledger holds."""

    key: str
    reference: str
    body: dict[str, Any]


@dataclass
class Hold:
    """A held answer: ``reached`` is set once the entry is stored; ``release()`` answers."""

    reached: asyncio.Event = field(default_factory=asyncio.Event)
    released: asyncio.Event = field(default_factory=asyncio.Event)

    def release(self) -> None:
        """Lets the held answer go (to a client that may be dead by now)."""
        self.released.set()


def _contract_problem(key: str | None, body: Any) -> str | None:
    """What breaks the ``http`` sink's contract in a request, or None."""
    if not key:
        return "no Idempotency-Key header"
    if not isinstance(body, dict):
        return "the body is not a JSON object"
    for name in ("idempotency_key", "ledger_ref", "entity", "currency", "memo", "item", "kind"):
        if not isinstance(body.get(name), str):
            return f"{name} missing or not a string"
    if body["idempotency_key"] != key:
        return "the Idempotency-Key header differs from the body's idempotency_key"
    lines = body.get("lines")
    if not isinstance(lines, list) or len(lines) < 2:
        return "lines missing"
    debits = credits = Decimal(0)
    for line in lines:
        if not isinstance(line, dict) or not isinstance(line.get("account"), str):
            return "a line without an account"
        try:
            debit, credit = Decimal(line["debit"]), Decimal(line["credit"])
        except (KeyError, TypeError, InvalidOperation):
            return "debit and credit must be decimal strings"
        if not (isinstance(line["debit"], str) and isinstance(line["credit"], str)):
            return "debit and credit must be decimal strings"
        debits += debit
        credits += credit
    if debits != credits:
        return "the lines do not balance"
    return None


class LedgerStandIn:
    """The stand-in (see module docstring); ``async with`` starts and stops it."""

    def __init__(self) -> None:
        self.entries: dict[str, StoredEntry] = {}
        self.by_ledger_ref: dict[str, str] = {}
        self.requests = 0
        self.repeats = 0  # 409s answered
        self.duplicates = 0
        self.bodies: list[dict[str, Any]] = []  # every request's body, in order
        self.headers: list[dict[str, str]] = []
        self._fail: list[int] = []
        self._refuse: list[int] = []
        self._time_out: list[bool] = []
        self._holds: list[Hold] = []
        self._delay = 0.0
        self._rate = 0.0
        self._rng = random.Random(0)
        self._runner: web.AppRunner | None = None
        self._closing = asyncio.Event()
        self.url = ""

    async def __aenter__(self) -> LedgerStandIn:
        app = web.Application()
        app.router.add_post("/entries", self._post)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        port = self._runner.addresses[0][1]
        self.url = f"http://127.0.0.1:{port}/entries"
        return self

    async def __aexit__(self, *exc: object) -> None:
        self._closing.set()  # requests left "timing out" end now
        for hold in self._holds:
            hold.release()
        if self._runner is not None:
            await self._runner.cleanup()

    # -- faults --

    def fail_next(self, n: int = 1, *, status: int = 500) -> None:
        """The next ``n`` requests get ``status`` (nothing stored)."""
        self._fail.extend([status] * n)

    def heal(self) -> None:
        """Answers normally from now on: scripted failures, time-outs, refusals, the
        failure rate and the slowness are all dropped."""
        self._fail.clear()
        self._refuse.clear()
        self._time_out.clear()
        self._rate = 0.0
        self._delay = 0.0

    def refuse_next(self, n: int = 1, *, status: int = 422) -> None:
        """The next ``n`` requests are refused with a 4xx (nothing stored)."""
        self._refuse.extend([status] * n)

    def time_out_next(self, n: int = 1, *, store: bool = False) -> None:
        """The next ``n`` requests never get an answer in time (stored first if ``store``)."""
        self._time_out.extend([store] * n)

    def slow(self, seconds: float) -> None:
        """Every answer waits ``seconds``."""
        self._delay = seconds

    def hold_next(self) -> Hold:
        """The next request is stored, then its answer waits for ``release()``."""
        hold = Hold()
        self._holds.append(hold)
        return hold

    def failure_rate(self, rate: float, rng: random.Random) -> None:
        """Each request fails with probability ``rate`` (a 500 or a timeout, evenly)."""
        self._rate = rate
        self._rng = rng

    # -- answers --

    def _store(self, key: str, body: dict[str, Any]) -> tuple[int, str]:
        found = self.entries.get(key)
        if found is not None:
            self.repeats += 1
            return 409, found.reference
        if body["ledger_ref"] in self.by_ledger_ref:
            self.duplicates += 1  # the same entry of ours under another key
        reference = f"GL-{len(self.entries) + 1:06d}"
        self.entries[key] = StoredEntry(key=key, reference=reference, body=body)
        self.by_ledger_ref[body["ledger_ref"]] = key
        return 201, reference

    async def _never(self) -> web.Response:
        """No answer until the stand-in stops (the client has timed out long before)."""
        async with asyncio.timeout(_NEVER):
            await self._closing.wait()
        return web.json_response({"error": "stopping"}, status=503)

    async def _post(self, request: web.Request) -> web.Response:
        self.requests += 1
        key = request.headers.get("Idempotency-Key")
        self.headers.append(dict(request.headers))
        try:
            body = json.loads(await request.text())
        except ValueError:
            body = None
        if isinstance(body, dict):
            self.bodies.append(body)
        if request.content_type != "application/json":
            return web.json_response({"error": "Content-Type must be application/json"}, status=415)
        problem = _contract_problem(key, body)
        if problem is not None:
            return web.json_response({"error": problem}, status=422)
        assert key is not None and isinstance(body, dict)
        if self._delay:
            await asyncio.sleep(self._delay)
        if self._fail:
            return web.json_response({"error": "ledger down"}, status=self._fail.pop(0))
        if self._refuse:
            status = self._refuse.pop(0)
            return web.json_response({"error": "unknown account"}, status=status)
        if self._time_out:
            if self._time_out.pop(0):
                self._store(key, body)
            return await self._never()
        if self._rate and self._rng.random() < self._rate:
            if self._rng.random() < 0.5:
                return web.json_response({"error": "ledger down"}, status=500)
            return await self._never()
        status, reference = self._store(key, body)
        if self._holds and status == 201:
            hold = self._holds.pop(0)
            hold.reached.set()
            await hold.released.wait()
        return web.json_response({"reference": reference}, status=status)

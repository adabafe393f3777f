"""Secrets and capability URLs never reach a log line, at any level.

At DEBUG, slack_sdk and Bolt log whole payloads and responses: Socket Mode envelopes
with their ``response_url`` (anyone holding it can post to the channel for 30 minutes),
the ``apps.connections.open`` answer with its ``ticket=`` WebSocket URL (a live
connection for whoever uses it first), the webhook client's request URL, and the
payloads' verification ``token``. slack_sdk already hides the ``Authorization`` header;
:func:`redact` hides the rest, and :func:`install_log_redaction` applies it to every
record when it is made, so no handler, formatter or test capture ever sees the original.
"""

from __future__ import annotations

import logging
import re
from typing import Any

REDACTED = "(redacted)"

# Slack tokens: bot, user, app-level, refresh, configuration, legacy workspace.
_TOKEN = re.compile(r"\b(xox[abeoprs]|xapp|xoxe\.xox[bp])-[A-Za-z0-9-]{4,}")
# A "...token" key's value in a dict repr or JSON text (Slack's verification token).
_TOKEN_FIELD = re.compile(r"""(['"]\w*token['"]\s*:\s*['"])[^'"]*(['"])""")
# Any http(s) or ws(s) URL, also with JSON's escaped slashes (``https:\/\/hooks...``) or
# percent-encoded in a form body (``https%3A%2F%2Fhooks...``).
_URL = re.compile(
    r"""(?P<scheme>\b(?:https?|wss?)(?::|%3[Aa])(?:\\?/|%2[Ff]){2})"""
    r"""(?:(?P<userinfo>[^\s/\\%'"<>()?#&@]*)@)?(?P<host>[^\s/\\%'"<>()?#&@]+)"""
    r"""(?P<rest>[^\s'"<>()]*)"""
)
# What of a URL may stay: a Web API method path (``/api/chat.postMessage``), no query.
_API_PATH = re.compile(r"(?:/[\w.-]+)*/api(?:/[\w.]*)?/?")
# A ``ticket=`` outside a URL (e.g. a query-parameter dict), for good measure.
_TICKET = re.compile(r"(\bticket['\"]?\s*[=:]\s*['\"]?)[^&\s'\"]+")


def redact(text: str) -> str:
    """``text`` with Slack tokens and capability URLs replaced by ``(redacted)``.

    A URL keeps its scheme and host (enough to say what was called) and, when it is a
    Web API method without a query, its path; anything else after the host (a
    response_url's secret path, a Socket Mode ``ticket``) is replaced.

    Args:
        text: A formatted log message or traceback.

    Returns:
        The text with every secret replaced; unchanged when it held none.
    """
    text = _URL.sub(_redact_url, text)
    text = _TOKEN.sub(lambda m: f"{m.group(1)}-{REDACTED}", text)
    text = _TOKEN_FIELD.sub(rf"\g<1>{REDACTED}\g<2>", text)
    return _TICKET.sub(rf"\g<1>{REDACTED}", text)


def _redact_url(match: re.Match[str]) -> str:
    origin = match["scheme"] + (f"{REDACTED}@" if match["userinfo"] is not None else "")
    origin += match["host"]
    rest = match["rest"].rstrip(".,;:!")  # the sentence's punctuation, not the URL's
    after = match["rest"][len(rest) :]
    if not rest or rest == "/" or _API_PATH.fullmatch(rest.replace("\\/", "/")):
        return origin + match["rest"]
    return f"{origin}/{REDACTED}{after}"


def install_log_redaction() -> None:
    """Makes every log record of this process redacted from the moment it is created.

    Idempotent. A record factory, not a handler filter: filters on a logger miss its
    children's records, and handlers added later (a test's capture, a library's) would
    need their own. The message is formatted eagerly (only records a logger enabled are
    ever made) and the traceback too, both through :func:`redact`.
    """
    current = logging.getLogRecordFactory()
    if getattr(current, "_recon_redacting", False):
        return

    def factory(*args: Any, **kwargs: Any) -> logging.LogRecord:
        record = current(*args, **kwargs)
        _redact_record(record)
        return record

    factory._recon_redacting = True  # type: ignore[attr-defined]
    logging.setLogRecordFactory(factory)


_TRACEBACKS = logging.Formatter()


def _redact_record(record: logging.LogRecord) -> None:
    try:
        message = record.getMessage()
    except Exception:  # a bad format string: logging reports it when the record is emitted
        return
    record.msg, record.args = redact(message), ()
    if record.exc_info and not record.exc_text:
        record.exc_text = redact(_TRACEBACKS.formatException(record.exc_info))
    if record.stack_info:
        record.stack_info = redact(record.stack_info)

"""What ``bot.redaction.redact`` hides (capability URLs, tokens) and what it keeps."""

from __future__ import annotations

import logging

import pytest

from bot.redaction import install_log_redaction, redact

HIDDEN = [
    # response_urls as Slack mints them, plain and JSON-escaped, and form-encoded
    (
        "url: https://hooks.slack.com/commands/T0001/1234567890/AbCdEfGh, body: {}",
        "url: https://hooks.slack.com/(redacted), body: {}",
    ),
    (
        '"response_url":"https:\\/\\/hooks.slack.com\\/actions\\/T0001\\/123\\/XyZ"',
        '"response_url":"https:\\/\\/hooks.slack.com/(redacted)"',
    ),
    (
        "response_url=https%3A%2F%2Fhooks.slack.com%2Fcommands%2FT1%2F2%2Fsecret",
        "response_url=https%3A%2F%2Fhooks.slack.com/(redacted)",
    ),
    # the Socket Mode URL from apps.connections.open
    (
        "body: {'ok': True, 'url': 'wss://wss-primary.slack.com/link/?ticket=1a2b-3c&app_id=A1'}",
        "body: {'ok': True, 'url': 'wss://wss-primary.slack.com/(redacted)'}",
    ),
    ("params: {'ticket': 'abc123'}", "params: {'ticket': '(redacted)'}"),
    # tokens, and the payloads' verification token
    ("bot xoxb-1234-5678-AbCdEf app xapp-1-A01-234-ff", "bot xoxb-(redacted) app xapp-(redacted)"),
    ('{"token": "verif1c4t10n", "team_id": "T1"}', '{"token": "(redacted)", "team_id": "T1"}'),
    ("{'bot_token': 'anything'}", "{'bot_token': '(redacted)'}"),
    # credentials in a URL
    (
        "proxy http://user:pw@proxy.example:3128/api/",
        "proxy http://(redacted)@proxy.example:3128/api/",
    ),
]

KEPT = [
    "Sending a request - url: POST https://slack.com/api/chat.postMessage, params: {}",
    "could not reach Slack at http://127.0.0.1:9/api/ (connection refused)",
    "connected to Slack over Socket Mode as recon-bot in team T0TEST",
    "see https://slack.com.",
    "item R-1042 approved by U0ALICE",
]


@pytest.mark.parametrize(("text", "expected"), HIDDEN)
def test_capability_urls_and_tokens_are_redacted(text: str, expected: str) -> None:
    assert redact(text) == expected


@pytest.mark.parametrize("text", KEPT)
def test_harmless_text_is_kept(text: str) -> None:
    assert redact(text) == text


def test_records_are_redacted_when_made_whatever_handler_reads_them(
    caplog: pytest.LogCaptureFixture,
) -> None:
    install_log_redaction()
    install_log_redaction()  # idempotent: one wrapper, not two
    log = logging.getLogger("test.redaction")
    url = "https://hooks.slack.com/commands/T1/2/s3cr3t"
    with caplog.at_level(logging.DEBUG):
        log.debug("posting to %s", url)
        try:
            raise RuntimeError(f"POST {url} failed")
        except RuntimeError:
            log.exception("reply failed")

    assert "s3cr3t" not in caplog.text
    assert caplog.records[0].getMessage() == "posting to https://hooks.slack.com/(redacted)"
    assert "RuntimeError: POST https://hooks.slack.com/(redacted) failed" in caplog.text
    # A bad format string is left for logging to report when it is emitted, not raised here.
    bad = log.makeRecord(log.name, logging.DEBUG, __file__, 1, "%d", ("x",), None)
    assert bad.args == ("x",)

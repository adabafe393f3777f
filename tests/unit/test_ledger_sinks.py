"""The sinks' pure parts: how an HTTP answer maps to an outcome, and where the file sink
writes by default."""

from __future__ import annotations

from pathlib import Path

import pytest

from bot.settings import Settings
from domain.ledger import Accepted, Refused, Unavailable
from ledger.http import _outcome


@pytest.mark.parametrize(
    ("status", "text", "expected"),
    [
        (201, '{"reference": "GL-7"}', Accepted(reference="GL-7")),
        (200, '{"reference": 42}', Accepted(reference="42")),
        (409, '{"reference": "GL-7"}', Accepted(reference="GL-7", duplicate=True)),
        (201, "{}", Unavailable(error="HTTP 201 without a reference")),
        (409, "not json", Unavailable(error="HTTP 409 without a reference")),
        (
            422,
            '{"error": "unknown account 1190"}',
            Refused(error='HTTP 422: {"error": "unknown account 1190"}'),
        ),
        (404, "", Refused(error="HTTP 404")),
        (429, "slow down", Unavailable(error="HTTP 429: slow down")),
        (408, "", Unavailable(error="HTTP 408")),
        (503, "<html>\n down \n</html>", Unavailable(error="HTTP 503: <html> down </html>")),
    ],
)
def test_each_answer_is_an_outcome(status: int, text: str, expected: object) -> None:
    assert _outcome(status, text) == expected


def test_an_error_body_is_cut_short() -> None:
    outcome = _outcome(500, "x" * 10_000)
    assert isinstance(outcome, Unavailable) and len(outcome.error) < 250


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("sqlite+aiosqlite:///recon.db", Path("ledger")),
        ("sqlite+aiosqlite:////srv/desk/recon.db", Path("/srv/desk/ledger")),
        ("postgresql+asyncpg://u@db/recon", Path("ledger")),
    ],
)
def test_the_file_sink_writes_beside_the_database_by_default(url: str, expected: Path) -> None:
    settings = Settings(database_url=url, _env_file=None)  # type: ignore[call-arg]
    assert settings.ledger_sink == "file"
    assert settings.ledger_directory() == expected


def test_an_explicit_ledger_directory_wins() -> None:
    settings = Settings(ledger_dir=Path("/var/ledger"), _env_file=None)  # type: ignore[call-arg]
    assert settings.ledger_directory() == Path("/var/ledger")

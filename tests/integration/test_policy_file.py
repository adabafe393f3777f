"""The policy file on disk when it is not UTF-8: one PolicyError (like any invalid
policy) that says the file must be UTF-8 and where the first bad byte is. ``policy
check`` printed only the codec error, and a hot reload raised it at every interval."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner

from bot.cli import main
from domain.errors import PolicyError
from store.policy_file import PolicyFile, read_policy
from tests.conftest import EXAMPLE_POLICY

EXAMPLE = EXAMPLE_POLICY.read_text(encoding="utf-8")


def _latin1(tmp_path: Path, word: str = "trésorerie") -> Path:
    path = tmp_path / "policy.yml"
    path.write_bytes(f"# {word}\n{EXAMPLE}".encode("latin-1"))
    return path


def test_a_policy_that_is_not_utf8_says_so_and_where(tmp_path: Path) -> None:
    with pytest.raises(PolicyError) as caught:
        read_policy(_latin1(tmp_path))

    message = str(caught.value)
    assert message.startswith(f"policy file {tmp_path / 'policy.yml'} must be UTF-8")
    assert "byte 0xe9 at line 1, column 5" in message
    assert caught.value.problems == [
        "(file): byte 0xe9 at line 1, column 5 is not UTF-8 (invalid continuation byte)"
    ]


def test_the_column_counts_characters_not_bytes(tmp_path: Path) -> None:
    path = tmp_path / "policy.yml"
    path.write_bytes(b"a: 1\nb: " + "ééé ".encode() + b"\xff\n")  # 0xff: 7 characters in
    with pytest.raises(PolicyError, match=r"byte 0xff at line 2, column 8 is not"):
        read_policy(path)


def test_a_utf16_policy_is_named_as_such(tmp_path: Path) -> None:
    path = tmp_path / "policy.yml"
    path.write_bytes(EXAMPLE.encode("utf-16"))
    with pytest.raises(PolicyError, match=r"must be UTF-8 \(it looks like UTF-16\)"):
        read_policy(path)


def test_reload_rejects_each_non_utf8_content_once_and_keeps_the_old_policy(
    tmp_path: Path,
) -> None:
    path = tmp_path / "policy.yml"
    path.write_text(EXAMPLE, encoding="utf-8")
    policy = PolicyFile(path)
    version = policy.current().version

    _latin1(tmp_path)
    with pytest.raises(PolicyError, match="must be UTF-8"):
        policy.reload()
    assert policy.reload() is None  # the same content: reported once
    first = policy.rejected_text
    assert first is not None and first.encode()  # hashable by the reload job

    _latin1(tmp_path, "caja-pequeña")
    with pytest.raises(PolicyError, match="must be UTF-8"):
        policy.reload()
    assert policy.rejected_text != first
    assert policy.current().version == version


def test_policy_check_names_the_encoding_and_the_place(desk_dir: Path) -> None:
    _latin1(desk_dir)

    result = CliRunner().invoke(main, ["policy", "check", "policy.yml"], catch_exceptions=False)

    assert result.exit_code == 1
    assert result.output.splitlines() == [
        "error: policy file policy.yml must be UTF-8, but byte 0xe9 at line 1, column 5 is "
        "not; save it as UTF-8",
        "  (file): byte 0xe9 at line 1, column 5 is not UTF-8 (invalid continuation byte)",
    ]
    assert "codec can't decode" not in result.output

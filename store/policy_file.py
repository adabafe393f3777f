"""The policy file on disk: loaded, validated, and reloaded when its content changes."""

from __future__ import annotations

import codecs
from dataclasses import dataclass
from pathlib import Path

from domain.errors import PolicyError
from domain.policy import LoadedPolicy, parse_policy


@dataclass(frozen=True, slots=True, kw_only=True)
class PolicyChange:
    """A reload that swapped in a new version."""

    old: LoadedPolicy
    new: LoadedPolicy


def read_policy(path: Path) -> tuple[LoadedPolicy, str]:
    """Reads and validates a policy file; returns it and its text.

    Raises:
        PolicyError: missing, unreadable, not UTF-8 or invalid (with ``field: reason``
            problems).
    """
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        raise PolicyError(
            f"policy file {path} does not exist; run `recon-bot init` to write an example"
        ) from None
    except OSError as exc:
        raise PolicyError(f"cannot read policy file {path}: {exc.strerror}") from None
    text = _decode(path, data)
    return parse_policy(text), text


def _decode(path: Path, data: bytes) -> str:
    """The file's text, or a PolicyError saying where the first non-UTF-8 byte is."""
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        start = exc.start  # everything before it decoded, so it is whole characters
        line_start = data.rfind(b"\n", 0, start) + 1
        line = data.count(b"\n", 0, start) + 1
        column = len(data[line_start:start].decode("utf-8")) + 1
        hint = ""
        if data.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
            hint = " (it looks like UTF-16)"
        where = f"byte 0x{data[start]:02x} at line {line}, column {column}"
        raise PolicyError(
            f"policy file {path} must be UTF-8{hint}, but {where} is not; save it as UTF-8",
            [f"(file): {where} is not UTF-8 ({exc.reason})"],
        ) from None


class PolicyFile:
    """Holds the current policy; ``reload()`` swaps in a valid new version atomically."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._loaded, self._text = read_policy(path)
        self._rejected: str | None = None  # the last invalid content reported

    def current(self) -> LoadedPolicy:
        """The policy in force."""
        return self._loaded

    @property
    def rejected_text(self) -> str | None:
        """The invalid content last reported by ``reload`` (None while the file is valid)."""
        return self._rejected

    @property
    def text(self) -> str:
        """The text of the policy in force."""
        return self._text

    def reload(self) -> PolicyChange | None:
        """Re-reads the file: a new valid version replaces the old one.

        Returns the change, or None when the content hash is unchanged (or the file is
        still the same invalid content already reported).

        Raises:
            PolicyError: the file is now invalid; the old policy stays in force. Raised
                once per distinct invalid content, so a broken file is reported once.
        """
        try:
            loaded, text = read_policy(self.path)
        except PolicyError:
            try:
                # Not strict UTF-8: a file that is not UTF-8 is one more invalid content
                # (the job hashes this text to alert once per content).
                raw = self.path.read_bytes().decode("utf-8", "backslashreplace")
            except OSError:
                raw = "<unreadable>"
            if raw == self._rejected:
                return None
            self._rejected = raw
            raise
        self._rejected = None
        if loaded.version == self._loaded.version:
            return None
        change = PolicyChange(old=self._loaded, new=loaded)
        self._loaded, self._text = loaded, text
        return change

"""The policy file on disk: loaded, validated, and reloaded when its content changes."""

from __future__ import annotations

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
        PolicyError: missing, unreadable or invalid (with ``field: reason`` problems).
    """
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise PolicyError(
            f"policy file {path} does not exist; run `recon-bot init` to write an example"
        ) from None
    except OSError as exc:
        raise PolicyError(f"cannot read policy file {path}: {exc.strerror}") from None
    return parse_policy(text), text


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
                raw = self.path.read_text(encoding="utf-8")
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

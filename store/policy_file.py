"""The policy file on disk: loaded, validated, and reloaded when its content changes."""

from __future__ import annotations

import codecs
from dataclasses import dataclass
from pathlib import Path

from domain.errors import PolicyError
from domain.policy import LoadedPolicy, parse_policy
from store.policy_cache import PolicyCache


@dataclass(frozen=True, slots=True, kw_only=True)
class PolicyChange:
    """A reload that swapped in a new version."""

    old: LoadedPolicy
    new: LoadedPolicy


def read_policy(path: Path, *, cache: PolicyCache | None = None) -> tuple[LoadedPolicy, str]:
    """Reads and validates a policy file; returns it and its text.

    Args:
        path: The policy file.
        cache: Where a policy parsed before from the same bytes may be found, and where
            this one is stored (see :mod:`store.policy_cache`); None parses every time.

    Raises:
        PolicyError: missing, unreadable, not UTF-8 or invalid (with ``field: reason``
            problems).
    """
    return _parse(path, _read(path), cache)


def _read(path: Path) -> bytes:
    try:
        return path.read_bytes()
    except FileNotFoundError:
        raise PolicyError(
            f"policy file {path} does not exist; run `recon-bot init` to write an example"
        ) from None
    except OSError as exc:
        raise PolicyError(f"cannot read policy file {path}: {exc.strerror}") from None


def _parse(path: Path, data: bytes, cache: PolicyCache | None) -> tuple[LoadedPolicy, str]:
    text = _decode(path, data)
    loaded = cache.get(data) if cache is not None else None
    if loaded is None:
        loaded = parse_policy(text)
        if cache is not None:
            cache.put(data, loaded)
    return loaded, text


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

    def __init__(self, path: Path, *, cache: PolicyCache | None = None) -> None:
        self.path = path
        self._cache = cache
        self._bytes = _read(path)  # the content last seen valid: unchanged means no parse
        self._loaded, self._text = _parse(path, self._bytes, cache)
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
        still the same invalid content already reported). Bytes already seen, valid or
        invalid, are not parsed again: this runs every few seconds, and parsing a big
        policy takes seconds.

        Raises:
            PolicyError: the file is now invalid; the old policy stays in force. Raised
                once per distinct invalid content, so a broken file is reported once.
        """
        try:
            data = _read(self.path)
        except PolicyError as exc:
            self._report_once("<unreadable>", exc)
            return None
        if data == self._bytes:
            self._rejected = None
            return None
        # Not strict UTF-8: a file that is not UTF-8 is one more invalid content (the job
        # hashes this text to alert once per content).
        raw = data.decode("utf-8", "backslashreplace")
        if raw == self._rejected:
            return None
        try:
            loaded, text = _parse(self.path, data, self._cache)
        except PolicyError as exc:
            self._report_once(raw, exc)
            return None
        self._rejected = None
        self._bytes = data
        if loaded.version == self._loaded.version:
            return None
        change = PolicyChange(old=self._loaded, new=loaded)
        self._loaded, self._text = loaded, text
        return change

    def _report_once(self, raw: str, error: PolicyError) -> None:
        """Raises ``error`` unless ``raw`` (the invalid content) was reported already."""
        if raw != self._rejected:
            self._rejected = raw
            raise error

"""The parsed policy, cached as JSON by the SHA-256 of the file's bytes.

Building Python objects from YAML is most of what reading a big policy costs, even with
libyaml: about 5 s of CPU for a policy with 20,000 teams, against 0.3 s to validate the
same policy from JSON (``tests/benchmarks/bench_policy.py``). So the first reader of a
policy content stores its validated form, and the next readers of the same bytes
validate that instead.

An entry is used only for the exact bytes it was made from, by the same code: its key
holds the content hash, recon-bot's version, the policy JSON Schema and a format
number, and anything else is a miss. What it holds is validated again when read (a
damaged or edited entry is a miss, never an invalid policy), but it is trusted to be
the policy of those bytes: it is written mode 0600, like the policy itself. The cache
is an optimisation only: it can be deleted at any time, and a cache that cannot be
read or written is skipped without a word.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
from functools import cache
from importlib.metadata import PackageNotFoundError
from importlib.metadata import version as package_version
from pathlib import Path

from pydantic import ValidationError

from domain.policy import LoadedPolicy, Policy

#: Bumped when the entry layout changes.
CACHE_FORMAT = 1


def default_cache_path(policy: Path) -> Path:
    """``policy.yml`` -> ``.policy.yml.cache.json`` in the same directory."""
    return policy.with_name(f".{policy.name}.cache.json")


@cache
def _code_identity() -> str:
    """What must not change for an entry to stay valid: format, version, schema."""
    try:
        release = package_version("recon-bot")
    except PackageNotFoundError:  # running from a source tree that is not installed
        release = "source"
    schema = json.dumps(Policy.model_json_schema(), sort_keys=True)
    return hashlib.sha256(f"{CACHE_FORMAT}\n{release}\n{schema}".encode()).hexdigest()


class PolicyCache:
    """One cached policy in one file (see the module docstring)."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def get(self, content: bytes) -> LoadedPolicy | None:
        """The policy cached for exactly ``content``, or None."""
        try:
            entry = json.loads(self.path.read_bytes())
            if entry.get("key") != _key(content) or not isinstance(entry.get("version"), str):
                return None
            policy = Policy.model_validate(entry["policy"])
        except (OSError, ValueError, KeyError, AttributeError, TypeError, ValidationError):
            return None
        return LoadedPolicy(policy=policy, version=entry["version"])

    def put(self, content: bytes, loaded: LoadedPolicy) -> None:
        """Stores ``loaded`` as the policy of ``content`` (atomically; never raises)."""
        entry = {
            "key": _key(content),
            "version": loaded.version,
            "policy": loaded.policy.model_dump(mode="json"),
        }
        data = json.dumps(entry, separators=(",", ":"), ensure_ascii=False).encode()
        temporary = self.path.with_name(f"{self.path.name}.{os.getpid()}.tmp")
        try:
            fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_NOFOLLOW, 0o600)
            try:
                os.fchmod(fd, 0o600)
                view = memoryview(data)
                while view:
                    view = view[os.write(fd, view) :]
            finally:
                os.close(fd)
            os.replace(temporary, self.path)
        except OSError:
            with contextlib.suppress(OSError):
                temporary.unlink()


def _key(content: bytes) -> str:
    return f"{_code_identity()}:{hashlib.sha256(content).hexdigest()}"

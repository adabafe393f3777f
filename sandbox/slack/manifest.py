"""The app's ``manifest.yml``, as the stand-in reads it: which bot events it subscribes to.

Slack delivers only the events an app subscribes to; the stand-in does the same, reading
the subscription list from the manifest a person creates the Slack app from.
"""

from __future__ import annotations

from pathlib import Path

import yaml

__all__ = ["MANIFEST", "manifest_bot_events"]


def _manifest() -> Path:
    # A built wheel carries the repository's manifest.yml here (setup.py copies it at build
    # time); a source checkout or an editable install has only the top-level one.
    packaged = Path(__file__).resolve().with_name("manifest.yml")
    return packaged if packaged.is_file() else Path(__file__).resolve().parents[2] / "manifest.yml"


#: The app's manifest: its ``bot_events`` decide which events the stand-in delivers.
MANIFEST = _manifest()


def manifest_bot_events(path: Path = MANIFEST) -> frozenset[str]:
    """The bot events ``manifest.yml`` subscribes to (what Slack would deliver)."""
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    events = data["settings"]["event_subscriptions"]["bot_events"]
    return frozenset(str(e) for e in events)

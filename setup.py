"""What pyproject.toml cannot say: the Slack app's ``manifest.yml`` ships inside the package.

The manifest's one copy is the repository's top-level ``manifest.yml`` (what a person
creates the Slack app from). The local Slack stand-in (``sandbox.slack``) reads its
subscribed events from it, so a built wheel carries it as ``sandbox/slack/manifest.yml``:
copied at build time, never kept twice in the repository. A source checkout or an
editable install reads the top-level file itself (``sandbox.slack.manifest.MANIFEST``).
"""

from __future__ import annotations

from pathlib import Path

from setuptools import setup
from setuptools.command.build_py import build_py

MANIFEST = "manifest.yml"
#: Where the built package carries it (``sandbox.slack.manifest`` looks there first).
PACKAGED = ("sandbox", "slack", MANIFEST)


class BuildPyWithManifest(build_py):  # type: ignore[misc]
    """``build_py`` plus the top-level manifest.yml copied into ``sandbox/slack``."""

    def run(self) -> None:
        super().run()
        if not self.editable_mode:  # an editable install reads the top-level file
            self.copy_file(MANIFEST, str(Path(self.build_lib, *PACKAGED)))

    def get_outputs(self, include_bytecode: bool = True) -> list[str]:
        outputs: list[str] = super().get_outputs(include_bytecode)
        if not self.editable_mode:
            outputs.append(str(Path(self.build_lib, *PACKAGED)))
        return outputs


setup(cmdclass={"build_py": BuildPyWithManifest})

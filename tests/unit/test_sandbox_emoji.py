"""The sandbox page draws every emoji shortcode the bot's messages use (a shortcode it
does not know shows as its raw ``:name:``, which Slack never shows)."""

from __future__ import annotations

import ast
import re
from pathlib import Path

from tests.conftest import ROOT

APP_JS = ROOT / "sandbox" / "web" / "static" / "app.js"
#: A shortcode as mrkdwn text uses it: on its own, not inside a key like ``sla:remind:1``.
SHORTCODE = re.compile(r"(?:^|(?<=[\s(*_~]))(:[a-z][a-z0-9_+-]*:)(?=$|[\s)*_~.,])")


def _texts(path: Path) -> list[str]:
    """The string constants of a module, docstrings left out."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    docstrings = {
        id(node.body[0].value)
        for node in ast.walk(tree)
        if isinstance(node, ast.Module | ast.ClassDef | ast.FunctionDef | ast.AsyncFunctionDef)
        and node.body
        and isinstance(node.body[0], ast.Expr)
        and isinstance(node.body[0].value, ast.Constant)
    }
    return [
        node.value
        for node in ast.walk(tree)
        if isinstance(node, ast.Constant) and isinstance(node.value, str)
        and id(node) not in docstrings
    ]  # fmt: skip


def used_shortcodes() -> set[str]:
    found: set[str] = set()
    for package in ("handlers", "domain"):
        for path in (ROOT / package).rglob("*.py"):
            for text in _texts(path):
                found.update(m.strip(":") for m in SHORTCODE.findall(text))
    return found


def test_every_shortcode_the_bot_uses_is_drawn_by_the_page() -> None:
    table = re.search(r"const EMOJI = \{(.*?)\};", APP_JS.read_text(encoding="utf-8"), re.S)
    assert table, "app.js has no EMOJI table"
    drawn = set(re.findall(r"([a-z0-9_+-]+):\s*\"", table.group(1)))
    used = used_shortcodes()
    assert {"white_check_mark", "grey_question", "bank"} <= used  # the scan finds them
    assert used - drawn == set()

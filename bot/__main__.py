"""``python -m bot`` runs the CLI."""

from bot.cli import run

run()

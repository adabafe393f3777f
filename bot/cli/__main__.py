"""``python -m bot.cli`` runs the CLI, like ``python -m bot``."""

import os

from bot.cli import run

os.environ.setdefault("PYTHONUNBUFFERED", "1")
run()

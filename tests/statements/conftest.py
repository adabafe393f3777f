"""Bank files written for these tests (tests/data/statements/), read as bytes."""

from __future__ import annotations

from pathlib import Path

import pytest

DATA = Path(__file__).resolve().parents[1] / "data" / "statements"


def read(name: str) -> bytes:
    return (DATA / name).read_bytes()


@pytest.fixture
def data_dir() -> Path:
    return DATA

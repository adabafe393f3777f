"""The use cases sit on top of the domain: the import-linter contract that keeps every
other domain module from importing them must name every other domain module, including
ones added later."""

from __future__ import annotations

import pkgutil
import tomllib

import domain
from tests.conftest import ROOT

CONTRACT = "use cases sit on top of the domain: no other domain module imports them"


def test_the_use_case_contract_names_every_other_domain_module() -> None:
    config = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    (contract,) = [c for c in config["tool"]["importlinter"]["contracts"] if c["name"] == CONTRACT]
    modules = {f"domain.{m.name}" for m in pkgutil.iter_modules(domain.__path__)}
    assert set(contract["source_modules"]) == modules - {"domain.usecases"}
    assert contract["forbidden_modules"] == ["domain.usecases"]

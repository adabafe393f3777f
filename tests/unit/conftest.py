"""Shared fixtures of the unit tests (the hypothesis profiles are in tests/conftest.py)."""

from __future__ import annotations

import pytest

from domain.policy import LoadedPolicy
from domain.usecases import UseCases
from tests.builders import make_policy
from tests.fakes import FixedClock, InMemoryUnitOfWorkFactory


@pytest.fixture
def clock() -> FixedClock:
    return FixedClock()


@pytest.fixture
def loaded_policy() -> LoadedPolicy:
    return make_policy()


@pytest.fixture
def uow_factory() -> InMemoryUnitOfWorkFactory:
    return InMemoryUnitOfWorkFactory()


@pytest.fixture
def usecases(uow_factory: InMemoryUnitOfWorkFactory, loaded_policy: LoadedPolicy) -> UseCases:
    return UseCases.over(uow=uow_factory, policy=lambda: loaded_policy)

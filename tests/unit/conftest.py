"""Shared fixtures of the unit tests, and the hypothesis profiles.

Profiles: ``unit`` (default, fast enough for every run) and ``thorough`` (for a nightly
job: ``HYPOTHESIS_PROFILE=thorough pytest tests/unit``). Neither has a deadline: the
tests are about correctness, never time (DESIGN.md "Testing").
"""

from __future__ import annotations

import os

import pytest
from hypothesis import HealthCheck, settings

from domain.policy import LoadedPolicy
from domain.services import ReviewService
from tests.fakes import FixedClock, InMemoryUnitOfWorkFactory, make_policy

settings.register_profile(
    "unit",
    max_examples=60,
    stateful_step_count=30,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
    print_blob=True,
)
settings.register_profile(
    "thorough",
    max_examples=2000,
    stateful_step_count=60,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
    print_blob=True,
)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "unit"))


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
def service(uow_factory: InMemoryUnitOfWorkFactory, loaded_policy: LoadedPolicy) -> ReviewService:
    return ReviewService(uow=uow_factory, policy=lambda: loaded_policy)

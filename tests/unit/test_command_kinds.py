"""Item forms and queue scopes are enums and records, not strings switched on."""

from __future__ import annotations

import pytest

from domain.states import Action
from handlers.command_line import QueueScope, Scope
from handlers.commands import ItemForm


def test_each_item_form_checks_its_own_action() -> None:
    assert {form: form.action for form in ItemForm} == {
        ItemForm.REJECT: Action.REJECT,
        ItemForm.ESCALATE: Action.ESCALATE,
        ItemForm.DISPUTE: Action.DISPUTE,
        ItemForm.NOTE: Action.NOTE_DISPUTE,
        ItemForm.RESOLVE: Action.RESOLVE_DISPUTE,
    }


def test_a_typo_is_no_form() -> None:
    with pytest.raises(ValueError, match="'rejcet' is not a valid ItemForm"):
        ItemForm("rejcet")


@pytest.mark.parametrize(
    ("scope", "value"),
    [
        (QueueScope(scope=Scope.MINE), "mine"),
        (QueueScope(scope=Scope.ALL), "all"),
        (QueueScope(scope=Scope.TEAM, team="treasury"), "team:treasury"),
    ],
)
def test_a_queue_scope_travels_in_its_wire_form(scope: QueueScope, value: str) -> None:
    assert scope.value == value
    assert QueueScope.read(value) == scope


def test_an_unknown_wire_scope_lists_the_user_s_teams_as_before() -> None:
    assert QueueScope.read("everything") == QueueScope(scope=Scope.ALL)

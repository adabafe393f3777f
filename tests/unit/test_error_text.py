"""Domain errors are plain text; the Slack renderer adds the markup users always saw."""

from __future__ import annotations

import pytest

from domain.errors import DomainError, InvalidCommand, NotAuthorized, PolicyError, User
from domain.items import ReviewState
from domain.permissions import check_not_someone_elses_claim
from handlers.blocks.mrkdwn import error_text
from tests.builders import make_item


def test_a_claim_refusal_is_plain_text_in_domain_and_the_old_mention_in_slack() -> None:
    item = make_item(state=ReviewState.ASSIGNED, assignee="U0CAROL")
    with pytest.raises(NotAuthorized) as caught:
        check_not_someone_elses_claim(item, "U0BOB", frozenset())
    assert str(caught.value) == "R-1 is claimed by U0CAROL"
    assert error_text(caught.value) == "R-1 is claimed by <@U0CAROL>"


def test_one_string_still_makes_an_error() -> None:
    err = InvalidCommand("give a reason of at least 3 words")
    assert str(err) == "give a reason of at least 3 words"
    assert err.parts == ("give a reason of at least 3 words",)
    assert error_text(err) == "give a reason of at least 3 words"
    assert str(DomainError()) == ""
    policy = PolicyError("policy has 1 problem(s)", ["teams: required"])
    assert (str(policy), policy.problems) == ("policy has 1 problem(s)", ["teams: required"])


def test_text_is_escaped_and_users_are_mentions() -> None:
    err = NotAuthorized("there is no team `<!channel> & co`; ask ", User("U0LEAD"))
    assert str(err) == "there is no team `<!channel> & co`; ask U0LEAD"
    assert error_text(err) == "there is no team `&lt;!channel&gt; &amp; co`; ask <@U0LEAD>"


def test_markup_inside_a_message_is_text_never_a_mention() -> None:
    # Domain messages are plain text: only User parts become mentions.
    err = NotAuthorized("R-1 is claimed by <@U0BOB> & <b>")
    assert error_text(err) == "R-1 is claimed by &lt;@U0BOB&gt; &amp; &lt;b&gt;"

"""State labels: what people read for a state, written in one place."""

from __future__ import annotations

from domain.items import DisputeOutcome, DisputeState, ReviewState


def test_a_state_reads_as_words() -> None:
    assert ReviewState.AWAITING_SECOND_APPROVAL.label == "awaiting second approval"
    assert ReviewState.DEAD_LETTER.label == "dead letter"
    assert ReviewState.PENDING.label == "pending"
    assert DisputeState.AWAITING_COUNTERPARTY.label == "awaiting counterparty"
    assert all(o.label == o.value.replace("_", " ") for o in DisputeOutcome)

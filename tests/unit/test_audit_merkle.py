"""The incremental Merkle frontier against pymerkle's RFC 6962 tree (an independent one)."""

from __future__ import annotations

import json

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pymerkle import InmemoryTree

from domain.audit.merkle import EMPTY_ROOT, MerkleFrontier, leaf_hash, merkle_root
from domain.audit.records import AuditFormatError


def reference_tree(entries: list[bytes]) -> InmemoryTree:
    # pymerkle's default is RFC 6962 style: leaf = H(0x00 || data), node = H(0x01 || l || r).
    tree = InmemoryTree(algorithm="sha256")
    for entry in entries:
        tree.append_entry(entry)
    return tree


def test_empty_tree_root_is_hash_of_nothing() -> None:
    assert MerkleFrontier().root() == EMPTY_ROOT
    assert EMPTY_ROOT == "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
    assert reference_tree([]).get_root().hex() == EMPTY_ROOT


def test_roots_match_pymerkle_for_every_size_up_to_70() -> None:
    entries = [f"record {n}".encode() for n in range(1, 71)]
    tree = reference_tree(entries)
    frontier = MerkleFrontier()

    for size, entry in enumerate(entries, 1):
        frontier.append(leaf_hash(entry))
        assert tree.get_leaf(size).hex() == leaf_hash(entry)
        assert frontier.size == size
        assert frontier.root() == tree.get_root(size).hex(), f"size {size}"


@settings(max_examples=60, deadline=None)
@given(st.lists(st.binary(max_size=40), max_size=600))
def test_roots_match_pymerkle_for_random_logs(entries: list[bytes]) -> None:
    assert merkle_root(leaf_hash(entry) for entry in entries) == (
        reference_tree(entries).get_root().hex()
    )


@settings(max_examples=60, deadline=None)
@given(st.integers(min_value=0, max_value=300), st.integers(min_value=0, max_value=40))
def test_frontier_survives_a_json_round_trip(size: int, more: int) -> None:
    leaves = [leaf_hash(str(n).encode()) for n in range(size + more)]
    frontier = MerkleFrontier()
    for leaf in leaves[:size]:
        frontier.append(leaf)

    stored = json.loads(json.dumps(frontier.to_json()))
    restored = MerkleFrontier.from_json(stored)

    assert len(stored["roots"]) == bin(size).count("1")  # O(log n): one root per set bit
    assert restored.size == size
    assert restored.root() == frontier.root()
    for leaf in leaves[size:]:
        restored.append(leaf)
    assert restored.root() == merkle_root(leaves)


@pytest.mark.parametrize(
    "stored",
    [
        {"size": 3, "roots": ["00" * 32]},  # size 3 needs two roots
        {"size": -1, "roots": []},
        {"size": 1, "roots": ["xyz"]},
        {"roots": []},
        [],
    ],
)
def test_frontier_refuses_inconsistent_json(stored: object) -> None:
    with pytest.raises(AuditFormatError):
        MerkleFrontier.from_json(stored)

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


@settings(max_examples=50)
@given(st.lists(st.binary(max_size=40), max_size=40), st.integers(min_value=0, max_value=40))
def test_extending_by_runs_gives_the_tree_appending_one_by_one(
    entries: list[bytes], cut: int
) -> None:
    one_by_one, by_runs = MerkleFrontier(), MerkleFrontier()
    digests = [bytes.fromhex(leaf_hash(entry)) for entry in entries]
    for digest in digests:
        one_by_one.append_digest(digest)
    by_runs.extend_digests(digests[:cut])
    by_runs.extend_digests(iter(digests[cut:]))
    by_runs.extend_digests([])

    assert by_runs.to_json() == one_by_one.to_json()
    assert by_runs.size == len(entries)


def test_a_frontier_is_restored_from_its_size_and_subtree_roots() -> None:
    original = MerkleFrontier()
    for n in range(11):
        original.append(leaf_hash(bytes([n])))
    roots = [bytes.fromhex(root) for root in original.to_json()["roots"]]

    restored = MerkleFrontier.restore(size=11, roots=roots)
    roots.clear()  # the frontier keeps its own list
    restored.append(leaf_hash(b"next"))
    original.append(leaf_hash(b"next"))

    assert restored.to_json() == original.to_json()


@pytest.mark.parametrize(
    ("size", "roots"),
    [(-1, []), (3, [bytes(32)]), (1, [bytes(31)]), (True, [bytes(32)])],
)
def test_restoring_refuses_roots_that_do_not_fit_the_size(size: int, roots: list[bytes]) -> None:
    with pytest.raises(AuditFormatError):
        MerkleFrontier.restore(size=size, roots=roots)

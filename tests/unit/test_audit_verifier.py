"""The pure streaming verifier on in-memory logs: every check and the first bad record."""

from __future__ import annotations

import dataclasses
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from domain.audit.anchoring import AnchorFileView
from domain.audit.checkpoints import Checkpoint, sign_checkpoint
from domain.audit.keys import AuditKey, key_id_for
from domain.audit.merkle import MerkleFrontier, leaf_hash
from domain.audit.records import GENESIS, AuditEntry, record_body
from domain.audit.report import VerifyReport
from domain.audit.verifier import AuditVerifier

T0 = datetime(2024, 5, 1, 9, 0, tzinfo=UTC)
Row = tuple[int, bytes, str]


class Signer:
    def __init__(self, seed: int) -> None:
        self._key = Ed25519PrivateKey.from_private_bytes(bytes([seed]) * 32)
        self.public_key_hex = self._key.public_key().public_bytes_raw().hex()
        self.key_id = key_id_for(bytes.fromhex(self.public_key_hex))

    def sign(self, message: bytes) -> bytes:
        return self._key.sign(message)

    def key(self) -> AuditKey:
        return AuditKey(
            key_id=self.key_id, public_key=self.public_key_hex, algorithm="ed25519", created_at=T0
        )


SIGNER = Signer(1)
OTHER = Signer(2)


def entry(seq: int) -> AuditEntry:
    return AuditEntry(
        time=T0 + timedelta(seconds=seq),
        event="item.approved",
        actor="U1",
        item_id=seq,
        item=f"R-{seq}",
        from_state="assigned",
        to_state="approved",
        data={"amount_minor": 100 * seq, "currency": "EUR"},
    )


def chain(bodies: list[bytes]) -> list[Row]:
    return [(seq, body, leaf_hash(body)) for seq, body in enumerate(bodies, 1)]


def build(transactions: list[int], signer: Signer = SIGNER) -> tuple[list[Row], list[Checkpoint]]:
    """A log written like SqlAuditLog does: a signed checkpoint after each transaction."""
    rows: list[Row] = []
    checkpoints: list[Checkpoint] = []
    frontier, prev = MerkleFrontier(), GENESIS
    for size in transactions:
        for _ in range(size):
            seq = len(rows) + 1
            body = record_body(entry(seq), seq=seq, prev=prev)
            prev = leaf_hash(body)
            frontier.append(prev)
            rows.append((seq, body, prev))
        checkpoints.append(
            sign_checkpoint(
                signer,
                log="recon",
                size=len(rows),
                root=frontier.root(),
                time=T0 + timedelta(seconds=len(rows)),
            )
        )
    return rows, checkpoints


def rechain(rows: list[Row], start: int, bodies: dict[int, bytes]) -> list[Row]:
    """Replaces some bodies and re-hashes the chain from ``start`` on, as an attacker
    with database access but without the key would."""
    out = rows[: start - 1]
    prev = out[-1][2] if out else GENESIS
    for seq, body, _ in rows[start - 1 :]:
        body = bodies.get(seq, body)
        body = body.replace(
            b'"prev":"' + body.split(b'"prev":"')[-1][:64], b'"prev":"' + prev.encode()
        )
        prev = leaf_hash(body)
        out.append((seq, body, prev))
    return out


def verify(
    rows: list[Row],
    checkpoints: list[Checkpoint],
    *,
    keys: list[AuditKey] | None = None,
    anchors: list[Checkpoint] | None = None,
    chunk: int = 4,
    deep: bool = False,
    executor: ThreadPoolExecutor | None = None,
    trusted: set[str] | None = None,
) -> VerifyReport:
    """Feeds the verifier the way verify_database does: checkpoints of a chunk first."""
    verifier = AuditVerifier(
        log="recon",
        keys=keys if keys is not None else [SIGNER.key()],
        anchors=anchors or [],
        executor=executor,
        deep=deep,
        trusted=trusted,
    )
    fed = 0
    for start in range(0, len(rows), chunk):
        part = rows[start : start + chunk]
        upto = part[-1][0]
        verifier.add_checkpoints([c for c in checkpoints if fed < c.size <= upto])
        fed = max(fed, upto)
        if not verifier.add_records(part):
            break
    verifier.add_checkpoints([c for c in checkpoints if c.size > fed])
    return verifier.finish()


def test_a_good_log_verifies_whatever_the_chunking() -> None:
    rows, checkpoints = build([3, 1, 5, 2, 8])

    for chunk in (1, 2, 7, 100):
        report = verify(rows, checkpoints, anchors=checkpoints, chunk=chunk)
        assert report.ok, report.problem
        assert (report.records, report.checkpoints, report.anchors) == (19, 5, 5)
        assert report.root == checkpoints[-1].root
        assert report.summary().startswith("OK: 19 records, 5 checkpoints, 5 anchors")


def test_signatures_checked_in_a_thread_pool_give_the_same_answers() -> None:
    rows, checkpoints = build([2] * 200)
    forged = [
        *checkpoints[:150],
        dataclasses.replace(checkpoints[150], signature="00" * 64),
        *checkpoints[151:],
    ]

    with ThreadPoolExecutor(2) as pool:
        assert verify(rows, checkpoints, executor=pool, chunk=50).ok
        report = verify(rows, forged, executor=pool, chunk=50)

    assert (report.reason, report.first_bad_seq) == ("signature", 301)


def test_an_empty_log_verifies() -> None:
    report = verify([], [])

    assert report.ok and report.records == 0
    assert report.root == MerkleFrontier().root()


def test_flipped_byte_is_a_hash_mismatch_at_that_record() -> None:
    rows, checkpoints = build([3, 3, 3])
    seq, body, stored = rows[4]
    rows[4] = (seq, body.replace(b'"amount_minor":500', b'"amount_minor":900'), stored)

    report = verify(rows, checkpoints)

    assert (report.ok, report.first_bad_seq, report.reason) == (False, 5, "hash")
    assert report.problem == (
        "record 5: its stored hash does not match its body (the body or the hash was changed)"
    )
    assert report.records == 4


def test_missing_record_is_a_gap() -> None:
    rows, checkpoints = build([3, 3, 3])
    del rows[5]

    report = verify(rows, checkpoints)

    assert (report.first_bad_seq, report.reason) == (6, "gap")
    assert report.problem == "record 6 is missing: the log jumps from record 5 to 7"


def test_swapped_records_are_caught_by_the_seq_in_the_body() -> None:
    rows, checkpoints = build([3, 3])
    (s3, b3, h3), (s4, b4, h4) = rows[2], rows[3]
    rows[2], rows[3] = (s3, b4, h4), (s4, b3, h3)

    report = verify(rows, checkpoints)

    assert (report.first_bad_seq, report.reason) == (3, "order")
    assert report.problem == "record 3: its body says seq 4, so records were swapped or moved"


def test_record_rehashed_without_fixing_its_successor_is_a_broken_link() -> None:
    rows, checkpoints = build([5, 5])
    seq, body, _ = rows[6]
    changed = body.replace(b'"amount_minor":700', b'"amount_minor":1')
    rows[6] = (seq, changed, leaf_hash(changed))

    report = verify(rows, checkpoints)

    # Record 8's link breaks, but record 7 is the first one that changed.
    assert (report.first_bad_seq, report.reason) == (7, "link")
    assert report.problem == (
        "record 8: its prev does not match the hash of record 7, so record 7 was changed "
        "and re-hashed"
    )


def test_rehashed_tail_is_caught_by_the_signed_root() -> None:
    rows, checkpoints = build([3, 3, 3, 3])
    body = rows[6][1].replace(b'"amount_minor":700', b'"amount_minor":7')

    report = verify(rechain(rows, 7, {7: body}), checkpoints)

    assert (report.first_bad_seq, report.reason) == (7, "checkpoint_root")
    assert report.problem == (
        "records 7 to 9 do not match the checkpoint signed for size 9 (the Merkle root "
        "differs), so the log was altered in that range and re-hashed"
    )


def test_rehashed_record_inside_a_transaction_names_its_transaction() -> None:
    rows, checkpoints = build([3, 3, 3, 3])
    body = rows[7][1].replace(b'"amount_minor":800', b'"amount_minor":8')

    report = verify(rechain(rows, 8, {8: body}), checkpoints)

    # A root says that records 7..9 changed, not which one: 7 is the first unvouched.
    assert (report.first_bad_seq, report.reason) == (7, "checkpoint_root")


def test_forged_signature_fails_from_the_last_vouched_record() -> None:
    rows, checkpoints = build([2, 2, 2])
    checkpoints[1] = dataclasses.replace(checkpoints[1], signature="ab" * 64)

    report = verify(rows, checkpoints)

    assert (report.first_bad_seq, report.reason) == (3, "signature")
    assert report.problem == (
        f"the checkpoint for size 4 has an invalid signature for key {SIGNER.key_id}, so "
        "records 3 to 4 are not vouched for"
    )


def test_checkpoint_signed_by_an_unregistered_key_is_unknown_key() -> None:
    rows, checkpoints = build([2, 2, 2])
    checkpoints[2] = sign_checkpoint(
        OTHER, log="recon", size=6, root=checkpoints[2].root, time=checkpoints[2].time
    )

    report = verify(rows, checkpoints)

    assert (report.first_bad_seq, report.reason) == (5, "unknown_key")
    assert f"is signed by key {OTHER.key_id}, which is not in the keys table" in str(report.problem)


def test_keys_table_row_that_does_not_match_its_id_is_not_trusted() -> None:
    rows, checkpoints = build([2])
    # The attacker's public key filed under the real key's id.
    swapped = dataclasses.replace(SIGNER.key(), public_key=OTHER.public_key_hex)

    report = verify(rows, checkpoints, keys=[swapped])

    assert (report.first_bad_seq, report.reason) == (1, "unknown_key")
    assert "has a public key that does not hash to its id" in str(report.problem)


def test_a_log_re_signed_with_a_key_added_later_fails_only_against_pinned_keys() -> None:
    # Someone able to write the database rewrites the log and re-signs all of it with
    # a key of their own, filed in the keys table. Only an auditor who pinned the
    # original key id out of band can tell.
    forged_rows, forged = build([2, 2, 2], signer=OTHER)
    keys = [SIGNER.key(), OTHER.key()]

    assert verify(forged_rows, forged, keys=keys).ok  # the keys table vouches for both
    report = verify(forged_rows, forged, keys=keys, trusted={SIGNER.key_id})

    assert (report.first_bad_seq, report.reason) == (1, "unknown_key")
    assert f"signed by key {OTHER.key_id}, which is not one of the trusted keys" in str(
        report.problem
    )


def test_pinned_keys_accept_a_log_signed_by_them_through_a_rotation() -> None:
    _, first = build([2, 2])
    more, second = build([2, 2, 3, 1], signer=OTHER)
    keys = [SIGNER.key(), OTHER.key()]

    with ThreadPoolExecutor(2) as pool:
        both = verify(
            more,
            [*first, *second[2:]],
            keys=keys,
            trusted={SIGNER.key_id, OTHER.key_id},
            executor=pool,
        )
        old_only = verify(
            more, [*first, *second[2:]], keys=keys, trusted={SIGNER.key_id}, executor=pool
        )

    assert both.ok, both.problem
    assert (old_only.reason, old_only.first_bad_seq) == ("unknown_key", 5)


def test_rotated_keys_both_verify() -> None:
    _, first = build([2, 2])
    more, second = build([2, 2, 3, 1], signer=OTHER)

    report = verify(more, [*first, *second[2:]], keys=[SIGNER.key(), OTHER.key()])

    assert report.ok, report.problem
    assert report.checkpoints == 4


def test_records_after_the_last_checkpoint_are_an_unsigned_tail() -> None:
    rows, checkpoints = build([3, 3, 2])

    report = verify(rows, checkpoints[:-1])

    assert (report.first_bad_seq, report.reason) == (7, "unsigned_tail")
    assert report.problem == (
        "records 7 to 8 are not covered by any signed checkpoint (unsigned tail)"
    )


def test_checkpoint_beyond_the_log_means_truncation() -> None:
    rows, checkpoints = build([3, 3, 3])

    report = verify(rows[:7], checkpoints)

    assert (report.first_bad_seq, report.reason) == (8, "truncated")
    assert report.problem == (
        "the log has 7 records but a valid checkpoint is signed for size 9, so records "
        "8 to 9 were deleted or an old backup was restored"
    )


def test_anchor_beyond_the_log_means_truncation_or_old_backup() -> None:
    rows, checkpoints = build([3, 3, 3])

    report = verify(rows[:6], checkpoints[:2], anchors=checkpoints)

    assert (report.first_bad_seq, report.reason) == (7, "anchor_beyond_log")
    assert report.problem == (
        "the log has 6 records but anchor #3 is signed for size 9, so records 7 to 9 "
        "were deleted or an old backup was restored"
    )


def test_anchor_from_another_history_is_a_mismatch() -> None:
    rows, checkpoints = build([3, 3, 3])
    body = rows[3][1].replace(b'"amount_minor":400', b'"amount_minor":4')
    forked = rechain(rows, 4, {4: body})
    frontier = MerkleFrontier()
    for _, _, stored in forked:
        frontier.append(stored)
    # The key holder signed the forked history (e.g. after restoring an old backup).
    resigned = [*checkpoints[:1]] + [
        sign_checkpoint(SIGNER, log="recon", size=size, root=root, time=T0)
        for size, root in ((6, _root(forked[:6])), (9, frontier.root()))
    ]

    report = verify(forked, resigned, anchors=checkpoints)

    assert (report.first_bad_seq, report.reason) == (4, "anchor_mismatch")
    assert str(report.problem).startswith("records 4 to 6 do not match anchor #2 signed for size 6")


def test_anchors_of_other_logs_are_ignored() -> None:
    rows, checkpoints = build([3])
    elsewhere = dataclasses.replace(checkpoints[0], log="other", size=99)

    report = verify(rows, checkpoints, anchors=[elsewhere, checkpoints[0]])

    assert report.ok and report.anchors == 1


def test_deep_mode_also_requires_valid_canonical_json() -> None:
    # A body only the key holder could get accepted: not JSON, but with a valid tail.
    tail = record_body(entry(1), seq=1, prev=GENESIS).split(b',"prev"')[1]
    body = b'{"actor":"U1" this is not json,"prev"' + tail
    rows = chain([body])
    checkpoints = [sign_checkpoint(SIGNER, log="recon", size=1, root=rows[0][2], time=T0)]

    assert verify(rows, checkpoints).ok  # fast mode checks seq and prev from the tail
    report = verify(rows, checkpoints, deep=True)

    assert (report.first_bad_seq, report.reason) == (1, "format")


def test_body_with_a_foreign_tail_is_a_format_error() -> None:
    body = b'{"actor":"U1","prev":"' + GENESIS.encode() + b'","seq":1,"v":2}'
    rows = chain([body])

    report = verify(rows, [])

    assert (report.first_bad_seq, report.reason) == (1, "format")
    assert report.problem == "record 1: its body is not a version-1 audit record"


def test_first_record_must_link_to_genesis() -> None:
    body = record_body(entry(1), seq=1, prev="11" * 32)

    report = verify(chain([body]), [])

    assert (report.first_bad_seq, report.reason) == (1, "link")


def test_checkpoints_added_after_their_records_are_a_caller_bug() -> None:
    rows, checkpoints = build([2, 2])
    verifier = AuditVerifier(log="recon", keys=[SIGNER.key()])
    verifier.add_records(rows[:3])

    with pytest.raises(ValueError, match="size order, before their records"):
        verifier.add_checkpoints(checkpoints[:1])


def _root(rows: list[Row]) -> str:
    frontier = MerkleFrontier()
    for _, _, stored in rows:
        frontier.append(stored)
    return frontier.root()


def test_body_buffers_are_read_and_text_bodies_refused() -> None:
    rows, checkpoints = build([2])
    as_buffers = [(seq, memoryview(body), stored) for seq, body, stored in rows]
    as_text = [(seq, body.decode(), stored) for seq, body, stored in rows]

    assert verify(as_buffers, checkpoints).ok  # type: ignore[arg-type]
    report = verify(as_text, checkpoints)  # type: ignore[arg-type]

    assert (report.first_bad_seq, report.reason) == (1, "format")
    assert report.problem == "record 1: its body is not bytes"


def test_a_single_record_is_named_in_the_singular() -> None:
    rows, checkpoints = build([3, 1])

    report = verify(rows, checkpoints[:-1])

    assert report.problem == "record 4 is not covered by any signed checkpoint (unsigned tail)"


def test_head_row_that_disagrees_with_the_log_is_reported_last() -> None:
    rows, checkpoints = build([2, 2])
    verifier = AuditVerifier(log="recon", keys=[SIGNER.key()])
    verifier.add_checkpoints(checkpoints)
    verifier.add_records(rows)

    report = verifier.finish(head_size=5, head_hash=rows[-1][2], head_root=checkpoints[-1].root)

    assert (report.reason, report.first_bad_seq) == ("head", 5)
    assert report.problem == "the head row says the log has 5 records but it has 4"


def test_summary_is_one_line_naming_the_problem() -> None:
    rows, checkpoints = build([3, 3])
    del rows[1]

    report = verify(rows, checkpoints)

    assert report.summary() == "FAILED: record 2 is missing: the log jumps from record 1 to 3"


def test_a_failure_before_reading_reports_an_empty_log() -> None:
    report = VerifyReport.unread(reason="bundle", problem="the bundle in x is incomplete")

    assert not report.ok and report.reason == "bundle"
    assert (report.records, report.checkpoints, report.anchors) == (0, 0, 0)
    assert report.root == MerkleFrontier().root() and report.first_bad_seq is None
    assert report.summary() == "FAILED: the bundle in x is incomplete"


def test_anchors_appended_while_the_log_was_read_cover_its_newest_checkpoint() -> None:
    records, checkpoints = build([2, 2])
    view = AnchorFileView(name="anchors.jsonl", present=True, anchors=(checkpoints[0],))
    verifier = AuditVerifier(log="recon", keys=[SIGNER.key()], anchors=view)
    verifier.add_checkpoints(checkpoints)
    verifier.add_records(records)

    assert verifier.anchors_behind
    verifier.cover_anchors(checkpoints)
    assert not verifier.anchors_behind
    assert verifier.finish().ok

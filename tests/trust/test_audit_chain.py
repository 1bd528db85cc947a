"""The hash chain names the first entry that was altered, removed, reordered or rewritten."""

from __future__ import annotations

import copy
import random
from datetime import UTC, datetime, timedelta

import pytest

from cm_pipelines.domain.trust.audit_chain import (
    GENESIS_HASH,
    ChainAnchor,
    canonical_content,
    compute_entry_hash,
    verify_chain,
)

CHAIN_LENGTH = 8


def build_chain(length: int = CHAIN_LENGTH, seed: int = 3) -> list[dict]:
    rnd = random.Random(seed)
    start = datetime(2026, 3, 1, 9, 0, tzinfo=UTC)
    entries: list[dict] = []
    previous = GENESIS_HASH
    for seq in range(1, length + 1):
        entry = {
            "seq": seq,
            "occurred_at": start + timedelta(minutes=seq, microseconds=rnd.randrange(10**6)),
            "actor": rnd.choice(["schedule:retention", "cli:operator", "sensor:dsar"]),
            "action": rnd.choice(["retention.purge", "dsar.erase", "dncr.promote"]),
            "tenant_id": rnd.choice(["acme-au", "beta-us", None]),
            "object_refs": {"call_ids": [f"17636{rnd.randrange(10**5):05d}.{seq}"]},
            "details": {"rows": rnd.randrange(1000), "nested": {"ok": True, "ratio": 0.5}},
            "run_id": f"run-{seq}",
        }
        entry["prev_hash"] = previous
        entry["entry_hash"] = compute_entry_hash(entry, previous)
        previous = entry["entry_hash"]
        entries.append(entry)
    return entries


def rehash(entry: dict) -> None:
    entry["entry_hash"] = compute_entry_hash(entry, entry["prev_hash"])


def test_an_untouched_chain_verifies_and_reports_its_head() -> None:
    chain = build_chain()
    verdict = verify_chain(chain)
    assert verdict.ok
    assert verdict.entries_checked == CHAIN_LENGTH
    assert verdict.head_seq == CHAIN_LENGTH
    assert verdict.head_hash == chain[-1]["entry_hash"]
    assert "intact" in verdict.describe()


def test_an_empty_chain_is_intact() -> None:
    verdict = verify_chain([])
    assert verdict.ok and verdict.head_seq == 0 and verdict.head_hash == GENESIS_HASH


def test_hash_does_not_depend_on_key_order_or_timestamp_representation() -> None:
    entry = build_chain(1)[0]
    reordered = dict(reversed(list(entry.items())))
    reordered["details"] = dict(reversed(list(entry["details"].items())))
    # SQLite hands timestamps back naive in UTC; PostgreSQL aware in the session's zone.
    reordered["occurred_at"] = entry["occurred_at"].replace(tzinfo=None)
    assert canonical_content(reordered) == canonical_content(entry)
    sydney = entry["occurred_at"].astimezone(__import__("zoneinfo").ZoneInfo("Australia/Sydney"))
    assert compute_entry_hash({**entry, "occurred_at": sydney}, GENESIS_HASH) == compute_entry_hash(
        entry, GENESIS_HASH
    )


@pytest.mark.parametrize("position", range(1, CHAIN_LENGTH + 1))
@pytest.mark.parametrize(
    "field,new_value",
    [
        ("actor", "cli:intruder"),
        ("action", "dsar.erase"),
        ("tenant_id", "gamma-sg"),
        ("details", {"rows": 0}),
        ("object_refs", {"call_ids": []}),
        ("run_id", "run-forged"),
        ("occurred_at", datetime(2020, 1, 1, tzinfo=UTC)),
    ],
)
def test_an_updated_field_in_any_row_is_named(position: int, field: str, new_value) -> None:
    chain = build_chain()
    if chain[position - 1][field] == new_value:
        new_value = "changed"
    chain[position - 1][field] = new_value
    verdict = verify_chain(chain)
    assert not verdict.ok
    assert (verdict.first_bad_seq, verdict.problem) == (position, "altered")
    assert f"entry {position}" in verdict.describe()


@pytest.mark.parametrize("position", range(1, CHAIN_LENGTH))
def test_an_update_that_recomputes_the_rows_own_hash_is_named(position: int) -> None:
    chain = build_chain()
    chain[position - 1]["details"] = {"rows": 999_999}
    rehash(chain[position - 1])  # the attacker knows the algorithm
    verdict = verify_chain(chain)
    assert (verdict.ok, verdict.first_bad_seq, verdict.problem) == (False, position, "altered")


def test_a_recomputed_last_row_needs_an_anchor_and_is_found_with_one() -> None:
    chain = build_chain()
    anchor = ChainAnchor(CHAIN_LENGTH, chain[-1]["entry_hash"])
    chain[-1]["actor"] = "cli:intruder"
    rehash(chain[-1])
    assert verify_chain(chain).ok  # a chain alone cannot see this: why anchors exist
    verdict = verify_chain(chain, [anchor])
    assert (verdict.ok, verdict.problem, verdict.first_bad_seq) == (False, "rewritten", 1)
    earlier = ChainAnchor(CHAIN_LENGTH - 1, chain[-2]["entry_hash"])
    verdict = verify_chain(chain, [earlier, anchor])
    assert (verdict.problem, verdict.first_bad_seq) == ("rewritten", CHAIN_LENGTH)


@pytest.mark.parametrize("position", range(1, CHAIN_LENGTH))
def test_a_deleted_row_is_named(position: int) -> None:
    chain = build_chain()
    del chain[position - 1]
    verdict = verify_chain(chain)
    assert (verdict.ok, verdict.first_bad_seq, verdict.problem) == (False, position, "removed")
    assert "missing" in verdict.detail


def test_deleted_newest_rows_are_found_through_the_anchor() -> None:
    chain = build_chain()
    anchor = ChainAnchor(CHAIN_LENGTH, chain[-1]["entry_hash"])
    truncated = chain[:-2]
    assert verify_chain(truncated).ok
    verdict = verify_chain(truncated, [anchor])
    assert (verdict.ok, verdict.first_bad_seq, verdict.problem) == (
        False,
        CHAIN_LENGTH - 1,
        "removed",
    )


def _swap_rows(chain: list[dict], first: int, second: int) -> list[dict]:
    """Exchange two rows' contents while each keeps its position (seq), as an UPDATE would."""
    swapped = copy.deepcopy(chain)
    a, b = swapped[first - 1], swapped[second - 1]
    for field in a:
        if field != "seq":
            a[field], b[field] = b[field], a[field]
    return swapped


@pytest.mark.parametrize(
    "first,second", [(1, 2), (3, 4), (2, 7), (1, CHAIN_LENGTH), (CHAIN_LENGTH - 1, CHAIN_LENGTH)]
)
def test_two_swapped_rows_are_named(first: int, second: int) -> None:
    verdict = verify_chain(_swap_rows(build_chain(), first, second))
    assert (verdict.ok, verdict.first_bad_seq, verdict.problem) == (False, first, "reordered")


def test_rows_swapped_with_their_seq_are_found_in_seq_order() -> None:
    chain = build_chain()
    chain[2]["seq"], chain[3]["seq"] = chain[3]["seq"], chain[2]["seq"]
    chain.sort(key=lambda entry: entry["seq"])
    verdict = verify_chain(chain)
    assert (verdict.ok, verdict.first_bad_seq, verdict.problem) == (False, 3, "reordered")


def test_an_anchor_that_still_matches_is_counted() -> None:
    chain = build_chain()
    anchors = [ChainAnchor(3, chain[2]["entry_hash"]), ChainAnchor(8, chain[7]["entry_hash"])]
    verdict = verify_chain(chain, anchors)
    assert verdict.ok and verdict.anchors_checked == 2


def test_a_whole_tail_rewritten_is_caught_between_anchors() -> None:
    chain = build_chain()
    anchors = [ChainAnchor(3, chain[2]["entry_hash"]), ChainAnchor(6, chain[5]["entry_hash"])]
    chain[4]["details"] = {"rows": 0}
    for entry, previous in zip(chain[4:], chain[3:], strict=False):
        entry["prev_hash"] = previous["entry_hash"]
        rehash(entry)
    assert verify_chain(chain).ok
    verdict = verify_chain(chain, anchors)
    assert (verdict.problem, verdict.first_bad_seq) == ("rewritten", 4)
    assert "4..6" in verdict.detail


def test_a_row_missing_its_hash_fields_is_malformed() -> None:
    chain = build_chain()
    del chain[1]["entry_hash"]
    verdict = verify_chain(chain)
    assert (verdict.first_bad_seq, verdict.problem) == (2, "malformed")


def test_verification_streams_without_needing_a_list() -> None:
    chain = build_chain(50)
    verdict = verify_chain(iter(chain))
    assert verdict.ok and verdict.entries_checked == 50


def test_verdict_dict_is_json_ready() -> None:
    import json

    chain = build_chain()
    del chain[3]
    document = verify_chain(chain).as_dict()
    assert json.loads(json.dumps(document))["first_bad_seq"] == 4

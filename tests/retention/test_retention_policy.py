"""Retention rules: policy versions, a change mid-life, lineage inheritance, states, the circuit
breaker, purge planning and the proof document."""

from __future__ import annotations

from datetime import date, timedelta

import pandas as pd
import pytest

from cm_pipelines.domain.retention.artefact_states import compute_states, due_within, state_counts
from cm_pipelines.domain.retention.circuit_breaker import BreakerLimits, evaluate_breaker
from cm_pipelines.domain.retention.digests import artefacts_digest
from cm_pipelines.domain.retention.policies import (
    INITIAL_EFFECTIVE_FROM,
    PolicyBook,
    PolicyVersion,
    versions_to_record,
)
from cm_pipelines.domain.retention.proof import proof_document
from cm_pipelines.domain.retention.purge_plan import PURGE_ORDER, plan_items
from cm_pipelines.domain.tenants import RECORD_TYPES, Tenant

TODAY = date(2026, 6, 1)


def tenant(retention: dict[str, int], tenant_id: str = "acme-au") -> Tenant:
    return Tenant(tenant_id, "Acme", "AU", "Australia/Sydney", retention_days=retention)


def book_for(*tenants: Tenant, first_seen: date = TODAY) -> PolicyBook:
    return PolicyBook(versions_to_record(tenants, [], first_seen))


def artefact(
    record_type,
    artefact_id,
    *,
    days_old,
    call_id=None,
    purged=False,
    obj=True,
    holds="",
    tenant_id="acme-au",
):
    has_object = obj and record_type in ("recordings", "transcripts", "ai_summaries")
    return {
        "tenant_id": tenant_id,
        "record_type": record_type,
        "artefact_id": artefact_id,
        "call_id": call_id,
        "basis_date": TODAY - timedelta(days=days_old),
        "purged": purged,
        "object_path": f"landing/{record_type}/{tenant_id}/{artefact_id}.bin"
        if has_object
        else None,
        "object_sha256": f"{abs(hash(artefact_id)) % 10**12:064d}" if has_object else None,
        "hold_ids": holds,
    }


def call_lineage(
    call_id, days_old, *, recording=True, transcript=True, summary=True, crm=True, **kwargs
):
    rows = [artefact("call_logs", call_id, days_old=days_old, call_id=call_id, **kwargs)]
    if recording:
        rows.append(artefact("recordings", call_id, days_old=days_old, call_id=call_id, **kwargs))
    if transcript:
        rows.append(artefact("transcripts", call_id, days_old=days_old, call_id=call_id, **kwargs))
    if summary:
        rows.append(
            artefact(
                "ai_summaries", f"{call_id}#summary", days_old=days_old, call_id=call_id, **kwargs
            )
        )
    if crm:
        rows.append(
            artefact("crm_links", f"{call_id}-crm", days_old=days_old, call_id=call_id, **kwargs)
        )
    return rows


def states_of(rows, book, as_of=TODAY):
    states = compute_states(pd.DataFrame(rows), book, as_of)
    return {(r.record_type, r.artefact_id): r for r in states.itertuples()}


# --- policy versions ------------------------------------------------------------------------


def test_first_versions_cover_every_record_type_from_onboarding():
    versions = versions_to_record([tenant({"recordings": 30})], [], TODAY)
    assert {v.record_type for v in versions} == set(RECORD_TYPES)
    assert all(v.version == 1 and v.effective_from == INITIAL_EFFECTIVE_FROM for v in versions)
    by_type = {v.record_type: v for v in versions}
    assert by_type["recordings"].retention_days == 30 and by_type["recordings"].source == "config"
    assert by_type["call_logs"].source == "default"
    assert by_type["recordings"].id == "acme-au/recordings/v1"


def test_a_changed_value_is_a_new_version_effective_when_first_seen():
    existing = versions_to_record([tenant({"recordings": 30})], [], TODAY - timedelta(days=100))
    assert versions_to_record([tenant({"recordings": 30})], existing, TODAY) == []
    changed = versions_to_record([tenant({"recordings": 10})], existing, TODAY)
    assert changed == [PolicyVersion("acme-au", "recordings", 2, 10, TODAY, "config")]


def test_an_operator_version_is_not_reverted_by_an_unchanged_file_but_the_next_change_wins():
    existing = versions_to_record([tenant({"recordings": 30})], [], TODAY - timedelta(days=100))
    operator = PolicyVersion("acme-au", "recordings", 2, 5, TODAY, "operator")
    assert versions_to_record([tenant({"recordings": 30})], [*existing, operator], TODAY) == []
    later = TODAY + timedelta(days=3)
    assert versions_to_record([tenant({"recordings": 45})], [*existing, operator], later) == [
        PolicyVersion("acme-au", "recordings", 3, 45, later, "config")
    ]


def test_version_in_force_and_same_day_supersession():
    book = PolicyBook(
        [
            PolicyVersion("t", "recordings", 1, 90, INITIAL_EFFECTIVE_FROM),
            PolicyVersion("t", "recordings", 2, 30, TODAY),
            PolicyVersion("t", "recordings", 3, 60, TODAY),
        ]
    )
    assert book.in_force("t", "recordings", TODAY - timedelta(days=1)).version == 1
    assert book.in_force("t", "recordings", TODAY).version == 3
    assert book.in_force("t", "transcripts", TODAY) is None


# --- a policy change mid-life ---------------------------------------------------------------


def test_a_shorter_policy_applies_from_its_effective_date_and_is_named():
    v1 = PolicyVersion("acme-au", "call_logs", 1, 365, INITIAL_EFFECTIVE_FROM)
    change_day = TODAY + timedelta(days=5)
    v2 = PolicyVersion("acme-au", "call_logs", 2, 30, change_day)
    book = PolicyBook([v1, v2])
    rows = [artefact("call_logs", "c1", days_old=100, call_id="c1")]

    before = states_of(rows, book, TODAY)[("call_logs", "c1")]
    assert before.state == "active"
    # The forecast already sees the announced change: due on its effective date, under v2.
    assert before.expires_on == change_day
    assert before.policy_version == "acme-au/call_logs/v2"
    assert due_within(compute_states(pd.DataFrame(rows), book, TODAY), TODAY, 7) == 1
    assert due_within(compute_states(pd.DataFrame(rows), book, TODAY), TODAY, 3) == 0

    after = states_of(rows, book, change_day)[("call_logs", "c1")]
    assert after.state == "due"
    # It could not be due before v2 existed: expiry is v2's effective date, not basis + 30.
    assert after.expires_on == change_day
    assert after.policy_version == "acme-au/call_logs/v2"


def test_a_longer_policy_rescues_artefacts_not_yet_purged():
    v1 = PolicyVersion("acme-au", "call_logs", 1, 30, INITIAL_EFFECTIVE_FROM)
    v2 = PolicyVersion("acme-au", "call_logs", 2, 365, TODAY - timedelta(days=1))
    rows = [artefact("call_logs", "c1", days_old=100, call_id="c1")]
    state = states_of(rows, PolicyBook([v1, v2]))[("call_logs", "c1")]
    assert state.state == "active"
    assert state.expires_on == TODAY - timedelta(days=100) + timedelta(days=365)
    assert state.policy_version == "acme-au/call_logs/v2"
    # Under v1 alone it was due 70 days ago.
    alone = states_of(rows, PolicyBook([v1]))[("call_logs", "c1")]
    assert alone.state == "due"
    assert alone.expires_on == TODAY - timedelta(days=70)


# --- lineage ---------------------------------------------------------------------------------


def test_derived_artefacts_never_outlive_their_recording_and_name_its_policy():
    book = book_for(
        tenant({"recordings": 30, "transcripts": 365, "ai_summaries": 365, "call_logs": 730})
    )
    states = states_of(call_lineage("c1", 40), book)
    recording = states[("recordings", "c1")]
    assert recording.state == "due" and recording.expiry_basis == "policy"
    for key in (("transcripts", "c1"), ("ai_summaries", "c1#summary")):
        derived = states[key]
        assert derived.state == "due"
        assert derived.expires_on == recording.expires_on
        assert derived.expiry_basis == "inherited:recordings"
        assert derived.policy_version == "acme-au/recordings/v1"
    assert states[("call_logs", "c1")].state == "active"


def test_a_derived_artefact_with_a_shorter_policy_goes_first():
    book = book_for(tenant({"recordings": 90, "transcripts": 10}))
    states = states_of(call_lineage("c1", 20), book)
    assert states[("transcripts", "c1")].state == "due"
    assert states[("transcripts", "c1")].expiry_basis == "policy"
    assert states[("recordings", "c1")].state == "active"


def test_without_a_recording_derived_artefacts_follow_the_call():
    book = book_for(tenant({"call_logs": 15, "transcripts": 365, "recordings": 365}))
    states = states_of(call_lineage("c1", 20, recording=False), book)
    assert states[("transcripts", "c1")].expiry_basis == "inherited:call_logs"
    assert states[("transcripts", "c1")].state == "due"
    assert states[("crm_links", "c1-crm")].expiry_basis == "inherited:call_logs"
    assert states[("crm_links", "c1-crm")].policy_version == "acme-au/call_logs/v1"


def test_a_recording_never_outlives_its_call():
    book = book_for(tenant({"call_logs": 10, "recordings": 365}))
    states = states_of(call_lineage("c1", 20, transcript=False, summary=False, crm=False), book)
    assert states[("recordings", "c1")].expiry_basis == "inherited:call_logs"
    assert states[("recordings", "c1")].state == "due"


def test_when_the_parent_is_purged_the_derived_artefact_goes_with_it():
    book = book_for(tenant({"recordings": 30, "transcripts": 365}))
    rows = call_lineage("c1", 5, summary=False, crm=False)
    for row in rows:
        if row["record_type"] == "recordings":
            row["purged"] = True  # e.g. erased early
    states = states_of(rows, book)
    assert states[("recordings", "c1")].state == "purged"
    transcript = states[("transcripts", "c1")]
    assert transcript.state == "due"
    assert transcript.expiry_basis == "parent_purged:recordings"
    assert transcript.expires_on <= TODAY


def test_blocked_calls_follow_the_wash_results_policy():
    book = book_for(tenant({"wash_results": 30}))
    rows = [
        artefact("blocked_calls", "7", days_old=31),
        artefact("wash_results", "8", days_old=29),
    ]
    states = states_of(rows, book)
    assert states[("blocked_calls", "7")].state == "due"
    assert states[("blocked_calls", "7")].policy_version == "acme-au/wash_results/v1"
    assert states[("wash_results", "8")].state == "active"


# --- states ----------------------------------------------------------------------------------


def test_held_wins_over_due_and_purged_wins_over_held():
    book = book_for(tenant({"recordings": 30}))
    rows = call_lineage("c1", 400, holds="hold-1") + [
        artefact("recordings", "c2", days_old=400, call_id="c2", purged=True, holds="hold-1")
    ]
    states = states_of(rows, book)
    assert states[("recordings", "c1")].state == "held"
    assert states[("recordings", "c1")].basis == "legal_hold"
    assert states[("recordings", "c1")].expiry_basis == "policy"
    assert states[("recordings", "c2")].state == "purged"


def test_unconfigured_tenants_and_missing_dates_are_never_due():
    book = book_for(tenant({}))
    rows = [
        artefact("call_logs", "x", days_old=5000, call_id="x", tenant_id="gone-tenant"),
        {**artefact("call_logs", "y", days_old=1, call_id="y"), "basis_date": None},
    ]
    states = states_of(rows, book)
    assert states[("call_logs", "x")].state == "active"
    assert states[("call_logs", "x")].basis == "no_policy"
    assert states[("call_logs", "y")].state == "active"
    assert states[("call_logs", "y")].basis == "no_basis_date"


def test_state_counts_has_every_state_column():
    book = book_for(tenant({"recordings": 30}))
    counts = state_counts(compute_states(pd.DataFrame(call_lineage("c1", 40)), book, TODAY))
    assert list(counts.columns) == ["tenant_id", "record_type", "active", "due", "held", "purged"]
    assert counts.loc[counts["record_type"] == "recordings", "due"].item() == 1


# --- circuit breaker -------------------------------------------------------------------------


def test_breaker_trips_on_a_tenant_share_above_the_limit_only():
    limits = BreakerLimits(max_tenant_share=0.2, max_plan_items=1000)
    assert not evaluate_breaker({"a": 20}, {"a": 100}, limits).tripped
    verdict = evaluate_breaker({"a": 21, "b": 1}, {"a": 100, "b": 100}, limits)
    assert verdict.tripped
    assert verdict.tenant_shares == {"a": 0.21, "b": 0.01}
    assert len(verdict.reasons) == 1 and "tenant a" in verdict.reasons[0]


def test_breaker_trips_on_the_absolute_ceiling():
    verdict = evaluate_breaker(
        {"a": 600, "b": 600}, {"a": 10_000, "b": 10_000}, BreakerLimits(0.2, 1000)
    )
    assert verdict.tripped and verdict.plan_items == 1200
    assert "ceiling 1000" in verdict.reasons[0]


def test_breaker_with_nothing_planned_passes():
    assert not evaluate_breaker({}, {"a": 5}, BreakerLimits()).tripped


# --- planning and proof ----------------------------------------------------------------------


def _due_world():
    book = book_for(
        tenant(
            {
                "recordings": 1,
                "transcripts": 1,
                "ai_summaries": 1,
                "call_logs": 1,
                "crm_links": 1,
                "wash_results": 1,
            }
        )
    )
    rows = []
    for index in range(7):
        rows += call_lineage(f"c{index}", 10)
    rows += [artefact("wash_results", str(n), days_old=10) for n in range(5)]
    rows += call_lineage("fresh", 0)
    return compute_states(pd.DataFrame(rows), book, TODAY)


def test_plan_orders_children_first_and_cuts_batches_by_kind_and_size():
    states = _due_world()
    items = plan_items(states, object_batch_size=3, row_batch_size=4)
    assert len(items) == 7 * 5 + 5
    assert list(items["item_no"]) == list(range(1, len(items) + 1))
    order = [PURGE_ORDER.index(t) for t in items["record_type"]]
    assert order == sorted(order)
    for _, batch in items.groupby("batch_no"):
        with_object = batch["object_path"].notna()
        assert with_object.all() or not with_object.any()
        assert len(batch) <= (3 if with_object.all() else 4)
    assert items["batch_no"].is_monotonic_increasing
    assert "fresh" not in set(items["call_id"].dropna())


def test_plan_scope_and_batch_limits():
    states = _due_world()
    assert plan_items(states, tenant_id="beta-us").empty
    with pytest.raises(ValueError, match="1-1000"):
        plan_items(states, object_batch_size=1001)


def test_digest_is_order_independent_and_content_sensitive():
    items = plan_items(_due_world())
    shuffled = items.sample(frac=1, random_state=3)
    assert artefacts_digest(items) == artefacts_digest(shuffled)
    changed = items.copy()
    changed.loc[0, "policy_version"] = "acme-au/recordings/v9"
    assert artefacts_digest(changed) != artefacts_digest(items)


def test_proof_document_counts_what_was_deleted():
    items = plan_items(_due_world())
    items["status"] = "purged"
    items.loc[items.index[:2], "status"] = "withdrawn"
    tombstones = items.loc[items["status"] == "purged"]
    plan = {
        "plan_id": "purge-x",
        "as_of": TODAY,
        "items_sha256": artefacts_digest(items),
        "thresholds": {},
    }
    proof = proof_document(
        plan,
        items,
        tombstones,
        objects_verified_absent=int(tombstones["object_path"].notna().sum()),
        objects_still_present=0,
        run_ids=["r2", "r1", "r2"],
        proof_run_id="r2",
        proved_at="2026-06-01T00:00:00+00:00",
    )
    assert proof["totals"]["purged"] == len(tombstones)
    assert proof["totals"]["withdrawn"] == 2
    assert proof["totals"]["objects_deleted"] == int(tombstones["object_path"].notna().sum())
    assert proof["run_ids"] == ["r1", "r2"]
    assert sum(proof["policy_versions"].values()) == len(tombstones)
    assert proof["tombstones_sha256"] == artefacts_digest(tombstones)
    per_type = proof["by_tenant"]["acme-au"]
    assert sum(entry.get("purged", 0) for entry in per_type.values()) == len(tombstones)
    assert proof["override"] == {"used": False, "reason_sha256": None, "by": None}

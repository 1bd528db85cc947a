"""Landing files follow the rows read from them: due once every row is purged, due or erased,
held while any row is held, never guessed at when nothing points at them."""

from __future__ import annotations

from datetime import date, timedelta

import pandas as pd

from cm_pipelines.domain.retention.artefact_states import STATE_COLUMNS, compute_states
from cm_pipelines.domain.retention.artefact_types import POLICY_TYPE
from cm_pipelines.domain.retention.policies import PolicyBook, versions_to_record
from cm_pipelines.domain.retention.purge_plan import PURGE_ORDER, plan_items
from cm_pipelines.domain.retention.source_files import SOURCE_COLUMNS, source_file_states
from cm_pipelines.domain.tenants import Tenant

TODAY = date(2026, 6, 1)
CDR = "landing/cdr/acme-au/2026-01-10/Master.csv"
CRM = "landing/crm/acme-au/2026-01-10/crm_links.csv"
NEXT_CDR = "landing/cdr/acme-au/2026-01-11/Master.csv"


def book(call_logs: int = 60, crm_links: int = 40) -> PolicyBook:
    tenant = Tenant(
        "acme-au",
        "Acme",
        "AU",
        "Australia/Sydney",
        retention_days={"call_logs": call_logs, "crm_links": crm_links},
    )
    return PolicyBook(versions_to_record([tenant], [], TODAY))


def call(call_id: str, days_old: int, *, purged: bool = False, holds: str = "") -> dict:
    return {
        "tenant_id": "acme-au",
        "record_type": "call_logs",
        "artefact_id": call_id,
        "call_id": call_id,
        "basis_date": TODAY - timedelta(days=days_old),
        "purged": purged,
        "object_path": None,
        "object_sha256": None,
        "hold_ids": holds,
    }


def decide(rows: list[dict], sources: list[tuple], files: list[tuple], policy: PolicyBook):
    states = compute_states(pd.DataFrame(rows), policy, TODAY)
    source_frame = pd.DataFrame(
        [
            ("acme-au", file_type, path, kind, ident, erased)
            for file_type, path, kind, ident, erased in sources
        ],
        columns=list(SOURCE_COLUMNS),
    )
    file_frame = pd.DataFrame(
        [("acme-au", file_type, path, purged) for file_type, path, purged in files],
        columns=["tenant_id", "record_type", "artefact_id", "purged"],
    )
    decided = source_file_states(file_frame, source_frame, states, policy, TODAY)
    assert list(decided.columns) == list(STATE_COLUMNS)
    return decided.set_index("artefact_id"), states


def test_a_file_is_due_once_every_row_from_it_is_purged_or_due():
    rows = [call("a", 90, purged=True), call("b", 70)]  # b due (60 days) today
    sources = [
        ("cdr_files", CDR, "call_logs", "a", False),
        ("cdr_files", CDR, "call_logs", "b", False),
    ]
    decided, states = decide(rows, sources, [("cdr_files", CDR, False)], book())
    row = decided.loc[CDR]
    assert row["state"] == "due"
    assert row["object_path"] == CDR and row["call_id"] is None
    assert row["expiry_basis"] == "sources:call_logs"
    # the latest of its rows' expiry dates, under that row's policy version
    assert row["expires_on"] == TODAY - timedelta(days=10)
    assert row["policy_version"] == "acme-au/call_logs/v1"
    # and it is planned after the rows it came from
    items = plan_items(pd.concat([states, decided.reset_index()], ignore_index=True))
    assert items["record_type"].tolist()[-1] == "cdr_files"
    assert PURGE_ORDER.index("cdr_files") > PURGE_ORDER.index("call_logs")
    assert PURGE_ORDER.index("crm_link_files") > PURGE_ORDER.index("crm_links")
    assert PURGE_ORDER.index("cdr_files") > PURGE_ORDER.index("quarantine_records")


def test_one_live_row_keeps_the_file_and_a_held_one_holds_it():
    rows = [call("a", 90), call("b", 10), call("c", 90, holds="hold-1")]
    sources = [
        ("cdr_files", CDR, "call_logs", "a", False),
        ("cdr_files", CDR, "call_logs", "b", False),
        ("cdr_files", NEXT_CDR, "call_logs", "c", False),
    ]
    decided, _ = decide(
        rows, sources, [("cdr_files", CDR, False), ("cdr_files", NEXT_CDR, False)], book()
    )
    assert decided.loc[CDR, "state"] == "active"
    assert decided.loc[CDR, "expires_on"] == TODAY + timedelta(days=50)  # when b goes
    assert decided.loc[NEXT_CDR, "state"] == "held"
    assert decided.loc[NEXT_CDR, "hold_ids"] == "hold-1"
    assert decided.loc[NEXT_CDR, "basis"] == "legal_hold"


def test_erased_rows_count_as_gone_and_an_all_erased_file_takes_todays_version():
    # a DSAR erased (and blanked) the only call of the file: the row stays, pseudonymised,
    # under its own policy, but the file holds nothing of it any more
    rows = [call("a", 5)]
    decided, _ = decide(
        rows, [("cdr_files", CDR, "call_logs", "a", True)], [("cdr_files", CDR, False)], book()
    )
    assert decided.loc[CDR, "state"] == "due"
    assert decided.loc[CDR, "expires_on"] == TODAY
    assert decided.loc[CDR, "policy_version"] == "acme-au/call_logs/v1"
    # with a second, live row it stays
    rows.append(call("b", 5))
    decided, _ = decide(
        rows,
        [("cdr_files", CDR, "call_logs", "a", True), ("cdr_files", CDR, "call_logs", "b", False)],
        [("cdr_files", CDR, False)],
        book(),
    )
    assert decided.loc[CDR, "state"] == "active"


def test_quarantined_lines_are_sources_and_follow_the_call_logs_policy():
    assert POLICY_TYPE["quarantine_records"] == "call_logs"
    assert POLICY_TYPE["crm_link_files"] == "crm_links"
    lines = [
        {**call("q1@1", 70), "record_type": "quarantine_records", "call_id": None},
        {**call("q2@1", 30), "record_type": "quarantine_records", "call_id": None},
    ]
    decided, states = decide(
        lines,
        [
            ("crm_link_files", CRM, "quarantine_records", "q1@1", False),
            ("crm_link_files", CRM, "quarantine_records", "q2@1", False),
        ],
        [("crm_link_files", CRM, False)],
        book(),
    )
    assert states.set_index("artefact_id")["state"].to_dict() == {"q1@1": "due", "q2@1": "active"}
    assert decided.loc[CRM, "state"] == "active"  # the younger line keeps the file


def test_a_tombstoned_file_is_purged_and_one_nothing_points_at_is_left_alone():
    decided, _ = decide(
        [call("a", 90, purged=True)],
        [("cdr_files", CDR, "call_logs", "a", False)],
        [("cdr_files", CDR, True), ("crm_link_files", CRM, False)],
        book(),
    )
    assert decided.loc[CDR, "state"] == "purged"
    assert decided.loc[CRM, "state"] == "active"
    assert decided.loc[CRM, "expires_on"] is None
    # a source the states do not know counts as live
    decided, _ = decide(
        [call("a", 90)],
        [("cdr_files", CDR, "call_logs", "a", False), ("cdr_files", CDR, "call_logs", "zz", False)],
        [("cdr_files", CDR, False)],
        book(),
    )
    assert decided.loc[CDR, "state"] == "active"


def test_no_files_gives_an_empty_frame_with_the_state_columns():
    empty = source_file_states(
        pd.DataFrame(columns=["tenant_id", "record_type", "artefact_id", "purged"]),
        pd.DataFrame(columns=list(SOURCE_COLUMNS)),
        compute_states(pd.DataFrame([call("a", 1)]), book(), TODAY),
        book(),
        TODAY,
    )
    assert empty.empty and list(empty.columns) == list(STATE_COLUMNS)

"""The daily audit verification (asset + check) and the compliance overview page and chart."""

from __future__ import annotations

import base64
import json
import re
from datetime import UTC, date, datetime, timedelta
from typing import Any

import dagster as dg
import pytest
import sqlalchemy as sa

from cm_pipelines.platform.audit_log import append_audit
from cm_pipelines.tables import dncr, dsar, retention
from cm_pipelines.tables.audit import audit_log
from cm_pipelines.trust import assets as trust_assets
from cm_pipelines.trust import checks as trust_checks
from cm_pipelines.trust.chain import load_anchors

AS_OF = date(2026, 3, 10)
SUBJECT_PHONE = "+61491570156"
SUBJECT_EMAIL = "jane.doe7@example.com"
OVERVIEW_CONFIG = {"ops": {"compliance_overview": {"config": {"as_of": AS_OF.isoformat()}}}}


def _run(resources: dict[str, Any], *selection: str, run_config=None) -> dg.ExecuteInProcessResult:
    assets = [trust_assets.audit_chain, trust_assets.compliance_overview]
    defs = dg.Definitions(
        assets=assets,
        asset_checks=[trust_checks.audit_chain_intact],
        jobs=[dg.define_asset_job("trust", selection=dg.AssetSelection.assets(*selection))],
        resources=resources,
    )
    return defs.resolve_job_def("trust").execute_in_process(
        instance=dg.DagsterInstance.ephemeral(), run_config=run_config or {}, raise_on_error=False
    )


def _metadata(result: dg.ExecuteInProcessResult, asset: str) -> dict[str, Any]:
    for event in result.get_asset_materialization_events():
        materialization = event.materialization
        if materialization is not None and materialization.asset_key.path == [asset]:
            return {key: value.value for key, value in materialization.metadata.items()}
    raise AssertionError(f"{asset} was not materialised")


def _check(result: dg.ExecuteInProcessResult) -> dg.AssetCheckEvaluation:
    (evaluation,) = result.get_asset_check_evaluations()
    return evaluation


def _seed_audit(resources: dict[str, Any], count: int) -> None:
    with resources["warehouse"].begin() as connection:
        for index in range(count):
            append_audit(
                connection,
                actor="test",
                action="retention.purge",
                tenant_id="acme-au",
                details={"index": index},
            )


# --- audit_chain ----------------------------------------------------------------------------------


def test_an_intact_chain_is_anchored_and_the_check_passes(local_resources) -> None:
    _seed_audit(local_resources, 4)
    result = _run(local_resources, "audit_chain")
    assert result.success
    metadata = _metadata(result, "audit_chain")
    assert metadata["ok"] is True and metadata["head_seq"] == 4
    anchors = load_anchors(local_resources["object_store"])
    assert [(a.seq, a.entry_hash) for a in anchors] == [(4, metadata["head_hash"])]
    assert _check(result).passed
    with local_resources["warehouse"].connect() as connection:
        newest = connection.execute(
            sa.select(audit_log).order_by(audit_log.c.seq.desc()).limit(1)
        ).first()
    assert newest.action == "audit.chain_verified" and newest.details["head_seq"] == 4


def test_entries_cut_off_after_an_anchor_fail_the_check_and_are_not_reanchored(
    local_resources,
) -> None:
    _seed_audit(local_resources, 3)
    assert _run(local_resources, "audit_chain").success  # anchors 3, appends entry 4
    warehouse = local_resources["warehouse"]
    _seed_audit(local_resources, 2)  # entries 5, 6
    assert _run(local_resources, "audit_chain").success  # anchors 6, appends 7
    with warehouse.begin() as connection:  # a DBA removes the guard and the newest rows
        connection.execute(sa.text("DROP TRIGGER audit_log_no_delete"))
        connection.execute(sa.delete(audit_log).where(audit_log.c.seq >= 6))
    result = _run(local_resources, "audit_chain")
    metadata = _metadata(result, "audit_chain")
    assert metadata["ok"] is False
    assert (metadata["problem"], metadata["first_bad_seq"]) == ("removed", 6)
    assert metadata["anchor_path"] == "not anchored"
    evaluation = _check(result)
    assert not evaluation.passed and evaluation.severity == dg.AssetCheckSeverity.ERROR
    assert evaluation.metadata["first_bad_seq"].value == 6
    assert [a.seq for a in load_anchors(local_resources["object_store"])] == [3, 6]


def test_an_altered_row_is_named_by_the_check(local_resources) -> None:
    _seed_audit(local_resources, 5)
    with local_resources["warehouse"].begin() as connection:
        connection.execute(sa.text("DROP TRIGGER audit_log_no_update"))
        connection.execute(
            sa.update(audit_log).where(audit_log.c.seq == 2).values(actor="cli:intruder")
        )
    evaluation = _check(_run(local_resources, "audit_chain"))
    assert not evaluation.passed
    assert "entry 2" in evaluation.description and "altered" in evaluation.description


# --- compliance_overview ----------------------------------------------------------------------------


def _seed_platform(warehouse) -> None:
    now = datetime(2026, 3, 9, 12, tzinfo=UTC)
    with warehouse.begin() as connection:
        wash = [
            ("acme-au", "au_acma", "blocked", "registry_listed", date(2026, 3, 1), 2),
            ("acme-au", "au_acma", "allowed", "not_listed", date(2026, 3, 1), 3),
            ("acme-au", "au_acma", "allowed", "not_listed", date(2026, 1, 20), 1),
            ("beta-us", "us_ftc", "blocked", "internal_suppression", date(2026, 1, 15), 1),
        ]
        rows = []
        for tenant, registry, decision, reason, evidence, count in wash:
            for index in range(count):
                rows.append(
                    {
                        "tenant_id": tenant,
                        "campaign_id": "spring",
                        "e164": SUBJECT_PHONE,
                        "e164_hash": f"hk1:{index:064x}",
                        "decision": decision,
                        "reason": reason,
                        "registry_id": registry,
                        "registry_version": f"v-{evidence:%m%d}",
                        "evidence_date": evidence,
                        "valid_until": datetime.combine(evidence, datetime.min.time(), UTC)
                        + timedelta(days=30),
                        "washed_at": now,
                    }
                )
        connection.execute(sa.insert(dncr.wash_results), rows)
        states = []
        for index, (state, expires) in enumerate(
            [("active", 3), ("active", 40), ("due", -1), ("held", -5), ("purged", -9)]
        ):
            states.append(
                {
                    "tenant_id": "acme-au",
                    "record_type": "recordings",
                    "artefact_id": f"rec-{index}",
                    "call_id": f"1763630102.{index}",
                    "state": state,
                    "basis": "call_date",
                    "expiry_basis": "policy",
                    "expires_on": AS_OF + timedelta(days=expires),
                    "as_of": AS_OF,
                    "computed_at": now,
                }
            )
        connection.execute(sa.insert(retention.retention_states), states)
        for request_id, tenant, due, state in (
            ("dsar-001", "acme-au", AS_OF + timedelta(days=20), "verified"),
            ("dsar-002", "acme-au", AS_OF - timedelta(days=2), "in_progress"),
            ("dsar-003", "acme-au", AS_OF - timedelta(days=40), "completed"),
            ("dsar-004", "beta-us", AS_OF + timedelta(days=5), "pending"),
        ):
            connection.execute(
                sa.insert(dsar.dsar_requests).values(
                    request_id=request_id,
                    tenant_id=tenant,
                    request_type="access",
                    jurisdiction="au",
                    identifiers={"phones": [SUBJECT_PHONE], "emails": [SUBJECT_EMAIL]},
                    identifier_hashes={},
                    received_at=now,
                    received_on=due - timedelta(days=30),
                    due_date=due,
                    state=state,
                    submitted_by="cli:privacy",
                    created_at=now,
                    updated_at=now,
                )
            )
        connection.execute(
            sa.insert(retention.legal_holds).values(
                hold_id="hold-7",
                tenant_id="acme-au",
                scope="phone",
                e164=SUBJECT_PHONE,
                reason=f"litigation about {SUBJECT_PHONE} / {SUBJECT_EMAIL}",
                created_by="cli:legal",
                created_at=now - timedelta(days=12),
            )
        )
        connection.execute(
            sa.insert(retention.purge_plans).values(
                plan_id="plan-42",
                status="completed",
                as_of=AS_OF - timedelta(days=1),
                created_at=now - timedelta(days=1),
                thresholds={},
                tenant_totals={},
                item_count=2,
                object_count=2,
                batch_count=1,
                items_sha256="a" * 64,
                proof_path="audit/purges/plan-42/proof.json",
                proof_sha256="b" * 64,
                updated_at=now,
                completed_at=now,
            )
        )
        connection.execute(
            sa.insert(retention.purge_plan_items),
            [
                {
                    "plan_id": "plan-42",
                    "item_no": number,
                    "batch_no": 1,
                    "tenant_id": tenant,
                    "record_type": "recordings",
                    "artefact_id": f"rec-old-{number}",
                    "policy_version": "acme-au/recordings/v1",
                    "basis": "call_date",
                    "expires_on": AS_OF - timedelta(days=3),
                    "status": "purged",
                }
                for number, tenant in ((1, "acme-au"), (2, "acme-au"), (3, "gamma-sg"))
            ],
        )


def test_the_overview_page_shows_every_section_per_tenant(local_resources) -> None:
    _seed_platform(local_resources["warehouse"])
    result = _run(local_resources, "audit_chain", "compliance_overview", run_config=OVERVIEW_CONFIG)
    assert result.success
    metadata = _metadata(result, "compliance_overview")
    page = metadata["overview"]
    assert page.startswith(f"# Compliance overview — {AS_OF.isoformat()}")
    for tenant in ("acme-au", "beta-us", "gamma-sg", "delta-gb"):
        assert f"## {tenant} — " in page
    acme = page.split("## acme-au")[1].split("\n## ")[0]
    # registry evidence: newest au_acma evidence is 9 days old, valid for 30
    assert "| au_acma | v-0301 | 2026-03-01 | 9 | 30 | valid | 1 |" in acme
    assert "| blocked | registry_listed | 2 |" in acme and "| allowed | not_listed | 4 |" in acme
    assert "| recordings | 2 | 1 | 1 | 1 | 1 |" in acme  # active due held purged, due soon
    assert "| dsar-002 | access | in_progress | 2026-03-08 | -2 | OVERDUE |" in acme
    assert "dsar-001" in acme and "dsar-003" not in page
    assert "| hold-7 | phone | 2026-02-25 | cli:legal |" in acme
    assert "Plan `plan-42` (completed)" in acme and "2 artefact(s)" in acme
    assert "audit/purges/plan-42/proof.json" in acme and "b" * 64 in acme
    beta = page.split("## beta-us")[1].split("\n## ")[0]
    assert "| us_ftc | v-0115 | 2026-01-15 | 54 | 31 | STALE | 1 |" in beta
    assert "No purge has run for this tenant yet." in beta
    assert "No do-not-call registry applies" in page.split("## delta-gb")[1]
    assert metadata["overdue_dsars"] == 1 and metadata["open_dsars"] == 3
    assert metadata["active_holds"] == 1 and metadata["stale_registries"] == 1
    assert metadata["audit_chain_ok"] is True and "Intact" in page
    # the seeded tables hold a subject's number, email and a free-text hold reason: none shows
    for secret in (SUBJECT_PHONE, SUBJECT_EMAIL, "491 570", "litigation"):
        assert secret not in page


def test_the_active_registry_version_is_the_evidence_when_the_registry_has_one(
    local_resources,
) -> None:
    _seed_platform(local_resources["warehouse"])
    counts = dict.fromkeys(
        ("number_count", "lines_read", "bad_lines", "blank_lines", "duplicate_lines",
         "invalid_numbers", "unreadable_files", "change_additions", "change_deletions",
         "parquet_bytes"),
        0,
    )  # fmt: skip
    with local_resources["warehouse"].begin() as connection:
        for version_id, status, day in (("f" * 64, "active", 8), ("e" * 64, "superseded", 1)):
            connection.execute(
                sa.insert(dncr.registry_versions).values(
                    registry_id="us_ftc",
                    version_id=version_id,
                    kind="downloadable",
                    status=status,
                    source_kind="full",
                    data_as_of=datetime(2026, 3, day, tzinfo=UTC),
                    source_files=[],
                    numbers_sha256="0" * 64,
                    parquet_path="registry/us_ftc/x.parquet",
                    parquet_sha256="0" * 64,
                    created_at=datetime(2026, 3, day, tzinfo=UTC),
                    activated_at=datetime(2026, 3, day, tzinfo=UTC),
                    **counts,
                )
            )
    result = _run(local_resources, "compliance_overview", run_config=OVERVIEW_CONFIG)
    beta = _metadata(result, "compliance_overview")["overview"].split("## beta-us")[1]
    assert f"| us_ftc | {'f' * 16} | 2026-03-08 | 2 | 31 | valid | 1 |" in beta


def test_the_chart_is_a_png_in_the_store_and_inside_the_page(local_resources) -> None:
    _seed_platform(local_resources["warehouse"])
    result = _run(local_resources, "compliance_overview", run_config=OVERVIEW_CONFIG)
    metadata = _metadata(result, "compliance_overview")
    store = local_resources["object_store"]
    chart = store.read_bytes(metadata["chart_path"])
    assert chart.startswith(b"\x89PNG\r\n\x1a\n") and len(chart) > 10_000
    # the page carries the very same bytes as a data: URI, never a file:// link the UI can't load
    [encoded] = re.findall(r"\]\(data:image/png;base64,([A-Za-z0-9+/=]+)\)", metadata["overview"])
    assert base64.b64decode(encoded, validate=True) == chart
    assert "file://" not in json.dumps({k: str(v) for k, v in metadata.items()})
    report = store.read_bytes(metadata["report_path"]).decode()
    assert report.startswith("# Compliance overview") and "base64" not in report


def test_the_figures_are_numbers_under_stable_keys_per_tenant(local_resources) -> None:
    _seed_platform(local_resources["warehouse"])
    result = _run(local_resources, "compliance_overview", run_config=OVERVIEW_CONFIG)
    [event] = [
        e.materialization
        for e in result.get_asset_materialization_events()
        if e.materialization and e.materialization.asset_key.path == ["compliance_overview"]
    ]
    entries = event.metadata
    expected = {
        "open_dsars": 3,
        "overdue_dsars": 1,
        "acme-au/artefacts_active": 2,
        "acme-au/artefacts_due": 1,
        "acme-au/artefacts_held": 1,
        "acme-au/artefacts_purged": 1,
        "acme-au/open_dsars": 2,
        "acme-au/overdue_dsars": 1,
        "acme-au/active_holds": 1,
        "beta-us/open_dsars": 1,
        "beta-us/urgent_dsars": 1,
        "gamma-sg/open_dsars": 0,
    }
    for key, value in expected.items():
        assert isinstance(entries[key], dg.IntMetadataValue), key  # plotted over time by the UI
        assert entries[key].value == value, key


def test_sections_not_deployed_give_no_numbers_rather_than_zeros(local_resources) -> None:
    with local_resources["warehouse"].begin() as connection:
        connection.execute(sa.text("DROP TABLE retention_states"))
    result = _run(local_resources, "compliance_overview", run_config=OVERVIEW_CONFIG)
    metadata = _metadata(result, "compliance_overview")
    assert "acme-au/open_dsars" in metadata
    assert not [key for key in metadata if key.startswith("acme-au/artefacts_")]


def test_sections_whose_tables_are_missing_say_so_instead_of_failing(local_resources) -> None:
    warehouse = local_resources["warehouse"]
    with warehouse.begin() as connection:  # as if those capabilities were not deployed yet
        connection.execute(sa.text("DROP TABLE retention_states"))
        connection.execute(sa.text("DROP TABLE dsar_requests"))
    result = _run(local_resources, "compliance_overview", run_config=OVERVIEW_CONFIG)
    assert result.success
    metadata = _metadata(result, "compliance_overview")
    assert metadata["sections_not_available"] == ["dsars", "retention"]
    acme = metadata["overview"].split("## acme-au")[1].split("\n## ")[0]
    assert acme.count("_not yet available_") == 2
    assert "No active legal holds." in acme


def test_a_broken_chain_is_flagged_on_the_page(local_resources) -> None:
    _seed_audit(local_resources, 3)
    with local_resources["warehouse"].begin() as connection:
        connection.execute(sa.text("DROP TRIGGER audit_log_no_delete"))
        connection.execute(sa.delete(audit_log).where(audit_log.c.seq == 2))
    result = _run(local_resources, "compliance_overview", run_config=OVERVIEW_CONFIG)
    metadata = _metadata(result, "compliance_overview")
    assert metadata["audit_chain_ok"] is False
    assert "**BROKEN** at entry 2 (removed)" in metadata["overview"]


@pytest.mark.parametrize("bad", ["2026-13-01", "yesterday", "../2026-01-01"])
def test_a_bad_page_date_fails_the_run_with_a_clear_error(local_resources, bad: str) -> None:
    config = {"ops": {"compliance_overview": {"config": {"as_of": bad}}}}
    result = _run(local_resources, "compliance_overview", run_config=config)
    assert not result.success
    assert local_resources["object_store"].list_files("audit") == []

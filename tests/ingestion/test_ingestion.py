"""Ingestion of one call day: parsing, linking, quarantine, idempotency and the quality checks."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime

import dagster as dg
import pandas as pd
import pytest
import sqlalchemy as sa

from cm_pipelines.domain.ingestion.wav import make_wav
from cm_pipelines.domain.keyed_hash import keyed_hash
from cm_pipelines.ingestion import checks as call_checks
from cm_pipelines.platform import landing
from cm_pipelines.platform.partitions import call_day_partitions
from cm_pipelines.resources.gx_runner import expectations_module, validate_dataframe
from cm_pipelines.tables import calls as tables
from tests.ingestion.ingestion_helpers import (
    CHECKS,
    INGESTION_ASSETS,
    check_day,
    ingest_day,
    materialization_metadata,
)
from tests.run_failures import assert_one_line_reason

DAY = "2026-11-20"


def _cdr_line(*fields: object) -> str:
    def quote(value: object) -> str:
        if isinstance(value, int):
            return str(value)
        return '"' + str(value).replace('"', '""') + '"'

    return ",".join(quote(value) for value in fields)


def _call(
    tenant,
    src,
    dst,
    dcontext,
    clid,
    start,
    answer,
    end,
    duration,
    billsec,
    disposition,
    uniqueid,
    userfield="",
):
    return _cdr_line(
        tenant,
        src,
        dst,
        dcontext,
        clid,
        "PJSIP/trunk-000001",
        "PJSIP/1004-000002",
        "Dial",
        "PJSIP/1004,30",
        start,
        answer,
        end,
        duration,
        billsec,
        disposition,
        "DOCUMENTATION",
        uniqueid,
        userfield,
    )


AU_CDR = (
    "\n".join(
        [
            _call(
                "acme-au",
                "0491570156",
                "0255501234",
                "from-pstn",
                '"Smith, J" <0491570156>',
                "2026-11-20 09:15:02",
                "2026-11-20 09:15:09",
                "2026-11-20 09:18:51",
                229,
                222,
                "ANSWERED",
                "1763630102.421",
            ),
            _call(
                "acme-au",
                "1004",
                "0491570156",
                "from-internal",
                '"Reception" <1004>',
                "2026-11-20 10:02:44",
                "",
                "2026-11-20 10:03:14",
                30,
                0,
                "NO ANSWER",
                "1763632964.433",
                "campaign=reactivation-q4",
            ),
            _call(
                "acme-au",
                "anonymous",
                "1001",
                "from-pstn",
                '"O"Brien" <anonymous>',
                "2026-11-20 10:11:05",
                "2026-11-20 10:11:07",
                "2026-11-20 10:12:40",
                95,
                93,
                "ANSWERED",
                "1763633465.440",
            ),
            '"acme-au","only","five","fields","here"',
            _call(
                "beta-us",
                "2125550147",
                "1001",
                "from-pstn",
                '"Beta" <2125550147>',
                "2026-11-20 11:00:00",
                "2026-11-20 11:00:01",
                "2026-11-20 11:00:09",
                9,
                8,
                "ANSWERED",
                "1763640000.1",
            ),
            _call(
                "acme-au",
                "+61 3 5550 4567",
                "1001",
                "from-pstn",
                '"Jones" <+61355504567>',
                "not a time",
                "",
                "2026-11-20 11:41:02",
                662,
                641,
                "ANSWERED",
                "1763638200.452",
            ),
        ]
    )
    + "\n"
)

WHISPER = {
    "text": " Hello, call me back on 03 5550 4567.",
    "segments": [
        {
            "id": 0,
            "seek": 0,
            "start": 0.0,
            "end": 3.2,
            "text": " Hello, call me back on 03 5550 4567.",
        }
    ],
    "language": "en",
}


def _land_day(store) -> None:
    store.write_bytes(landing.cdr_file("acme-au", DAY), AU_CDR.encode())
    store.write_bytes(landing.recording_file("acme-au", DAY, "1763630102.421"), make_wav(1.5))
    store.write_bytes(landing.recording_file("acme-au", DAY, "9999999999.999"), make_wav(1.0))
    store.write_bytes(landing.recording_file("acme-au", DAY, "1763633465.440"), b"RIFF-not-really")
    store.write_bytes(
        landing.transcript_file("acme-au", DAY, "1763630102.421", "whisper"),
        json.dumps(WHISPER).encode(),
    )
    store.write_bytes(
        landing.ai_output_file("acme-au", DAY, "1763630102.421", "summary"),
        json.dumps(
            {
                "call_id": "1763630102.421",
                "kind": "summary",
                "model": "m1",
                "created_at": "2026-11-20T09:20:00Z",
                "text": "Caller moved an appointment.",
            }
        ).encode(),
    )
    store.write_bytes(
        landing.crm_links_file("acme-au", DAY),
        b"call_id,crm_system,crm_record_id,contact_phone,contact_email\n"
        b"1763630102.421,hubspot,contact/90125,0491570156,jane@example.com\n"
        b"1763630102.421,hubspot,contact/90126,not-a-number,\n",
    )
    store.write_bytes(landing.cdr_file("zeta-xx", DAY), AU_CDR.encode())


def _rows(warehouse, table, **filters) -> list[dict]:
    query = sa.select(table)
    for column, value in filters.items():
        query = query.where(table.c[column] == value)
    with warehouse.connect() as connection:
        return [dict(row) for row in connection.execute(query).mappings()]


def test_a_call_day_is_ingested_linked_and_quarantined_with_reasons(local_resources) -> None:
    store, warehouse = local_resources["object_store"], local_resources["warehouse"]
    _land_day(store)
    result = ingest_day(local_resources, DAY)
    assert result.success

    calls = {row["call_id"]: row for row in _rows(warehouse, tables.calls)}
    assert set(calls) == {"1763630102.421", "1763632964.433", "1763633465.440"}
    inbound = calls["1763630102.421"]
    assert (inbound["src_kind"], inbound["src_e164"], inbound["dst_e164"]) == (
        "e164",
        "+61491570156",
        "+61255501234",
    )
    assert inbound["direction"] == "inbound" and inbound["caller_name"] == "Smith, J"
    assert inbound["partition_date"] == date(2026, 11, 20)
    outbound = calls["1763632964.433"]
    assert (outbound["src_kind"], outbound["src_extension"], outbound["direction"]) == (
        "extension",
        "1004",
        "outbound",
    )
    assert outbound["answered_at"] is None and outbound["campaign_id"] == "reactivation-q4"
    anonymous = calls["1763633465.440"]
    assert anonymous["src_kind"] == "anonymous" and anonymous["caller_name"] == 'O"Brien'

    quarantine = _rows(warehouse, tables.quarantine)
    reasons = {(q["asset"], q["reason_code"], q["source_line"]) for q in quarantine}
    assert ("call_records", "wrong_field_count", 4) in reasons
    assert ("call_records", "unknown_tenant", 5) in reasons
    assert ("call_records", "bad_timestamp", 6) in reasons
    assert any(
        q["reason_code"] == "unknown_tenant" and "zeta-xx" in q["source_file"] for q in quarantine
    )
    assert ("recordings", "no_matching_call", None) in reasons
    assert any(
        q["asset"] == "recordings"
        and q["reason_code"] not in ("no_matching_call", "unknown_tenant")
        for q in quarantine
    )
    assert any(
        q["asset"] == "crm_links" and q["reason_code"] == "invalid_phone" for q in quarantine
    )
    # nothing lost: the raw line of a bad row is kept in the warehouse
    assert all(
        q["raw_record"] for q in quarantine if q["asset"] == "call_records" and q["source_line"]
    )

    recording = _rows(warehouse, tables.recordings)[0]
    assert recording["call_id"] == "1763630102.421" and recording["duration_s"] == pytest.approx(
        1.5, abs=0.01
    )
    assert len(recording["sha256"]) == 64 and recording["sample_rate"] == 8000
    transcript = _rows(warehouse, tables.transcripts)[0]
    assert transcript["format"] == "whisper" and transcript["segments"][0]["end"] == 3.2
    assert _rows(warehouse, tables.ai_outputs)[0]["kind"] == "summary"
    link = _rows(warehouse, tables.crm_links)[0]
    assert (link["contact_e164"], link["contact_email"]) == ("+61491570156", "jane@example.com")

    metadata = materialization_metadata(result, "call_records")
    assert metadata["rows_inserted"] == 3
    assert metadata["quarantine_reasons"]["wrong_field_count"] == 1
    checks = {e.check_name: e.passed for e in result.get_asset_check_evaluations()}
    assert checks and all(checks.values()), checks
    assert set(call_checks.CALL_DAY_CHECKS) <= set(checks)


def test_call_day_checks_share_one_load_of_the_day(local_resources, monkeypatch) -> None:
    """The four call-record checks read the same partition: one step, one query, four results
    under their own names; a subset selection runs only what was asked."""
    _land_day(local_resources["object_store"])
    loads: list[date] = []
    real_load = call_checks._day_calls

    def counting_load(warehouse, day):
        loads.append(day)
        return real_load(warehouse, day)

    monkeypatch.setattr(call_checks, "_day_calls", counting_load)
    result = ingest_day(local_resources, DAY)
    assert result.success
    names = [e.check_name for e in result.get_asset_check_evaluations()]
    assert sorted(n for n in names if n in call_checks.CALL_DAY_CHECKS) == sorted(
        call_checks.CALL_DAY_CHECKS
    )
    assert loads == [date.fromisoformat(DAY)]

    loads.clear()
    only = dg.AssetCheckKey(dg.AssetKey("call_records"), "call_records_billsec_within_duration")
    defs = dg.Definitions(
        assets=INGESTION_ASSETS,
        asset_checks=CHECKS,
        jobs=[
            dg.define_asset_job(
                "one_check",
                selection=dg.AssetSelection.assets("call_records").without_checks()
                | dg.AssetSelection.checks(only),
                partitions_def=call_day_partitions,
            )
        ],
        resources=local_resources,
    )
    subset = defs.resolve_job_def("one_check").execute_in_process(
        partition_key=DAY, instance=dg.DagsterInstance.ephemeral()
    )
    assert [e.check_name for e in subset.get_asset_check_evaluations()] == [only.name]
    assert loads == [date.fromisoformat(DAY)]


def test_materialising_a_day_twice_leaves_one_copy(local_resources) -> None:
    store, warehouse = local_resources["object_store"], local_resources["warehouse"]
    _land_day(store)
    assert ingest_day(local_resources, DAY).success
    counts = {
        t.name: len(_rows(warehouse, t))
        for t in (
            tables.calls,
            tables.recordings,
            tables.transcripts,
            tables.ai_outputs,
            tables.crm_links,
            tables.quarantine,
        )
    }
    assert ingest_day(local_resources, DAY).success
    again = {
        t.name: len(_rows(warehouse, t))
        for t in (
            tables.calls,
            tables.recordings,
            tables.transcripts,
            tables.ai_outputs,
            tables.crm_links,
            tables.quarantine,
        )
    }
    assert counts == again
    assert counts["calls"] == 3 and counts["recordings"] == 1


def test_re_ingesting_never_resurrects_purged_rows(local_resources) -> None:
    store, warehouse = local_resources["object_store"], local_resources["warehouse"]
    _land_day(store)
    assert ingest_day(local_resources, DAY).success
    with warehouse.begin() as connection:
        connection.execute(
            sa.update(tables.calls)
            .where(tables.calls.c.call_id == "1763632964.433")
            .values(deleted_at=datetime.now(UTC), dst_e164=None, caller_name=None)
        )
    assert ingest_day(local_resources, DAY).success
    purged = _rows(warehouse, tables.calls, call_id="1763632964.433")
    assert (
        len(purged) == 1 and purged[0]["dst_e164"] is None and purged[0]["deleted_at"] is not None
    )


def test_a_uniqueid_seen_on_another_day_is_quarantined_not_duplicated(local_resources) -> None:
    store, warehouse = local_resources["object_store"], local_resources["warehouse"]
    _land_day(store)
    assert ingest_day(local_resources, DAY).success
    store.write_bytes(landing.cdr_file("acme-au", "2026-11-21"), AU_CDR.encode())
    assert ingest_day(local_resources, "2026-11-21").success
    assert len(_rows(warehouse, tables.calls)) == 3
    duplicates = [
        q for q in _rows(warehouse, tables.quarantine) if q["reason_code"] == "duplicate_call"
    ]
    assert len(duplicates) == 3


def _corrupt(warehouse, **values) -> None:
    with warehouse.begin() as connection:
        connection.execute(
            sa.update(tables.calls)
            .where(tables.calls.c.call_id == "1763630102.421")
            .values(**values)
        )


@pytest.mark.parametrize(
    ("check_name", "corruption"),
    [
        ("call_records_billsec_within_duration", {"billsec_s": 10_000}),
        ("call_records_timestamps_ordered", {"answered_at": datetime(2026, 11, 20, 9, 0, 0)}),
        ("call_records_timestamps_ordered", {"ended_at": datetime(2026, 11, 20, 9, 15, 5)}),
        ("call_records_external_numbers_e164", {"src_e164": "+6100"}),
        ("call_records_external_numbers_e164", {"dst_e164": "0255501234"}),
    ],
)
def test_each_call_check_fails_on_bad_data(local_resources, check_name, corruption) -> None:
    _land_day(local_resources["object_store"])
    assert ingest_day(local_resources, DAY).success
    assert check_day(local_resources, DAY)[check_name].passed
    _corrupt(local_resources["warehouse"], **corruption)
    evaluation = check_day(local_resources, DAY)[check_name]
    assert not evaluation.passed
    assert evaluation.metadata["failing_rows"].value >= 1
    assert "0491570156" not in json.dumps({k: str(v.value) for k, v in evaluation.metadata.items()})


def test_the_uniqueness_expectation_counts_every_copy_of_a_duplicated_call() -> None:
    """The primary key already refuses duplicates in the warehouse; the check is the second line,
    so its expectation is exercised on a frame that carries a duplicate."""
    frame = pd.DataFrame(
        {"tenant_id": ["acme-au", "acme-au", "beta-us"], "call_id": ["1.1", "1.1", "1.1"]}
    )
    E = expectations_module()
    outcome = validate_dataframe(
        "duplicates",
        frame,
        {"d": E.ExpectCompoundColumnsToBeUnique(column_list=["tenant_id", "call_id"])},
    )
    assert not outcome["d"].success and outcome["d"].unexpected_count == 2


def test_recording_checks_catch_orphans(local_resources) -> None:
    store = local_resources["object_store"]
    _land_day(store)
    assert ingest_day(local_resources, DAY).success
    assert check_day(local_resources, DAY)["recordings_linked_to_calls"].passed
    store.write_bytes(landing.recording_file("acme-au", DAY, "1763632964.433"), make_wav(1.0))
    evaluation = check_day(local_resources, DAY)["recordings_linked_to_calls"]
    assert (
        not evaluation.passed and evaluation.metadata["object_not_catalogued_unexpected"].value == 1
    )


def test_a_recording_whose_call_was_purged_fails_the_linkage_check(local_resources) -> None:
    store, warehouse = local_resources["object_store"], local_resources["warehouse"]
    _land_day(store)
    assert ingest_day(local_resources, DAY).success
    with warehouse.begin() as connection:
        connection.execute(
            sa.update(tables.calls)
            .where(tables.calls.c.call_id == "1763630102.421")
            .values(deleted_at=datetime.now(UTC))
        )
    evaluation = check_day(local_resources, DAY)["recordings_linked_to_calls"]
    assert (
        not evaluation.passed
        and evaluation.metadata["recording_without_call_unexpected"].value == 1
    )


def test_failing_blocking_check_stops_downstream_assets(local_resources) -> None:
    store, warehouse = local_resources["object_store"], local_resources["warehouse"]
    bad = AU_CDR.replace("229,222", "22,222")  # billsec > duration on the recorded call
    _land_day(store)
    store.write_bytes(landing.cdr_file("acme-au", DAY), bad.encode())
    result = ingest_day(local_resources, DAY)
    assert not result.success
    assert _rows(warehouse, tables.recordings) == []
    # the run's failure message says which check, which day and how many rows, in one line
    assert_one_line_reason(
        result,
        f"blocking check call_records_billsec_within_duration failed for {DAY}",
        "billsec_over_duration 1",
    )


def test_an_unreadable_crm_file_is_quarantined_whole_and_the_day_still_lands(
    local_resources,
) -> None:
    store, warehouse = local_resources["object_store"], local_resources["warehouse"]
    _land_day(store)
    store.write_bytes(landing.crm_links_file("acme-au", DAY), b"wrong,header\n1,2\n")
    result = ingest_day(local_resources, DAY)
    assert result.success
    assert _rows(warehouse, tables.crm_links) == []
    crm_quarantine = [q for q in _rows(warehouse, tables.quarantine) if q["asset"] == "crm_links"]
    assert len(crm_quarantine) == 1 and crm_quarantine[0]["source_line"] is None


def test_an_erased_subjects_keyed_hash_is_not_a_bad_number(local_resources) -> None:
    """DSAR erasure replaces a number by its keyed hash; the E.164 check must accept that."""
    _land_day(local_resources["object_store"])
    assert ingest_day(local_resources, DAY).success
    _corrupt(
        local_resources["warehouse"],
        src_e164=keyed_hash("+61491570156", b"k" * 32),
        erased_at=datetime.now(UTC),
    )
    assert check_day(local_resources, DAY)["call_records_external_numbers_e164"].passed
    assert ingest_day(local_resources, DAY).success


def test_a_relanded_file_of_a_purged_record_is_quarantined_without_its_content(
    local_resources,
) -> None:
    store, warehouse = local_resources["object_store"], local_resources["warehouse"]
    _land_day(store)
    assert ingest_day(local_resources, DAY).success
    with warehouse.begin() as connection:
        connection.execute(
            sa.update(tables.recordings).values(deleted_at=datetime.now(UTC), sha256="0" * 64)
        )
        connection.execute(
            sa.update(tables.calls)
            .where(tables.calls.c.call_id == "1763633465.440")
            .values(deleted_at=datetime.now(UTC), caller_name=None)
        )
    result = ingest_day(local_resources, DAY)
    assert result.success  # the linkage check accounts for the re-landed WAV
    relanded = [
        q for q in _rows(warehouse, tables.quarantine) if q["reason_code"] == "relanded_after_purge"
    ]
    assert {(q["asset"], q["source_line"]) for q in relanded} == {
        ("recordings", None),
        ("call_records", 3),
    }
    assert all(q["raw_record"] is None for q in relanded)
    assert _rows(warehouse, tables.recordings)[0]["sha256"] == "0" * 64

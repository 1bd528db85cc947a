"""Data-quality checks on ingested call data, run with Great Expectations inside asset checks.

The call-record checks are blocking: recordings, transcripts and CRM links of a day must not be
linked to call records that failed them. Metadata carries counts only, never sample values.
A failed blocking check records its result, then fails its step with a one-line reason (check,
day, failing counts), so the run's failure message in the UI says why, not only that a blocking
check failed.

Partitioned asset checks are a preview feature in Dagster 1.13; these checks rely on them
deliberately (a check must judge the same call day its asset wrote), so the preview warning is
silenced once, here, rather than printed at every import.
"""

import warnings
from collections.abc import Iterator
from datetime import date
from typing import Any

import dagster as dg
import pandas as pd
import sqlalchemy as sa

from cm_pipelines.domain.keyed_hash import is_keyed_hash
from cm_pipelines.domain.phone_numbers import is_valid_e164
from cm_pipelines.platform import landing
from cm_pipelines.platform.partitions import call_day_partitions
from cm_pipelines.resources.configuration import PlatformConfigResource
from cm_pipelines.resources.gx_runner import (
    ExpectationOutcome,
    expectations_module,
    validate_dataframe,
)
from cm_pipelines.resources.object_store import ObjectStoreResource
from cm_pipelines.resources.warehouse import WarehouseResource
from cm_pipelines.tables import calls as tables

warnings.filterwarnings(
    "ignore", message="Specifying a partitions_def on an AssetCheckSpec is currently in preview"
)

E164_PATTERN = r"^\+[1-9][0-9]{6,14}$"


def _day_calls(warehouse: WarehouseResource, day: date) -> pd.DataFrame:
    c = tables.calls.c
    query = sa.select(
        c.tenant_id,
        c.call_id,
        c.src_kind,
        c.src_e164,
        c.dst_kind,
        c.dst_e164,
        c.duration_s,
        c.billsec_s,
        c.started_at,
        c.answered_at,
        c.ended_at,
    ).where(c.partition_date == day, c.deleted_at.is_(None))
    with warehouse.connect() as connection:
        return pd.DataFrame(connection.execute(query).mappings().all())


def _result(outcomes: dict[str, ExpectationOutcome], rows: int) -> dg.AssetCheckResult:
    failed = sum(outcome.unexpected_count for outcome in outcomes.values() if not outcome.success)
    metadata: dict[str, Any] = {"rows_checked": rows, "failing_rows": failed}
    for label, outcome in outcomes.items():
        metadata[f"{label}_unexpected"] = outcome.unexpected_count
    failing = [
        f"{label} {outcome.unexpected_count}"
        for label, outcome in outcomes.items()
        if not outcome.success
    ]
    return dg.AssetCheckResult(
        passed=not failing,
        description=f"{failed} of {rows} row(s) failing: {', '.join(failing)}" if failing else None,
        metadata=metadata,
    )


def _judged(
    check_name: str, day: date, result: dg.AssetCheckResult
) -> Iterator[dg.AssetCheckResult]:
    """Record the result; a failure then fails the step with its one-line reason (counts only)."""
    yield result
    if not result.passed:
        raise dg.Failure(
            description=f"blocking check {check_name} failed for {day.isoformat()}: "
            f"{result.description}",
            allow_retries=False,
        )


@dg.asset_check(asset="call_records", blocking=True, partitions_def=call_day_partitions)  # type: ignore[arg-type]
def call_records_unique_per_tenant(
    context: dg.AssetCheckExecutionContext, warehouse: WarehouseResource
) -> Iterator[dg.AssetCheckResult]:
    """One row per (tenant, uniqueid): a duplicated call would be purged or exported twice."""
    day = date.fromisoformat(context.partition_key)
    yield from _judged(
        "call_records_unique_per_tenant", day, evaluate_unique_per_tenant(warehouse, day)
    )


def evaluate_unique_per_tenant(warehouse: WarehouseResource, day: date) -> dg.AssetCheckResult:
    frame = _day_calls(warehouse, day)
    E = expectations_module()
    outcomes = validate_dataframe(
        "call_records_unique",
        frame if not frame.empty else pd.DataFrame({"tenant_id": [], "call_id": []}),
        {
            "duplicate_calls": E.ExpectCompoundColumnsToBeUnique(
                column_list=["tenant_id", "call_id"]
            )
        },
    )
    return _result(outcomes, len(frame))


def external_numbers(frame: pd.DataFrame) -> pd.DataFrame:
    """Every external party number of a day's calls, with whether phonenumbers calls it valid."""
    parts = []
    for side in ("src", "dst"):
        if frame.empty:
            continue
        # an erased subject's number is a keyed hash by design (DSAR erasure), not bad data
        is_number = (frame[f"{side}_kind"] == "e164") & ~frame[f"{side}_e164"].map(is_keyed_hash)
        subset = frame.loc[is_number, [f"{side}_e164"]]
        parts.append(subset.rename(columns={f"{side}_e164": "e164"}))
    numbers = pd.concat(parts, ignore_index=True) if parts else pd.DataFrame({"e164": []})
    distinct = numbers["e164"].dropna().unique()
    validity = {number: is_valid_e164(number) for number in distinct}
    numbers["is_valid"] = numbers["e164"].map(validity).fillna(False).astype(bool)
    return numbers


@dg.asset_check(asset="call_records", blocking=True, partitions_def=call_day_partitions)  # type: ignore[arg-type]
def call_records_external_numbers_e164(
    context: dg.AssetCheckExecutionContext, warehouse: WarehouseResource
) -> Iterator[dg.AssetCheckResult]:
    """External parties are valid E.164: washing, DSAR location and masking all key on it."""
    day = date.fromisoformat(context.partition_key)
    yield from _judged(
        "call_records_external_numbers_e164", day, evaluate_external_numbers_e164(warehouse, day)
    )


def evaluate_external_numbers_e164(warehouse: WarehouseResource, day: date) -> dg.AssetCheckResult:
    numbers = external_numbers(_day_calls(warehouse, day))
    E = expectations_module()
    outcomes = validate_dataframe(
        "call_records_e164",
        numbers,
        {
            "not_e164_shaped": E.ExpectColumnValuesToMatchRegex(column="e164", regex=E164_PATTERN),
            "not_a_valid_number": E.ExpectColumnValuesToBeInSet(
                column="is_valid", value_set=[True]
            ),
        },
    )
    return _result(outcomes, len(numbers))


@dg.asset_check(asset="call_records", blocking=True, partitions_def=call_day_partitions)  # type: ignore[arg-type]
def call_records_billsec_within_duration(
    context: dg.AssetCheckExecutionContext, warehouse: WarehouseResource
) -> Iterator[dg.AssetCheckResult]:
    """Billed seconds never exceed the call's duration."""
    day = date.fromisoformat(context.partition_key)
    yield from _judged(
        "call_records_billsec_within_duration",
        day,
        evaluate_billsec_within_duration(warehouse, day),
    )


def evaluate_billsec_within_duration(
    warehouse: WarehouseResource, day: date
) -> dg.AssetCheckResult:
    frame = _day_calls(warehouse, day)
    E = expectations_module()
    outcomes = validate_dataframe(
        "call_records_billsec",
        frame if not frame.empty else pd.DataFrame({"duration_s": [], "billsec_s": []}),
        {
            "billsec_over_duration": E.ExpectColumnPairValuesAToBeGreaterThanB(
                column_A="duration_s", column_B="billsec_s", or_equal=True
            )
        },
    )
    return _result(outcomes, len(frame))


@dg.asset_check(asset="call_records", blocking=True, partitions_def=call_day_partitions)  # type: ignore[arg-type]
def call_records_timestamps_ordered(
    context: dg.AssetCheckExecutionContext, warehouse: WarehouseResource
) -> Iterator[dg.AssetCheckResult]:
    """start <= answer <= end: retention clocks and SLA maths start from these times."""
    day = date.fromisoformat(context.partition_key)
    yield from _judged(
        "call_records_timestamps_ordered", day, evaluate_timestamps_ordered(warehouse, day)
    )


def evaluate_timestamps_ordered(warehouse: WarehouseResource, day: date) -> dg.AssetCheckResult:
    frame = _day_calls(warehouse, day)
    if frame.empty:
        frame = pd.DataFrame({"started_at": [], "answered_at": [], "ended_at": []})
    frame = frame.assign(
        started_at=pd.to_datetime(frame["started_at"]),
        answered_at=pd.to_datetime(frame["answered_at"]),
        ended_at=pd.to_datetime(frame["ended_at"]),
    )
    E = expectations_module()
    outcomes = validate_dataframe(
        "call_records_timestamps",
        frame,
        {
            "answer_before_start": E.ExpectColumnPairValuesAToBeGreaterThanB(
                column_A="answered_at",
                column_B="started_at",
                or_equal=True,
                ignore_row_if="either_value_is_missing",
            ),
            "end_before_answer": E.ExpectColumnPairValuesAToBeGreaterThanB(
                column_A="ended_at",
                column_B="answered_at",
                or_equal=True,
                ignore_row_if="either_value_is_missing",
            ),
            "end_before_start": E.ExpectColumnPairValuesAToBeGreaterThanB(
                column_A="ended_at",
                column_B="started_at",
                or_equal=True,
                ignore_row_if="either_value_is_missing",
            ),
        },
    )
    return _result(outcomes, len(frame))


@dg.asset_check(asset="recordings", blocking=True, partitions_def=call_day_partitions)  # type: ignore[arg-type]
def recordings_linked_to_calls(
    context: dg.AssetCheckExecutionContext,
    warehouse: WarehouseResource,
    object_store: ObjectStoreResource,
    platform_config: PlatformConfigResource,
) -> Iterator[dg.AssetCheckResult]:
    """Every catalogued recording belongs to a live call and has its object; every landed WAV
    of the day is catalogued or quarantined — no orphan rows, no orphan objects."""
    day = date.fromisoformat(context.partition_key)
    yield from _judged(
        "recordings_linked_to_calls",
        day,
        evaluate_recordings_linked(warehouse, object_store, platform_config, day),
    )


def evaluate_recordings_linked(
    warehouse: WarehouseResource,
    object_store: ObjectStoreResource,
    platform_config: PlatformConfigResource,
    day: date,
) -> dg.AssetCheckResult:
    day_key = day.isoformat()
    r, c, q = tables.recordings.c, tables.calls.c, tables.quarantine.c
    with warehouse.connect() as connection:
        catalogue = pd.DataFrame(
            connection.execute(
                sa.select(r.tenant_id, r.call_id, r.object_path, c.call_id.label("linked_call"))
                .select_from(
                    tables.recordings.outerjoin(
                        tables.calls,
                        sa.and_(
                            c.tenant_id == r.tenant_id,
                            c.call_id == r.call_id,
                            c.deleted_at.is_(None),
                        ),
                    )
                )
                .where(r.partition_date == day, r.deleted_at.is_(None))
            )
            .mappings()
            .all(),
            columns=["tenant_id", "call_id", "object_path", "linked_call"],
        )
        quarantined_paths = {
            row[0]
            for row in connection.execute(
                sa.select(q.source_file).where(q.asset == "recordings", q.partition_key == day_key)
            )
        }
    landed: list[str] = []
    for tenant_id in platform_config.tenants_by_id():
        prefix = f"{landing.day_prefixes('recordings')}/{tenant_id}/{day_key}"
        landed.extend(item.path for item in object_store.list_files(prefix))
    catalogued_paths = set(catalogue["object_path"])
    catalogue["has_call"] = catalogue["linked_call"].notna()
    catalogue["object_exists"] = [object_store.exists(path) for path in catalogue["object_path"]]
    objects = pd.DataFrame({"path": landed})
    objects["accounted_for"] = [
        path in catalogued_paths or path in quarantined_paths for path in objects["path"]
    ]
    E = expectations_module()
    outcomes = validate_dataframe(
        "recordings_catalogue",
        catalogue,
        {
            "recording_without_call": E.ExpectColumnValuesToBeInSet(
                column="has_call", value_set=[True]
            ),
            "recording_without_object": E.ExpectColumnValuesToBeInSet(
                column="object_exists", value_set=[True]
            ),
        },
    )
    outcomes.update(
        validate_dataframe(
            "recordings_objects",
            objects,
            {
                "object_not_catalogued": E.ExpectColumnValuesToBeInSet(
                    column="accounted_for", value_set=[True]
                )
            },
        )
    )
    return _result(outcomes, len(catalogue) + len(objects))

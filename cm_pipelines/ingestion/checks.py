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
from collections.abc import Callable, Iterator, Sequence
from datetime import date
from typing import Any

import dagster as dg
import pandas as pd
import sqlalchemy as sa

from cm_pipelines.domain.keyed_hash import is_keyed_hash
from cm_pipelines.domain.phone_numbers import valid_e164_values
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
        result = connection.execute(query)
        # plain rows into columns: building a mapping per row cost more than the query
        return pd.DataFrame(result.all(), columns=list(result.keys()))


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


def _judged(day: date, results: dict[str, dg.AssetCheckResult]) -> Iterator[dg.AssetCheckResult]:
    """Record every result (by check name); any failure then fails the step with its one-line
    reason (counts only), so the run's failure message says which check and why."""
    yield from results.values()
    failed = {name: result for name, result in results.items() if not result.passed}
    if failed:
        reasons = "; ".join(str(result.description) for result in failed.values())
        raise dg.Failure(
            description=f"blocking check {', '.join(failed)} failed for {day.isoformat()}: "
            f"{reasons}",
            allow_retries=False,
        )


CALL_DAY_CHECKS: dict[str, str] = {
    "call_records_unique_per_tenant": (
        "One row per (tenant, uniqueid): a duplicated call would be purged or exported twice."
    ),
    "call_records_external_numbers_e164": (
        "External parties are valid E.164: washing, DSAR location and masking all key on it."
    ),
    "call_records_billsec_within_duration": "Billed seconds never exceed the call's duration.",
    "call_records_timestamps_ordered": (
        "start <= answer <= end: retention clocks and SLA maths start from these times."
    ),
}
"""The call-record checks of a day, by name: they read the same rows, so one step loads the
day's calls once and judges them all (four loads and four steps before)."""


@dg.multi_asset_check(
    specs=[
        dg.AssetCheckSpec(
            name,
            asset="call_records",
            description=description,
            blocking=True,
            partitions_def=call_day_partitions,
        )
        for name, description in CALL_DAY_CHECKS.items()
    ],
    can_subset=True,
)
def call_records_day_checks(
    context: dg.AssetCheckExecutionContext, warehouse: WarehouseResource
) -> Iterator[dg.AssetCheckResult]:
    """Every selected call-record check of the partition, over one load of the day's calls."""
    selected = {key.name for key in context.selected_asset_check_keys}
    day = date.fromisoformat(context.partition_key)
    results = evaluate_call_day(
        warehouse, day, [name for name in CALL_DAY_CHECKS if name in selected]
    )
    yield from _judged(
        day,
        {
            name: dg.AssetCheckResult(
                asset_key="call_records",
                check_name=name,
                passed=result.passed,
                description=result.description,
                metadata=result.metadata,
            )
            for name, result in results.items()
        },
    )


def evaluate_call_day(
    warehouse: WarehouseResource, day: date, names: Sequence[str] | None = None
) -> dict[str, dg.AssetCheckResult]:
    """The named call-record checks (all by default) of ``day``, over one load of its calls."""
    frame = _day_calls(warehouse, day)
    evaluators: dict[str, Callable[[pd.DataFrame], dg.AssetCheckResult]] = {
        "call_records_unique_per_tenant": evaluate_unique_per_tenant,
        "call_records_external_numbers_e164": evaluate_external_numbers_e164,
        "call_records_billsec_within_duration": evaluate_billsec_within_duration,
        "call_records_timestamps_ordered": evaluate_timestamps_ordered,
    }
    wanted = list(CALL_DAY_CHECKS) if names is None else list(names)
    return {name: evaluators[name](frame) for name in wanted}


def evaluate_unique_per_tenant(frame: pd.DataFrame) -> dg.AssetCheckResult:
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
    # the numbering-plan table decides the column; phonenumbers parses only what it cannot
    numbers["is_valid"] = valid_e164_values(numbers["e164"].to_numpy(dtype=object))
    return numbers


def evaluate_external_numbers_e164(frame: pd.DataFrame) -> dg.AssetCheckResult:
    numbers = external_numbers(frame)
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


def evaluate_billsec_within_duration(frame: pd.DataFrame) -> dg.AssetCheckResult:
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


def evaluate_timestamps_ordered(frame: pd.DataFrame) -> dg.AssetCheckResult:
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
    result = evaluate_recordings_linked(warehouse, object_store, platform_config, day)
    yield from _judged(day, {"recordings_linked_to_calls": result})


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

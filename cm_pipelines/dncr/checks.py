"""Blocking checks a registry candidate must pass before ``dncr_registry_promotion`` activates it.

They run inside ``dncr_registry_refresh_job`` (a blocking check only gates steps of its own run)
and judge what ``dncr_registry_snapshot`` measured while building the candidate: at 250M numbers
the measuring is done once, vectorised, while the numbers are in memory, instead of running a
row-wise expectation suite over a 250M-row frame. On a failure the candidate is marked rejected,
an audit entry names the check and why, the run fails with the same message, and the active
version stays active (promotion never runs; it also re-checks the recorded results itself).
"""

# No ``from __future__ import annotations``: Dagster validates the multi-check's ``context``
# annotation at definition time and cannot resolve a string.
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import dagster as dg
import sqlalchemy as sa

from cm_pipelines.dncr.registry_store import (
    ACTOR,
    STATUS_CANDIDATE,
    STATUS_REJECTED,
    as_utc,
    run_candidates,
)
from cm_pipelines.domain.dncr.registries import Registry
from cm_pipelines.platform.audit_log import append_audit
from cm_pipelines.resources.configuration import PlatformConfigResource
from cm_pipelines.resources.warehouse import WarehouseResource
from cm_pipelines.tables import dncr as tables

SNAPSHOT_ASSET = "dncr_registry_snapshot"
CHECK_DESCRIPTIONS: dict[str, str] = {
    "parses_completely": "Every file is readable and bad lines stay under the registry's ratio.",
    "numbers_valid_for_country": "Every number is a valid number of the registry's country.",
    "not_empty": "The candidate holds at least one number.",
    "size_change_within_bound": (
        "Size change against the active version, not explained by applied change lists or "
        "wash results, stays within the registry's bound (default 2%)."
    ),
    "newer_than_active": "The candidate's data is newer than the active version's, and not dated in the future.",
}
CHECK_NAMES: tuple[str, ...] = tuple(CHECK_DESCRIPTIONS)


@dataclass(frozen=True)
class CheckOutcome:
    name: str
    passed: bool
    reason: str
    measured: Mapping[str, Any]

    def as_record(self) -> dict[str, Any]:
        return {"passed": self.passed, "reason": self.reason, **dict(self.measured)}


def _percent(value: float) -> str:
    return f"{value * 100:.3g}%"


def evaluate_candidate(
    row: Mapping[str, Any], registry: Registry, now: datetime
) -> list[CheckOutcome]:
    """Judge one ``registry_versions`` candidate row; pure, so each rule is tested directly."""
    outcomes = []
    lines = int(row["lines_read"])
    bad = int(row["bad_lines"])
    unreadable = int(row["unreadable_files"])
    ratio = bad / lines if lines else 0.0
    if unreadable:
        reason = f"{unreadable} file(s) could not be read (corrupt or truncated archive)"
    elif ratio > registry.max_bad_line_ratio:
        reason = (
            f"{bad} of {lines} lines unreadable ({_percent(ratio)} > "
            f"{_percent(registry.max_bad_line_ratio)} allowed)"
        )
    else:
        reason = (
            f"{bad} of {lines} lines unreadable, within {_percent(registry.max_bad_line_ratio)}"
        )
    outcomes.append(
        CheckOutcome(
            "parses_completely",
            not unreadable and ratio <= registry.max_bad_line_ratio,
            reason,
            {"bad_lines": bad, "lines_read": lines, "unreadable_files": unreadable},
        )
    )
    invalid = int(row["invalid_numbers"])
    outcomes.append(
        CheckOutcome(
            "numbers_valid_for_country",
            invalid == 0,
            f"{invalid} number(s) are not valid {registry.country} numbers"
            if invalid
            else f"all numbers are valid {registry.country} numbers",
            {"invalid_numbers": invalid},
        )
    )
    count = int(row["number_count"])
    outcomes.append(
        CheckOutcome(
            "not_empty",
            count > 0,
            "the candidate holds no numbers" if count == 0 else f"{count} numbers",
            {"number_count": count},
        )
    )
    previous = row.get("previous_count")
    if previous is None:
        outcomes.append(
            CheckOutcome("size_change_within_bound", True, "no active version to compare with", {})
        )
    else:
        explained = int(row["change_additions"]) - int(row["change_deletions"])
        unexplained = count - int(previous) - explained
        change = abs(unexplained) / int(previous) if previous else (0.0 if count == 0 else 1.0)
        passed = change <= registry.max_size_change_ratio
        outcomes.append(
            CheckOutcome(
                "size_change_within_bound",
                passed,
                (
                    f"size changed by {_percent(change)} against the active version "
                    f"({previous} -> {count}, {explained:+d} explained by applied changes), "
                    f"{'within' if passed else 'over'} the {_percent(registry.max_size_change_ratio)} bound"
                ),
                {
                    "previous_count": int(previous),
                    "number_count": count,
                    "explained": explained,
                    "unexplained": unexplained,
                },
            )
        )
    data_as_of = as_utc(row["data_as_of"])
    previous_as_of = as_utc(row.get("previous_data_as_of"))
    assert data_as_of is not None
    if data_as_of > now:
        outcomes.append(
            CheckOutcome(
                "newer_than_active",
                False,
                f"data dated {data_as_of.date()} is in the future",
                {"data_as_of": data_as_of.isoformat()},
            )
        )
    elif previous_as_of is None:
        outcomes.append(
            CheckOutcome(
                "newer_than_active",
                True,
                "no active version",
                {"data_as_of": data_as_of.isoformat()},
            )
        )
    else:
        newer = (
            data_as_of > previous_as_of
            if registry.is_downloadable
            else data_as_of >= previous_as_of
        )
        outcomes.append(
            CheckOutcome(
                "newer_than_active",
                newer,
                f"data of {data_as_of.isoformat()} is {'newer than' if newer else 'not newer than'} "
                f"the active version's {previous_as_of.isoformat()}",
                {
                    "data_as_of": data_as_of.isoformat(),
                    "active_data_as_of": previous_as_of.isoformat(),
                },
            )
        )
    return outcomes


@dg.multi_asset_check(
    specs=[
        dg.AssetCheckSpec(name, asset=SNAPSHOT_ASSET, blocking=True, description=description)
        for name, description in CHECK_DESCRIPTIONS.items()
    ],
    can_subset=False,
)
def dncr_registry_candidate_checks(
    context: dg.AssetCheckExecutionContext,
    warehouse: WarehouseResource,
    platform_config: PlatformConfigResource,
):
    """Judge every candidate this run built; reject (audited) those that fail."""
    registries = {registry.id: registry for registry in platform_config.registries()}
    versions = tables.registry_versions
    by_check: dict[str, dict[str, dict[str, Any]]] = {name: {} for name in CHECK_NAMES}
    failures: list[str] = []
    with warehouse.connect() as connection:
        candidates = [
            row
            for row in run_candidates(connection, context.run.run_id)
            if row["status"] == STATUS_CANDIDATE
        ]
    for row in candidates:
        registry_id = str(row["registry_id"])
        registry = registries[registry_id]
        reference = as_utc(row["created_at"]) or datetime.now(UTC)
        outcomes = evaluate_candidate(row, registry, reference)
        failed = [outcome for outcome in outcomes if not outcome.passed]
        now = datetime.now(UTC)
        record = {outcome.name: outcome.as_record() for outcome in outcomes}
        values: dict[str, Any] = {"check_results": record, "checked_at": now}
        reason_text = "; ".join(f"{outcome.name}: {outcome.reason}" for outcome in failed)
        if failed:
            values.update(
                status=STATUS_REJECTED, rejected_at=now, rejection_reason=reason_text[:500]
            )
        with warehouse.begin() as connection:
            connection.execute(
                sa.update(versions)
                .where(
                    versions.c.registry_id == registry_id,
                    versions.c.version_id == row["version_id"],
                )
                .values(**values)
            )
            if failed:
                append_audit(
                    connection,
                    actor=ACTOR,
                    action="dncr.registry_version_rejected",
                    object_refs={
                        "registry_id": registry_id,
                        "version_id": row["version_id"],
                        "active_version_id": row["previous_version_id"],
                    },
                    details={
                        "failed_checks": [outcome.name for outcome in failed],
                        "reasons": {outcome.name: outcome.reason for outcome in failed},
                        "number_count": int(row["number_count"]),
                        "source_files": len(row["source_files"] or []),
                    },
                    run_id=context.run.run_id,
                )
        for outcome in outcomes:
            by_check[outcome.name][registry_id] = outcome.as_record()
        if failed:
            failures.append(
                f"registry {registry_id} candidate {str(row['version_id'])[:12]} rejected, "
                f"the active version stays: {reason_text}"
            )
    for name in CHECK_NAMES:
        results = by_check[name]
        failed_registries = sorted(r for r, item in results.items() if not item["passed"])
        yield dg.AssetCheckResult(
            check_name=name,
            asset_key=SNAPSHOT_ASSET,
            passed=not failed_registries,
            description=(
                "; ".join(f"{r}: {results[r]['reason']}" for r in failed_registries)
                if failed_registries
                else f"{len(results)} candidate(s) passed"
            ),
            metadata={"candidates": len(results), "results": dg.MetadataValue.json(results)},
        )
    if failures:
        raise dg.Failure(description="blocking registry check failed: " + " | ".join(failures))

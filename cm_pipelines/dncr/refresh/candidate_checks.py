"""The rules a registry candidate must pass before promotion, and recording their outcome.

Each rule judges what ``dncr_registry_snapshot`` measured while building the candidate (at
250M numbers the measuring is done once, vectorised, while the numbers are in memory). A
candidate failing any rule is marked rejected and an audit entry names the rules and why; the
active version stays active.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa

from cm_pipelines.dncr.audit_actor import ACTOR
from cm_pipelines.dncr.refresh.registry_versions import (
    STATUS_CANDIDATE,
    STATUS_REJECTED,
    as_utc,
    run_candidates,
)
from cm_pipelines.domain.dncr.registries import Registry
from cm_pipelines.platform.audit_log import append_audit
from cm_pipelines.resources.warehouse import WarehouseResource
from cm_pipelines.tables import dncr as tables

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


@dataclass
class RunJudgement:
    """Every candidate of a run judged: per check, per registry, its record; and per rejected
    candidate, the message the run fails with."""

    by_check: dict[str, dict[str, dict[str, Any]]] = field(
        default_factory=lambda: {name: {} for name in CHECK_NAMES}
    )
    failures: list[str] = field(default_factory=list)


def judge_run_candidates(
    warehouse: WarehouseResource, registries: Mapping[str, Registry], run_id: str
) -> RunJudgement:
    """Judge every candidate this run built and record the results; reject (audited) those
    that fail."""
    judgement = RunJudgement()
    with warehouse.connect() as connection:
        candidates = [
            row for row in run_candidates(connection, run_id) if row["status"] == STATUS_CANDIDATE
        ]
    for row in candidates:
        registry_id = str(row["registry_id"])
        reference = as_utc(row["created_at"]) or datetime.now(UTC)
        outcomes = evaluate_candidate(row, registries[registry_id], reference)
        failed = [outcome for outcome in outcomes if not outcome.passed]
        reason_text = "; ".join(f"{outcome.name}: {outcome.reason}" for outcome in failed)
        with warehouse.begin() as connection:
            _record_outcomes(connection, row, outcomes, reason_text, run_id)
        for outcome in outcomes:
            judgement.by_check[outcome.name][registry_id] = outcome.as_record()
        if failed:
            judgement.failures.append(
                f"registry {registry_id} candidate {str(row['version_id'])[:12]} rejected, "
                f"the active version stays: {reason_text}"
            )
    return judgement


def _record_outcomes(
    connection: sa.Connection,
    row: Mapping[str, Any],
    outcomes: list[CheckOutcome],
    reason_text: str,
    run_id: str,
) -> None:
    """The check results on the candidate's row; a failed candidate is rejected and audited."""
    registry_id = str(row["registry_id"])
    failed = [outcome for outcome in outcomes if not outcome.passed]
    now = datetime.now(UTC)
    record = {outcome.name: outcome.as_record() for outcome in outcomes}
    values: dict[str, Any] = {"check_results": record, "checked_at": now}
    if failed:
        values.update(status=STATUS_REJECTED, rejected_at=now, rejection_reason=reason_text[:500])
    versions = tables.registry_versions
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
            run_id=run_id,
        )


def evaluate_candidate(
    row: Mapping[str, Any], registry: Registry, now: datetime
) -> list[CheckOutcome]:
    """Judge one ``registry_versions`` candidate row; pure, so each rule is tested directly."""
    return [
        _parses_completely(row, registry),
        _numbers_valid_for_country(row, registry),
        _not_empty(row),
        _size_change_within_bound(row, registry),
        _newer_than_active(row, registry, now),
    ]


def _percent(value: float) -> str:
    return f"{value * 100:.3g}%"


def _parses_completely(row: Mapping[str, Any], registry: Registry) -> CheckOutcome:
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
    return CheckOutcome(
        "parses_completely",
        not unreadable and ratio <= registry.max_bad_line_ratio,
        reason,
        {"bad_lines": bad, "lines_read": lines, "unreadable_files": unreadable},
    )


def _numbers_valid_for_country(row: Mapping[str, Any], registry: Registry) -> CheckOutcome:
    invalid = int(row["invalid_numbers"])
    return CheckOutcome(
        "numbers_valid_for_country",
        invalid == 0,
        f"{invalid} number(s) are not valid {registry.country} numbers"
        if invalid
        else f"all numbers are valid {registry.country} numbers",
        {"invalid_numbers": invalid},
    )


def _not_empty(row: Mapping[str, Any]) -> CheckOutcome:
    count = int(row["number_count"])
    return CheckOutcome(
        "not_empty",
        count > 0,
        "the candidate holds no numbers" if count == 0 else f"{count} numbers",
        {"number_count": count},
    )


def _size_change_within_bound(row: Mapping[str, Any], registry: Registry) -> CheckOutcome:
    """Growth or shrinkage not explained by applied change lists (or new wash results)."""
    count = int(row["number_count"])
    previous = row.get("previous_count")
    if previous is None:
        return CheckOutcome(
            "size_change_within_bound", True, "no active version to compare with", {}
        )
    explained = int(row["change_additions"]) - int(row["change_deletions"])
    unexplained = count - int(previous) - explained
    change = abs(unexplained) / int(previous) if previous else (0.0 if count == 0 else 1.0)
    passed = change <= registry.max_size_change_ratio
    return CheckOutcome(
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


def _newer_than_active(row: Mapping[str, Any], registry: Registry, now: datetime) -> CheckOutcome:
    """Not dated in the future, and newer than the active version (a wash-only registry's
    results may share the active version's day)."""
    data_as_of = as_utc(row["data_as_of"])
    previous_as_of = as_utc(row.get("previous_data_as_of"))
    assert data_as_of is not None
    if data_as_of > now:
        return CheckOutcome(
            "newer_than_active",
            False,
            f"data dated {data_as_of.date()} is in the future",
            {"data_as_of": data_as_of.isoformat()},
        )
    if previous_as_of is None:
        return CheckOutcome(
            "newer_than_active",
            True,
            "no active version",
            {"data_as_of": data_as_of.isoformat()},
        )
    newer = (
        data_as_of > previous_as_of if registry.is_downloadable else data_as_of >= previous_as_of
    )
    return CheckOutcome(
        "newer_than_active",
        newer,
        f"data of {data_as_of.isoformat()} is {'newer than' if newer else 'not newer than'} "
        f"the active version's {previous_as_of.isoformat()}",
        {
            "data_as_of": data_as_of.isoformat(),
            "active_data_as_of": previous_as_of.isoformat(),
        },
    )

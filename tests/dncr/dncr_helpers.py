"""Helpers for do-not-call tests: small registry files in the real formats, and job runners."""

from __future__ import annotations

import csv
import io
import zipfile
from collections.abc import Iterable, Sequence
from datetime import date
from pathlib import Path
from typing import Any

import dagster as dg
import numpy as np
import sqlalchemy as sa
import yaml

from cm_pipelines.dncr import assets as dncr_assets
from cm_pipelines.dncr import checks as dncr_checks
from cm_pipelines.dncr.jobs import dncr_registry_refresh_job, dncr_wash_job
from cm_pipelines.dncr.run_config import refresh_run_config, wash_run_config
from cm_pipelines.domain.dncr.ftc_files import format_ftc_lines
from cm_pipelines.platform import landing
from cm_pipelines.platform.settings import PACKAGE_DIR
from cm_pipelines.resources import ObjectStoreResource, PlatformConfigResource
from cm_pipelines.tables import dncr as tables

DNCR_ASSETS = dg.load_assets_from_modules([dncr_assets])
DNCR_CHECKS = dg.load_asset_checks_from_modules([dncr_checks])


def us_numbers(count: int, start: int = 0, area_codes: Sequence[int] = (212, 415)) -> np.ndarray:
    """Distinct valid US numbers (NXX 555, 556: valid exchanges) as E.164 integers."""
    numbers = []
    for index in range(start, start + count):
        area = area_codes[index % len(area_codes)]
        exchange = 555 + (index // 10_000) % 2 + 2 * (index // 20_000)
        numbers.append(10_000_000_000 + area * 10_000_000 + exchange * 10_000 + index % 10_000)
    return np.array(sorted(numbers), dtype=np.int64)


def zip_member(name: str, content: bytes) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        archive.writestr(name, content)
    return buffer.getvalue()


def _by_area(numbers: Iterable[int]) -> dict[str, np.ndarray]:
    array = np.array(sorted(numbers), dtype=np.int64)
    areas = (array - 10_000_000_000) // 10_000_000
    return {str(area): array[areas == area] for area in sorted(set(areas.tolist()))}


def ftc_full_files(numbers: Iterable[int]) -> dict[str, bytes]:
    """``<areacode>.zip`` holding ``<areacode>.txt`` of ``areacode,number`` lines."""
    return {
        f"{area}.zip": zip_member(f"{area}.txt", format_ftc_lines(group))
        for area, group in _by_area(numbers).items()
    }


def write_full(
    store: ObjectStoreResource, registry_id: str, day: str, numbers: Iterable[int]
) -> list[str]:
    paths = []
    for name, data in ftc_full_files(numbers).items():
        path = f"{landing.registry_full_dir(registry_id, day)}/{name}"
        store.write_bytes(path, data)
        paths.append(path)
    return paths


def write_changes(
    store: ObjectStoreResource,
    registry_id: str,
    day: str,
    additions: Iterable[int],
    deletions: Iterable[int],
) -> None:
    folder = landing.registry_changes_dir(registry_id, day)
    for suffix, numbers in (("_additions", additions), ("_deletions", deletions)):
        for area, group in _by_area(numbers).items():
            store.write_bytes(
                f"{folder}/{area}{suffix}.zip",
                zip_member(f"{area}{suffix}.txt", format_ftc_lines(group)),
            )


def csv_bytes(header: Sequence[str], rows: Iterable[Sequence[Any]]) -> bytes:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(header)
    writer.writerows(rows)
    return buffer.getvalue().encode()


def write_wash_results(
    store: ObjectStoreResource, registry_id: str, name: str, rows: Iterable[tuple[str, str, str]]
) -> str:
    path = f"{landing.wash_results_dir(registry_id)}/{name}"
    store.write_bytes(path, csv_bytes(("phone_number", "registered", "wash_date"), rows))
    return path


def write_campaign(
    store: ObjectStoreResource, tenant_id: str, campaign_id: str, phones: Sequence[str]
) -> str:
    path = landing.campaign_file(tenant_id, campaign_id)
    rows = [(phone, f"C-{index:04d}") for index, phone in enumerate(phones)]
    store.write_bytes(path, csv_bytes(("phone", "contact_ref"), rows))
    return path


def write_consents(
    store: ObjectStoreResource, tenant_id: str, rows: Iterable[Sequence[str]]
) -> str:
    path = landing.consents_file(tenant_id)
    store.write_bytes(path, csv_bytes(("phone", "kind", "recorded_at", "source"), rows))
    return path


def registries_config(tmp_path: Path, **overrides: Any) -> PlatformConfigResource:
    """The shipped registries with per-registry overrides, e.g. ``us_ftc={"max_bad_line_ratio": 0.05}``."""
    document = yaml.safe_load((PACKAGE_DIR / "config" / "registries.yaml").read_text())
    for entry in document["registries"]:
        entry.update(overrides.get(entry["id"], {}))
    path = tmp_path / "registries.yaml"
    path.write_text(yaml.safe_dump(document))
    return PlatformConfigResource(registries_file=str(path))


def dncr_definitions(resources: dict[str, Any]) -> dg.Definitions:
    return dg.Definitions(
        assets=DNCR_ASSETS,
        asset_checks=DNCR_CHECKS,
        jobs=[dncr_registry_refresh_job, dncr_wash_job],
        resources=resources,
    )


def refresh(
    resources: dict[str, Any], registry_ids: list[str], *, as_of: str = "", source_day: str = ""
) -> dg.ExecuteInProcessResult:
    job = dncr_definitions(resources).resolve_job_def("dncr_registry_refresh_job")
    return job.execute_in_process(
        run_config=refresh_run_config(registry_ids, as_of=as_of, source_day=source_day),
        instance=dg.DagsterInstance.ephemeral(),
        raise_on_error=False,
    )


def wash_tenants(
    resources: dict[str, Any], tenant_ids: list[str], *, washed_at: str = ""
) -> dg.ExecuteInProcessResult:
    job = dncr_definitions(resources).resolve_job_def("dncr_wash_job")
    return job.execute_in_process(
        run_config=wash_run_config(tenant_ids, washed_at=washed_at),
        instance=dg.DagsterInstance.ephemeral(),
        raise_on_error=False,
    )


def version_rows(warehouse: Any, registry_id: str) -> list[dict[str, Any]]:
    versions = tables.registry_versions
    with warehouse.connect() as connection:
        rows = connection.execute(
            sa.select(versions)
            .where(versions.c.registry_id == registry_id)
            .order_by(versions.c.created_at)
        ).mappings()
        return [dict(row) for row in rows]


def active_rows(warehouse: Any, registry_id: str) -> list[dict[str, Any]]:
    return [row for row in version_rows(warehouse, registry_id) if row["status"] == "active"]


def failure_message(result: dg.ExecuteInProcessResult) -> str:
    messages = []
    for event in result.all_events:
        if event.event_type_value == "STEP_FAILURE" and event.step_failure_data is not None:
            error = event.step_failure_data.error
            messages.append(error.message if error is not None else "")
    return "\n".join(messages)


def materialization(result: dg.ExecuteInProcessResult, asset: str) -> dict[str, Any]:
    for event in result.get_asset_materialization_events():
        item = event.materialization
        if item is not None and item.asset_key.path == [asset]:
            return {key: value.value for key, value in item.metadata.items()}
    raise AssertionError(f"{asset} was not materialised")


def day_iso(value: date) -> str:
    return value.isoformat()

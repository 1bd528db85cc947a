"""Which landed files the next version of a downloadable registry is built from: the newest
full download newer than the active version and the change lists after it, or only change
lists to apply to the active version, or one named day."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

import dagster as dg

from cm_pipelines.dncr.refresh.registry_sources import RegistrySource, SourceFile
from cm_pipelines.dncr.refresh.registry_versions import as_utc
from cm_pipelines.domain.dncr.evidence import local_day
from cm_pipelines.domain.dncr.registries import Registry


@dataclass
class DownloadPlan:
    """Which full download (if any) and change-list days the next version is built from."""

    base_day: str | None
    apply_days: list[str]
    full_days: dict[str, list[SourceFile]]
    change_days: dict[str, list[SourceFile]]

    def files(self) -> list[SourceFile]:
        chosen = list(self.full_days[self.base_day]) if self.base_day is not None else []
        for day in self.apply_days:
            chosen.extend(self.change_days[day])
        return chosen


def plan_downloadable(
    registry: Registry,
    source: RegistrySource,
    active: dict[str, Any] | None,
    source_day: str,
    now: datetime,
) -> tuple[DownloadPlan | None, str]:
    """What the next version of a downloadable registry is built from, or None and why not.

    Folders dated after the registry's today are left for their day unless ``source_day`` names
    one (the blocking checks then refuse data from the future).
    """
    today = local_day(registry, now).isoformat()
    full_days = source.days("full")
    change_days = source.days("changes")
    if not source_day:
        full_days = {day: files for day, files in full_days.items() if day <= today}
        change_days = {day: files for day, files in change_days.items() if day <= today}
    active_as_of = as_utc(active["data_as_of"]) if active else None
    active_day = local_day(registry, active_as_of) if active_as_of else None
    base_day: str | None = None
    apply_days: list[str]
    if source_day:
        if source_day in full_days:
            base_day, apply_days = source_day, []
        elif source_day in change_days:
            if active is None:
                return None, f"no active version to apply the change list of {source_day} to"
            apply_days = [source_day]
        else:
            raise dg.Failure(
                description=f"registry {registry.id}: no full download or change list of day "
                f"{source_day} in its source folder"
            )
    else:
        newer_full = [
            day for day in full_days if active_day is None or date.fromisoformat(day) > active_day
        ]
        if newer_full:
            base_day = newer_full[-1]
            apply_days = [day for day in change_days if day > base_day]
        elif active is None:
            return None, "no full download yet (a change list needs a version to apply to)"
        else:
            apply_days = [
                day for day in change_days if active_day and date.fromisoformat(day) > active_day
            ]
            if not apply_days:
                return (
                    None,
                    "up to date: no full download or change list newer than the active version",
                )
    return DownloadPlan(base_day, apply_days, full_days, change_days), "planned"

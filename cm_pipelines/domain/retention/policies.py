"""Retention policies as versions: what the tenants file implies, and which version is in force.

Each tenant's retention days per record type (``Tenant.retention_for``) are recorded as *policy
versions*. The first version seen for a tenant and record type is effective from
``INITIAL_EFFECTIVE_FROM`` (it is the model the client approved at onboarding and covers all
older data); a changed value becomes a new version effective from the day the change is first
seen (changes are never retroactive). An operator may record a version with a future
effective date. The version *in force* on a day is the latest one effective on or before it, and
it decides every artefact's state that day, whenever the artefact was created: a shorter
retention takes effect on its effective date, a longer one rescues artefacts not yet purged.
An artefact cannot become due before the version that makes it due is in force, so its expiry
date is ``max(basis_date + retention_days, effective_from)``.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date

from cm_pipelines.domain.tenants import RECORD_TYPES, Tenant

INITIAL_EFFECTIVE_FROM = date(1970, 1, 1)
"""Effective date of the first policy version of a tenant and record type."""


@dataclass(frozen=True)
class PolicyVersion:
    tenant_id: str
    record_type: str
    version: int
    retention_days: int
    effective_from: date
    source: str = "config"  # config | default | operator

    @property
    def id(self) -> str:
        return policy_version_id(self.tenant_id, self.record_type, self.version)


def policy_version_id(tenant_id: str, record_type: str, version: int) -> str:
    """How decisions name a version, e.g. ``acme-au/recordings/v2``."""
    return f"{tenant_id}/{record_type}/v{version}"


def versions_to_record(
    tenants: Iterable[Tenant], existing: Iterable[PolicyVersion], first_seen: date
) -> list[PolicyVersion]:
    """New versions the tenants file implies: a first version per tenant and record type, and a
    new one when the configured days differ from the last version that came from the file.

    Operator versions are not reverted by an unchanged file; the next change to the file wins.
    """
    latest: dict[tuple[str, str], PolicyVersion] = {}
    latest_from_file: dict[tuple[str, str], PolicyVersion] = {}
    for version in existing:
        key = (version.tenant_id, version.record_type)
        if key not in latest or version.version > latest[key].version:
            latest[key] = version
        if version.source in ("config", "default") and (
            key not in latest_from_file or version.version > latest_from_file[key].version
        ):
            latest_from_file[key] = version
    new: list[PolicyVersion] = []
    for tenant in tenants:
        for record_type in RECORD_TYPES:
            key = (tenant.id, record_type)
            days = tenant.retention_for(record_type)
            source = "config" if record_type in tenant.retention_days else "default"
            if key not in latest:
                new.append(
                    PolicyVersion(tenant.id, record_type, 1, days, INITIAL_EFFECTIVE_FROM, source)
                )
                continue
            from_file = latest_from_file.get(key)
            if from_file is not None and from_file.retention_days == days:
                continue
            if from_file is None and latest[key].retention_days == days:
                continue
            effective = max(first_seen, latest[key].effective_from)
            new.append(
                PolicyVersion(
                    tenant.id, record_type, latest[key].version + 1, days, effective, source
                )
            )
    return new


class PolicyBook:
    """Every policy version, by tenant and record type, sorted by effective date."""

    def __init__(self, versions: Iterable[PolicyVersion]):
        grouped: dict[tuple[str, str], dict[date, PolicyVersion]] = {}
        for version in sorted(versions, key=lambda v: (v.effective_from, v.version)):
            # Two versions effective the same day: the later-recorded one wins.
            grouped.setdefault((version.tenant_id, version.record_type), {})[
                version.effective_from
            ] = version
        self._versions = {
            key: sorted(by_day.values(), key=lambda v: v.effective_from)
            for key, by_day in grouped.items()
        }

    def versions(self, tenant_id: str, record_type: str) -> list[PolicyVersion]:
        return list(self._versions.get((tenant_id, record_type), []))

    def in_force(self, tenant_id: str, record_type: str, on: date) -> PolicyVersion | None:
        current = None
        for version in self._versions.get((tenant_id, record_type), []):
            if version.effective_from <= on:
                current = version
        return current

    def tenants(self) -> set[str]:
        return {tenant_id for tenant_id, _ in self._versions}

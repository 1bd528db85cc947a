"""How long do-not-call evidence must be kept at least, by the registries a tenant washes with.

The Telemarketing Sales Rule (16 CFR 310.5, as amended in 2024) requires sellers and
telemarketers to keep call records, consent records and do-not-call compliance records for five
years; the TCPA rules (47 CFR 64.1200(d)(6)) keep a do-not-call request in force for five years.
A tenant washing against a US registry therefore keeps wash results and blocked-call evidence
(record type ``wash_results``) for at least five years: a tenants file asking for less is
refused naming the rule, and a tenant that says nothing gets the floor instead of the platform
default. Registries of countries without a statutory record-keeping period add no floor.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, replace

from cm_pipelines.domain.dncr.registries import Registry
from cm_pipelines.domain.tenants import ConfigError, Tenant

EVIDENCE_RECORD_TYPES: tuple[str, ...] = ("wash_results",)
"""Retention record types that hold do-not-call evidence (wash results and blocked calls)."""


@dataclass(frozen=True)
class EvidenceFloor:
    country: str
    days: int
    rule: str


FLOORS: dict[str, EvidenceFloor] = {
    "US": EvidenceFloor(
        "US",
        1827,  # five years, leap days included
        "Telemarketing Sales Rule 16 CFR 310.5 (2024): do-not-call compliance records 5 years",
    ),
}


def strictest_floor(tenant: Tenant, registries: Mapping[str, Registry]) -> EvidenceFloor | None:
    """The longest floor among the countries of the tenant's registries (None: no floor)."""
    floors = [
        FLOORS[registries[r].country]
        for r in tenant.registries
        if r in registries and registries[r].country in FLOORS
    ]
    return max(floors, key=lambda floor: floor.days, default=None)


def apply_evidence_floors(
    tenants: Iterable[Tenant], registries: Iterable[Registry], source: str = "tenants"
) -> list[Tenant]:
    """Tenants with evidence retention raised to their floor where they say nothing; refused
    (every offending tenant and record type named with its rule) where they ask for less."""
    by_id = {registry.id: registry for registry in registries}
    problems: list[str] = []
    result: list[Tenant] = []
    for index, tenant in enumerate(tenants):
        floor = strictest_floor(tenant, by_id)
        if floor is None:
            result.append(tenant)
            continue
        days = dict(tenant.retention_days)
        for record_type in EVIDENCE_RECORD_TYPES:
            asked = days.get(record_type)
            if asked is not None and asked < floor.days:
                problems.append(
                    f"{source}.tenants[{index}].retention_days.{record_type}: {asked} days is "
                    f"below the {floor.days}-day floor of {floor.rule}"
                )
            elif asked is None:
                days[record_type] = max(tenant.retention_for(record_type), floor.days)
        result.append(replace(tenant, retention_days=days))
    if problems:
        raise ConfigError(problems)
    return result

"""Client tenants: validated configuration, refused with the path of the bad value."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import phonenumbers

RECORD_TYPES: tuple[str, ...] = (
    "recordings",
    "transcripts",
    "ai_summaries",
    "voicemail",
    "call_logs",
    "crm_links",
    "wash_results",
    "dsar_case_files",
)
"""Record types a tenant's retention model covers."""

DEFAULT_RETENTION_DAYS: dict[str, int] = {
    "recordings": 90,
    "transcripts": 90,
    "ai_summaries": 90,
    "voicemail": 30,
    "call_logs": 730,
    "crm_links": 365,
    "wash_results": 1095,
    "dsar_case_files": 1095,
}
JURISDICTIONS: tuple[str, ...] = ("gdpr", "ccpa", "au")
_TENANT_KEYS = {
    "id",
    "name",
    "country",
    "timezone",
    "jurisdictions",
    "registries",
    "retention_days",
}
_ID_ALLOWED = set("abcdefghijklmnopqrstuvwxyz0123456789-_")
_MAX_ID = 64


class ConfigError(ValueError):
    """A configuration file was refused; the message names the path of each bad value."""

    def __init__(self, problems: list[str]):
        self.problems = problems
        super().__init__("; ".join(problems))


@dataclass(frozen=True)
class Tenant:
    id: str
    name: str
    country: str
    timezone: str
    jurisdictions: tuple[str, ...] = ()
    registries: tuple[str, ...] = ()
    retention_days: Mapping[str, int] = field(default_factory=dict)

    def retention_for(self, record_type: str) -> int:
        """Days a record type is kept: the tenant's approved model, else the platform default."""
        return int(self.retention_days.get(record_type, DEFAULT_RETENTION_DAYS[record_type]))


def validate_tenant_id(value: Any, path: str = "tenant") -> str:
    """A tenant id is a short lowercase slug: safe in paths, tags and SQL parameters."""
    if not isinstance(value, str) or not value:
        raise ConfigError([f"{path}: must be a non-empty string"])
    if len(value) > _MAX_ID or not set(value) <= _ID_ALLOWED or value[0] in "-_":
        raise ConfigError(
            [
                f"{path}: must be 1-{_MAX_ID} characters of a-z, 0-9, '-' or '_', starting with a letter or digit"
            ]
        )
    return value


def parse_tenants(document: Any, source: str = "tenants") -> list[Tenant]:
    """Validate a parsed tenants YAML document; every problem is reported, not only the first."""
    if not isinstance(document, Mapping) or set(document) != {"tenants"}:
        raise ConfigError([f"{source}: expected a mapping with the single key 'tenants'"])
    entries = document["tenants"]
    if not isinstance(entries, list) or not entries:
        raise ConfigError([f"{source}.tenants: expected a non-empty list"])
    problems: list[str] = []
    tenants: list[Tenant] = []
    seen: set[str] = set()
    for index, entry in enumerate(entries):
        tenant, found = _parse_entry(entry, f"{source}.tenants[{index}]", seen)
        problems.extend(found)
        if tenant is not None:
            tenants.append(tenant)
    if problems:
        raise ConfigError(problems)
    return tenants


def _parse_entry(entry: Any, path: str, seen: set[str]) -> tuple[Tenant | None, list[str]]:
    """One tenant entry: the tenant, or None and every problem found in it. ``seen`` collects
    the ids met so far, so a repeated id is reported where it repeats."""
    if not isinstance(entry, Mapping):
        return None, [f"{path}: expected a mapping"]
    found: list[str] = []
    for key in sorted(set(entry) - _TENANT_KEYS):
        found.append(f"{path}.{key}: unknown key")
    for key in ("id", "name", "country", "timezone"):
        if key not in entry:
            found.append(f"{path}.{key}: required")
    tenant_id = _entry_id(entry, path, seen, found)
    found.extend(_identity_problems(entry, path))
    jurisdictions = _jurisdictions(entry, path, found)
    registries = _registries(entry, path, found)
    retention = _retention_days(entry, path, found)
    if found:
        return None, found
    tenant = Tenant(
        id=tenant_id,
        name=str(entry.get("name")),
        country=str(entry.get("country")),
        timezone=str(entry.get("timezone")),
        jurisdictions=tuple(jurisdictions),
        registries=tuple(registries),
        retention_days=dict(retention),
    )
    return tenant, []


def _entry_id(entry: Mapping[str, Any], path: str, seen: set[str], problems: list[str]) -> str:
    """The entry's id ("" when invalid); an id an earlier entry has is reported as a duplicate."""
    try:
        tenant_id = validate_tenant_id(entry.get("id"), f"{path}.id")
    except ConfigError as exc:
        problems.extend(exc.problems)
        tenant_id = ""
    if tenant_id in seen:
        problems.append(f"{path}.id: duplicate tenant id {tenant_id!r}")
    seen.add(tenant_id)
    return tenant_id


def _identity_problems(entry: Mapping[str, Any], path: str) -> list[str]:
    """What is wrong with the name, country and time zone given (missing ones are reported as
    required, not here)."""
    problems: list[str] = []
    name = entry.get("name")
    if "name" in entry and (not isinstance(name, str) or not name.strip() or len(name) > 200):
        problems.append(f"{path}.name: must be a non-empty string of at most 200 characters")
    country = entry.get("country")
    if "country" in entry and (
        not isinstance(country, str) or country not in phonenumbers.SUPPORTED_REGIONS
    ):
        problems.append(f"{path}.country: {country!r} is not an ISO 3166 alpha-2 region code")
    timezone = entry.get("timezone")
    if "timezone" in entry:
        try:
            if not isinstance(timezone, str):
                raise ZoneInfoNotFoundError
            ZoneInfo(timezone)
        except (ZoneInfoNotFoundError, ValueError):
            problems.append(f"{path}.timezone: {timezone!r} is not an IANA time zone")
    return problems


def _jurisdictions(entry: Mapping[str, Any], path: str, problems: list[str]) -> list[Any]:
    """The privacy regimes the tenant is under (none when not a list); unknown ones reported."""
    jurisdictions = entry.get("jurisdictions", [])
    if not isinstance(jurisdictions, list):
        problems.append(f"{path}.jurisdictions: expected a list")
        return []
    for j_index, jurisdiction in enumerate(jurisdictions):
        if jurisdiction not in JURISDICTIONS:
            problems.append(
                f"{path}.jurisdictions[{j_index}]: {jurisdiction!r} is not one of {', '.join(JURISDICTIONS)}"
            )
    return jurisdictions


def _registries(entry: Mapping[str, Any], path: str, problems: list[str]) -> list[Any]:
    """The do-not-call registry ids the tenant washes against (none when not a list of ids)."""
    registries = entry.get("registries", [])
    if not isinstance(registries, list) or not all(isinstance(r, str) for r in registries):
        problems.append(f"{path}.registries: expected a list of registry ids")
        return []
    return registries


def _retention_days(entry: Mapping[str, Any], path: str, problems: list[str]) -> Mapping[str, Any]:
    retention = entry.get("retention_days", {})
    if not isinstance(retention, Mapping):
        problems.append(f"{path}.retention_days: expected a mapping of record type to days")
        return {}
    for record_type, days in retention.items():
        if record_type not in RECORD_TYPES:
            problems.append(f"{path}.retention_days.{record_type}: unknown record type")
        elif isinstance(days, bool) or not isinstance(days, int) or days < 0:
            problems.append(
                f"{path}.retention_days.{record_type}: must be a whole number of days >= 0, got {days!r}"
            )
    return retention

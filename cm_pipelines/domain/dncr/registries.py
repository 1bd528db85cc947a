"""Do-not-call registry definitions: validated configuration, refused with the path of the bad value.

Two kinds exist. A *downloadable* registry (US FTC National DNC, Canada's DNCL) hands out full
files and change lists; decisions rest on the newest promoted snapshot, which must be at most
``validity_days`` old. A *wash-only* registry (Australia's ACMA DNCR, Singapore's DNC) is never
downloaded: lists are submitted and per-number results come back, each valid ``validity_days``.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import phonenumbers

from cm_pipelines.domain.tenants import ConfigError, Tenant

RegistryKind = Literal["downloadable", "wash_only"]
REGISTRY_KINDS: tuple[str, ...] = ("downloadable", "wash_only")

FILE_FORMATS: dict[str, tuple[str, ...]] = {
    "ftc_flat_zip": ("downloadable",),
    "e164_csv": ("downloadable",),
    "wash_result_csv": ("wash_only",),
}
"""Source file formats and the registry kinds that can use them.

- ``ftc_flat_zip``: ``areacode,number`` lines, one zip per area code (full downloads), change
  lists as ``<areacode>_additions.zip`` / ``<areacode>_deletions.zip`` or with a third ``A``/``D``
  field per line.
- ``e164_csv``: a CSV with a header and an ``e164`` (or ``phone_number``/``number``) column.
- ``wash_result_csv``: ``phone_number,registered,wash_date`` rows returned by a wash.
"""

DEFAULT_MAX_BAD_LINE_RATIO = 0.001
DEFAULT_MAX_SIZE_CHANGE_RATIO = 0.02
_REGISTRY_KEYS = {
    "id",
    "name",
    "country",
    "kind",
    "validity_days",
    "timezone",
    "source_url",
    "file_format",
    "max_bad_line_ratio",
    "max_size_change_ratio",
    "exemptions_override_listing",
}
_REQUIRED = ("id", "name", "country", "kind", "validity_days", "timezone", "file_format")
_ID_ALLOWED = set("abcdefghijklmnopqrstuvwxyz0123456789_")
_URL_SCHEMES = ("file://", "s3://", "gs://", "az://", "abfs://", "memory://", "https://")


@dataclass(frozen=True)
class Registry:
    """One registry. ``source_url`` empty means the object store's landing folder for it.

    ``timezone`` is where the registry dates its files: a file of day D counts as evidence from
    the start of D there (the earliest instant it can describe), so freshness never overstates.
    ``exemptions_override_listing`` lets a valid consent or business relationship allow a number
    the registry lists; it is off by default (listing outranks exemptions), see ``washing``.
    """

    id: str
    name: str
    country: str
    kind: RegistryKind
    validity_days: int
    timezone: str
    file_format: str
    source_url: str = ""
    max_bad_line_ratio: float = DEFAULT_MAX_BAD_LINE_RATIO
    max_size_change_ratio: float = DEFAULT_MAX_SIZE_CHANGE_RATIO
    exemptions_override_listing: bool = False

    @property
    def calling_code(self) -> int:
        return int(phonenumbers.country_code_for_region(self.country))

    @property
    def is_downloadable(self) -> bool:
        return self.kind == "downloadable"


def _ratio(
    entry: Mapping[str, Any], key: str, default: float, path: str, problems: list[str]
) -> float:
    value = entry.get(key, default)
    if isinstance(value, bool) or not isinstance(value, int | float) or not 0 <= value <= 1:
        problems.append(f"{path}.{key}: must be a number between 0 and 1, got {value!r}")
        return default
    return float(value)


def _validate_entry(entry: Any, path: str, problems: list[str]) -> Registry | None:
    """One registry entry, or None with every problem of it appended (in the entry's order)."""
    if not isinstance(entry, Mapping):
        problems.append(f"{path}: expected a mapping")
        return None
    before = len(problems)
    for key in sorted(set(entry) - _REGISTRY_KEYS):
        problems.append(f"{path}.{key}: unknown key")
    for key in _REQUIRED:
        if key not in entry:
            problems.append(f"{path}.{key}: required")
    _check_identity(entry, path, problems)
    _check_kind_and_validity(entry, path, problems)
    _check_timezone(entry, path, problems)
    _check_file_format(entry, path, problems)
    source_url = _source_url(entry, path, problems)
    bad_lines = _ratio(entry, "max_bad_line_ratio", DEFAULT_MAX_BAD_LINE_RATIO, path, problems)
    size_change = _ratio(
        entry, "max_size_change_ratio", DEFAULT_MAX_SIZE_CHANGE_RATIO, path, problems
    )
    override = entry.get("exemptions_override_listing", False)
    if not isinstance(override, bool):
        problems.append(f"{path}.exemptions_override_listing: must be true or false")
    if len(problems) != before:
        return None
    return Registry(
        id=str(entry.get("id")),
        name=str(entry.get("name")),
        country=str(entry.get("country")),
        kind=entry.get("kind"),  # type: ignore[arg-type]
        validity_days=int(entry.get("validity_days")),  # type: ignore[arg-type]
        timezone=str(entry.get("timezone")),
        file_format=str(entry.get("file_format")),
        source_url=source_url.rstrip("/"),
        max_bad_line_ratio=bad_lines,
        max_size_change_ratio=size_change,
        exemptions_override_listing=bool(override),
    )


def _check_identity(entry: Mapping[str, Any], path: str, problems: list[str]) -> None:
    """``id``, ``name`` and ``country``, when given."""
    registry_id = entry.get("id")
    if "id" in entry and (
        not isinstance(registry_id, str)
        or not 1 <= len(registry_id) <= 32
        or not set(registry_id) <= _ID_ALLOWED
        or not registry_id[0].isalpha()
    ):
        problems.append(
            f"{path}.id: must be 1-32 characters of a-z, 0-9 or '_', starting with a letter"
        )
    name = entry.get("name")
    if "name" in entry and (not isinstance(name, str) or not name.strip() or len(name) > 200):
        problems.append(f"{path}.name: must be a non-empty string of at most 200 characters")
    country = entry.get("country")
    if "country" in entry and (
        not isinstance(country, str) or country not in phonenumbers.SUPPORTED_REGIONS
    ):
        problems.append(f"{path}.country: {country!r} is not an ISO 3166 alpha-2 region code")


def _check_kind_and_validity(entry: Mapping[str, Any], path: str, problems: list[str]) -> None:
    """``kind`` and ``validity_days``, when given."""
    kind = entry.get("kind")
    if "kind" in entry and kind not in REGISTRY_KINDS:
        problems.append(f"{path}.kind: must be one of {', '.join(REGISTRY_KINDS)}, got {kind!r}")
    days = entry.get("validity_days")
    if "validity_days" in entry and (
        isinstance(days, bool) or not isinstance(days, int) or not 1 <= days <= 366
    ):
        problems.append(f"{path}.validity_days: must be a whole number of days 1-366, got {days!r}")


def _check_timezone(entry: Mapping[str, Any], path: str, problems: list[str]) -> None:
    """``timezone``, when given, must be an IANA zone this machine knows."""
    timezone = entry.get("timezone")
    if "timezone" in entry:
        try:
            if not isinstance(timezone, str):
                raise ZoneInfoNotFoundError
            ZoneInfo(timezone)
        except (ZoneInfoNotFoundError, ValueError):
            problems.append(f"{path}.timezone: {timezone!r} is not an IANA time zone")


def _check_file_format(entry: Mapping[str, Any], path: str, problems: list[str]) -> None:
    """``file_format``, when given, must be known and usable by the entry's kind."""
    kind = entry.get("kind")
    file_format = entry.get("file_format")
    if "file_format" in entry:
        if file_format not in FILE_FORMATS:
            problems.append(
                f"{path}.file_format: must be one of {', '.join(FILE_FORMATS)}, got {file_format!r}"
            )
        elif kind in REGISTRY_KINDS and kind not in FILE_FORMATS[str(file_format)]:
            problems.append(
                f"{path}.file_format: {file_format!r} cannot be used by a {kind} registry"
            )


def _source_url(entry: Mapping[str, Any], path: str, problems: list[str]) -> str:
    """``source_url``: empty (the landing folder) or an fsspec URL of a known scheme."""
    source_url = entry.get("source_url", "") or ""
    if not isinstance(source_url, str) or (source_url and not source_url.startswith(_URL_SCHEMES)):
        problems.append(
            f"{path}.source_url: must be empty (the landing folder) or an fsspec URL "
            f"starting with one of {', '.join(_URL_SCHEMES)}"
        )
        source_url = ""
    return source_url


def parse_registries(document: Any, source: str = "registries") -> list[Registry]:
    """Validate a parsed registries YAML document; every problem is reported, not only the first."""
    if not isinstance(document, Mapping) or set(document) != {"registries"}:
        raise ConfigError([f"{source}: expected a mapping with the single key 'registries'"])
    entries = document["registries"]
    if not isinstance(entries, list) or not entries:
        raise ConfigError([f"{source}.registries: expected a non-empty list"])
    problems: list[str] = []
    registries: list[Registry] = []
    seen: set[str] = set()
    for index, entry in enumerate(entries):
        path = f"{source}.registries[{index}]"
        registry = _validate_entry(entry, path, problems)
        if registry is None:
            continue
        if registry.id in seen:
            problems.append(f"{path}.id: duplicate registry id {registry.id!r}")
        seen.add(registry.id)
        registries.append(registry)
    if problems:
        raise ConfigError(problems)
    return registries


def check_tenant_registries(
    tenants: Iterable[Tenant], registries: Iterable[Registry], source: str = "tenants"
) -> None:
    """Every registry a tenant names must be configured: a typo must not silently skip a wash."""
    known = {registry.id for registry in registries}
    problems = [
        f"{source}.tenants[{index}].registries[{r_index}]: unknown registry {registry_id!r}"
        for index, tenant in enumerate(tenants)
        for r_index, registry_id in enumerate(tenant.registries)
        if registry_id not in known
    ]
    if problems:
        raise ConfigError(problems)

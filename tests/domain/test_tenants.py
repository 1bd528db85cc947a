"""Tenant configuration is validated with errors that name the path of the bad value."""

from __future__ import annotations

import copy

import pytest
import yaml

from cm_pipelines.domain.tenants import ConfigError, parse_tenants, validate_tenant_id
from cm_pipelines.platform.settings import PACKAGE_DIR

VALID = {
    "tenants": [
        {
            "id": "acme-au",
            "name": "Harbour Dental",
            "country": "AU",
            "timezone": "Australia/Sydney",
            "jurisdictions": ["au"],
            "registries": ["au_acma"],
            "retention_days": {"recordings": 90},
        }
    ]
}


def _with(**changes):
    document = copy.deepcopy(VALID)
    document["tenants"][0].update(changes)
    return document


def test_the_shipped_tenants_file_is_valid() -> None:
    tenants = parse_tenants(yaml.safe_load((PACKAGE_DIR / "config" / "tenants.yaml").read_text()))
    assert {t.country for t in tenants} >= {"AU", "US"}
    assert len({t.id for t in tenants}) == len(tenants)


def test_retention_falls_back_to_platform_defaults() -> None:
    tenant = parse_tenants(VALID)[0]
    assert tenant.retention_for("recordings") == 90
    assert tenant.retention_for("call_logs") == 730


@pytest.mark.parametrize(
    ("changes", "expected_path"),
    [
        ({"colour": "blue"}, "tenants.tenants[0].colour: unknown key"),
        ({"country": "XX"}, "tenants.tenants[0].country"),
        ({"country": "au"}, "tenants.tenants[0].country"),
        ({"timezone": "Mars/Olympus"}, "tenants.tenants[0].timezone"),
        ({"retention_days": {"recordings": -1}}, "tenants.tenants[0].retention_days.recordings"),
        ({"retention_days": {"faxes": 3}}, "tenants.tenants[0].retention_days.faxes: unknown"),
        ({"jurisdictions": ["hipaa"]}, "tenants.tenants[0].jurisdictions[0]"),
        ({"id": "../etc"}, "tenants.tenants[0].id"),
        ({"id": "x'; DROP TABLE calls; --"}, "tenants.tenants[0].id"),
    ],
)
def test_bad_values_are_refused_with_their_path(changes, expected_path) -> None:
    with pytest.raises(ConfigError) as raised:
        parse_tenants(_with(**changes))
    assert any(problem.startswith(expected_path) for problem in raised.value.problems), raised.value


def test_every_problem_is_reported_not_only_the_first() -> None:
    with pytest.raises(ConfigError) as raised:
        parse_tenants(_with(country="XX", timezone="Nowhere/Town", colour="red"))
    assert len(raised.value.problems) == 3


def test_duplicate_ids_are_refused() -> None:
    document = copy.deepcopy(VALID)
    document["tenants"].append(copy.deepcopy(document["tenants"][0]))
    with pytest.raises(ConfigError, match=r"tenants\[1\]\.id: duplicate"):
        parse_tenants(document)


def test_tenant_ids_are_slugs() -> None:
    assert validate_tenant_id("beta-us") == "beta-us"
    for bad in ("", "A", "-x", "a" * 65, "a b", "a/b", "a\x00"):
        with pytest.raises(ConfigError):
            validate_tenant_id(bad)

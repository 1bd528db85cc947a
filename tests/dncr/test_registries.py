"""Registry definitions are validated like tenants: every problem reported with its path."""

from __future__ import annotations

import copy

import pytest
import yaml

from cm_pipelines.domain.dncr.registries import check_tenant_registries, parse_registries
from cm_pipelines.domain.tenants import ConfigError, parse_tenants
from cm_pipelines.platform.settings import PACKAGE_DIR

VALID = {
    "registries": [
        {
            "id": "us_ftc",
            "name": "FTC",
            "country": "US",
            "kind": "downloadable",
            "validity_days": 31,
            "timezone": "America/New_York",
            "file_format": "ftc_flat_zip",
        }
    ]
}


def _with(**changes):
    document = copy.deepcopy(VALID)
    document["registries"][0].update(changes)
    return document


def test_the_shipped_registries_cover_every_tenant_with_the_legal_validity_periods() -> None:
    registries = parse_registries(
        yaml.safe_load((PACKAGE_DIR / "config" / "registries.yaml").read_text())
    )
    by_id = {registry.id: registry for registry in registries}
    assert {r: by_id[r].validity_days for r in by_id} == {
        "us_ftc": 31,
        "ca_dncl": 31,
        "au_acma": 30,
        "sg_dnc": 21,
    }
    assert {r: by_id[r].kind for r in by_id} == {
        "us_ftc": "downloadable",
        "ca_dncl": "downloadable",
        "au_acma": "wash_only",
        "sg_dnc": "wash_only",
    }
    assert by_id["us_ftc"].calling_code == 1 and by_id["au_acma"].calling_code == 61
    assert all(not registry.exemptions_override_listing for registry in registries)
    tenants = parse_tenants(yaml.safe_load((PACKAGE_DIR / "config" / "tenants.yaml").read_text()))
    check_tenant_registries(tenants, registries)


def test_defaults_apply() -> None:
    [registry] = parse_registries(VALID)
    assert (registry.source_url, registry.max_bad_line_ratio, registry.max_size_change_ratio) == (
        "",
        0.001,
        0.02,
    )


@pytest.mark.parametrize(
    ("changes", "expected_path"),
    [
        ({"colour": "red"}, "registries.registries[0].colour: unknown key"),
        ({"id": "US FTC"}, "registries.registries[0].id"),
        ({"country": "XX"}, "registries.registries[0].country"),
        ({"kind": "downloadble"}, "registries.registries[0].kind"),
        ({"validity_days": 0}, "registries.registries[0].validity_days"),
        ({"validity_days": True}, "registries.registries[0].validity_days"),
        ({"timezone": "Mars/Olympus"}, "registries.registries[0].timezone"),
        ({"file_format": "xlsx"}, "registries.registries[0].file_format"),
        (
            {"file_format": "wash_result_csv"},
            "registries.registries[0].file_format: 'wash_result_csv' cannot",
        ),
        ({"source_url": "ftp://example/x"}, "registries.registries[0].source_url"),
        ({"max_bad_line_ratio": 2}, "registries.registries[0].max_bad_line_ratio"),
        ({"max_size_change_ratio": "2%"}, "registries.registries[0].max_size_change_ratio"),
        (
            {"exemptions_override_listing": "yes"},
            "registries.registries[0].exemptions_override_listing",
        ),
    ],
)
def test_bad_values_are_refused_with_their_path(changes, expected_path: str) -> None:
    with pytest.raises(ConfigError) as refused:
        parse_registries(_with(**changes))
    assert any(problem.startswith(expected_path) for problem in refused.value.problems), (
        refused.value.problems
    )


def test_every_problem_is_reported_and_duplicates_are_refused() -> None:
    document = _with(country="XX", kind="nope")
    document["registries"].append(copy.deepcopy(VALID["registries"][0]))
    document["registries"].append(copy.deepcopy(VALID["registries"][0]))
    with pytest.raises(ConfigError) as refused:
        parse_registries(document)
    problems = refused.value.problems
    assert any(p.startswith("registries.registries[0].country") for p in problems)
    assert any(p.startswith("registries.registries[0].kind") for p in problems)
    assert any("duplicate registry id" in p for p in problems)
    with pytest.raises(ConfigError):
        parse_registries({"registries": []})
    with pytest.raises(ConfigError):
        parse_registries({"tenants": []})


def test_a_tenant_naming_an_unknown_registry_is_refused() -> None:
    tenants = parse_tenants(
        {
            "tenants": [
                {
                    "id": "t1",
                    "name": "T",
                    "country": "US",
                    "timezone": "UTC",
                    "registries": ["us_ftcc"],
                }
            ]
        }
    )
    with pytest.raises(
        ConfigError, match=r"tenants.tenants\[0\].registries\[0\]: unknown registry"
    ):
        check_tenant_registries(tenants, parse_registries(VALID))

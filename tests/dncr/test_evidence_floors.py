"""Do-not-call evidence is kept at least as long as the strictest rule of the tenant's
registries: raised where the tenants file says nothing, refused where it asks for less."""

from __future__ import annotations

from pathlib import Path

import pytest

from cm_pipelines.domain.dncr.evidence_floors import apply_evidence_floors, strictest_floor
from cm_pipelines.domain.tenants import ConfigError, Tenant
from cm_pipelines.resources import PlatformConfigResource
from tests.dncr.test_washing import AU_ACMA, US_FTC

US = Tenant("beta-us", "Beta", "US", "America/New_York", registries=("us_ftc",))
AU = Tenant("acme-au", "Acme", "AU", "Australia/Sydney", registries=("au_acma",))


def test_a_us_registry_raises_evidence_retention_to_five_years() -> None:
    floor = strictest_floor(US, {"us_ftc": US_FTC})
    assert floor is not None and floor.days >= 5 * 365 + 1 and "310.5" in floor.rule
    assert strictest_floor(AU, {"au_acma": AU_ACMA}) is None
    raised, untouched = apply_evidence_floors([US, AU], [US_FTC, AU_ACMA])
    assert raised.retention_for("wash_results") == floor.days
    assert untouched.retention_for("wash_results") == AU.retention_for("wash_results")
    longer = Tenant(**{**US.__dict__, "retention_days": {"wash_results": 4000}})
    assert apply_evidence_floors([longer], [US_FTC])[0].retention_for("wash_results") == 4000


def test_a_tenants_file_asking_for_less_is_refused_naming_the_rule(tmp_path: Path) -> None:
    tenants = tmp_path / "tenants.yaml"
    tenants.write_text(
        "tenants:\n"
        "  - {id: beta-us, name: Beta, country: US, timezone: America/New_York,\n"
        "     registries: [us_ftc], retention_days: {wash_results: 0}}\n"
    )
    config = PlatformConfigResource(tenants_file=str(tenants))
    with pytest.raises(ConfigError) as refused:
        config.tenants()
    message = str(refused.value)
    assert "tenants.yaml.tenants[0].retention_days.wash_results: 0 days" in message
    assert "Telemarketing Sales Rule 16 CFR 310.5" in message
    tenants.write_text(tenants.read_text().replace("{wash_results: 0}", "{recordings: 30}"))
    assert config.tenants()[0].retention_for("wash_results") >= 1826

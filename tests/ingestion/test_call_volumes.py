"""Daily call volumes assembled from per-measure counts."""

from __future__ import annotations

from datetime import date

import pytest

from cm_pipelines.domain.ingestion.call_volumes import (
    VOLUME_MEASURES,
    DayVolume,
    assemble_day_volumes,
    volume_totals,
)

D1, D2 = date(2026, 11, 2), date(2026, 11, 3)


def test_every_tenant_day_gets_every_measure_with_zero_where_nothing_was_counted() -> None:
    volumes = assemble_day_volumes(
        {
            "calls": [("acme-au", D1, 10), ("beta-us", D2, 4)],
            "recordings": [("acme-au", D1, 7)],
            "quarantined_items": [("gamma-sg", D2, 2)],
            "billed_seconds": [("acme-au", D1, None)],  # SUM over no rows
        }
    )
    assert [(v.tenant_id, v.call_day) for v in volumes] == [
        ("acme-au", D1),
        ("beta-us", D2),
        ("gamma-sg", D2),
    ]
    acme = volumes[0].as_row()
    assert acme["calls"] == 10 and acme["recordings"] == 7 and acme["billed_seconds"] == 0
    assert set(acme) == {"tenant_id", "call_day", *VOLUME_MEASURES}
    assert volumes[2].as_row()["calls"] == 0 and volumes[2].as_row()["quarantined_items"] == 2


def test_totals_sum_each_measure_over_tenants_and_days() -> None:
    volumes = assemble_day_volumes(
        {"calls": [("a", D1, 3), ("a", D2, 5), ("b", D1, 1)], "crm_links": [("b", D1, 2)]}
    )
    totals = volume_totals(volumes)
    assert totals["calls"] == 9 and totals["crm_links"] == 2 and totals["recordings"] == 0
    assert volume_totals([]) == dict.fromkeys(VOLUME_MEASURES, 0)
    assert volume_totals([DayVolume("a", D1)])["calls"] == 0


def test_an_unknown_measure_is_refused() -> None:
    with pytest.raises(ValueError, match="unknown volume measure"):
        assemble_day_volumes({"phone_numbers": [("a", D1, 1)]})

"""The overview's figures and inline chart as plain functions: numbers per tenant under stable
names, and the chart as a data: URI that decodes to the bytes it was given."""

from __future__ import annotations

import base64
from datetime import date

from cm_pipelines.domain.trust.compliance_overview import OpenDsar, TenantOverview, tenant_counts
from cm_pipelines.domain.trust.overview_chart import markdown_image

AS_OF = date(2026, 3, 10)


def _dsar(request_id: str, due: date) -> OpenDsar:
    return OpenDsar(request_id, "access", "verified", due, extended=False)


def test_counts_per_tenant_cover_states_deadlines_and_holds() -> None:
    acme = TenantOverview(
        "acme-au",
        "Acme",
        retention_states={"recordings": {"active": 3, "due": 1}, "call_logs": {"active": 2}},
        open_dsars=[_dsar("d1", date(2026, 3, 9)), _dsar("d2", date(2026, 3, 12))],
        holds=[],
    )
    counts = tenant_counts([acme], AS_OF)["acme-au"]
    assert counts == {
        "artefacts_active": 5,
        "artefacts_due": 1,
        "artefacts_held": 0,
        "artefacts_purged": 0,
        "open_dsars": 2,
        "overdue_dsars": 1,
        "urgent_dsars": 1,
        "active_holds": 0,
    }


def test_a_tenant_counts_days_left_in_its_own_day() -> None:
    late_day = TenantOverview(
        "beta-us", "Beta", local_date=date(2026, 3, 9), open_dsars=[_dsar("d", date(2026, 3, 9))]
    )
    assert tenant_counts([late_day], AS_OF)["beta-us"]["overdue_dsars"] == 0


def test_a_section_not_deployed_has_no_numbers() -> None:
    assert tenant_counts([TenantOverview("gamma-sg", "Gamma")], AS_OF) == {"gamma-sg": {}}


def test_the_image_is_a_data_uri_of_the_same_bytes() -> None:
    png = b"\x89PNG\r\n\x1a\n" + bytes(range(256))
    image = markdown_image(png, "chart")
    prefix = "![chart](data:image/png;base64,"
    assert image.startswith(prefix) and image.endswith(")")
    assert base64.b64decode(image[len(prefix) : -1], validate=True) == png


def test_post_call_violations_are_counted_and_shown_per_tenant() -> None:
    from cm_pipelines.domain.trust.compliance_overview import render_markdown

    beta = TenantOverview(
        "beta-us", "Beta", post_call_violations={"no_evidence": 2, "outside_calling_window": 1}
    )
    clean = TenantOverview("acme-au", "Acme", post_call_violations={})
    counts = tenant_counts([beta, clean], AS_OF)
    assert counts["beta-us"]["post_call_violations"] == 3
    assert counts["acme-au"]["post_call_violations"] == 0
    page = render_markdown([beta, clean], AS_OF, None)
    beta_section = page.split("## acme-au")[0]
    assert "### Post-call audit" in beta_section
    assert "| outside_calling_window | 1 |" in beta_section
    assert "No placed call broke the do-not-call rules." in page.split("## acme-au")[1]

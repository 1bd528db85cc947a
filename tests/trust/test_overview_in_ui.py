"""The compliance overview as the Dagster UI reads it: through the webserver's GraphQL schema.

The UI is a page served over HTTP, so what it can show is what its GraphQL API returns for the
asset's latest materialization. The code location is loaded the way the webserver loads it (the
project's module, in a code server process of its own), the overview is materialized into a temporary instance by the
real trust job, and the query the asset page makes is answered by ``dagster-graphql``.
"""

from __future__ import annotations

import base64
import re
from datetime import UTC, datetime, timedelta

import dagster as dg
from dagster._core.workspace.context import WorkspaceProcessContext
from dagster._core.workspace.load_target import ModuleTarget
from dagster_graphql.test.utils import execute_dagster_graphql

from cm_pipelines.definitions import defs
from cm_pipelines.domain.dsar.requests import validate_request
from cm_pipelines.domain.redaction import find_personal_data
from cm_pipelines.dsar.request_changes import submit_request, verify_request
from cm_pipelines.platform import settings
from cm_pipelines.resources import PlatformConfigResource, WarehouseResource

SUBJECT_EMAIL = "ana.subject@example.com"
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"

LATEST_MATERIALIZATION = """
query Overview($assetKey: AssetKeyInput!) {
  assetOrError(assetKey: $assetKey) {
    __typename
    ... on Asset {
      definition { groupName }
      assetMaterializations(limit: 1) {
        runId
        metadataEntries {
          __typename
          label
          ... on IntMetadataEntry { intValue }
          ... on MarkdownMetadataEntry { mdStr }
          ... on PathMetadataEntry { path }
          ... on TextMetadataEntry { text }
          ... on JsonMetadataEntry { jsonString }
        }
      }
    }
  }
}
"""


def _open_request(days_ago: int) -> str:
    """A verified AU access request received ``days_ago`` days ago (30-day clock)."""
    tenants = PlatformConfigResource().tenants_by_id()
    validated = validate_request(
        tenant_id="acme-au",
        request_type="access",
        identifiers=[("email", SUBJECT_EMAIL)],
        tenants=tenants,
        received_at=datetime.now(UTC) - timedelta(days=days_ago),
    )
    with WarehouseResource().begin() as connection:
        request_id = submit_request(
            connection,
            validated,
            tenant=tenants["acme-au"],
            hash_key=settings.identifier_hash_key(),
            submitted_by="test",
        )
        verify_request(connection, request_id, method="id_document", verified_by="tester")
    return request_id


def _latest_entries(instance: dg.DagsterInstance) -> tuple[str | None, list[dict]]:
    """The asset page's query, answered by the webserver's schema over the project's workspace."""
    target = ModuleTarget(
        module_name="cm_pipelines.definitions",
        attribute="defs",
        working_directory=None,
        location_name="cm_pipelines",
    )
    with WorkspaceProcessContext(instance, target) as workspace:
        context = workspace.create_request_context()
        result = execute_dagster_graphql(
            context, LATEST_MATERIALIZATION, {"assetKey": {"path": ["compliance_overview"]}}
        )
    asset = result.data["assetOrError"]
    assert asset["__typename"] == "Asset", asset
    [materialization] = asset["assetMaterializations"]
    return asset["definition"]["groupName"], materialization["metadataEntries"]


def test_the_ui_gets_the_chart_inside_the_page_and_numbers_it_can_plot() -> None:
    WarehouseResource().upgrade()
    _open_request(days_ago=40)  # overdue
    _open_request(days_ago=25)  # due within a week
    with dg.instance_for_test() as instance:
        run = defs.resolve_job_def("trust_daily_job").execute_in_process(instance=instance)
        assert run.success
        group, entries = _latest_entries(instance)

    assert group == "trust"
    by_label = {entry["label"]: entry for entry in entries}
    # numbers the asset's Plots tab draws over time: totals and per tenant, as integers
    for label, value in {
        "open_dsars": 2,
        "overdue_dsars": 1,
        "urgent_dsars": 1,
        "acme-au/open_dsars": 2,
        "acme-au/overdue_dsars": 1,
        "beta-us/open_dsars": 0,
        "acme-au/artefacts_due": 0,
    }.items():
        assert by_label[label]["__typename"] == "IntMetadataEntry", label
        assert by_label[label]["intValue"] == value, label

    # the page carries its chart as a data: URI the browser can render without another request
    page = by_label["overview"]
    assert page["__typename"] == "MarkdownMetadataEntry"
    [encoded] = re.findall(r"!\[[^\]]*\]\(data:image/png;base64,([A-Za-z0-9+/=]+)\)", page["mdStr"])
    png = base64.b64decode(encoded, validate=True)
    assert png.startswith(PNG_SIGNATURE) and len(png) > 10_000

    everything = repr(entries)
    assert "file://" not in everything  # no link the UI cannot load
    assert SUBJECT_EMAIL not in everything
    text = "\n".join(str(e.get("mdStr") or e.get("text") or "") for e in entries)
    assert find_personal_data(text) == []

"""The compliance overview page: a PNG chart and a Markdown report, written to the object store
under one path per page day, and the Markdown shown in Dagster with the chart inside it (a
``data:`` URI: the UI cannot load the store's ``file://`` or ``s3://`` URLs)."""

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date

from cm_pipelines.domain.redaction import redact_text
from cm_pipelines.domain.trust.audit_chain import ChainVerdict
from cm_pipelines.domain.trust.compliance_overview import (
    AuditStatus,
    TenantOverview,
    render_markdown,
)
from cm_pipelines.domain.trust.overview_chart import markdown_image, render_chart_png
from cm_pipelines.platform import landing
from cm_pipelines.resources.object_store import ObjectStoreResource

OVERVIEW_DIR = f"{landing.AUDIT}/compliance_overview"


@dataclass(frozen=True)
class OverviewPage:
    """Where the day's page went, and ``page``: the report with the chart inside it, for the
    asset's metadata."""

    chart_path: str
    report_path: str
    page: str


def audit_status(verdict: ChainVerdict) -> AuditStatus:
    """The audit chain's verdict as the page's audit section shows it."""
    return AuditStatus(
        ok=verdict.ok,
        entries=verdict.entries_checked,
        head_seq=verdict.head_seq,
        head_hash=verdict.head_hash,
        problem=verdict.problem,
        first_bad_seq=verdict.first_bad_seq,
    )


def write_overview_page(
    object_store: ObjectStoreResource,
    overviews: Sequence[TenantOverview],
    page_day: date,
    audit: AuditStatus,
) -> OverviewPage:
    """Render and write the chart, then the report that names it (a re-run replaces both)."""
    chart_path = f"{OVERVIEW_DIR}/{page_day.isoformat()}.png"
    chart = render_chart_png(overviews, page_day)
    object_store.write_bytes(chart_path, chart)
    # Last line of defence: the page is built from ids and counts, but mask anyway (before the
    # image goes in: masking must not touch the encoded bytes).
    markdown = redact_text(render_markdown(overviews, page_day, audit, chart_path=chart_path))
    page = markdown + "\n" + markdown_image(chart, "Retention states and DSAR deadlines") + "\n"
    report_path = f"{OVERVIEW_DIR}/{page_day.isoformat()}.md"
    object_store.write_bytes(report_path, markdown.encode())
    return OverviewPage(chart_path, report_path, page)

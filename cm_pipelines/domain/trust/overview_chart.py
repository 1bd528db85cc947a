"""The compliance overview's chart: retention states and open DSARs' deadlines, per tenant.

matplotlib costs about 0.8 s to import (measured here with numpy and pandas already loaded) and
every step process loads the code location, so it is imported inside the functions that draw,
which only the overview's step calls.
"""

from __future__ import annotations

import base64
import io
from collections.abc import Sequence
from datetime import date
from typing import Any

from cm_pipelines.domain.trust.compliance_overview import (
    DSAR_URGENT_DAYS,
    RETENTION_STATES,
    TenantOverview,
)

_STATE_COLOURS = {"active": "#4c78a8", "due": "#f58518", "held": "#b279a2", "purged": "#9d9d9d"}
_OVERDUE, _URGENT, _ON_TIME = "#e45756", "#f58518", "#54a24b"


def markdown_image(png: bytes, alt: str) -> str:
    """The chart inside Markdown as a ``data:`` URI. The Dagster UI is a page served over HTTP:
    it cannot load a ``file://`` link (nor an ``s3://`` one without credentials), but it renders
    an image whose bytes travel in the page, as Dagster's own docs embed plots in metadata."""
    encoded = base64.b64encode(png).decode("ascii")
    return f"![{alt}](data:image/png;base64,{encoded})"


def render_chart_png(overviews: Sequence[TenantOverview], as_of: date) -> bytes:
    """Two panels: retention states per tenant (stacked), open DSARs by days left per tenant."""
    # Agg canvas on a bare Figure: no pyplot global state, no display, safe in any worker.
    # Imported here: matplotlib's import cost (module docstring).
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    tenants = [o.tenant_id for o in overviews]
    figure = Figure(figsize=(11, 4.8), dpi=110)
    FigureCanvasAgg(figure)
    retention_axes, dsar_axes = figure.subplots(1, 2)
    _draw_retention_states(retention_axes, overviews, tenants)
    _draw_dsar_deadlines(dsar_axes, overviews, tenants, as_of)

    figure.suptitle(f"Compliance overview {as_of.isoformat()}")
    figure.tight_layout()
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png")
    return buffer.getvalue()


def _draw_retention_states(
    retention_axes: Any, overviews: Sequence[TenantOverview], tenants: list[str]
) -> None:
    """Left panel: each tenant's artefacts stacked by retention state."""
    bottoms = [0] * len(tenants)
    any_state = False
    for state in RETENTION_STATES:
        heights = [
            sum(s.get(state, 0) for s in (o.retention_states or {}).values()) for o in overviews
        ]
        any_state = any_state or any(heights)
        retention_axes.bar(
            tenants, heights, bottom=bottoms, label=state, color=_STATE_COLOURS[state], width=0.6
        )
        bottoms = [b + h for b, h in zip(bottoms, heights, strict=True)]
    retention_axes.margins(y=0.2)  # headroom for the legend
    retention_axes.set_title("Retention states (artefacts)")
    retention_axes.set_ylabel("artefacts")
    retention_axes.legend(loc="upper right", fontsize=8)
    if not any_state:
        retention_axes.text(
            0.5, 0.5, "no states yet", ha="center", transform=retention_axes.transAxes
        )


def _draw_dsar_deadlines(
    dsar_axes: Any, overviews: Sequence[TenantOverview], tenants: list[str], as_of: date
) -> None:
    """Right panel: each open DSAR as a dot on its tenant's row, at the days it has left
    (counted in the tenant's own day), coloured overdue, urgent or on time."""
    # Imported here: matplotlib's import cost (module docstring).
    from matplotlib.lines import Line2D

    plotted = False
    for index, overview in enumerate(overviews):
        days = [d.days_left(overview.local_date or as_of) for d in overview.open_dsars or []]
        if days:
            plotted = True
            colours_for = [
                _OVERDUE if d < 0 else _URGENT if d <= DSAR_URGENT_DAYS else _ON_TIME for d in days
            ]
            dsar_axes.scatter(days, [index] * len(days), c=colours_for, s=60, zorder=3)
    dsar_axes.legend(
        handles=[
            Line2D([], [], marker="o", linestyle="", color=colour, label=label)
            for colour, label in (
                (_OVERDUE, "overdue"),
                (_URGENT, f"due within {DSAR_URGENT_DAYS} days"),
                (_ON_TIME, "on time"),
            )
        ],
        loc="upper center",
        bbox_to_anchor=(0.5, -0.16),
        ncol=3,
        fontsize=8,
        frameon=False,
    )
    dsar_axes.margins(x=0.08)  # a request at the edge stays visible
    dsar_axes.axvline(0, color=_OVERDUE, linestyle="--", linewidth=1)
    dsar_axes.axvspan(0, DSAR_URGENT_DAYS, color=_URGENT, alpha=0.12)
    dsar_axes.set_yticks(range(len(tenants)), labels=tenants)
    dsar_axes.set_ylim(-0.5, max(len(tenants) - 0.5, 0.5))
    dsar_axes.set_xlabel("days left to the statutory deadline (negative: overdue)")
    dsar_axes.set_title("Open DSARs by days left")
    dsar_axes.grid(axis="x", alpha=0.3)
    if not plotted:
        dsar_axes.text(0.5, 0.5, "no open requests", ha="center", transform=dsar_axes.transAxes)

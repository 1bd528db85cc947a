"""Washing: one decision and one reason per number, naming the evidence it rests on.

``wash`` takes the numbers of a list (from ``number_preparation``), each registry's evidence
(``evidence``), the tenant's suppression list and consents (``exemptions``), and decides every
row by the precedence of ``wash_decisions``; allowed rows get their calling windows
(``calling_windows``) up to the moment the decision must be made again.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import replace
from datetime import UTC, datetime, timedelta

import numpy as np
import pandas as pd

from cm_pipelines.domain.dncr.calling_windows import CallingWindows, WindowCalculator
from cm_pipelines.domain.dncr.evidence import Evidence
from cm_pipelines.domain.dncr.exemptions import best_exemptions
from cm_pipelines.domain.dncr.registry_views import RegistryView, registry_view
from cm_pipelines.domain.dncr.wash_decisions import decide_row

DEFAULT_REWASH_DAYS = 30
"""Re-check horizon when no registry applies (e.g. a GB tenant without a configured registry)."""
WINDOW_HORIZON_DAYS = 7
DECIDED_COLUMNS: tuple[str, ...] = (
    "decision",
    "reason",
    "registry_id",
    "registry_version",
    "evidence_date",
    "evidence_age_days",
    "valid_until",
    "rule",
    "calling_window",
    "needs_wash_registry",
)


def wash(
    numbers: pd.DataFrame,
    *,
    evidence: Sequence[Evidence],
    suppressed_hashes: Iterable[str],
    consents: pd.DataFrame | None,
    washed_at: datetime,
    tenant_country: str,
    window_days: int = WINDOW_HORIZON_DAYS,
) -> pd.DataFrame:
    """Decide every row of ``numbers`` (from ``prepare_numbers``); rows keep their order.

    Output columns: ``e164``, ``e164_hash``, ``decision``, ``reason``, ``registry_id``,
    ``registry_version``, ``evidence_date``, ``evidence_age_days``, ``valid_until``, ``rule``,
    ``calling_window`` (allowed rows), ``needs_wash_registry`` (the wash-only registry that
    should be asked about the number, when it lacks a fresh result and is otherwise washable).
    """
    if washed_at.tzinfo is None:
        raise ValueError("washed_at must be time-zone aware")
    rows = len(numbers)
    ints = numbers["e164_int"].to_numpy(dtype=np.int64)
    hashes = numbers["e164_hash"].to_numpy(dtype=object)
    invalid = ints < 0
    suppressed_set = set(suppressed_hashes)
    suppressed = ~invalid & np.fromiter((h in suppressed_set for h in hashes), bool, rows)
    views = [registry_view(item, ints, washed_at) for item in evidence]
    rewash_days = min((v.registry.validity_days for v in views), default=DEFAULT_REWASH_DAYS)
    countries = _countries(views, rows, tenant_country)
    exemptions = best_exemptions(
        consents if consents is not None else pd.DataFrame(),
        {str(h): str(c) for h, c, bad in zip(hashes, countries, invalid, strict=True) if not bad},
        washed_at,
    )
    windows = WindowCalculator(washed_at, washed_at + timedelta(days=window_days))
    out: dict[str, list] = {name: [] for name in DECIDED_COLUMNS}
    rewash_at = washed_at + timedelta(days=rewash_days)
    for row in range(rows):
        result = decide_row(
            row,
            invalid=bool(invalid[row]),
            suppressed=bool(suppressed[row]),
            views=views,
            exemption=exemptions.get(str(hashes[row])),
            washed_at=washed_at,
            rewash_at=rewash_at,
        )
        result["valid_until"] = result["valid_until"].astimezone(UTC)
        if result["decision"] == "allowed":
            result["calling_window"] = calling_window_document(
                windows, str(numbers["e164"].iat[row]), str(countries[row]), result["valid_until"]
            )
        else:
            result["calling_window"] = None
        for name in out:
            out[name].append(result.get(name))
    columns = {"e164": numbers["e164"].to_numpy(dtype=object), "e164_hash": hashes, **out}
    # object columns keep None as None (pandas would infer a string dtype and turn it into NaN)
    return pd.DataFrame(
        {name: pd.Series(list(values), dtype=object) for name, values in columns.items()},
    ).set_index(numbers.index)


def _countries(views: Sequence[RegistryView], rows: int, tenant_country: str) -> np.ndarray:
    """Each row's country: that of the first registry applying to it, else the tenant's (it
    decides calling hours and relationship lengths)."""
    countries = np.full(rows, tenant_country, dtype=object)
    for view in reversed(views):
        countries[view.applies] = view.registry.country
    return countries


def calling_window_document(
    windows: WindowCalculator, e164: str, country: str, until: datetime
) -> dict:
    """An allowed number's calling windows: those starting before the decision expires (the
    vectorised wash computes it once per country, zone set and expiry)."""
    return window_document(windows.for_number(e164, country), until)


def window_document(window: CallingWindows, until: datetime) -> dict:
    within = tuple((start, end) for start, end in window.windows if start <= until)
    return replace(window, windows=within).as_document()

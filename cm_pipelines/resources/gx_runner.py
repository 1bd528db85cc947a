"""Run Great Expectations 1.x expectations on a DataFrame and keep only counts.

GX costs seconds to import, so it is imported here, lazily, only when a check runs. Its results
carry sample values (``partial_unexpected_list``): they are dropped so no personal data reaches
Dagster's check metadata.
"""

from __future__ import annotations

import os
import threading
from dataclasses import dataclass
from typing import Any

import pandas as pd

_CONTEXT: Any = None
_LOCK = threading.Lock()


@dataclass(frozen=True)
class ExpectationOutcome:
    expectation: str
    success: bool
    element_count: int
    unexpected_count: int

    def as_metadata(self) -> dict[str, int | bool]:
        return {
            "success": self.success,
            "element_count": self.element_count,
            "unexpected_count": self.unexpected_count,
        }


def _context() -> Any:
    global _CONTEXT
    with _LOCK:
        if _CONTEXT is None:
            os.environ.setdefault("GX_ANALYTICS_ENABLED", "False")
            # Imported here: GX costs 5-7 s to import (module docstring).
            import great_expectations as gx
            from great_expectations.data_context.types.base import ProgressBarsConfig

            context = gx.get_context(mode="ephemeral")
            context.variables.progress_bars = ProgressBarsConfig(globally=False)
            _CONTEXT = context
        return _CONTEXT


def expectations_module() -> Any:
    """``great_expectations.expectations``, imported on first use."""
    _context()
    import great_expectations as gx  # already imported by _context(): this only names it

    return gx.expectations


def validate_dataframe(
    name: str, dataframe: pd.DataFrame, expectations: dict[str, Any]
) -> dict[str, ExpectationOutcome]:
    """Validate ``dataframe`` against named expectations; returns one outcome per name."""
    import great_expectations as gx  # imported here: GX costs 5-7 s to import (module docstring)

    context = _context()
    with _LOCK:
        source_name = f"cm_{name}"
        try:
            source = context.data_sources.get(source_name)
        except (KeyError, ValueError):
            source = context.data_sources.add_pandas(source_name)
        try:
            asset = source.get_asset(name)
        except (LookupError, ValueError):
            asset = source.add_dataframe_asset(name)
        try:
            batch_definition = asset.get_batch_definition("whole")
        except (KeyError, ValueError):
            batch_definition = asset.add_batch_definition_whole_dataframe("whole")
    batch = batch_definition.get_batch(batch_parameters={"dataframe": dataframe})
    outcomes: dict[str, ExpectationOutcome] = {}
    for label, expectation in expectations.items():
        if len(dataframe) == 0:
            outcomes[label] = ExpectationOutcome(expectation.expectation_type, True, 0, 0)
            continue
        result = batch.validate(expectation, result_format="BASIC")
        details = result.result or {}
        outcomes[label] = ExpectationOutcome(
            expectation=str(expectation.expectation_type),
            success=bool(result.success),
            element_count=int(details.get("element_count", len(dataframe)) or 0),
            unexpected_count=int(details.get("unexpected_count", 0) or 0),
        )
    _ = gx  # imported for its side effect of registering expectations
    return outcomes

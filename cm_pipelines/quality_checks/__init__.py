"""Data-quality checks: Great Expectations suites run inside Dagster asset checks.

Partitioned asset checks are a preview feature in Dagster 1.13; the checks here rely on them
deliberately (a check must judge the same call day its asset wrote), so the preview warning is
silenced once, here, rather than printed at every import.
"""

import warnings

warnings.filterwarnings(
    "ignore", message="Specifying a partitions_def on an AssetCheckSpec is currently in preview"
)

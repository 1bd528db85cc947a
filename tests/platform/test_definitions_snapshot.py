"""What operators see in the UI — asset keys and lineage, checks and whether they block, jobs,
schedules (cron and explicit time zone) and sensors — changes only on purpose.

After an intended change, refresh the snapshot with
`CM_UPDATE_SNAPSHOT=1 .venv/bin/pytest tests/platform/test_definitions_snapshot.py`.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

from cm_pipelines.definitions import defs

SNAPSHOT = Path(__file__).parent / "snapshots" / "definitions.json"


def _current() -> dict:
    repo = defs.get_repository_def()
    graph = repo.asset_graph
    return {
        "assets": {
            key.to_user_string(): sorted(p.to_user_string() for p in graph.get(key).parent_keys)
            for key in graph.get_all_asset_keys()
        },
        "checks": {
            f"{key.asset_key.to_user_string()}:{key.name}": bool(graph.get_check_spec(key).blocking)
            for key in graph.asset_check_keys
        },
        "jobs": sorted(j.name for j in repo.get_all_jobs() if not j.name.startswith("__")),
        "schedules": {
            s.name: [s.cron_schedule, s.execution_timezone, s.job_name] for s in repo.schedule_defs
        },
        "sensors": {s.name: sorted(t.job_name for t in s.targets) for s in repo.sensor_defs},
    }


def test_definitions_match_the_snapshot() -> None:
    current = json.loads(json.dumps(_current(), sort_keys=True))
    if os.environ.get("CM_UPDATE_SNAPSHOT") == "1":
        SNAPSHOT.write_text(json.dumps(current, indent=4, sort_keys=True) + "\n")
    assert current == json.loads(SNAPSHOT.read_text())


def test_every_schedule_names_its_time_zone() -> None:
    assert all(timezone for _cron, timezone, _job in _current()["schedules"].values())


def test_destructive_steps_sit_behind_blocking_checks() -> None:
    checks = _current()["checks"]
    assert checks["retention_purge_plan:retention_purge_guard"] is True
    assert all(
        blocking for name, blocking in checks.items() if name.startswith("dncr_registry_snapshot:")
    )

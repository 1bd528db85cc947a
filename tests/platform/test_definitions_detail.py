"""The finer grain of what operators and the run queue see, beyond the graph snapshot: each
asset's group, kinds, tags, partitions and backfill policy and the steps it runs; each check's
description; each job's tags, steps and partitions; each schedule's and sensor's default status
and interval; the resource keys. A re-layout of the code must leave all of it as it was.

After an intended change, refresh the snapshot with
`CM_UPDATE_SNAPSHOT=1 .venv/bin/pytest tests/platform/test_definitions_detail.py`.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import dagster as dg

from cm_pipelines.definitions import defs

SNAPSHOT = Path(__file__).parent / "snapshots" / "definitions_detail.json"


def _partitions(partitions_def: dg.PartitionsDefinition | None) -> str | None:
    return None if partitions_def is None else type(partitions_def).__name__


def _backfill(policy: dg.BackfillPolicy | None) -> str | None:
    if policy is None:
        return None
    return f"{policy.policy_type.value}:{policy.max_partitions_per_run}"


def _assets(repo: Any) -> dict[str, Any]:
    graph = repo.asset_graph
    found: dict[str, Any] = {}
    for key in graph.get_all_asset_keys():
        node = graph.get(key)
        assets_def = node.assets_def
        found[key.to_user_string()] = {
            "group": node.group_name,
            "kinds": sorted(node.kinds),
            "tags": dict(sorted(node.tags.items())),
            "partitions": _partitions(node.partitions_def),
            "backfill": _backfill(node.backfill_policy),
            "has_description": bool(node.description),
            "ops": sorted(assets_def.node_def.name for _ in [0])
            + sorted(
                op.name
                for op in getattr(assets_def.node_def, "node_defs", [])  # graph-backed assets
            ),
            "resources": sorted(assets_def.required_resource_keys),
        }
    return found


def _checks(repo: Any) -> dict[str, Any]:
    graph = repo.asset_graph
    found: dict[str, Any] = {}
    for key in graph.asset_check_keys:
        spec = graph.get_check_spec(key)
        found[f"{key.asset_key.to_user_string()}:{key.name}"] = {
            "blocking": bool(spec.blocking),
            "has_description": bool(spec.description),
            "partitioned": spec.partitions_def is not None,
        }
    return found


def _jobs(repo: Any) -> dict[str, Any]:
    found: dict[str, Any] = {}
    for job in repo.get_all_jobs():
        if job.name.startswith("__"):
            continue
        found[job.name] = {
            "tags": dict(sorted((k, v) for k, v in job.tags.items() if not k.startswith("."))),
            "steps": sorted(node.name for node in job.graph.nodes),
            "partitions": _partitions(job.partitions_def),
            "has_description": bool(job.description),
        }
    return found


def _current() -> dict[str, Any]:
    repo = defs.get_repository_def()
    return {
        "assets": _assets(repo),
        "checks": _checks(repo),
        "jobs": _jobs(repo),
        "schedules": {
            s.name: {
                "default_status": s.default_status.value,
                "has_description": bool(s.description),
            }
            for s in repo.schedule_defs
        },
        "sensors": {
            s.name: {
                "default_status": s.default_status.value,
                "minimum_interval_seconds": s.minimum_interval_seconds,
            }
            for s in repo.sensor_defs
        },
        "resources": sorted(repo.get_top_level_resources()),
    }


def test_definitions_detail_match_the_snapshot() -> None:
    current = json.loads(json.dumps(_current(), sort_keys=True))
    if os.environ.get("CM_UPDATE_SNAPSHOT") == "1":
        SNAPSHOT.write_text(json.dumps(current, indent=4, sort_keys=True) + "\n")
    assert current == json.loads(SNAPSHOT.read_text())

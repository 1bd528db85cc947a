"""Schedules and sensors run by default; ``CM_AUTOMATION=off`` stops all of them for development."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import dagster as dg
import pytest

from cm_pipelines.definitions import defs
from cm_pipelines.platform.automation import automation_enabled, schedule_status, sensor_status
from cm_pipelines.platform.settings import SettingError

_STATUSES = """
import json
from cm_pipelines.definitions import defs
repo = defs.get_repository_def()
print(json.dumps({
    **{s.name: s.default_status.value for s in repo.schedule_defs},
    **{s.name: s.default_status.value for s in repo.sensor_defs},
}))
"""


def _statuses_in_a_fresh_process(automation: str | None) -> dict[str, str]:
    env = {key: value for key, value in os.environ.items() if key != "CM_AUTOMATION"}
    if automation is not None:
        env["CM_AUTOMATION"] = automation
    done = subprocess.run(
        [sys.executable, "-c", _STATUSES], env=env, capture_output=True, text=True, check=True
    )
    return json.loads(done.stdout.strip().splitlines()[-1])


def test_every_schedule_and_sensor_runs_by_default(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("CM_AUTOMATION", raising=False)
    repo = defs.get_repository_def()
    assert repo.schedule_defs and repo.sensor_defs
    stopped = [s.name for s in repo.schedule_defs if s.default_status.value != "RUNNING"]
    stopped += [s.name for s in repo.sensor_defs if s.default_status.value != "RUNNING"]
    assert stopped == []


def test_automation_off_stops_every_schedule_and_sensor() -> None:
    statuses = _statuses_in_a_fresh_process("off")
    assert statuses, "no schedule or sensor was loaded"
    assert set(statuses.values()) == {"STOPPED"}, statuses


@pytest.mark.parametrize("value", ["", "on", "ON", " on "])
def test_on_and_unset_mean_running(monkeypatch: pytest.MonkeyPatch, value: str) -> None:
    monkeypatch.setenv("CM_AUTOMATION", value)
    assert automation_enabled()
    assert schedule_status() == dg.DefaultScheduleStatus.RUNNING
    assert sensor_status() == dg.DefaultSensorStatus.RUNNING


def test_a_misspelt_switch_is_refused_by_name(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CM_AUTOMATION", "false")
    with pytest.raises(SettingError, match="CM_AUTOMATION must be 'on'"):
        schedule_status()

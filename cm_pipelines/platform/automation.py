"""Whether schedules and sensors start running by themselves (``CM_AUTOMATION``).

Every deployed profile runs its schedules and sensors from the moment the daemon sees them:
a deployment that forgets to switch them on would otherwise never purge, never refresh a
registry and never check a DSAR deadline, and nothing would say so. ``CM_AUTOMATION=off`` is
the development switch: everything starts stopped (each can still be started in the UI).
Read when the definitions load, like ``CM_EXECUTOR``.
"""

from __future__ import annotations

import dagster as dg

from cm_pipelines.platform.settings import SettingError

AUTOMATION_ON = "on"
AUTOMATION_OFF = "off"


def automation_enabled() -> bool:
    """``CM_AUTOMATION``: ``on`` (default) or ``off``; anything else is refused by name."""
    value = str(dg.EnvVar("CM_AUTOMATION").get_value(default="") or "").strip().lower()
    if value in ("", AUTOMATION_ON):
        return True
    if value == AUTOMATION_OFF:
        return False
    raise SettingError("CM_AUTOMATION must be 'on' (the default) or 'off'")


def schedule_status() -> dg.DefaultScheduleStatus:
    """The default status every schedule of the code location is declared with."""
    if automation_enabled():
        return dg.DefaultScheduleStatus.RUNNING
    return dg.DefaultScheduleStatus.STOPPED


def sensor_status() -> dg.DefaultSensorStatus:
    """The default status every sensor of the code location is declared with."""
    if automation_enabled():
        return dg.DefaultSensorStatus.RUNNING
    return dg.DefaultSensorStatus.STOPPED

"""Sensors. Each capability adds its sensors to ``ALL_SENSORS``."""

from __future__ import annotations

ALL_SENSORS: list = []

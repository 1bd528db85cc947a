"""What a wash hands on: the allowed list of each campaign for the dialer, and the numbers to
submit to a wash-only registry; where they go and their CSV form."""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import UTC, datetime

import pandas as pd

from cm_pipelines.domain.csv_cells import safe_csv_bytes
from cm_pipelines.platform import landing


def file_stamp(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y%m%dT%H%M%SZ")


def allowed_export_path(tenant_id: str, campaign_id: str, stamp: str) -> str:
    """The allowed list of one washed campaign, for the dialer."""
    return f"{landing.EXPORTS}/dncr/{tenant_id}/{campaign_id}/{stamp}_allowed.csv"


def wash_request_path(registry_id: str, tenant_id: str, stamp: str) -> str:
    """Numbers to submit to a wash-only registry (no fresh result yet)."""
    return f"{landing.EXPORTS}/dncr/wash_requests/{registry_id}/{tenant_id}/{stamp}.csv"


def allowed_export_csv(frame: pd.DataFrame) -> bytes:
    """The dialer's file: number, contact reference, decision reason, valid_until, windows."""
    output = pd.DataFrame(
        {
            "e164": frame["e164"],
            "contact_ref": frame["contact_ref"],
            "reason": frame["reason"],
            "valid_until": [value.isoformat() for value in frame["valid_until"]],
            "timezones": [
                " ".join(window["timezones"]) if window else ""
                for window in frame["calling_window"]
            ],
            "calling_windows_utc": [
                json.dumps([[w["start_utc"], w["end_utc"]] for w in window["windows"]])
                if window
                else "[]"
                for window in frame["calling_window"]
            ],
        }
    )
    return safe_csv_bytes(output)


def wash_request_csv(e164_numbers: Sequence[str]) -> bytes:
    """One number per line, E.164 digits without '+', the form wash-only registries return."""
    lines = ["phone_number"] + [number.lstrip("+") for number in sorted(set(e164_numbers))]
    return ("\n".join(lines) + "\n").encode("ascii")

"""The ``cdr_csv`` layout: 18 positional fields in, normalised call columns out, and the shape
and width every field must have to be stored."""

from __future__ import annotations

from dataclasses import dataclass, field

import pandas as pd

from cm_pipelines.domain.quarantine import QuarantinedRow

CDR_FIELDS: tuple[str, ...] = (
    "accountcode",
    "src",
    "dst",
    "dcontext",
    "clid",
    "channel",
    "dstchannel",
    "lastapp",
    "lastdata",
    "start",
    "answer",
    "end",
    "duration",
    "billsec",
    "disposition",
    "amaflags",
    "uniqueid",
    "userfield",
)

TIMESTAMP_COLUMNS = ("started_at", "answered_at", "ended_at")
INTEGER_COLUMNS = ("duration_s", "billsec_s", "source_line")
OUTPUT_COLUMNS: tuple[str, ...] = (
    "tenant_id",
    "call_id",
    "started_at",
    "answered_at",
    "ended_at",
    "call_date",
    "duration_s",
    "billsec_s",
    "disposition",
    "src_kind",
    "src_e164",
    "src_extension",
    "dst_kind",
    "dst_e164",
    "dst_extension",
    "caller_name",
    "dcontext",
    "channel",
    "dstchannel",
    "lastapp",
    "userfield",
    "campaign_id",
    "crm_ref",
    "direction",
    "source_file",
    "source_line",
)
"""Timestamps are the PBX's naive local wall time; ``call_date`` is the start's date."""

TIMESTAMP_FORMAT = "%Y-%m-%d %H:%M:%S"
TIMESTAMP_SHAPE = (
    r"^[12][0-9]{3}-(0[1-9]|1[0-2])-(0[1-9]|[12][0-9]|3[01]) "
    r"([01][0-9]|2[0-3]):[0-5][0-9]:[0-5][0-9]$"
)
INTEGER_SHAPE = r"^[0-9]{1,18}$"
UNIQUEID_SHAPE = r"^[A-Za-z0-9][A-Za-z0-9._\-]{0,63}$"
CONTROL = r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]"
BLANKS = " \t"

FIELD_LIMITS: dict[str, int] = {
    "clid": 200,
    "dcontext": 80,
    "channel": 120,
    "dstchannel": 120,
    "lastapp": 40,
    "disposition": 32,
    "userfield": 255,
}
"""Widest value a stored field may have: the ``calls`` column widths (PostgreSQL would refuse the
whole day for one longer value). ``USERFIELD_LIMITS`` bounds the values taken out of userfield."""
USERFIELD_LIMITS: dict[str, int] = {"campaign": 64, "crm": 128}


@dataclass
class CdrParseResult:
    """Accepted calls (``OUTPUT_COLUMNS``) and every refused line, ordered by line number."""

    calls: pd.DataFrame
    quarantined: list[QuarantinedRow] = field(default_factory=list)


def finalise_calls(frame: pd.DataFrame) -> pd.DataFrame:
    """One dtype per column whichever reader built the frame: str, int64, datetime64[us]."""
    columns: dict[str, pd.Series] = {}
    for name in OUTPUT_COLUMNS:
        values = frame[name] if name in frame else pd.Series([], dtype=object)
        if name in TIMESTAMP_COLUMNS:
            columns[name] = values.astype("datetime64[us]")
        elif name in INTEGER_COLUMNS:
            columns[name] = values.astype("int64")
        else:
            columns[name] = values.astype("str")
    return pd.DataFrame(columns).reset_index(drop=True)

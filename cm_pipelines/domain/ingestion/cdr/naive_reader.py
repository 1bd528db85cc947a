"""The row-by-row ``cdr_csv`` reader: the benchmark baseline and the fast reader's test oracle.

It follows the same rules and builds the same result as ``reader.read_cdr_csv`` the plain way:
Python's ``csv`` per line, one check after another, ``phonenumbers`` per row with no caching.
Keep it plain: its worth is being obviously right, not fast.
"""

from __future__ import annotations

import csv
import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime

import pandas as pd

from cm_pipelines.domain.ingestion.cdr.fields import (
    classify_direction,
    parse_caller_name,
    userfield_value,
)
from cm_pipelines.domain.ingestion.cdr.layout import (
    BLANKS,
    CDR_FIELDS,
    CONTROL,
    FIELD_LIMITS,
    INTEGER_SHAPE,
    OUTPUT_COLUMNS,
    TIMESTAMP_FORMAT,
    TIMESTAMP_SHAPE,
    UNIQUEID_SHAPE,
    USERFIELD_LIMITS,
    CdrParseResult,
    finalise_calls,
)
from cm_pipelines.domain.ingestion.cdr.lines import physical_lines, raw_text
from cm_pipelines.domain.ingestion.cdr.refusals import (
    DETAIL_ANSWER,
    DETAIL_BAD_UNIQUEID,
    DETAIL_CONTROL,
    DETAIL_DUPLICATE,
    DETAIL_ENCODING,
    DETAIL_INTEGER,
    DETAIL_TENANT,
    DETAIL_TIMESTAMP,
    DETAIL_TOO_LONG,
    DETAIL_UNBALANCED,
    DETAIL_UNIQUEID,
    DETAIL_WRONG_COUNT,
)
from cm_pipelines.domain.phone_numbers import parse_party_uncached
from cm_pipelines.domain.quarantine import QuarantinedRow
from cm_pipelines.domain.tenants import Tenant

_TIMESTAMP_RE = re.compile(TIMESTAMP_SHAPE)
_INTEGER_RE = re.compile(INTEGER_SHAPE)

Refusal = tuple[str, str]
"""(reason, detail) of a refused line."""


@dataclass(frozen=True)
class _CheckedRecord:
    """A line that passed every check but the duplicate one, with its typed values."""

    fields: dict[str, str]
    tenant: Tenant
    started: datetime
    answered: datetime | None
    ended: datetime
    duration: int
    billsec: int


def _timestamp_or_none(value: str) -> datetime | None:
    if not _TIMESTAMP_RE.match(value):
        return None
    try:
        return datetime.strptime(value, TIMESTAMP_FORMAT)
    except ValueError:
        return None


def _integer_or_none(value: str) -> int | None:
    return int(value) if _INTEGER_RE.match(value) else None


def _split_fields(raw: bytes) -> list[str] | Refusal:
    """The line's 18 fields, or why it cannot be split into them."""
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        return ("bad_encoding", DETAIL_ENCODING)
    if text.count('"') % 2:
        return ("unbalanced_quotes", DETAIL_UNBALANCED)
    fields = next(csv.reader([text]))
    if len(fields) != len(CDR_FIELDS):
        return (
            "wrong_field_count",
            DETAIL_WRONG_COUNT.format(expected=len(CDR_FIELDS), found=len(fields)),
        )
    return fields


def _text_refusal(record: dict[str, str], tenants: Mapping[str, Tenant]) -> Refusal | None:
    """The first check on the fields as text that the record fails: tenant, uniqueid, control
    characters, widths."""
    if record["accountcode"] not in tenants:
        return ("unknown_tenant", DETAIL_TENANT)
    if not record["uniqueid"].strip(BLANKS):
        return ("missing_uniqueid", DETAIL_UNIQUEID)
    if not re.fullmatch(UNIQUEID_SHAPE[1:-1], record["uniqueid"]):
        return ("bad_uniqueid", DETAIL_BAD_UNIQUEID)
    if any(re.search(CONTROL, value) for value in record.values()):
        return ("control_characters", DETAIL_CONTROL)
    if any(len(record[name]) > limit for name, limit in FIELD_LIMITS.items()) or any(
        len(userfield_value(record["userfield"], key) or "") > limit
        for key, limit in USERFIELD_LIMITS.items()
    ):
        return ("field_too_long", DETAIL_TOO_LONG)
    return None


def _typed_record(record: dict[str, str], tenant: Tenant) -> _CheckedRecord | Refusal:
    """The record with its timestamps and durations read, or the first that cannot be."""
    started = _timestamp_or_none(record["start"])
    if started is None:
        return ("bad_timestamp", DETAIL_TIMESTAMP.format(field="start"))
    answered = _timestamp_or_none(record["answer"]) if record["answer"] else None
    if record["answer"] and answered is None:
        return ("bad_timestamp", DETAIL_ANSWER)
    ended = _timestamp_or_none(record["end"])
    if ended is None:
        return ("bad_timestamp", DETAIL_TIMESTAMP.format(field="end"))
    duration = _integer_or_none(record["duration"])
    if duration is None:
        return ("bad_integer", DETAIL_INTEGER.format(field="duration"))
    billsec = _integer_or_none(record["billsec"])
    if billsec is None:
        return ("bad_integer", DETAIL_INTEGER.format(field="billsec"))
    return _CheckedRecord(record, tenant, started, answered, ended, duration, billsec)


def _checked_record(raw: bytes, tenants: Mapping[str, Tenant]) -> _CheckedRecord | Refusal:
    """One line through every check but the duplicate one, in the readers' order."""
    fields = _split_fields(raw)
    if isinstance(fields, tuple):
        return fields
    record = dict(zip(CDR_FIELDS, fields, strict=True))
    refusal = _text_refusal(record, tenants)
    if refusal is not None:
        return refusal
    return _typed_record(record, tenants[record["accountcode"]])


def _call_row(checked: _CheckedRecord, source_file: str, number: int) -> dict[str, object]:
    """The call row of a kept line, numbers parsed with its tenant's country."""
    record = checked.fields
    src = parse_party_uncached(record["src"], checked.tenant.country)
    dst = parse_party_uncached(record["dst"], checked.tenant.country)
    return {
        "tenant_id": record["accountcode"],
        "call_id": record["uniqueid"],
        "started_at": checked.started,
        "answered_at": checked.answered,
        "ended_at": checked.ended,
        "call_date": record["start"][:10],
        "duration_s": checked.duration,
        "billsec_s": checked.billsec,
        "disposition": record["disposition"],
        "src_kind": src.kind,
        "src_e164": src.e164,
        "src_extension": src.extension,
        "dst_kind": dst.kind,
        "dst_e164": dst.e164,
        "dst_extension": dst.extension,
        "caller_name": parse_caller_name(record["clid"]),
        "dcontext": record["dcontext"],
        "channel": record["channel"],
        "dstchannel": record["dstchannel"],
        "lastapp": record["lastapp"],
        "userfield": record["userfield"],
        "campaign_id": userfield_value(record["userfield"], "campaign"),
        "crm_ref": userfield_value(record["userfield"], "crm"),
        "direction": classify_direction(src.kind, dst.kind, record["dcontext"]),
        "source_file": source_file,
        "source_line": number,
    }


def read_cdr_csv_naive(
    data: bytes, source_file: str, tenants: Mapping[str, Tenant]
) -> CdrParseResult:
    """Row-by-row reference: ``csv`` per line, ``phonenumbers`` per row, no caching.

    Same rules and output as ``read_cdr_csv``; kept as the benchmark baseline and test oracle.
    """
    rows: list[dict[str, object]] = []
    quarantined: list[QuarantinedRow] = []
    first_seen: dict[tuple[str, str], int] = {}
    for number, raw in enumerate(physical_lines(data), start=1):
        if not raw:
            continue
        checked = _checked_record(raw, tenants)
        if isinstance(checked, tuple):
            reason, detail = checked
        else:
            key = (checked.fields["accountcode"], checked.fields["uniqueid"])
            if key not in first_seen:
                first_seen[key] = number
                rows.append(_call_row(checked, source_file, number))
                continue
            reason, detail = "duplicate_uniqueid", DETAIL_DUPLICATE.format(line=first_seen[key])
        quarantined.append(QuarantinedRow(source_file, number, reason, detail, raw_text(raw)))
    return CdrParseResult(
        calls=finalise_calls(pd.DataFrame(rows, columns=list(OUTPUT_COLUMNS))),
        quarantined=quarantined,
    )

"""CRM link rows (a call tied to a CRM record and its contact), validated line by line.

Contact phones are normalised as one column before the rows are checked (the numbering-plan
table of ``normalise_values``; ``phonenumbers`` only for what it cannot decide): parsing each
row's phone on its own cost more than the rest of the file."""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from cm_pipelines.domain.phone_numbers import normalise_values
from cm_pipelines.domain.quarantine import QuarantinedRow

if TYPE_CHECKING:
    from _csv import Reader  # typeshed's name for what csv.reader returns

CRM_LINK_COLUMNS: tuple[str, ...] = (
    "call_id",
    "crm_system",
    "crm_record_id",
    "contact_phone",
    "contact_email",
)
_REQUIRED = ("call_id", "crm_system", "crm_record_id")
_LIMITS = {"call_id": 64, "crm_system": 64, "crm_record_id": 128, "contact_email": 254}
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")
_EMAIL = re.compile(
    r"[A-Za-z0-9._%+\-]+@[A-Za-z0-9](?:[A-Za-z0-9\-]*[A-Za-z0-9])?"
    r"(?:\.[A-Za-z0-9](?:[A-Za-z0-9\-]*[A-Za-z0-9])?)+"
)


class CrmLinksFormatError(ValueError):
    """The whole file is unreadable (encoding, header): there are no rows to quarantine."""

    def __init__(self, reason_code: str, detail: str):
        self.reason_code = reason_code
        self.detail = detail
        super().__init__(f"{reason_code}: {detail}")


@dataclass(frozen=True)
class CrmLink:
    call_id: str
    crm_system: str
    crm_record_id: str
    contact_e164: str | None
    contact_email: str | None
    source_line: int


@dataclass
class CrmParseResult:
    links: list[CrmLink] = field(default_factory=list)
    quarantined: list[QuarantinedRow] = field(default_factory=list)


def _header_positions(header: list[str]) -> dict[str, int]:
    names = [name.strip() for name in header]
    if sorted(names) != sorted(CRM_LINK_COLUMNS):
        raise CrmLinksFormatError(
            "bad_header", f"line 1 must name exactly: {','.join(CRM_LINK_COLUMNS)}"
        )
    return {name: names.index(name) for name in CRM_LINK_COLUMNS}


def parse_crm_links(data: bytes, source_file: str, country: str) -> CrmParseResult:
    """Parse CRM link CSV; contact phones are read as dialled in the tenant's ``country``.

    Reasons: ``wrong_field_count``, ``missing_field`` (call_id, crm_system, crm_record_id),
    ``invalid_phone`` (present but not a valid number), ``invalid_email``. Line numbers are
    the physical line a record starts on (quoted fields may span lines).
    """
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise CrmLinksFormatError("bad_encoding", "file is not UTF-8") from None
    lines = io.StringIO(text, newline="").readlines()
    reader = csv.reader(lines)
    try:
        header = next(reader)
    except StopIteration:
        raise CrmLinksFormatError("bad_header", "file is empty") from None
    except csv.Error:
        raise CrmLinksFormatError("bad_header", "line 1 is not valid CSV") from None
    positions = _header_positions(header)
    records = list(_records(reader, lines))
    phones = _contact_phones(records, positions, country)
    result = CrmParseResult()
    for first_line, fields, raw in records:
        checked = _link_or_refusal(fields, positions, country, first_line, phones)
        if isinstance(checked, CrmLink):
            result.links.append(checked)
        else:
            reason, detail = checked
            result.quarantined.append(QuarantinedRow(source_file, first_line, reason, detail, raw))
    return result


def _records(reader: Reader, lines: list[str]) -> Iterator[tuple[int, list[str] | None, str]]:
    """Every non-blank record after the header: the physical line it starts on, its fields
    (None when it is not valid CSV) and its raw text (all the lines it spans)."""
    while True:
        first_line = reader.line_num + 1
        try:
            fields: list[str] | None = next(reader)
        except StopIteration:
            return
        except csv.Error:
            fields = None
        raw = "".join(lines[first_line - 1 : reader.line_num]).rstrip("\r\n")
        if fields == []:
            continue
        yield first_line, fields, raw


def _contact_phones(
    records: list[tuple[int, list[str] | None, str]], positions: dict[str, int], country: str
) -> dict[str, str | None]:
    """Every distinct stripped contact phone of the file -> its E.164, None when invalid."""
    index = positions["contact_phone"]
    raws = list(
        dict.fromkeys(
            fields[index].strip()
            for _, fields, _ in records
            if fields is not None and len(fields) == len(CRM_LINK_COLUMNS)
        )
    )
    kinds, e164s, _ = normalise_values(raws, country)
    return {
        raw: (e164 if kind == "e164" else None)
        for raw, kind, e164 in zip(raws, kinds.tolist(), e164s.tolist(), strict=True)
    }


def _link_or_refusal(
    fields: list[str] | None,
    positions: dict[str, int],
    country: str,
    first_line: int,
    phones: dict[str, str | None],
) -> CrmLink | tuple[str, str]:
    """The record's link, or (reason, detail) of the first check it fails."""
    if fields is None:
        return ("malformed_csv", "line is not valid CSV")
    if len(fields) != len(CRM_LINK_COLUMNS):
        return (
            "wrong_field_count",
            f"expected {len(CRM_LINK_COLUMNS)} fields, found {len(fields)}",
        )
    values = {name: fields[index].strip() for name, index in positions.items()}
    missing = [name for name in _REQUIRED if not values[name]]
    if missing:
        return ("missing_field", f"{', '.join(missing)} is empty")
    if any(_CONTROL.search(value) for value in values.values()):
        return ("control_characters", "a field contains control characters")
    too_long = [name for name, limit in _LIMITS.items() if len(values[name]) > limit]
    if too_long:
        return ("field_too_long", f"{', '.join(too_long)} longer than its warehouse column")
    contact_e164 = None
    if values["contact_phone"]:
        contact_e164 = phones[values["contact_phone"]]
        if contact_e164 is None:
            return ("invalid_phone", f"contact_phone is not a valid number for {country}")
    contact_email = None
    if values["contact_email"]:
        if not _EMAIL.fullmatch(values["contact_email"]):
            return ("invalid_email", "contact_email is not an email address")
        contact_email = values["contact_email"].lower()
    return CrmLink(
        call_id=values["call_id"],
        crm_system=values["crm_system"],
        crm_record_id=values["crm_record_id"],
        contact_e164=contact_e164,
        contact_email=contact_email,
        source_line=first_line,
    )

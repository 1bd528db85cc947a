"""A stored request as the pipeline reads it: one record, the open ones, the verified ones.

Every change to a request goes through ``request_changes``; this module only reads, and holds
the errors every request operation raises (their messages carry ids only).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any

import sqlalchemy as sa

from cm_pipelines.domain.dsar import clock as dsar_clock
from cm_pipelines.domain.dsar.requests import (
    OPEN_STATES,
    Identifier,
    Rectification,
    is_request_id,
)
from cm_pipelines.tables.dsar import dsar_requests


class DsarError(RuntimeError):
    """A request operation was refused; the message says what to do (ids only)."""


class RequestNotFound(DsarError):
    pass


class RequestNotVerified(DsarError):
    pass


@dataclass(frozen=True)
class RequestRecord:
    request_id: str
    tenant_id: str
    request_type: str
    jurisdiction: str
    identifiers: tuple[Identifier, ...]
    identifier_hashes: tuple[dict[str, str], ...]
    rectification: Rectification
    received_at: datetime
    received_on: date
    due_date: date
    extended_due_date: date | None
    ack_due_date: date | None
    state: str
    verification_method: str | None
    verified_by: str | None
    verified_at: datetime | None
    result_path: str | None
    completed_at: datetime | None
    identifiers_erased: bool

    @property
    def effective_due_date(self) -> date:
        return dsar_clock.effective_due_date(self.due_date, self.extended_due_date)

    @property
    def is_open(self) -> bool:
        return self.state in OPEN_STATES


def as_utc(value: datetime | None) -> datetime | None:
    """A stored time as aware UTC (SQLite hands back naive datetimes)."""
    if value is None:
        return None
    return value if value.tzinfo else value.replace(tzinfo=UTC)


def _record(row: Mapping[str, Any] | sa.RowMapping) -> RequestRecord:
    erased = row["identifiers_erased_at"] is not None
    identifiers = () if erased else tuple(Identifier.from_dict(i) for i in row["identifiers"])
    rectification = Rectification(**(row["rectification"] or {}))
    return RequestRecord(
        request_id=row["request_id"],
        tenant_id=row["tenant_id"],
        request_type=row["request_type"],
        jurisdiction=row["jurisdiction"],
        identifiers=identifiers,
        identifier_hashes=tuple(dict(h) for h in row["identifier_hashes"]),
        rectification=rectification,
        received_at=as_utc(row["received_at"]),  # type: ignore[arg-type]
        received_on=row["received_on"],
        due_date=row["due_date"],
        extended_due_date=row["extended_due_date"],
        ack_due_date=row["ack_due_date"],
        state=row["state"],
        verification_method=row["verification_method"],
        verified_by=row["verified_by"],
        verified_at=as_utc(row["verified_at"]),
        result_path=row["result_path"],
        completed_at=as_utc(row["completed_at"]),
        identifiers_erased=erased,
    )


def load_request(connection: sa.Connection, request_id: str) -> RequestRecord:
    if not is_request_id(request_id):
        raise RequestNotFound("a request id looks like dsar- followed by 20 hex digits")
    row = (
        connection.execute(sa.select(dsar_requests).where(dsar_requests.c.request_id == request_id))
        .mappings()
        .first()
    )
    if row is None:
        raise RequestNotFound(f"no request {request_id}: check the id (cm dsar list)")
    return _record(row)


def verified_requests(connection: sa.Connection, limit: int = 100) -> list[tuple[str, str, str]]:
    """(request id, tenant id, type) of verified requests waiting for a run, oldest first."""
    rows = connection.execute(
        sa.select(
            dsar_requests.c.request_id, dsar_requests.c.tenant_id, dsar_requests.c.request_type
        )
        .where(dsar_requests.c.state == "verified")
        .order_by(dsar_requests.c.received_at)
        .limit(limit)
    )
    return [(row[0], row[1], row[2]) for row in rows]

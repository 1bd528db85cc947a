"""The tenant's internal do-not-call list: requests from every intake source into
``suppression_entries``, each with its receipt time, honour-by deadline and expiry.

An entry is stored as the number's keyed hash only (as blocked-call evidence is): washing matches
on the hash, and the list outlives the subject's other data. An entry is in effect the moment its
row commits (``created_at``): every wash loads the list when it starts. A request already held
from the same source is kept as it is (the earliest receipt counts), so re-running an intake
changes nothing; a removed entry asked for again is reinstated.
"""

from __future__ import annotations

import posixpath
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime

import sqlalchemy as sa

from cm_pipelines.domain.dncr.fast_numbers import prepare_numbers_fast
from cm_pipelines.domain.dncr.internal_list import (
    FILE_SOURCES,
    OptOutFileError,
    business_day_deadline,
    entry_expiry,
    parse_opt_out_file,
)
from cm_pipelines.domain.tenants import Tenant
from cm_pipelines.platform import landing
from cm_pipelines.resources.object_store import ObjectStoreResource
from cm_pipelines.resources.quarantine import QuarantineEntry, replace_quarantine
from cm_pipelines.tables import dncr as tables

QUARANTINE_ASSET = "dncr_internal_list"
OPT_OUT_FOLDER = f"{landing.LANDING}/optouts"


@dataclass(frozen=True)
class Request:
    """One do-not-call request: the number's keyed hash, never the number."""

    e164_hash: str
    source: str
    received_at: datetime
    requested_by: str
    source_ref: str


@dataclass
class IntakeCounts:
    added: int = 0
    reinstated: int = 0
    kept: int = 0
    quarantined: int = 0
    by_source: dict[str, int] = field(default_factory=dict)


def record_requests(
    connection: sa.Connection, tenant: Tenant, requests: Sequence[Request], now: datetime
) -> IntakeCounts:
    """Each request into the list (inside the caller's transaction)."""
    table = tables.suppression_entries
    counts = IntakeCounts()
    for request in requests:
        row = connection.execute(
            sa.select(table.c.id, table.c.removed_at).where(
                table.c.tenant_id == tenant.id,
                table.c.e164_hash == request.e164_hash,
                table.c.source == request.source,
            )
        ).first()
        if row is not None and row.removed_at is None:
            counts.kept += 1
            continue
        values = {
            "received_at": request.received_at,
            "honour_by": business_day_deadline(
                request.received_at, tenant.timezone, tenant.country
            ),
            "expires_at": entry_expiry(request.received_at),
            "requested_by": request.requested_by[:128],
            "source_ref": request.source_ref[:512],
            "created_at": now,
        }
        if row is None:
            connection.execute(
                sa.insert(table).values(
                    tenant_id=tenant.id,
                    e164=None,
                    e164_hash=request.e164_hash,
                    source=request.source,
                    **values,
                )
            )
            counts.added += 1
        else:
            connection.execute(
                sa.update(table).where(table.c.id == row.id).values(removed_at=None, **values)
            )
            counts.reinstated += 1
        counts.by_source[request.source] = counts.by_source.get(request.source, 0) + 1
    return counts


def hash_numbers(numbers: Sequence[str], tenant: Tenant, key: bytes) -> tuple[list[str], list[int]]:
    """Keyed hashes of the valid numbers, and the 1-based positions of the invalid ones."""
    prepared = prepare_numbers_fast(list(numbers), tenant.country, key)
    valid = prepared["e164_int"].to_numpy() >= 0
    hashes = [str(h) for h, ok in zip(prepared["e164_hash"], valid, strict=True) if ok]
    invalid = [position + 1 for position, ok in enumerate(valid) if not ok]
    return hashes, invalid


def ingest_opt_out_files(
    connection: sa.Connection,
    object_store: ObjectStoreResource,
    tenant: Tenant,
    key: bytes,
    now: datetime,
    run_id: str,
) -> IntakeCounts:
    """Every landed opt-out file of the tenant (``landing/optouts/<tenant>/<source>/*.csv``:
    ``call_disposition``, ``ivr_opt_out``, ``sms_stop``, ``client_list``); bad lines and
    unreadable files are quarantined with a reason, the rest recorded."""
    requests: list[Request] = []
    entries: list[QuarantineEntry] = []
    root = f"{OPT_OUT_FOLDER}/{tenant.id}"
    for path in [item.path for item in object_store.list_files(root)]:
        source = posixpath.basename(posixpath.dirname(path))
        if source not in FILE_SOURCES:
            entries.append(
                QuarantineEntry(
                    path, None, "unknown_source", "folder names no source", None, tenant.id
                )
            )
            continue
        try:
            good, bad = parse_opt_out_file(object_store.read_bytes(path), source)
        except OptOutFileError as exc:
            entries.append(
                QuarantineEntry(path, None, "unreadable_file", str(exc), None, tenant.id)
            )
            continue
        hashes, invalid = hash_numbers([line.phone for line in good], tenant, key)
        invalid_set = set(invalid)
        valid_lines = [line for i, line in enumerate(good, start=1) if i not in invalid_set]
        for line, number_hash in zip(valid_lines, hashes, strict=True):
            requests.append(
                Request(number_hash, line.source, line.received_at, source, f"{path}:{line.line}")
            )
        for position in invalid:
            line = good[position - 1]
            entries.append(
                QuarantineEntry(
                    path, line.line, "invalid_number", "not a valid number", None, tenant.id
                )
            )
        entries += [
            QuarantineEntry(path, b.line, b.reason, b.reason.replace("_", " "), b.raw, tenant.id)
            for b in bad
        ]
    counts = record_requests(connection, tenant, requests, now)
    replace_quarantine(connection, QUARANTINE_ASSET, tenant.id, entries, run_id)
    counts.quarantined = len(entries)
    return counts


def late_entries(connection: sa.Connection, tenant_id: str | None = None) -> list[dict]:
    """Entries that were not in effect by their honour-by deadline: ids, sources and dates
    only (no number, not even its hash)."""
    table = tables.suppression_entries
    query = sa.select(
        table.c.id, table.c.tenant_id, table.c.source, table.c.created_at, table.c.honour_by
    ).where(table.c.honour_by.is_not(None), table.c.created_at > table.c.honour_by)
    if tenant_id is not None:
        query = query.where(table.c.tenant_id == tenant_id)
    return [dict(row) for row in connection.execute(query.order_by(table.c.id)).mappings()]

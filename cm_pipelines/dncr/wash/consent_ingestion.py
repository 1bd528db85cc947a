"""Consent ingestion: a tenant's landed ``consents.csv`` (phone, kind, recorded_at, source,
optional expires_at / revoked_at) into ``consents``, each number normalised and keyed-hashed.

Records already held are left as they are, so a re-ingested file never undoes a DSAR
restriction or erasure; a new record of a number in the tenant's erasure ledger is kept as the
erasure keeps consent evidence (keyed hash, no number); bad rows are quarantined with a reason,
never dropped silently.
"""

from __future__ import annotations

import io
from datetime import UTC, datetime
from typing import Any

import pandas as pd
import sqlalchemy as sa

from cm_pipelines.dncr.refresh.registry_versions import as_utc
from cm_pipelines.domain.dncr.exemptions import CONSENT_KINDS
from cm_pipelines.domain.dncr.number_preparation import prepare_numbers
from cm_pipelines.domain.tenants import Tenant
from cm_pipelines.dsar.erasure_ledger import load_erased_subjects
from cm_pipelines.platform import landing
from cm_pipelines.resources.bulk_load import bulk_insert
from cm_pipelines.resources.object_store import ObjectStoreResource
from cm_pipelines.resources.quarantine import QuarantineEntry, replace_quarantine
from cm_pipelines.resources.warehouse import WarehouseResource
from cm_pipelines.tables import dncr as tables

QUARANTINE_ASSET = "dncr_consents"


def ingest_tenant_consents(
    warehouse: WarehouseResource,
    object_store: ObjectStoreResource,
    tenant: Tenant,
    key: bytes,
    run_id: str,
) -> tuple[int, int, int] | None:
    """(rows inserted, entries quarantined, records of erased subjects kept minimised) of the
    tenant's consents file; None without one."""
    path = landing.consents_file(tenant.id)
    if not object_store.exists(path):
        return None
    entries: list[QuarantineEntry] = []
    frame = _read_consents(object_store, path, tenant, entries)
    numbers = prepare_numbers(
        frame["phone"].tolist() if "phone" in frame else [], tenant.country, key
    )
    with warehouse.begin() as connection:
        held = _held_keys(connection, tenant.id)
        erased = load_erased_subjects(connection, tenant.id, key).phone_hashes
        rows = _new_rows(frame, numbers, held, path, tenant, entries)
        minimised = 0
        for row in rows:
            if row["e164_hash"] in erased:
                row["e164"] = None
                minimised += 1
        inserted = bulk_insert(connection, tables.consents, pd.DataFrame(rows)) if rows else 0
        replace_quarantine(connection, QUARANTINE_ASSET, tenant.id, entries, run_id)
    return inserted, len(entries), minimised


def _read_consents(
    object_store: ObjectStoreResource, path: str, tenant: Tenant, entries: list[QuarantineEntry]
) -> pd.DataFrame:
    """The file's rows as strings with lower-case column names; no rows (quarantined) when it
    is not a readable CSV or lacks a required column."""
    try:
        frame = pd.read_csv(
            io.BytesIO(object_store.read_bytes(path)),
            dtype=str,
            engine="pyarrow",
            keep_default_na=False,
        )
    except ValueError:
        entries.append(
            QuarantineEntry(path, None, "unreadable_csv", "not a readable CSV", None, tenant.id)
        )
        frame = pd.DataFrame(columns=["phone", "kind", "recorded_at", "source"])
    frame.columns = [str(column).strip().lower() for column in frame.columns]
    missing = {"phone", "kind", "recorded_at"} - set(frame.columns)
    if missing:
        entries.append(
            QuarantineEntry(
                path, None, "missing_column", f"header lacks {sorted(missing)}", None, tenant.id
            )
        )
        frame = frame.iloc[0:0]
    return frame


def _held_keys(connection: sa.Connection, tenant_id: str) -> set[tuple[str, str, str]]:
    consents = tables.consents
    return {
        _consent_key(str(row.e164_hash), str(row.kind), row.recorded_at)
        for row in connection.execute(
            sa.select(consents.c.e164_hash, consents.c.kind, consents.c.recorded_at).where(
                consents.c.tenant_id == tenant_id
            )
        )
    }


def _new_rows(
    frame: pd.DataFrame,
    numbers: pd.DataFrame,
    held: set[tuple[str, str, str]],
    path: str,
    tenant: Tenant,
    entries: list[QuarantineEntry],
) -> list[dict[str, Any]]:
    """``consents`` rows of the records not held yet; a bad record is quarantined instead."""
    rows = []
    for index, record in enumerate(frame.to_dict(orient="records")):
        line = index + 2
        raw = ",".join(str(value) for value in record.values())
        number = numbers.iloc[index]
        kind = str(record.get("kind", "")).strip().lower()
        try:
            recorded_at = _parse_instant(record.get("recorded_at"))
            expires_at = _parse_instant(record.get("expires_at"))
            revoked_at = _parse_instant(record.get("revoked_at"))
        except ValueError:
            entries.append(
                QuarantineEntry(
                    path,
                    line,
                    "bad_timestamp",
                    f"line {line}: a date-time field is not ISO 8601",
                    raw,
                    tenant.id,
                )
            )
            continue
        problem = _problem(number["e164"], kind, recorded_at)
        if problem is not None:
            entries.append(
                QuarantineEntry(
                    path, line, problem[0], f"line {line}: {problem[1]}", raw, tenant.id
                )
            )
            continue
        consent_key = _consent_key(str(number["e164_hash"]), kind, recorded_at)
        if consent_key in held:
            continue
        held.add(consent_key)
        rows.append(
            {
                "tenant_id": tenant.id,
                "e164": number["e164"],
                "e164_hash": number["e164_hash"],
                "kind": kind,
                "recorded_at": recorded_at,
                "expires_at": expires_at,
                "source": str(record.get("source", "") or "")[:120] or None,
                "source_file": path,
                "source_line": line,
                "revoked_at": revoked_at,
                "restricted_at": None,
            }
        )
    return rows


def _problem(e164: Any, kind: str, recorded_at: datetime | None) -> tuple[str, str] | None:
    """(reason code, detail) of a record that cannot count as consent, else None."""
    if e164 is None:
        return ("invalid_number", "phone is not a valid number")
    if kind not in CONSENT_KINDS:
        return ("unknown_kind", f"kind must be one of {', '.join(CONSENT_KINDS)}")
    if recorded_at is None:
        return ("missing_recorded_at", "recorded_at is empty")
    return None


def _parse_instant(value: Any) -> datetime | None:
    text = str(value or "").strip()
    if not text:
        return None
    try:
        moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise ValueError("not an ISO 8601 date-time") from None
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


def _consent_key(number_hash: str, kind: str, recorded_at: datetime | None) -> tuple[str, str, str]:
    stamp = as_utc(recorded_at)
    return number_hash, kind, stamp.isoformat() if stamp else ""

"""What retention decides about, read from the warehouse: every artefact of every record type,
the call parties and CRM contacts that holds match on, the holds and the policy versions.

Besides the rows themselves: the quarantined lines of the call-day assets and of the tenants'
consent and campaign lists (their raw record is as personal as the row would have been) and the
landing files the rows were read from (a CDR
day file, a CRM links file), each with the rows that came from it (``sources``), so a file
goes once its rows have (``domain.retention.source_file_states``).

Shared by the ``retention_states`` asset, the purge plan and its guard, ``cm retention plan``
and the benchmark, so they all decide the same way. Frames carry personal columns (party
numbers, CRM contacts) only as long as hold matching needs them; nothing read here is logged.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from typing import Any

import pandas as pd
import sqlalchemy as sa

from cm_pipelines.domain.keyed_hash import keyed_hash
from cm_pipelines.domain.retention.holds import calls_under_hold, number_records_under_hold
from cm_pipelines.domain.retention.rules import (
    ARTEFACT_COLUMNS,
    SOURCE_COLUMNS,
    SOURCE_FILE_TYPES,
    PolicyBook,
    PolicyVersion,
    compute_states,
    source_file_states,
    versions_to_record,
)
from cm_pipelines.domain.tenants import Tenant
from cm_pipelines.platform import landing
from cm_pipelines.platform.audit_log import append_audit
from cm_pipelines.platform.partitions import CALL_DAY_ASSETS
from cm_pipelines.resources.locks import lock_partition
from cm_pipelines.tables import calls as call_tables
from cm_pipelines.tables import dncr as dncr_tables
from cm_pipelines.tables import dsar as dsar_tables
from cm_pipelines.tables.retention import (
    legal_holds,
    retention_policy_versions,
    retention_tombstones,
)

SYSTEM_ACTOR = "system:retention"

TENANT_LIST_ASSETS: tuple[str, ...] = ("dncr_consents", "dncr_wash")
"""Assets whose quarantine is per tenant (consent and campaign lines): a line is dated by when
it was quarantined and follows ``call_logs`` like the call-day lines."""

FILE_OF_ASSET: dict[str, str] = {"call_records": "cdr_files", "crm_links": "crm_link_files"}
"""Asset -> the landing file type its quarantined lines were read from."""

FILE_OF_DSAR_STORE: dict[str, str] = {
    "cdr_source_lines": "cdr_files",
    "crm_source_lines": "crm_link_files",
}
"""DSAR store of blanked landing lines -> the landing file type (``domain.dsar_planning``)."""
DSAR_BLANK_LINE = "blank_line"

LANDING_FILE: dict[str, Callable[[str, str], str]] = {
    "cdr_files": landing.cdr_file,
    "crm_link_files": landing.crm_links_file,
}
"""Landing file type -> where a tenant's file of a day lives."""


def _empty(columns: Sequence[str]) -> pd.DataFrame:
    return pd.DataFrame({name: pd.Series(dtype=object) for name in columns})


@dataclass
class Inventory:
    """Every artefact (``ARTEFACT_COLUMNS``) plus what holds are matched against, and the
    landing files with the rows read from them."""

    artefacts: pd.DataFrame
    calls: pd.DataFrame  # tenant_id, call_id, call_date, src_e164, dst_e164
    contacts: pd.DataFrame  # tenant_id, call_id, contact_e164, contact_email
    number_records: pd.DataFrame  # tenant_id, record_type, artefact_id, e164, e164_hash, event_date
    holds: list[dict[str, Any]]
    files: pd.DataFrame = field(
        default_factory=lambda: _empty(["tenant_id", "record_type", "artefact_id", "purged"])
    )
    sources: pd.DataFrame = field(default_factory=lambda: _empty(SOURCE_COLUMNS))


def rows_frame(rows: Sequence[Any], columns: Sequence[str]) -> pd.DataFrame:
    if not rows:
        return pd.DataFrame({name: pd.Series(dtype=object) for name in columns})
    return pd.DataFrame.from_records([tuple(row) for row in rows], columns=list(columns))


def fetch_frame(
    connection: sa.Connection, query: sa.Select, columns: Sequence[str]
) -> pd.DataFrame:
    """A frame straight from the DBAPI cursor: building SQLAlchemy rows first, then a frame,
    costs ~1.5x on a million rows. Values are the driver's own (SQLite dates stay ISO text;
    callers parse dates with ``pandas.to_datetime``)."""
    result = connection.execute(query)
    cursor = result.cursor
    rows = cursor.fetchall() if cursor is not None else result.all()
    if not rows:
        return pd.DataFrame({name: pd.Series(dtype=object) for name in columns})
    return pd.DataFrame.from_records(rows, columns=list(columns))


def _frame(connection: sa.Connection, query: sa.Select, columns: Sequence[str]) -> pd.DataFrame:
    return fetch_frame(connection, query, columns)


def _scoped(query: sa.Select, table: sa.Table, tenant_ids: Collection[str] | None) -> sa.Select:
    if tenant_ids is None:
        return query
    return query.where(table.c.tenant_id.in_(sorted(tenant_ids)))


def _as_date(values: pd.Series) -> pd.Series:
    """Dates from DATE, DATETIME or ISO text columns (SQLite returns text for some)."""
    return pd.to_datetime(values, errors="coerce", utc=True).dt.tz_localize(None).dt.normalize()


def _artefact_frame(
    tenant_id: pd.Series,
    record_type: str,
    artefact_id: pd.Series,
    call_id: pd.Series | None,
    basis_date: pd.Series,
    purged: pd.Series,
    object_path: pd.Series | None = None,
    object_sha256: pd.Series | None = None,
) -> pd.DataFrame:
    count = len(tenant_id)
    empty = pd.Series([None] * count, index=tenant_id.index, dtype=object)
    return pd.DataFrame(
        {
            "tenant_id": tenant_id.astype(str).to_numpy(),
            "record_type": record_type,
            "artefact_id": artefact_id.astype(str).to_numpy(),
            "call_id": (call_id if call_id is not None else empty).to_numpy(),
            "basis_date": basis_date.to_numpy(),
            "purged": purged.astype(bool).to_numpy(),
            "object_path": (object_path if object_path is not None else empty).to_numpy(),
            "object_sha256": (object_sha256 if object_sha256 is not None else empty).to_numpy(),
            "hold_ids": "",
        }
    )


def _sources(
    tenant_id: pd.Series,
    file_type: str,
    path: pd.Series,
    source_type: str,
    source_id: pd.Series,
    erased: pd.Series | None = None,
) -> pd.DataFrame:
    return pd.DataFrame(
        {
            "tenant_id": tenant_id.astype(str).to_numpy(),
            "record_type": file_type,
            "artefact_id": path.astype(str).to_numpy(),
            "source_type": source_type,
            "source_id": source_id.astype(str).to_numpy(),
            "erased": (erased.to_numpy(dtype=bool) if erased is not None else False),
        }
    )


def _call_lineage(
    connection: sa.Connection, tenant_ids: Collection[str] | None
) -> tuple[list[pd.DataFrame], pd.DataFrame, pd.DataFrame, list[pd.DataFrame]]:
    calls_t = call_tables.calls
    calls = _frame(
        connection,
        _scoped(
            sa.select(
                calls_t.c.tenant_id,
                calls_t.c.call_id,
                calls_t.c.call_date,
                calls_t.c.src_e164,
                calls_t.c.dst_e164,
                calls_t.c.deleted_at,
                calls_t.c.source_file,
                calls_t.c.erased_at,
            ),
            calls_t,
            tenant_ids,
        ),
        [
            "tenant_id",
            "call_id",
            "call_date",
            "src_e164",
            "dst_e164",
            "deleted_at",
            "source_file",
            "erased_at",
        ],
    )
    calls["call_date"] = _as_date(calls["call_date"])
    call_dates = calls.set_index(["tenant_id", "call_id"])["call_date"]
    parts = [
        _artefact_frame(
            calls["tenant_id"],
            "call_logs",
            calls["call_id"],
            calls["call_id"],
            calls["call_date"],
            calls["deleted_at"].notna(),
        )
    ]

    def lineage_basis(frame: pd.DataFrame) -> pd.Series:
        """The call's date; the artefact's own partition day when its call is unknown."""
        index = pd.MultiIndex.from_frame(frame[["tenant_id", "call_id"]])
        from_call = pd.Series(call_dates.reindex(index).to_numpy(), index=frame.index)
        return from_call.fillna(_as_date(frame["partition_date"]))

    for record_type, table in (
        ("recordings", call_tables.recordings),
        ("transcripts", call_tables.transcripts),
    ):
        frame = _frame(
            connection,
            _scoped(
                sa.select(
                    table.c.tenant_id,
                    table.c.call_id,
                    table.c.partition_date,
                    table.c.object_path,
                    table.c.sha256,
                    table.c.deleted_at,
                ),
                table,
                tenant_ids,
            ),
            ["tenant_id", "call_id", "partition_date", "object_path", "sha256", "deleted_at"],
        )
        parts.append(
            _artefact_frame(
                frame["tenant_id"],
                record_type,
                frame["call_id"],
                frame["call_id"],
                lineage_basis(frame),
                frame["deleted_at"].notna(),
                frame["object_path"],
                frame["sha256"],
            )
        )
    ai = call_tables.ai_outputs
    frame = _frame(
        connection,
        _scoped(
            sa.select(
                ai.c.tenant_id,
                ai.c.call_id,
                ai.c.kind,
                ai.c.partition_date,
                ai.c.object_path,
                ai.c.sha256,
                ai.c.deleted_at,
            ),
            ai,
            tenant_ids,
        ),
        ["tenant_id", "call_id", "kind", "partition_date", "object_path", "sha256", "deleted_at"],
    )
    parts.append(
        _artefact_frame(
            frame["tenant_id"],
            "ai_summaries",
            frame["call_id"].astype(str) + "#" + frame["kind"].astype(str),
            frame["call_id"],
            lineage_basis(frame),
            frame["deleted_at"].notna(),
            frame["object_path"],
            frame["sha256"],
        )
    )
    crm = call_tables.crm_links
    links = _frame(
        connection,
        _scoped(
            sa.select(
                crm.c.id,
                crm.c.tenant_id,
                crm.c.call_id,
                crm.c.partition_date,
                crm.c.contact_e164,
                crm.c.contact_email,
                crm.c.deleted_at,
                crm.c.source_file,
            ),
            crm,
            tenant_ids,
        ),
        [
            "id",
            "tenant_id",
            "call_id",
            "partition_date",
            "contact_e164",
            "contact_email",
            "deleted_at",
            "source_file",
        ],
    )
    parts.append(
        _artefact_frame(
            links["tenant_id"],
            "crm_links",
            links["id"],
            links["call_id"],
            lineage_basis(links),
            links["deleted_at"].notna(),
        )
    )
    contacts = links.loc[:, ["tenant_id", "call_id", "contact_e164", "contact_email"]]
    sources = [
        _sources(
            calls["tenant_id"],
            "cdr_files",
            calls["source_file"],
            "call_logs",
            calls["call_id"],
            calls["erased_at"].notna(),
        ),
        _sources(
            links["tenant_id"], "crm_link_files", links["source_file"], "crm_links", links["id"]
        ),
    ]
    calls = calls.drop(columns=["deleted_at", "source_file", "erased_at"])
    return parts, calls, contacts, sources


def _number_records(
    connection: sa.Connection, tenant_ids: Collection[str] | None
) -> tuple[list[pd.DataFrame], pd.DataFrame]:
    wash = dncr_tables.wash_results
    washed = _frame(
        connection,
        _scoped(
            sa.select(
                wash.c.id,
                wash.c.tenant_id,
                wash.c.e164,
                wash.c.e164_hash,
                wash.c.washed_at,
                wash.c.deleted_at,
            ),
            wash,
            tenant_ids,
        ),
        ["id", "tenant_id", "e164", "e164_hash", "washed_at", "deleted_at"],
    )
    blocked_t = dncr_tables.blocked_calls
    blocked = _frame(
        connection,
        _scoped(
            sa.select(
                blocked_t.c.id,
                blocked_t.c.tenant_id,
                blocked_t.c.e164_hash,
                blocked_t.c.decided_at,
                blocked_t.c.deleted_at,
            ),
            blocked_t,
            tenant_ids,
        ),
        ["id", "tenant_id", "e164_hash", "decided_at", "deleted_at"],
    )
    washed_on, blocked_on = _as_date(washed["washed_at"]), _as_date(blocked["decided_at"])
    parts = [
        _artefact_frame(
            washed["tenant_id"],
            "wash_results",
            washed["id"],
            None,
            washed_on,
            washed["deleted_at"].notna(),
        ),
        _artefact_frame(
            blocked["tenant_id"],
            "blocked_calls",
            blocked["id"],
            None,
            blocked_on,
            blocked["deleted_at"].notna(),
        ),
    ]
    numbers = pd.concat(
        [
            pd.DataFrame(
                {
                    "tenant_id": washed["tenant_id"],
                    "record_type": "wash_results",
                    "artefact_id": washed["id"].astype(str),
                    "e164": washed["e164"],
                    "e164_hash": washed["e164_hash"],
                    "event_date": washed_on,
                }
            ),
            pd.DataFrame(
                {
                    "tenant_id": blocked["tenant_id"],
                    "record_type": "blocked_calls",
                    "artefact_id": blocked["id"].astype(str),
                    "e164": None,
                    "e164_hash": blocked["e164_hash"],
                    "event_date": blocked_on,
                }
            ),
        ],
        ignore_index=True,
    )
    return parts, numbers


CLOSED_DSAR_STATES = ("completed", "refused")


def _dsar_case_files(
    connection: sa.Connection, tenant_ids: Collection[str] | None
) -> list[pd.DataFrame]:
    """A closed DSAR case: the request row (with its certificate object) and any export left.

    The retention clock starts when the case closed. ``dsar_requests`` has no ``deleted_at``: a
    case file is purged when its tombstone exists.
    """
    requests_t = getattr(dsar_tables, "dsar_requests", None)
    certificates_t = getattr(dsar_tables, "dsar_certificates", None)
    exports_t = getattr(dsar_tables, "dsar_exports", None)
    if requests_t is None or certificates_t is None or exports_t is None:
        return []
    closed_on = sa.func.coalesce(requests_t.c.completed_at, requests_t.c.updated_at)
    requests = _frame(
        connection,
        _scoped(
            sa.select(
                requests_t.c.request_id,
                requests_t.c.tenant_id,
                closed_on,
                certificates_t.c.object_path,
                certificates_t.c.sha256,
            )
            .select_from(
                requests_t.outerjoin(
                    certificates_t, certificates_t.c.request_id == requests_t.c.request_id
                )
            )
            .where(requests_t.c.state.in_(CLOSED_DSAR_STATES)),
            requests_t,
            tenant_ids,
        ),
        ["request_id", "tenant_id", "closed_on", "object_path", "sha256"],
    )
    if requests.empty:
        return []
    requests["closed_on"] = _as_date(requests["closed_on"])
    tombstoned = {
        row[0]
        for row in connection.execute(
            sa.select(retention_tombstones.c.artefact_id).where(
                retention_tombstones.c.record_type == "dsar_case_files"
            )
        )
    }
    request_ids = "request:" + requests["request_id"].astype(str)
    parts = [
        _artefact_frame(
            requests["tenant_id"],
            "dsar_case_files",
            request_ids,
            None,
            requests["closed_on"],
            request_ids.isin(tombstoned),
            requests["object_path"],
            requests["sha256"],
        )
    ]
    exports = _frame(
        connection,
        _scoped(
            sa.select(
                exports_t.c.id,
                exports_t.c.request_id,
                exports_t.c.tenant_id,
                exports_t.c.object_path,
                exports_t.c.sha256,
                exports_t.c.deleted_at,
            ).where(exports_t.c.request_id.in_(sorted(set(requests["request_id"])))),
            exports_t,
            tenant_ids,
        ),
        ["id", "request_id", "tenant_id", "object_path", "sha256", "deleted_at"],
    )
    if not exports.empty:
        closed = requests.drop_duplicates("request_id").set_index("request_id")["closed_on"]
        parts.append(
            _artefact_frame(
                exports["tenant_id"],
                "dsar_case_files",
                "export:" + exports["id"].astype(str),
                None,
                exports["request_id"].map(closed),
                exports["deleted_at"].notna(),
                exports["object_path"],
                exports["sha256"],
            )
        )
    return parts


def quarantine_artefact_ids(ids: pd.Series, created_at: pd.Series) -> pd.Series:
    """``<id>@<created at, microseconds>``: quarantine ids are reused on SQLite once a
    partition's rows are replaced, so the id alone could name two different lines over time."""
    stamps = pd.to_datetime(created_at, errors="coerce", utc=True).dt.strftime("%Y%m%d%H%M%S%f")
    return ids.astype(str) + "@" + stamps.fillna("unknown")


def _quarantine_records(
    connection: sa.Connection, tenant_ids: Collection[str] | None
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Quarantined lines with a known tenant: artefacts that follow the ``call_logs`` policy of
    their call day (call-day assets) or of the day they were quarantined (consent and campaign
    lists), and the sources of the landing files the call-day lines came from."""
    q = call_tables.quarantine
    rows = _frame(
        connection,
        _scoped(
            sa.select(
                q.c.id,
                q.c.asset,
                q.c.partition_key,
                q.c.tenant_id,
                q.c.source_file,
                q.c.created_at,
                q.c.purged_at,
            ).where(
                q.c.asset.in_(CALL_DAY_ASSETS + TENANT_LIST_ASSETS), q.c.tenant_id.is_not(None)
            ),
            q,
            tenant_ids,
        ),
        ["id", "asset", "partition_key", "tenant_id", "source_file", "created_at", "purged_at"],
    )
    artefact_ids = quarantine_artefact_ids(rows["id"], rows["created_at"])
    call_day = rows["asset"].isin(CALL_DAY_ASSETS)
    # parsed apart: one column of mixed date and timestamp texts would parse in one format only
    basis = _as_date(rows["partition_key"].where(call_day)).where(
        call_day, _as_date(rows["created_at"])
    )
    artefacts = _artefact_frame(
        rows["tenant_id"],
        "quarantine_records",
        artefact_ids,
        None,
        basis,
        rows["purged_at"].notna(),
    )
    sources = [
        _sources(
            rows.loc[rows["asset"] == asset, "tenant_id"],
            file_type,
            rows.loc[rows["asset"] == asset, "source_file"],
            "quarantine_records",
            artefact_ids.loc[rows["asset"] == asset],
        )
        for asset, file_type in FILE_OF_ASSET.items()
    ]
    return artefacts, pd.concat(sources, ignore_index=True)


def _dsar_blanked_lines(
    connection: sa.Connection, tenant_ids: Collection[str] | None
) -> pd.DataFrame:
    """Landing lines a DSAR erasure blanked in place: erased sources of their files. A CRM link
    an erasure deleted leaves no row behind, so without these a file whose every link was
    erased would have nothing pointing at it and would never go."""
    items = getattr(dsar_tables, "dsar_plan_items", None)
    if items is None:
        return _empty(SOURCE_COLUMNS)
    done = _frame(
        connection,
        _scoped(
            sa.select(items.c.tenant_id, items.c.store, items.c.request_id, items.c.item_ref).where(
                items.c.store.in_(list(FILE_OF_DSAR_STORE)),
                items.c.action == DSAR_BLANK_LINE,
                items.c.executed_at.is_not(None),
            ),
            items,
            tenant_ids,
        ),
        ["tenant_id", "store", "request_id", "item_ref"],
    )
    if done.empty:
        return _empty(SOURCE_COLUMNS)
    return pd.DataFrame(
        {
            "tenant_id": done["tenant_id"].astype(str).to_numpy(),
            "record_type": done["store"].map(FILE_OF_DSAR_STORE).to_numpy(),
            "artefact_id": done["item_ref"].astype(str).str.rpartition("#")[0].to_numpy(),
            "source_type": "dsar_blanked_lines",
            "source_id": (done["request_id"].astype(str) + ":" + done["item_ref"]).to_numpy(),
            "erased": True,
        }
    )


def is_landing_file(file_type: str, tenant_id: str, path: str) -> bool:
    """Whether ``path`` is exactly the tenant's landing file of that type for some day: a row
    never points a purge at another tenant's file or at a path it merely claims."""
    day = path.rsplit("/", 2)[-2] if path.count("/") >= 2 else ""
    try:
        date.fromisoformat(day)
    except ValueError:
        return False
    return path == LANDING_FILE[file_type](tenant_id, day)


def _landing_files(
    connection: sa.Connection, tenant_ids: Collection[str] | None, sources: pd.DataFrame
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The landing files rows point at (checked paths only), tombstoned ones marked purged, and
    the sources of those files."""
    keys = ["tenant_id", "record_type", "artefact_id"]
    files = sources.loc[:, keys].drop_duplicates()
    valid = [
        is_landing_file(file_type, tenant_id, path)
        for tenant_id, file_type, path in files.itertuples(index=False)
    ]
    files = files.loc[valid]
    t = retention_tombstones
    tombstoned = _frame(
        connection,
        _scoped(
            sa.select(t.c.tenant_id, t.c.record_type, t.c.artefact_id).where(
                t.c.record_type.in_(list(SOURCE_FILE_TYPES))
            ),
            t,
            tenant_ids,
        ),
        keys,
    )
    files = pd.concat([files, tombstoned], ignore_index=True).drop_duplicates(keys)
    marker = tombstoned.assign(purged=True).set_index(keys)["purged"]
    files["purged"] = (
        marker.reindex(pd.MultiIndex.from_frame(files[keys])).fillna(False).to_numpy(dtype=bool)
        if not files.empty
        else pd.Series(dtype=bool)
    )
    kept = sources.merge(files[keys], on=keys, how="inner")
    return files.reset_index(drop=True), kept


def load_holds(
    connection: sa.Connection,
    tenant_ids: Collection[str] | None = None,
    *,
    include_released: bool = False,
) -> list[dict[str, Any]]:
    query = _scoped(sa.select(legal_holds), legal_holds, tenant_ids).order_by(
        legal_holds.c.created_at, legal_holds.c.hold_id
    )
    if not include_released:
        query = query.where(legal_holds.c.released_at.is_(None))
    return [dict(row) for row in connection.execute(query).mappings()]


def load_inventory(
    connection: sa.Connection, tenant_ids: Collection[str] | None = None
) -> Inventory:
    """Every artefact of ``tenant_ids`` (all tenants when None), with hold ids not yet attached."""
    parts, calls, contacts, source_parts = _call_lineage(connection, tenant_ids)
    number_parts, numbers = _number_records(connection, tenant_ids)
    parts.extend(number_parts)
    parts.extend(_dsar_case_files(connection, tenant_ids))
    quarantined, quarantine_sources = _quarantine_records(connection, tenant_ids)
    parts.append(quarantined)
    source_parts.append(quarantine_sources)
    source_parts.append(_dsar_blanked_lines(connection, tenant_ids))
    non_empty = [part for part in parts if not part.empty]
    artefacts = (
        pd.concat(non_empty, ignore_index=True)
        if non_empty
        else pd.DataFrame(columns=list(ARTEFACT_COLUMNS))
    )
    non_empty_sources = [part for part in source_parts if not part.empty]
    sources = (
        pd.concat(non_empty_sources, ignore_index=True)
        if non_empty_sources
        else _empty(SOURCE_COLUMNS)
    )
    files, sources = _landing_files(connection, tenant_ids, sources)
    return Inventory(
        artefacts,
        calls,
        contacts,
        numbers,
        load_holds(connection, tenant_ids),
        files,
        sources,
    )


def attach_holds(inventory: Inventory, hash_number: Callable[[str], str]) -> pd.DataFrame:
    """The artefacts with ``hold_ids`` filled: a call-level hold keeps the call's whole lineage,
    a phone hold also keeps the number's wash results and blocked-call records."""
    artefacts = inventory.artefacts.copy()
    artefacts["hold_ids"] = ""
    if not inventory.holds or artefacts.empty:
        return artefacts
    by_call = calls_under_hold(inventory.holds, inventory.calls, inventory.contacts)
    if not by_call.empty:
        lineage = artefacts["call_id"].notna()
        keys = pd.MultiIndex.from_frame(artefacts.loc[lineage, ["tenant_id", "call_id"]])
        held = by_call.set_index(["tenant_id", "call_id"])["hold_ids"].reindex(keys)
        artefacts.loc[lineage, "hold_ids"] = held.fillna("").to_numpy()
    by_number = number_records_under_hold(inventory.holds, inventory.number_records, hash_number)
    if not by_number.empty:
        keys_columns = ["tenant_id", "record_type", "artefact_id"]
        numbered = artefacts["record_type"].isin(["wash_results", "blocked_calls"])
        keys = pd.MultiIndex.from_frame(artefacts.loc[numbered, keys_columns])
        held = by_number.set_index(keys_columns)["hold_ids"].reindex(keys)
        artefacts.loc[numbered, "hold_ids"] = held.fillna("").to_numpy()
    return artefacts


def load_policy_versions(connection: sa.Connection) -> list[PolicyVersion]:
    t = retention_policy_versions
    return [
        PolicyVersion(
            row.tenant_id,
            row.record_type,
            int(row.version),
            int(row.retention_days),
            row.effective_from
            if isinstance(row.effective_from, date)
            else date.fromisoformat(str(row.effective_from)),
            row.source,
        )
        for row in connection.execute(
            sa.select(
                t.c.tenant_id,
                t.c.record_type,
                t.c.version,
                t.c.retention_days,
                t.c.effective_from,
                t.c.source,
            )
        )
    ]


def sync_policy_versions(
    connection: sa.Connection,
    tenants: Sequence[Tenant],
    *,
    as_of: date,
    actor: str = SYSTEM_ACTOR,
    run_id: str | None = None,
    config_sha256: str | None = None,
) -> list[PolicyVersion]:
    """Record the versions the tenants file implies (first versions, changed days); audited.

    Two transactions syncing one tenant at once (a tenant's purge and the daily states) take
    turns on a per-tenant advisory lock (PostgreSQL; SQLite has one writer), each reading the
    versions only once it holds it, so neither records a version the other just did."""
    for tenant_id in sorted({tenant.id for tenant in tenants}):
        lock_partition(connection, tenant_id, scope="retention_policy")
    new = versions_to_record(tenants, load_policy_versions(connection), as_of)
    now = datetime.now(UTC)
    for version in new:
        connection.execute(
            sa.insert(retention_policy_versions).values(
                tenant_id=version.tenant_id,
                record_type=version.record_type,
                version=version.version,
                retention_days=version.retention_days,
                effective_from=version.effective_from,
                source=version.source,
                config_sha256=config_sha256,
                recorded_at=now,
                recorded_by=actor,
                run_id=run_id,
            )
        )
        append_audit(
            connection,
            actor=actor,
            action="retention.policy_version_recorded",
            tenant_id=version.tenant_id,
            object_refs={"policy_version": version.id},
            details={
                "record_type": version.record_type,
                "retention_days": version.retention_days,
                "effective_from": version.effective_from.isoformat(),
                "source": version.source,
            },
            run_id=run_id,
        )
    return new


def record_operator_policy(
    connection: sa.Connection,
    *,
    tenant_id: str,
    record_type: str,
    retention_days: int,
    effective_from: date,
    actor: str,
    run_id: str | None = None,
) -> PolicyVersion:
    """A version an operator records (never retroactive: ``effective_from`` not in the past)."""
    if effective_from < datetime.now(UTC).date():
        raise ValueError("a policy version cannot take effect in the past")
    if retention_days < 0:
        raise ValueError("retention days must be >= 0")
    existing = [
        v
        for v in load_policy_versions(connection)
        if v.tenant_id == tenant_id and v.record_type == record_type
    ]
    version = PolicyVersion(
        tenant_id,
        record_type,
        max((v.version for v in existing), default=0) + 1,
        retention_days,
        effective_from,
        "operator",
    )
    connection.execute(
        sa.insert(retention_policy_versions).values(
            tenant_id=tenant_id,
            record_type=record_type,
            version=version.version,
            retention_days=retention_days,
            effective_from=effective_from,
            source="operator",
            config_sha256=None,
            recorded_at=datetime.now(UTC),
            recorded_by=actor,
            run_id=run_id,
        )
    )
    append_audit(
        connection,
        actor=actor,
        action="retention.policy_version_recorded",
        tenant_id=tenant_id,
        object_refs={"policy_version": version.id},
        details={
            "record_type": record_type,
            "retention_days": retention_days,
            "effective_from": effective_from.isoformat(),
            "source": "operator",
        },
        run_id=run_id,
    )
    return version


def number_hasher(key: bytes) -> Callable[[str], str]:
    cache: dict[str, str] = {}

    def hash_number(e164: str) -> str:
        if e164 not in cache:
            cache[e164] = keyed_hash(e164, key)
        return cache[e164]

    return hash_number


def current_states(
    connection: sa.Connection,
    *,
    as_of: date,
    hash_key: bytes,
    tenant_ids: Collection[str] | None = None,
    extra_versions: Sequence[PolicyVersion] = (),
) -> tuple[pd.DataFrame, PolicyBook]:
    """Every artefact's state on ``as_of`` from the recorded policy versions (plus
    ``extra_versions``, which a dry run uses for changes not recorded yet); landing files are
    decided last, from the states of the rows read from them."""
    book = PolicyBook([*load_policy_versions(connection), *extra_versions])
    inventory = load_inventory(connection, tenant_ids)
    artefacts = attach_holds(inventory, number_hasher(hash_key))
    states = compute_states(artefacts, book, as_of)
    files = source_file_states(inventory.files, inventory.sources, states, book, as_of)
    if files.empty:
        return states, book
    return pd.concat([states, files], ignore_index=True), book

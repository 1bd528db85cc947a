"""Calls and their lineage: call logs, recordings, transcripts, AI outputs and CRM links, each
dated by its call; with the call parties and CRM contacts holds match on, and the landing files
(CDR day files, CRM links files) the calls and links were read from."""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass

import pandas as pd
import sqlalchemy as sa

from cm_pipelines.retention.inventory.frames import (
    artefact_frame,
    as_date,
    fetch_frame,
    scoped,
    sources_frame,
)
from cm_pipelines.tables import calls as call_tables


@dataclass
class CallLineage:
    artefacts: list[pd.DataFrame]  # call logs, recordings, transcripts, AI outputs, CRM links
    calls: pd.DataFrame  # tenant_id, call_id, call_date, src_e164, dst_e164
    contacts: pd.DataFrame  # tenant_id, call_id, contact_e164, contact_email
    sources: list[pd.DataFrame]  # the CDR and CRM links files the calls and links came from


def read_call_lineage(connection: sa.Connection, tenant_ids: Collection[str] | None) -> CallLineage:
    calls = _read_calls(connection, tenant_ids)
    call_dates = calls.set_index(["tenant_id", "call_id"])["call_date"]
    parts = [
        artefact_frame(
            calls["tenant_id"],
            "call_logs",
            calls["call_id"],
            calls["call_id"],
            calls["call_date"],
            calls["deleted_at"].notna(),
        )
    ]
    for record_type, table in (
        ("recordings", call_tables.recordings),
        ("transcripts", call_tables.transcripts),
    ):
        parts.append(_read_call_objects(connection, tenant_ids, record_type, table, call_dates))
    parts.append(_read_ai_outputs(connection, tenant_ids, call_dates))
    links = _read_crm_links(connection, tenant_ids)
    parts.append(
        artefact_frame(
            links["tenant_id"],
            "crm_links",
            links["id"],
            links["call_id"],
            _lineage_basis(links, call_dates),
            links["deleted_at"].notna(),
        )
    )
    contacts = links.loc[:, ["tenant_id", "call_id", "contact_e164", "contact_email"]]
    sources = [
        sources_frame(
            calls["tenant_id"],
            "cdr_files",
            calls["source_file"],
            "call_logs",
            calls["call_id"],
            calls["erased_at"].notna(),
        ),
        sources_frame(
            links["tenant_id"], "crm_link_files", links["source_file"], "crm_links", links["id"]
        ),
    ]
    calls = calls.drop(columns=["deleted_at", "source_file", "erased_at"])
    return CallLineage(parts, calls, contacts, sources)


def _lineage_basis(frame: pd.DataFrame, call_dates: pd.Series) -> pd.Series:
    """The call's date; the artefact's own partition day when its call is unknown."""
    index = pd.MultiIndex.from_frame(frame[["tenant_id", "call_id"]])
    from_call = pd.Series(call_dates.reindex(index).to_numpy(), index=frame.index)
    return from_call.fillna(as_date(frame["partition_date"]))


def _read_calls(connection: sa.Connection, tenant_ids: Collection[str] | None) -> pd.DataFrame:
    calls_t = call_tables.calls
    calls = fetch_frame(
        connection,
        scoped(
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
    calls["call_date"] = as_date(calls["call_date"])
    return calls


def _read_call_objects(
    connection: sa.Connection,
    tenant_ids: Collection[str] | None,
    record_type: str,
    table: sa.Table,
    call_dates: pd.Series,
) -> pd.DataFrame:
    """Recordings or transcripts: one object each, dated by their call."""
    frame = fetch_frame(
        connection,
        scoped(
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
    return artefact_frame(
        frame["tenant_id"],
        record_type,
        frame["call_id"],
        frame["call_id"],
        _lineage_basis(frame, call_dates),
        frame["deleted_at"].notna(),
        frame["object_path"],
        frame["sha256"],
    )


def _read_ai_outputs(
    connection: sa.Connection, tenant_ids: Collection[str] | None, call_dates: pd.Series
) -> pd.DataFrame:
    """AI outputs (summaries, receptionist notes) as ``ai_summaries``, ``<call id>#<kind>``."""
    ai = call_tables.ai_outputs
    frame = fetch_frame(
        connection,
        scoped(
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
    return artefact_frame(
        frame["tenant_id"],
        "ai_summaries",
        frame["call_id"].astype(str) + "#" + frame["kind"].astype(str),
        frame["call_id"],
        _lineage_basis(frame, call_dates),
        frame["deleted_at"].notna(),
        frame["object_path"],
        frame["sha256"],
    )


def _read_crm_links(connection: sa.Connection, tenant_ids: Collection[str] | None) -> pd.DataFrame:
    crm = call_tables.crm_links
    return fetch_frame(
        connection,
        scoped(
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

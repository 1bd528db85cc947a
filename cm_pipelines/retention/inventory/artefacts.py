"""Every artefact of every record type gathered into one ``Inventory``, with what holds are
matched against and the landing files with the rows read from them."""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass, field
from typing import Any

import pandas as pd
import sqlalchemy as sa

from cm_pipelines.domain.retention.artefact_states import ARTEFACT_COLUMNS
from cm_pipelines.domain.retention.source_files import SOURCE_COLUMNS
from cm_pipelines.retention.inventory.call_lineage import read_call_lineage
from cm_pipelines.retention.inventory.dsar_case_files import read_dsar_case_files
from cm_pipelines.retention.inventory.frames import empty_frame
from cm_pipelines.retention.inventory.landing_files import (
    read_dsar_blanked_lines,
    read_landing_files,
)
from cm_pipelines.retention.inventory.legal_holds import load_holds
from cm_pipelines.retention.inventory.number_records import read_number_records
from cm_pipelines.retention.inventory.quarantine_records import read_quarantine_records


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
        default_factory=lambda: empty_frame(["tenant_id", "record_type", "artefact_id", "purged"])
    )
    sources: pd.DataFrame = field(default_factory=lambda: empty_frame(SOURCE_COLUMNS))


def load_inventory(
    connection: sa.Connection, tenant_ids: Collection[str] | None = None
) -> Inventory:
    """Every artefact of ``tenant_ids`` (all tenants when None), with hold ids not yet attached."""
    lineage = read_call_lineage(connection, tenant_ids)
    parts, source_parts = lineage.artefacts, lineage.sources
    number_parts, numbers = read_number_records(connection, tenant_ids)
    parts.extend(number_parts)
    parts.extend(read_dsar_case_files(connection, tenant_ids))
    quarantined, quarantine_sources = read_quarantine_records(connection, tenant_ids)
    parts.append(quarantined)
    source_parts.append(quarantine_sources)
    source_parts.append(read_dsar_blanked_lines(connection, tenant_ids))
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
        else empty_frame(SOURCE_COLUMNS)
    )
    files, sources = read_landing_files(connection, tenant_ids, sources)
    return Inventory(
        artefacts,
        lineage.calls,
        lineage.contacts,
        numbers,
        load_holds(connection, tenant_ids),
        files,
        sources,
    )

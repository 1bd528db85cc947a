"""The fast reader's accepted ``cdr_csv`` rows as normalised call columns (``OUTPUT_COLUMNS``).

Phone numbers are the costly part (``phonenumbers`` parses about 16k numbers a second): each
tenant's distinct src and dst strings are parsed once, with that tenant's country. Clids and
userfields repeat too, so their regex derivations also run once per distinct value.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from cm_pipelines.domain.ingestion.cdr.fields import caller_names, directions, userfield_column
from cm_pipelines.domain.ingestion.cdr.layout import finalise_calls
from cm_pipelines.domain.ingestion.cdr.validation import ParsedValues
from cm_pipelines.domain.phone_numbers import normalise_values
from cm_pipelines.domain.tenants import Tenant

_NUMBER_COLUMNS = (
    "src_kind",
    "src_e164",
    "src_extension",
    "dst_kind",
    "dst_e164",
    "dst_extension",
)


def _on_distinct(
    column: pa.ChunkedArray | pa.Array, derive: Callable[[pa.Array], pa.Array]
) -> pa.Array:
    """Apply a regex-heavy derivation once per distinct value: clids and userfields repeat."""
    if isinstance(column, pa.ChunkedArray):
        column = column.combine_chunks()
    encoded = pc.dictionary_encode(column)
    return pc.take(derive(encoded.dictionary), encoded.indices)


def _normalise_by_tenant(
    tenant_ids: np.ndarray,
    src: np.ndarray,
    dst: np.ndarray,
    tenants: Mapping[str, Tenant],
) -> dict[str, np.ndarray]:
    """Normalise src and dst with each tenant's country, each distinct string parsed once."""
    size = len(tenant_ids)
    out = {name: np.full(size, None, dtype=object) for name in _NUMBER_COLUMNS}
    for tenant_id in pd.unique(tenant_ids):
        rows = np.flatnonzero(tenant_ids == tenant_id)
        both = np.concatenate([src[rows], dst[rows]])
        kinds, e164s, extensions = normalise_values(both, tenants[tenant_id].country)
        for prefix, part in (("src", slice(0, len(rows))), ("dst", slice(len(rows), None))):
            out[f"{prefix}_kind"][rows] = kinds[part]
            out[f"{prefix}_e164"][rows] = e164s[part]
            out[f"{prefix}_extension"][rows] = extensions[part]
    return out


def _string_values(column: pa.ChunkedArray | pa.Array) -> np.ndarray:
    return np.asarray(column.to_numpy(zero_copy_only=False), dtype=object)


def build_calls(
    rows: pa.Table,
    values: ParsedValues,
    kept: np.ndarray,
    source_lines: np.ndarray,
    source_file: str,
    tenants: Mapping[str, Tenant],
) -> pd.DataFrame:
    """The call frame of the kept rows: ``rows`` holds them already, ``values`` still covers
    every parsed row, so its columns are taken at ``kept``."""
    take = pa.array(kept)
    dcontext = _string_values(rows["dcontext"])
    numbers = _normalise_by_tenant(
        _string_values(rows["accountcode"]),
        _string_values(rows["src"]),
        _string_values(rows["dst"]),
        tenants,
    )
    userfield = rows["userfield"].combine_chunks()
    columns: dict[str, pa.Array | pa.ChunkedArray] = {
        "tenant_id": rows["accountcode"],
        "call_id": rows["uniqueid"],
        "started_at": values.timestamps["started"].take(take),
        "answered_at": values.timestamps["answered"].take(take),
        "ended_at": values.timestamps["ended"].take(take),
        "call_date": pc.utf8_slice_codeunits(rows["start"], 0, 10),
        "duration_s": values.integers["duration"].take(take),
        "billsec_s": values.integers["billsec"].take(take),
        "disposition": rows["disposition"],
        **{name: pa.array(parties, pa.string()) for name, parties in numbers.items()},
        "caller_name": _on_distinct(rows["clid"], caller_names),
        "dcontext": rows["dcontext"],
        "channel": rows["channel"],
        "dstchannel": rows["dstchannel"],
        "lastapp": rows["lastapp"],
        "userfield": userfield,
        "campaign_id": _on_distinct(userfield, lambda column: userfield_column(column, "campaign")),
        "crm_ref": _on_distinct(userfield, lambda column: userfield_column(column, "crm")),
        "direction": pa.array(
            directions(numbers["src_kind"], numbers["dst_kind"], dcontext), pa.string()
        ),
        "source_file": pa.array(np.full(len(kept), source_file, dtype=object), pa.string()),
        "source_line": pa.array(source_lines, pa.int64()),
    }
    return finalise_calls(pa.table(columns).to_pandas())

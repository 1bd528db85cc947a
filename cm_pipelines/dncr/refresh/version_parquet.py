"""A registry version's numbers (and wash results) in Parquet, and its changes against the
version before it."""

from __future__ import annotations

import io
from dataclasses import dataclass

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq


def numbers_to_parquet(
    numbers: np.ndarray,
    registered: np.ndarray | None = None,
    wash_days: np.ndarray | None = None,
) -> bytes:
    """Sorted int64 numbers plus wash results if any.

    Sorted numbers are delta-encoded (~1.2 bytes a number) and left uncompressed: measured on
    25M numbers, zstd on top saved 5 % of the size and tripled read and write times.
    """
    columns: dict[str, pa.Array] = {"e164": pa.array(numbers, type=pa.int64())}
    compression = {"e164": "none"}
    if registered is not None and wash_days is not None:
        columns["registered"] = pa.array(registered, type=pa.bool_())
        columns["wash_date"] = pa.array(wash_days.astype("datetime64[D]"), type=pa.date32())
        compression.update(registered="zstd", wash_date="zstd")
    return _parquet_bytes(pa.table(columns), compression)


def _parquet_bytes(table: pa.Table, compression: dict[str, str]) -> bytes:
    buffer = io.BytesIO()
    pq.write_table(
        table,
        buffer,
        compression=compression,
        use_dictionary=False,
        column_encoding={"e164": "DELTA_BINARY_PACKED"},
        row_group_size=16 * 1024 * 1024,
    )
    return buffer.getvalue()


def changes_to_parquet(added: np.ndarray, removed: np.ndarray) -> bytes:
    """Additions then removals (each sorted), ``change`` +1 / -1; chunked, not concatenated
    (a first version's additions are the whole registry)."""
    table = pa.table(
        {
            "e164": pa.chunked_array([added, removed], type=pa.int64()),
            "change": pa.chunked_array(
                [np.ones(added.size, np.int8), np.full(removed.size, -1, np.int8)], type=pa.int8()
            ),
        }
    )
    return _parquet_bytes(table, {"e164": "none", "change": "zstd"})


@dataclass
class VersionContent:
    numbers: np.ndarray
    registered: np.ndarray | None = None
    wash_days: np.ndarray | None = None


def parquet_to_numbers(data: bytes) -> VersionContent:
    """Decode batch by batch into preallocated arrays: at US scale an Arrow table plus its
    NumPy copy would hold the 2 GB of numbers twice."""
    parquet = pq.ParquetFile(io.BytesIO(data))
    rows = parquet.metadata.num_rows
    names = parquet.schema_arrow.names
    with_results = "registered" in names
    numbers = np.empty(rows, dtype=np.int64)
    registered = np.empty(rows, dtype=bool) if with_results else None
    wash_days = np.empty(rows, dtype="datetime64[D]") if with_results else None
    position = 0
    for batch in parquet.iter_batches(batch_size=1 << 22, use_threads=False):
        size = batch.num_rows
        numbers[position : position + size] = batch.column("e164").to_numpy()
        if registered is not None and wash_days is not None:
            registered[position : position + size] = batch.column("registered").to_numpy(
                zero_copy_only=False
            )
            wash_days[position : position + size] = batch.column("wash_date").to_numpy(
                zero_copy_only=False
            )
        position += size
    return VersionContent(numbers, registered, wash_days)

"""Fast, parameter-safe bulk inserts: COPY on PostgreSQL, one-transaction executemany on SQLite
fed from whole columns rendered by Arrow (no per-row Python rendering).

DESIGN.md measured COPY fed by pyarrow's CSV writer at ~160k rows/s on PostgreSQL against 19k for
``to_sql``; on SQLite a single-transaction ``executemany`` runs at ~130k rows/s.
"""

from __future__ import annotations

import io
import json
from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pa_csv
import sqlalchemy as sa

CHUNK_ROWS = 50_000


def _coerce_for_table(table: sa.Table, frame: pd.DataFrame, columns: Sequence[str]) -> pd.DataFrame:
    """Dates may arrive as ISO strings and times as pandas timestamps: give the driver what the
    column type expects."""
    subset = frame.loc[:, list(columns)].copy()
    for name in columns:
        column_type = table.c[name].type
        if isinstance(column_type, sa.Date) and not isinstance(column_type, sa.DateTime):
            subset[name] = pd.to_datetime(subset[name]).dt.date
    return subset


def _records(subset: pd.DataFrame) -> list[dict[str, Any]]:
    subset = subset.astype(object)
    subset = subset.where(pd.notna(subset), None)
    records = subset.to_dict(orient="records")
    for record in records:
        for key, value in record.items():
            if isinstance(value, pd.Timestamp):
                record[key] = value.to_pydatetime()
    return records


def bulk_insert(connection: sa.Connection, table: sa.Table, frame: pd.DataFrame) -> int:
    """Insert every row of ``frame`` (columns named like ``table``'s) inside the caller's transaction."""
    if frame.empty:
        return 0
    columns = [column.name for column in table.columns if column.name in frame.columns]
    if connection.dialect.name == "postgresql":
        return _copy_postgresql(connection, table, frame, columns)
    if connection.dialect.name == "sqlite":
        return _executemany_sqlite(connection, table, frame, columns)
    # Any other dialect: SQLAlchemy's executemany, with values shaped for its type processors.
    frame = _coerce_for_table(table, frame, columns)
    inserted = 0
    statement = sa.insert(table)
    for start in range(0, len(frame), CHUNK_ROWS):
        chunk = frame.iloc[start : start + CHUNK_ROWS]
        connection.execute(statement, _records(chunk))
        inserted += len(chunk)
    return inserted


def _arrow_timestamps(values: pd.Series, timezone: bool) -> pa.Array:
    """Naive microsecond timestamps (UTC for timezone-aware columns), as SQLAlchemy stores them."""
    stamps = pd.to_datetime(values, utc=timezone)
    array = pa.Array.from_pandas(stamps)
    if timezone:
        array = pc.cast(array, pa.timestamp("us", "UTC"), safe=False)
    return pc.cast(array, pa.timestamp("us"), safe=False)


def _sqlite_column(column_type: Any, values: pd.Series) -> list[Any]:
    """One column rendered the way SQLAlchemy's SQLite types store it (``YYYY-MM-DD
    HH:MM:SS.ffffff``): dates and times by numpy and Arrow over the whole column, not per value
    in Python (numpy's ISO rendering measured twice as fast as Arrow's ``strftime`` here)."""
    if isinstance(column_type, sa.DateTime):
        stamps = _arrow_timestamps(values, bool(column_type.timezone))
        moments = stamps.to_numpy(zero_copy_only=False)
        iso = pa.array(np.datetime_as_string(moments, unit="us"), pa.string())
        text = pc.replace_substring(iso, pattern="T", replacement=" ", max_replacements=1)
        missing = pa.array(np.isnat(moments))
        return pc.if_else(missing, pa.scalar(None, pa.string()), text).to_pylist()
    if isinstance(column_type, sa.Date):
        days = pc.cast(pa.Array.from_pandas(pd.to_datetime(values)), pa.date32())
        return pc.cast(days, pa.string()).to_pylist()
    if isinstance(column_type, sa.JSON):
        return [None if value is None else json.dumps(value, sort_keys=True) for value in values]
    if isinstance(column_type, sa.Boolean):
        return [None if pd.isna(value) else int(bool(value)) for value in values]
    if not values.hasnans:
        return values.tolist()
    plain = values.astype(object)
    return plain.where(pd.notna(plain), None).tolist()


def _sqlite_rows(table: sa.Table, frame: pd.DataFrame, columns: list[str]) -> list[tuple]:
    """Rows for ``executemany``, assembled from whole rendered columns."""
    rendered = [_sqlite_column(table.c[name].type, frame[name]) for name in columns]
    return list(zip(*rendered, strict=True))


def _executemany_sqlite(
    connection: sa.Connection, table: sa.Table, frame: pd.DataFrame, columns: list[str]
) -> int:
    """One prepared INSERT with ``?`` placeholders, executed for every row: bound parameters
    only; the statement names identifiers from table metadata, never data."""
    # SQLAlchemy compiles the statement (qmark placeholders on SQLite); no SQL text is built here.
    insert_sql = str(sa.insert(table).compile(dialect=connection.dialect, column_keys=columns))
    raw = connection.connection.dbapi_connection
    assert raw is not None
    cursor: Any = raw.cursor()
    inserted = 0
    try:
        for start in range(0, len(frame), CHUNK_ROWS):
            rows = _sqlite_rows(table, frame.iloc[start : start + CHUNK_ROWS], columns)
            cursor.executemany(insert_sql, rows)
            inserted += len(rows)
    finally:
        cursor.close()
    return inserted


def _copy_postgresql(
    connection: sa.Connection, table: sa.Table, frame: pd.DataFrame, columns: list[str]
) -> int:
    """COPY ... FROM STDIN: the statement names only identifiers from table metadata, never data."""
    subset = frame.loc[:, columns].copy()
    for name in columns:
        if isinstance(table.c[name].type, sa.JSON):
            subset[name] = subset[name].map(
                lambda value: None if value is None else json.dumps(value, sort_keys=True)
            )
    arrow_table = pa.Table.from_pandas(subset, preserve_index=False)
    buffer = io.BytesIO()
    pa_csv.write_csv(
        arrow_table,
        buffer,
        write_options=pa_csv.WriteOptions(include_header=False, quoting_style="all_valid"),
    )
    buffer.seek(0)
    preparer = connection.dialect.identifier_preparer
    column_list = ", ".join(preparer.quote(name) for name in columns)
    copy_sql = f"COPY {preparer.format_table(table)} ({column_list}) FROM STDIN WITH (FORMAT csv)"
    raw = connection.connection.dbapi_connection
    assert raw is not None
    cursor: Any = raw.cursor()
    try:
        cursor.copy_expert(copy_sql, buffer)
    finally:
        cursor.close()
    return len(frame)

"""Fast, parameter-safe bulk inserts: COPY on PostgreSQL, one-transaction executemany on SQLite.

DESIGN.md measured COPY fed by pyarrow's CSV writer at ~160k rows/s on PostgreSQL against 19k for
``to_sql``; on SQLite a single-transaction ``executemany`` runs at ~130k rows/s.
"""

from __future__ import annotations

import io
import json
from collections.abc import Sequence
from typing import Any

import pandas as pd
import pyarrow as pa
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


def _sqlite_values(table: sa.Table, frame: pd.DataFrame, columns: list[str]) -> pd.DataFrame:
    """Pre-render values the way SQLAlchemy's SQLite types store them, column by column
    (vectorised), so the driver's executemany needs no per-value Python type processing."""
    rendered = {}
    for name in columns:
        column_type = table.c[name].type
        values = frame[name]
        if isinstance(column_type, sa.DateTime):
            stamps = pd.to_datetime(values, utc=bool(column_type.timezone))
            if column_type.timezone:
                stamps = stamps.dt.tz_convert("UTC").dt.tz_localize(None)
            rendered[name] = stamps.dt.strftime("%Y-%m-%d %H:%M:%S.%f")
        elif isinstance(column_type, sa.Date):
            rendered[name] = pd.to_datetime(values).dt.strftime("%Y-%m-%d")
        elif isinstance(column_type, sa.JSON):
            rendered[name] = values.map(
                lambda value: None if value is None else json.dumps(value, sort_keys=True)
            )
        elif isinstance(column_type, sa.Boolean):
            rendered[name] = values.map(lambda value: None if value is None else int(bool(value)))
        else:
            rendered[name] = values
    result = pd.DataFrame(rendered).astype(object)
    return result.where(pd.notna(result), None)


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
            chunk = _sqlite_values(table, frame.iloc[start : start + CHUNK_ROWS], columns)
            cursor.executemany(insert_sql, list(chunk.itertuples(index=False, name=None)))
            inserted += len(chunk)
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

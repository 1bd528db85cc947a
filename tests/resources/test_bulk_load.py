"""Bulk loads store exactly what SQLAlchemy's own insert stores: the SQLite path renders whole
columns through Arrow, and every type (naive and zoned times, dates, JSON, booleans, numbers,
text, missing values) must land byte for byte as ``sa.insert`` would write it; PostgreSQL's COPY
must read back equal to the frame."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta, timezone

import pandas as pd
import pytest
import sqlalchemy as sa

from cm_pipelines.resources.bulk_load import CHUNK_ROWS, bulk_insert

METADATA = sa.MetaData()


def _table(name: str) -> sa.Table:
    return sa.Table(
        name,
        METADATA,
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("label", sa.String),
        sa.Column("at", sa.DateTime),
        sa.Column("at_zoned", sa.DateTime(timezone=True)),
        sa.Column("day", sa.Date),
        sa.Column("doc", sa.JSON),
        sa.Column("flag", sa.Boolean),
        sa.Column("amount", sa.Float),
    )


BULK, REFERENCE = _table("bulk_rows"), _table("reference_rows")


def _frame(rows: int) -> pd.DataFrame:
    base = datetime(2026, 11, 20, 9, 0, 5, 123456)
    plus_ten = timezone(timedelta(hours=10))
    return pd.DataFrame(
        {
            "id": range(rows),
            "label": [None if i % 7 == 0 else f"row {i}" for i in range(rows)],
            "at": [None if i % 11 == 0 else base + timedelta(seconds=i) for i in range(rows)],
            "at_zoned": [
                None if i % 13 == 0 else (base + timedelta(minutes=i)).replace(tzinfo=plus_ten)
                for i in range(rows)
            ],
            "day": [
                None if i % 5 == 0 else date(2026, 1, 1) + timedelta(days=i % 300)
                for i in range(rows)
            ],
            "doc": [None if i % 3 == 0 else {"n": i, "tags": ["a", "b"]} for i in range(rows)],
            "flag": [None if i % 4 == 0 else bool(i % 2) for i in range(rows)],
            "amount": [float("nan") if i % 6 == 0 else i / 3 for i in range(rows)],
        }
    )


def _reference_records(frame: pd.DataFrame) -> list[dict]:
    records = []
    for row in frame.to_dict(orient="records"):
        record = {}
        for key, value in row.items():
            if not isinstance(value, dict | list) and pd.isna(value):
                value = None
            elif isinstance(value, pd.Timestamp):
                value = value.to_pydatetime()
            if key == "at_zoned" and value is not None:
                value = value.astimezone(UTC).replace(tzinfo=None)  # zoned times are kept in UTC
            if key == "doc" and value is None:
                value = sa.null()  # SQL NULL, as bulk loads write it (not JSON 'null')
            record[key] = value
        records.append(record)
    return records


def test_sqlite_rows_are_stored_as_sqlalchemy_stores_them(tmp_path) -> None:
    engine = sa.create_engine(f"sqlite:///{tmp_path / 'bulk.db'}")
    METADATA.create_all(engine)
    frame = _frame(CHUNK_ROWS + 1_234)  # more than one chunk
    with engine.begin() as connection:
        assert bulk_insert(connection, BULK, frame) == len(frame)
        connection.execute(sa.insert(REFERENCE), _reference_records(frame))
    with engine.connect() as connection:
        stored = connection.exec_driver_sql("SELECT * FROM bulk_rows ORDER BY id").all()
        expected = connection.exec_driver_sql("SELECT * FROM reference_rows ORDER BY id").all()
    assert stored == expected
    assert stored[1][2] == "2026-11-20 09:00:06.123456"


@pytest.mark.integration
def test_postgresql_copy_reads_back_the_frame(postgres_url) -> None:
    engine = sa.create_engine(postgres_url)
    METADATA.create_all(engine)
    frame = _frame(2_000)
    with engine.begin() as connection:
        assert bulk_insert(connection, BULK, frame) == len(frame)
        connection.execute(sa.insert(REFERENCE), _reference_records(frame))
    with engine.connect() as connection:
        stored = connection.execute(sa.select(BULK).order_by(BULK.c.id)).all()
        expected = connection.execute(sa.select(REFERENCE).order_by(REFERENCE.c.id)).all()
    engine.dispose()
    assert stored == expected

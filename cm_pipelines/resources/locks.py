"""Database locks that make concurrent writers of one scope take turns.

PostgreSQL gets transaction-scoped advisory locks keyed by a stable hash of (scope, key), so
every process agrees on the key; SQLite needs none, because the warehouse opens every write
transaction with ``BEGIN IMMEDIATE`` (one writer at a time, ``resources.warehouse``).
"""

from __future__ import annotations

import hashlib

import sqlalchemy as sa


def advisory_lock_key(scope: str, partition_key: str) -> int:
    """A stable signed 64-bit key for PostgreSQL advisory locks, one per (scope, partition)."""
    digest = hashlib.blake2b(f"cm:{scope}:{partition_key}".encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big", signed=True)


def lock_partition(connection: sa.Connection, partition_key: str, scope: str = "ingestion") -> None:
    """Make concurrent writers of one partition take turns until this transaction ends.

    Two runs replacing the same call day at once would each delete only what they can see and
    insert their own rows: duplicated quarantine rows, primary-key failures. On PostgreSQL a
    transaction-scoped advisory lock makes the second writer wait for the first to commit, then
    replace what it wrote (READ COMMITTED: each statement sees the latest commit). SQLite write
    transactions already begin IMMEDIATE (``resources.warehouse``): one writer at a time.
    """
    if connection.dialect.name == "postgresql":
        connection.execute(
            sa.text("SELECT pg_advisory_xact_lock(:key)"),
            {"key": advisory_lock_key(scope, partition_key)},
        )

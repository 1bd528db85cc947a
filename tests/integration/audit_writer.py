"""A writer process for the concurrency tests: imports only what appending needs, so it starts fast."""

from __future__ import annotations

import time

import sqlalchemy as sa

from cm_pipelines.platform.audit_log import append_audit


def unlocked_writer(url: str, number: int, count: int) -> int:
    """Append ``count`` entries on a plain engine (SQLite: deferred transactions, no immediate
    write lock): collisions must fail and be retried, never fork. Returns refused attempts."""
    engine = sa.create_engine(url, connect_args={"timeout": 30} if url.startswith("sqlite") else {})
    refused = 0
    written = 0
    try:
        while written < count:
            try:
                with engine.begin() as connection:
                    append_audit(
                        connection,
                        actor=f"process:{number}",
                        action="test.unlocked",
                        details={"index": written},
                    )
                written += 1
            except sa.exc.DBAPIError:
                refused += 1
                time.sleep(0.001 * (number + 1))
                if refused > 2000:
                    raise
    finally:
        engine.dispose()
    return refused

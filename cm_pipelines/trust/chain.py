"""Verifying the audit log's hash chain against anchors kept out of the database's reach.

Verification walks the chain in pages and compares it with *anchors*: heads recorded in the
object store by the daily verification, out of reach of whoever administers the database. The
asset ``audit_chain``, its check and ``cm audit verify`` all run ``verify_with_anchors``.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Iterator
from datetime import UTC, datetime
from typing import Any, Protocol

import sqlalchemy as sa

from cm_pipelines.domain.trust.audit_chain import ChainAnchor, ChainVerdict, verify_chain
from cm_pipelines.platform import landing
from cm_pipelines.resources.object_store import ObjectStoreResource
from cm_pipelines.resources.warehouse import WarehouseResource
from cm_pipelines.tables.audit import audit_log

PAGE_SIZE = 5_000
ANCHORS_DIR = f"{landing.AUDIT}/anchors"
_HEX64 = re.compile(r"[0-9a-f]{64}")


class _ObjectStore(Protocol):
    def write_bytes(self, path: str, data: bytes) -> None: ...
    def read_bytes(self, path: str) -> bytes: ...
    def list_files(self, prefix: str) -> list[Any]: ...


def iter_chain(connection: sa.Connection, page_size: int = PAGE_SIZE) -> Iterator[dict[str, Any]]:
    """Every entry in ``seq`` order, read a page at a time (constant memory on any log size)."""
    after = None
    while True:
        query = sa.select(audit_log).order_by(audit_log.c.seq).limit(page_size)
        if after is not None:
            query = query.where(audit_log.c.seq > after)
        rows = [dict(row) for row in connection.execute(query).mappings()]
        yield from rows
        if len(rows) < page_size:
            return
        after = rows[-1]["seq"]


def read_chain(connection: sa.Connection) -> list[dict[str, Any]]:
    """Every entry in ``seq`` order, as plain dicts for ``verify_chain``."""
    return list(iter_chain(connection))


def verify_warehouse_chain(
    connection: sa.Connection, anchors: Iterable[ChainAnchor] = ()
) -> ChainVerdict:
    """Verify the warehouse's audit log against the given anchors."""
    return verify_chain(iter_chain(connection), anchors)


def anchor_path(anchor: ChainAnchor) -> str:
    """Object-store path of one recorded head (sorted by seq when listed)."""
    return f"{ANCHORS_DIR}/head-{anchor.seq:012d}-{anchor.entry_hash[:16]}.json"


def record_anchor(
    object_store: _ObjectStore, verdict: ChainVerdict, *, run_id: str | None = None
) -> str | None:
    """Write the verified head to the object store; a broken or empty chain is never anchored."""
    if not verdict.ok or verdict.head_seq == 0:
        return None
    anchor = ChainAnchor(verdict.head_seq, verdict.head_hash)
    path = anchor_path(anchor)
    document = {
        "seq": anchor.seq,
        "entry_hash": anchor.entry_hash,
        "recorded_at": datetime.now(UTC).isoformat(),
        "run_id": run_id,
    }
    object_store.write_bytes(path, json.dumps(document, sort_keys=True).encode())
    return path


class AnchorUnreadable(ValueError):
    """An anchor file in the object store is not what ``record_anchor`` writes."""


def load_anchors(object_store: _ObjectStore) -> list[ChainAnchor]:
    """Every anchor recorded so far, oldest first; a damaged anchor file is an error, not skipped."""
    anchors = []
    for item in object_store.list_files(ANCHORS_DIR):
        if not item.path.endswith(".json"):
            continue
        try:
            document = json.loads(object_store.read_bytes(item.path))
            anchor = ChainAnchor(int(document["seq"]), str(document["entry_hash"]))
        except (ValueError, KeyError, TypeError) as exc:
            raise AnchorUnreadable(f"anchor file {item.path} cannot be read") from exc
        if anchor.seq < 1 or not _HEX64.fullmatch(anchor.entry_hash):
            raise AnchorUnreadable(f"anchor file {item.path} holds no valid seq and hash")
        anchors.append(anchor)
    return sorted(anchors, key=lambda anchor: anchor.seq)


def verify_with_anchors(
    warehouse: WarehouseResource, object_store: ObjectStoreResource
) -> ChainVerdict:
    """The one verification ``cm audit verify``, this asset and its check all run."""
    anchors = load_anchors(object_store)
    with warehouse.connect() as connection:
        return verify_warehouse_chain(connection, anchors)


def verdict_metadata(verdict: ChainVerdict) -> dict[str, object]:
    return {
        "ok": verdict.ok,
        "entries_checked": verdict.entries_checked,
        "head_seq": verdict.head_seq,
        "head_hash": verdict.head_hash,
        "anchors_checked": verdict.anchors_checked,
        "problem": verdict.problem or "none",
        "first_bad_seq": verdict.first_bad_seq if verdict.first_bad_seq is not None else 0,
        "verdict": verdict.describe(),
    }

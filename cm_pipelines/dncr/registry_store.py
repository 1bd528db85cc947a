"""What the do-not-call assets, checks and the ``cm dncr`` command share: where registry files and
versions live, reading and writing version Parquet, and loading the evidence a wash rests on.

Kept free of Dagster definitions so the command line can load evidence without building the
code location.
"""

from __future__ import annotations

import hashlib
import io
import posixpath
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any

import dagster as dg
import fsspec
import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import sqlalchemy as sa

from cm_pipelines.domain.dncr.evidence import DownloadableEvidence, Evidence, WashOnlyEvidence
from cm_pipelines.domain.dncr.number_index import NumberIndex
from cm_pipelines.domain.dncr.registries import Registry
from cm_pipelines.platform import landing
from cm_pipelines.resources.object_store import ObjectStoreResource
from cm_pipelines.tables import dncr as tables
from cm_pipelines.tables.dsar import restrictions

ACTOR = "pipeline:dncr"
STATUS_CANDIDATE, STATUS_ACTIVE = "candidate", "active"
STATUS_REJECTED, STATUS_SUPERSEDED = "rejected", "superseded"
_DAY_LENGTH = len("2026-01-01")


class RegistryIntegrityError(RuntimeError):
    """A promoted version's Parquet is missing or differs from what was recorded at promotion."""


# --------------------------------------------------------------------------- object-store paths


def version_path(registry_id: str, version_id: str) -> str:
    """Parquet of one registry version's numbers (and wash results)."""
    return f"{landing.REGISTRY}/{registry_id}/versions/{version_id}.parquet"


def changes_path(registry_id: str, version_id: str) -> str:
    """Parquet of a version's additions and removals against the version before it."""
    return f"{landing.REGISTRY}/{registry_id}/changes/{version_id}.parquet"


def allowed_export_path(tenant_id: str, campaign_id: str, stamp: str) -> str:
    """The allowed list of one washed campaign, for the dialer."""
    return f"{landing.EXPORTS}/dncr/{tenant_id}/{campaign_id}/{stamp}_allowed.csv"


def wash_request_path(registry_id: str, tenant_id: str, stamp: str) -> str:
    """Numbers to submit to a wash-only registry (no fresh result yet)."""
    return f"{landing.EXPORTS}/dncr/wash_requests/{registry_id}/{tenant_id}/{stamp}.csv"


def campaigns_prefix(tenant_id: str) -> str:
    return posixpath.dirname(landing.campaign_file(tenant_id, "placeholder"))


def file_stamp(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y%m%dT%H%M%SZ")


def sha256_hex(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


# --------------------------------------------------------------------------- registry sources


@dataclass(frozen=True)
class SourceFile:
    """A landed registry file: ``path`` is object-store relative, or a full URL for a
    ``source_url`` registry; ``role`` is full | changes | wash_results."""

    path: str
    role: str
    day: str | None
    size: int

    @property
    def name(self) -> str:
        return self.path.rsplit("/", 1)[-1]


def _is_day(value: str) -> bool:
    try:
        date.fromisoformat(value)
    except ValueError:
        return False
    return len(value) == _DAY_LENGTH


class RegistrySource:
    """Files of one registry: the object store's landing folder, or its ``source_url``."""

    def __init__(self, registry: Registry, object_store: ObjectStoreResource):
        self.registry = registry
        self.object_store = object_store
        self._fs: Any = None
        self._root = ""
        if registry.source_url:
            options: dict[str, Any] = {}
            if registry.source_url.startswith("s3://"):
                endpoint = object_store.s3_endpoint_url or str(
                    dg.EnvVar("CM_S3_ENDPOINT_URL").get_value(default="") or ""
                )
                if endpoint:
                    options["client_kwargs"] = {"endpoint_url": endpoint}
            self._fs, self._root = fsspec.core.url_to_fs(registry.source_url, **options)

    def _folder(self, role: str) -> str:
        if role == "full":
            return posixpath.dirname(landing.registry_full_dir(self.registry.id, "day"))
        if role == "changes":
            return posixpath.dirname(landing.registry_changes_dir(self.registry.id, "day"))
        return landing.wash_results_dir(self.registry.id)

    def _list(self, role: str) -> list[tuple[str, str, int]]:
        """(path, path relative to the role folder, size) of every file of a role."""
        if self._fs is None:
            folder = self._folder(role)
            return [
                (item.path, item.path[len(folder) + 1 :], item.size)
                for item in self.object_store.list_files(folder)
            ]
        folder = posixpath.join(self._root, posixpath.basename(self._folder(role)))
        if not self._fs.exists(folder):
            return []
        found = self._fs.find(folder, detail=True)
        protocol = self.registry.source_url.split("://", 1)[0]
        return sorted(
            (f"{protocol}://{path}", path[len(folder) + 1 :], int(info.get("size") or 0))
            for path, info in found.items()
            if info.get("type") != "directory"
        )

    def files(self, role: str) -> list[SourceFile]:
        """Files of ``full`` / ``changes`` (grouped by their day folder) or ``wash_results``."""
        result = []
        for path, relative, size in self._list(role):
            if role == "wash_results":
                result.append(SourceFile(path, role, None, size))
                continue
            day = relative.split("/", 1)[0]
            if "/" in relative and _is_day(day):
                result.append(SourceFile(path, role, day, size))
        return result

    def days(self, role: str) -> dict[str, list[SourceFile]]:
        grouped: dict[str, list[SourceFile]] = {}
        for item in self.files(role):
            grouped.setdefault(str(item.day), []).append(item)
        return dict(sorted(grouped.items()))

    def read(self, item: SourceFile) -> bytes:
        if self._fs is None:
            return self.object_store.read_bytes(item.path)
        return bytes(self._fs.cat_file(item.path.split("://", 1)[1]))

    def fingerprint(self) -> str:
        """Changes whenever a file appears, disappears or changes size (the sensor's cursor)."""
        digest = hashlib.sha256()
        for role in ("full", "changes", "wash_results"):
            for path, _, size in self._list(role):
                digest.update(f"{path}\0{size}\n".encode())
        return digest.hexdigest()


# --------------------------------------------------------------------------- version Parquet


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


def read_version(object_store: ObjectStoreResource, row: Mapping[str, Any]) -> VersionContent:
    """A version's content, refused unless its bytes hash to what the warehouse recorded."""
    try:
        data = object_store.read_bytes(str(row["parquet_path"]))
    except FileNotFoundError as exc:
        raise RegistryIntegrityError(
            f"registry {row['registry_id']} version {row['version_id']}: Parquet is missing"
        ) from exc
    if sha256_hex(data) != row["parquet_sha256"]:
        raise RegistryIntegrityError(
            f"registry {row['registry_id']} version {row['version_id']}: Parquet sha256 "
            "differs from the one recorded at build; refusing to decide on it"
        )
    return parquet_to_numbers(data)


# --------------------------------------------------------------------------- warehouse reads


def version_rows(
    connection: sa.Connection, registry_id: str, statuses: Sequence[str] | None = None
) -> list[dict[str, Any]]:
    versions = tables.registry_versions
    query = sa.select(versions).where(versions.c.registry_id == registry_id)
    if statuses is not None:
        query = query.where(versions.c.status.in_(list(statuses)))
    return [
        dict(row) for row in connection.execute(query.order_by(versions.c.created_at)).mappings()
    ]


def active_version(connection: sa.Connection, registry_id: str) -> dict[str, Any] | None:
    rows = version_rows(connection, registry_id, [STATUS_ACTIVE])
    if len(rows) > 1:
        raise RegistryIntegrityError(f"registry {registry_id} has {len(rows)} active versions")
    return rows[0] if rows else None


def run_candidates(connection: sa.Connection, run_id: str) -> list[dict[str, Any]]:
    """Candidate versions built by this run (what its checks and promotion act on)."""
    versions = tables.registry_versions
    query = sa.select(versions).where(versions.c.run_id == run_id).order_by(versions.c.registry_id)
    return [dict(row) for row in connection.execute(query).mappings()]


def as_utc(value: datetime | None) -> datetime | None:
    """Warehouse timestamps as aware UTC (SQLite returns naive UTC)."""
    if value is None:
        return None
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def load_evidence(
    connection: sa.Connection,
    object_store: ObjectStoreResource,
    registries: Sequence[Registry],
    cache: dict[str, Evidence] | None = None,
) -> list[Evidence]:
    """The active version of each registry as washing evidence (an empty one when none is
    active: the wash then fails closed for numbers that registry covers)."""
    evidence: list[Evidence] = []
    for registry in registries:
        if cache is not None and registry.id in cache:
            evidence.append(cache[registry.id])
            continue
        row = active_version(connection, registry.id)
        item: Evidence
        if row is None:
            item = (
                DownloadableEvidence(registry)
                if registry.is_downloadable
                else WashOnlyEvidence(registry)
            )
        else:
            content = read_version(object_store, row)
            index = NumberIndex(content.numbers)
            if registry.is_downloadable:
                item = DownloadableEvidence(
                    registry, str(row["version_id"]), as_utc(row["data_as_of"]), index
                )
            else:
                assert content.registered is not None and content.wash_days is not None
                item = WashOnlyEvidence(
                    registry, str(row["version_id"]), index, content.registered, content.wash_days
                )
        if cache is not None:
            cache[registry.id] = item
        evidence.append(item)
    return evidence


def suppressed_hashes(connection: sa.Connection, tenant_id: str) -> set[str]:
    """Keyed hashes on the tenant's own do-not-call list (an erased subject keeps only this)."""
    entries = tables.suppression_entries
    query = sa.select(entries.c.e164_hash).where(
        entries.c.tenant_id == tenant_id, entries.c.removed_at.is_(None)
    )
    return {str(row[0]) for row in connection.execute(query)}


def restricted_hashes(connection: sa.Connection, tenant_id: str) -> set[str]:
    """Identifier hashes under an active DSAR restriction: never exported or submitted."""
    query = sa.select(restrictions.c.identifier_hash).where(
        restrictions.c.tenant_id == tenant_id, restrictions.c.lifted_at.is_(None)
    )
    return {str(row[0]) for row in connection.execute(query)}


def tenant_consents(
    connection: sa.Connection, tenant_id: str, hashes: set[str] | None = None
) -> pd.DataFrame:
    """Consent and relationship records of a tenant (optionally only for some number hashes)."""
    consents = tables.consents
    query = sa.select(
        consents.c.e164_hash,
        consents.c.kind,
        consents.c.recorded_at,
        consents.c.expires_at,
        consents.c.revoked_at,
        consents.c.restricted_at,
    ).where(consents.c.tenant_id == tenant_id)
    rows = [dict(row) for row in connection.execute(query).mappings()]
    frame = pd.DataFrame(
        rows,
        columns=["e164_hash", "kind", "recorded_at", "expires_at", "revoked_at", "restricted_at"],
    )
    if hashes is not None and not frame.empty:
        frame = frame.loc[frame["e164_hash"].isin(hashes)]
    for column in ("recorded_at", "expires_at", "revoked_at", "restricted_at"):
        frame[column] = (
            frame[column].astype(object).map(as_utc) if not frame.empty else frame[column]
        )
    return frame


# --------------------------------------------------------------------------- campaign files


class CampaignFileError(ValueError):
    """A campaign list could not be read; says what to fix, never quotes a number."""


def read_campaign_csv(data: bytes, source: str) -> pd.DataFrame:
    """``phone,contact_ref`` CSV as strings (type inference would drop leading zeros and '+')."""
    if not data.strip():
        return pd.DataFrame(
            {"phone": pd.Series([], dtype=object), "contact_ref": pd.Series([], dtype=object)}
        )
    try:
        frame = pd.read_csv(io.BytesIO(data), dtype=str, engine="pyarrow", keep_default_na=False)
    except (ValueError, pa.ArrowInvalid) as exc:
        raise CampaignFileError(f"{source}: not a readable CSV ({type(exc).__name__})") from exc
    frame.columns = [str(column).strip().lower() for column in frame.columns]
    if "phone" not in frame.columns:
        raise CampaignFileError(f"{source}: header must name a 'phone' column (and 'contact_ref')")
    if "contact_ref" not in frame.columns:
        frame["contact_ref"] = ""
    return frame.loc[:, ["phone", "contact_ref"]].astype(object)


def allowed_export_csv(frame: pd.DataFrame) -> bytes:
    """The dialer's file: number, contact reference, decision reason, valid_until, windows."""
    import json

    output = pd.DataFrame(
        {
            "e164": frame["e164"],
            "contact_ref": frame["contact_ref"],
            "reason": frame["reason"],
            "valid_until": [value.isoformat() for value in frame["valid_until"]],
            "timezones": [
                " ".join(window["timezones"]) if window else ""
                for window in frame["calling_window"]
            ],
            "calling_windows_utc": [
                json.dumps([[w["start_utc"], w["end_utc"]] for w in window["windows"]])
                if window
                else "[]"
                for window in frame["calling_window"]
            ],
        }
    )
    return output.to_csv(index=False, lineterminator="\n").encode("utf-8")


def wash_request_csv(e164_numbers: Sequence[str]) -> bytes:
    """One number per line, E.164 digits without '+', the form wash-only registries return."""
    lines = ["phone_number"] + [number.lstrip("+") for number in sorted(set(e164_numbers))]
    return ("\n".join(lines) + "\n").encode("ascii")

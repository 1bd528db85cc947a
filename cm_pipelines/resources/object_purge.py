"""Deleting objects for real: batches of at most 1,000 keys, every version, then confirmation.

Two traps make ``fs.rm`` unfit for a purge (DESIGN.md): s3fs deletes in quiet mode and does not
raise on per-key errors (an object under an object-lock legal hold is silently skipped), and on
a versioned bucket ``rm`` only adds a delete marker, leaving every version readable. So on S3
this module lists the versions and delete markers of the keys, deletes each by ``VersionId``
with ``DeleteObjects`` (non-quiet, at most 1,000 per request), reads the per-key errors, and
lists again to confirm nothing of the key is left. On other filesystems it deletes file by file
and checks each is gone. Whatever is not confirmed gone is reported with a reason code, never
assumed deleted.
"""

from __future__ import annotations

import errno
import posixpath
import re
from collections import defaultdict
from collections.abc import Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

from cm_pipelines.resources.object_store import ObjectStoreResource

MAX_KEYS_PER_REQUEST = 1000
FILE_DELETE_THREADS = 8
_STEM = re.compile(r"[^0-9]*")


@dataclass
class PurgeOutcome:
    """Per-path result of a purge: ``gone`` paths are confirmed absent (deleted now or already
    absent), ``failed`` maps a path to a reason code (no personal data)."""

    gone: list[str] = field(default_factory=list)
    failed: dict[str, str] = field(default_factory=dict)
    already_absent: int = 0
    versions_deleted: int = 0
    requests: int = 0


def _chunks(items: Sequence[Any], size: int) -> Iterator[Sequence[Any]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


def purge_objects(
    store: ObjectStoreResource, paths: Sequence[str], *, batch_size: int = MAX_KEYS_PER_REQUEST
) -> PurgeOutcome:
    """Delete ``paths`` (relative to the store root) and confirm each is gone."""
    if not 1 <= batch_size <= MAX_KEYS_PER_REQUEST:
        raise ValueError(f"batch_size must be 1-{MAX_KEYS_PER_REQUEST}")
    unique = sorted(set(paths))
    outcome = PurgeOutcome()
    for chunk in _chunks(unique, batch_size):
        if store.protocol == "s3":
            _purge_s3(store, chunk, outcome)
        else:
            _purge_files(store, chunk, outcome)
    return outcome


def still_present(store: ObjectStoreResource, paths: Sequence[str]) -> list[str]:
    """The paths of which anything is left (on S3: any version or delete marker)."""
    unique = sorted(set(paths))
    if store.protocol != "s3":
        fs = store.filesystem()
        return [path for path in unique if fs.exists(store.full_path(path))]
    left: list[str] = []
    for chunk in _chunks(unique, MAX_KEYS_PER_REQUEST):
        keys = _s3_keys(store, chunk)
        versions = _list_versions(store.filesystem(), keys)
        left.extend(path for path, (bucket, key) in keys.items() if versions.get((bucket, key)))
    return sorted(left)


def _delete_file(fs: Any, full: str) -> tuple[str, bool]:
    """Delete one file and check it is gone: (reason code or "", was it there)."""
    try:
        if not fs.exists(full):
            return "", False
        if fs.isdir(full):
            return "not_a_file", True
        fs.rm_file(full)
    except FileNotFoundError:
        pass
    except PermissionError:
        return "permission_denied", True
    except OSError as exc:
        return f"os_{errno.errorcode.get(exc.errno or 0, 'error')}".lower(), True
    return ("still_present" if fs.exists(full) else ""), True


def _purge_files(store: ObjectStoreResource, paths: Sequence[str], outcome: PurgeOutcome) -> None:
    """File by file, a few at a time: an unlink mostly waits on the filesystem journal (more so
    when other writers fsync), and concurrent unlinks share one journal commit."""
    fs = store.filesystem()
    fulls = [store.full_path(path) for path in paths]
    with ThreadPoolExecutor(max_workers=FILE_DELETE_THREADS) as pool:
        results = list(pool.map(lambda full: _delete_file(fs, full), fulls))
    for path, (failure, existed) in zip(paths, results, strict=True):
        outcome.requests += 1
        if failure:
            outcome.failed[path] = failure
        elif not existed:
            outcome.already_absent += 1
            outcome.gone.append(path)
        else:
            outcome.versions_deleted += 1
            outcome.gone.append(path)


def _s3_keys(store: ObjectStoreResource, paths: Sequence[str]) -> dict[str, tuple[str, str]]:
    """Relative path -> (bucket, key)."""
    keys = {}
    for path in paths:
        bucket, _, key = store.full_path(path).partition("/")
        keys[path] = (bucket, key)
    return keys


def _listing_groups(folder: str, keys: set[str]) -> list[tuple[str, set[str]]]:
    """Split a folder's keys into groups listed by their longest common prefix.

    Landing names start with a kind (``whisper_``, ``summary_``...) then an id; grouping by that
    leading non-digit stem keeps each prefix long, so a listing reads little beyond the batch.
    Only the named Next markers paginate: a bare ``KeyMarker`` is not read the same way by
    every S3-compatible store.
    """
    prefix_length = len(folder) + 1 if folder else 0
    stems: dict[str, set[str]] = defaultdict(set)
    for key in keys:
        stems[_STEM.match(key[prefix_length:]).group(0)].add(key)  # type: ignore[union-attr]
    return [(posixpath.commonprefix(sorted(group)), group) for group in stems.values()]


def _list_versions(
    fs: Any, keys: dict[str, tuple[str, str]]
) -> dict[tuple[str, str], list[dict[str, str]]]:
    """Every version and delete marker of ``keys``."""
    wanted: dict[tuple[str, str], set[str]] = defaultdict(set)
    for bucket, key in keys.values():
        wanted[(bucket, posixpath.dirname(key))].add(key)
    found: dict[tuple[str, str], list[dict[str, str]]] = defaultdict(list)
    for (bucket, folder), folder_keys in wanted.items():
        for prefix, group in _listing_groups(folder, folder_keys):
            last = max(group)
            params: dict[str, Any] = {"Bucket": bucket, "Prefix": prefix}
            while True:
                page = fs.call_s3("list_object_versions", **params)
                entries = list(page.get("Versions") or []) + list(page.get("DeleteMarkers") or [])
                for entry in entries:
                    if entry["Key"] in group:
                        found[(bucket, entry["Key"])].append(
                            {
                                "Key": entry["Key"],
                                "VersionId": str(entry.get("VersionId") or "null"),
                            }
                        )
                next_key = page.get("NextKeyMarker")
                if not page.get("IsTruncated") or not next_key or next_key > last:
                    break
                params["KeyMarker"] = next_key
                if page.get("NextVersionIdMarker"):
                    params["VersionIdMarker"] = page["NextVersionIdMarker"]
                else:
                    params.pop("VersionIdMarker", None)
    return found


def _purge_s3(store: ObjectStoreResource, paths: Sequence[str], outcome: PurgeOutcome) -> None:
    fs = store.filesystem()
    keys = _s3_keys(store, paths)
    before = _list_versions(fs, keys)
    outcome.requests += 1
    errors: dict[tuple[str, str], str] = {}
    by_bucket: dict[str, list[dict[str, str]]] = defaultdict(list)
    for (bucket, _key), versions in before.items():
        by_bucket[bucket].extend(versions)
    for bucket, versions in by_bucket.items():
        for request in _chunks(versions, MAX_KEYS_PER_REQUEST):
            response = fs.call_s3(
                "delete_objects",
                Bucket=bucket,
                Delete={"Objects": list(request), "Quiet": False},
            )
            outcome.requests += 1
            outcome.versions_deleted += len(response.get("Deleted") or [])
            for error in response.get("Errors") or []:
                code = str(error.get("Code") or "error")
                errors[(bucket, str(error.get("Key")))] = f"s3_{code}"[:64].lower()
    fs.invalidate_cache()
    after = _list_versions(fs, keys) if before else {}
    outcome.requests += 1 if before else 0
    for path, (bucket, key) in keys.items():
        if not before.get((bucket, key)):
            outcome.already_absent += 1
            outcome.gone.append(path)
        elif after.get((bucket, key)):
            outcome.failed[path] = errors.get((bucket, key), "still_present")
        else:
            outcome.gone.append(path)

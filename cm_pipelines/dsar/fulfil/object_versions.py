"""Old versions of a rewritten object: on a versioned bucket they still hold what was erased."""

from __future__ import annotations

from typing import Any

from cm_pipelines.dsar.fulfil.context import FulfilmentError
from cm_pipelines.resources.object_store import ObjectStoreResource

S3_DELETE_BATCH = 1000
"""The most keys one S3 ``DeleteObjects`` call takes."""


def drop_noncurrent_versions(object_store: ObjectStoreResource, path: str) -> int:
    """After rewriting an object without the subject, delete its older versions: on a
    versioned bucket they would still hold what was erased. Returns how many were deleted."""
    if object_store.protocol != "s3":
        return 0
    fs = object_store.filesystem()
    bucket, _, key = object_store.full_path(path).partition("/")
    old: list[dict[str, str]] = []
    params: dict[str, Any] = {"Bucket": bucket, "Prefix": key}
    while True:
        page = fs.call_s3("list_object_versions", **params)
        for entry in list(page.get("Versions") or []) + list(page.get("DeleteMarkers") or []):
            if entry["Key"] == key and not entry.get("IsLatest"):
                old.append({"Key": key, "VersionId": str(entry["VersionId"])})
        if not page.get("IsTruncated"):
            break
        params["KeyMarker"] = page.get("NextKeyMarker")
        params["VersionIdMarker"] = page.get("NextVersionIdMarker")
    for start in range(0, len(old), S3_DELETE_BATCH):
        batch = old[start : start + S3_DELETE_BATCH]
        response = fs.call_s3(
            "delete_objects", Bucket=bucket, Delete={"Objects": batch, "Quiet": False}
        )
        if response.get("Errors"):
            raise FulfilmentError(
                f"{len(response['Errors'])} old version(s) of a rewritten object could not be "
                "deleted; re-run to retry"
            )
    fs.invalidate_cache()
    return len(old)

"""The object store: an fsspec filesystem rooted at ``CM_STORAGE_URL`` (``file://`` or ``s3://``).

Every path the platform uses is relative to the root (see ``cm_pipelines.platform.landing``), so the same
code runs on a laptop folder and an S3 bucket. S3 endpoint and credentials come from environment
variables (``CM_S3_ENDPOINT_URL``, ``AWS_ACCESS_KEY_ID``, ``AWS_SECRET_ACCESS_KEY``, ``AWS_REGION``).
"""

from __future__ import annotations

import os
import posixpath
import threading
from dataclasses import dataclass
from typing import Any

import dagster as dg
import fsspec
from pydantic import Field

from cm_pipelines.platform import settings

_FILESYSTEMS: dict[tuple[str, str, str], Any] = {}
_LOCK = threading.Lock()


class UnsafeObjectPathError(ValueError):
    """A relative path tried to leave the store root or carried control characters."""


def check_relative_path(path: str) -> str:
    """Refuse traversal, absolute paths and control characters before they reach the filesystem."""
    if not path or len(path) > 1024:
        raise UnsafeObjectPathError("object path must be 1-1024 characters")
    if any(ord(ch) < 32 or ord(ch) == 127 for ch in path) or "\\" in path:
        raise UnsafeObjectPathError("object path contains control characters or backslashes")
    if path.startswith("/") or "://" in path:
        raise UnsafeObjectPathError("object path must be relative to the store root")
    parts = path.split("/")
    if any(part in ("", ".", "..") for part in parts):
        raise UnsafeObjectPathError("object path must not contain empty, '.' or '..' segments")
    return path


@dataclass(frozen=True)
class ObjectInfo:
    path: str
    size: int


class ObjectStoreResource(dg.ConfigurableResource):
    """Object storage. ``url`` empty means ``CM_STORAGE_URL`` or the project-local folder."""

    url: str = Field(default="", description="fsspec root URL; empty reads CM_STORAGE_URL.")
    s3_endpoint_url: str = Field(
        default="", description="S3 endpoint; empty reads CM_S3_ENDPOINT_URL."
    )

    def root_url(self) -> str:
        return (self.url or settings.storage_url()).rstrip("/")

    def _endpoint(self) -> str:
        return self.s3_endpoint_url or str(
            dg.EnvVar("CM_S3_ENDPOINT_URL").get_value(default="") or ""
        )

    @property
    def protocol(self) -> str:
        root = self.root_url()
        return root.split("://", 1)[0] if "://" in root else "file"

    def filesystem(self) -> Any:
        """One fsspec filesystem per root and endpoint per process."""
        root, endpoint = self.root_url(), self._endpoint()
        key = (self.protocol, root, endpoint)
        with _LOCK:
            fs = _FILESYSTEMS.get(key)
            if fs is None:
                if self.protocol == "s3":
                    options: dict[str, Any] = {"version_aware": True}
                    if endpoint:
                        options["client_kwargs"] = {"endpoint_url": endpoint}
                    fs = fsspec.filesystem("s3", **options)
                else:
                    fs = fsspec.filesystem(self.protocol, auto_mkdir=True)
                _FILESYSTEMS[key] = fs
            return fs

    def _root_path(self) -> str:
        root = self.root_url()
        return root.split("://", 1)[1] if "://" in root else root

    def full_path(self, path: str) -> str:
        return posixpath.join(self._root_path(), check_relative_path(path))

    def write_bytes(self, path: str, data: bytes) -> None:
        full = self.full_path(path)
        fs = self.filesystem()
        if self.protocol == "file":
            # Write then rename, so a killed run never leaves a half-written object behind.
            fs.makedirs(posixpath.dirname(full), exist_ok=True)
            temporary = f"{full}.partial"
            with fs.open(temporary, "wb") as handle:
                handle.write(data)
            fs.mv(temporary, full)
        else:
            fs.pipe_file(full, data)

    def read_bytes(self, path: str) -> bytes:
        return bytes(self.filesystem().cat_file(self.full_path(path)))

    def exists(self, path: str) -> bool:
        fs = self.filesystem()
        full = self.full_path(path)
        if self.protocol == "s3":
            fs.invalidate_cache(full)
        return bool(fs.exists(full))

    def list_files(self, prefix: str) -> list[ObjectInfo]:
        """Every object under ``prefix`` (recursive), sorted, with paths relative to the root."""
        fs = self.filesystem()
        full_prefix = self.full_path(prefix)
        if self.protocol == "s3":
            fs.invalidate_cache(full_prefix)
        if not fs.exists(full_prefix):
            return []
        root = self._root_path().rstrip("/") + "/"
        found = fs.find(full_prefix, detail=True)
        objects = []
        for full, info in found.items():
            if info.get("type") == "directory" or full.endswith(".partial"):
                continue
            relative = full[len(root) :] if full.startswith(root) else full
            objects.append(ObjectInfo(relative, int(info.get("size") or 0)))
        return sorted(objects, key=lambda item: item.path)

    def list_folders(self, prefix: str) -> list[str]:
        """Names of the folders directly under ``prefix`` (one level, not recursive), sorted."""
        fs = self.filesystem()
        full_prefix = self.full_path(prefix)
        if self.protocol == "s3":
            fs.invalidate_cache(full_prefix)
        if not fs.exists(full_prefix):
            return []
        entries = fs.ls(full_prefix, detail=True)
        return sorted(
            str(entry["name"]).rstrip("/").rsplit("/", 1)[-1]
            for entry in entries
            if entry.get("type") == "directory"
        )

    def prune_empty_folders(self, prefix: str) -> int:
        """Remove the folders left empty under ``prefix`` (a local store keeps them after their
        files go; S3 has no folders). Returns how many were removed."""
        if self.protocol != "file":
            return 0
        top = self.full_path(prefix)
        removed = 0
        for folder, _, _ in sorted(os.walk(top), key=lambda entry: -len(entry[0])):
            try:
                os.rmdir(folder)  # only succeeds when empty
            except OSError:
                continue
            removed += 1
        return removed

    def delete(self, paths: list[str]) -> None:
        """Ask the store to delete; callers that must be sure use the purge verifier."""
        if not paths:
            return
        fs = self.filesystem()
        fs.rm([self.full_path(path) for path in paths])

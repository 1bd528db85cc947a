"""Where a registry's files land, and reading them: the object store's landing folder for the
registry, or its own ``source_url`` (any fsspec URL)."""

from __future__ import annotations

import hashlib
import posixpath
from dataclasses import dataclass
from datetime import date
from typing import Any

import dagster as dg
import fsspec

from cm_pipelines.domain.dncr.registries import Registry
from cm_pipelines.platform import landing
from cm_pipelines.resources.object_store import ObjectStoreResource

_DAY_LENGTH = len("2026-01-01")


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

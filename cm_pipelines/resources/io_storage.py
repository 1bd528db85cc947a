"""Values handed from one step to the next, kept in the platform's object store.

Dagster's default IO manager writes every op output under ``$DAGSTER_HOME/storage`` on the
machine that ran the step. When steps run on Celery workers or Kubernetes pods on different
machines, the next step cannot read that folder unless ``DAGSTER_HOME`` is shared. With
``CM_IO_STORAGE=object_store`` the outputs go to the object store every step already reaches
(``CM_STORAGE_URL``: a local folder, or an S3 bucket in production), under one prefix:

- op outputs: ``<prefix>/runs/<run id>/<step key>/<output name>[/<mapping key>]``;
- asset outputs: ``<prefix>/assets/<asset key path>/<partition key, or __all__>``.

``CM_IO_STORAGE`` unset or ``filesystem`` keeps Dagster's default: no ``io_manager`` resource is
added at all. Every machine that executes steps must use the same value (and the same store).

What passes through here are ids and counts (a DSAR request id, descriptions of registry files
and their parsed parts, ``None`` from steps that return nothing): no phone number, email or
other personal data, so nothing here is a retention or DSAR target. Paths are built from run
ids, step keys, output names, mapping keys, asset keys and partition keys only, never values.
The retention purge never walks this prefix: it deletes the exact paths warehouse rows point
at (``retention/inventory/``), and no other code lists the store root. ``runs/`` grows
with every run: ``housekeeping/assets.step_output_expiry`` deletes the outputs of runs that
finished a week ago (``assets/`` holds one object per asset partition and is replaced in place).

Objects are pickles. Unpickling runs code, which is acceptable only because nothing but the
platform's own steps writes under the prefix: keep it writable by the platform alone.
"""

# No ``from __future__ import annotations``: Dagster resolves the field annotations of a
# ConfigurableIOManager (the nested ObjectStoreResource) at runtime.
import pickle
import string
from collections.abc import Mapping, Sequence
from typing import Any

import dagster as dg
from pydantic import Field

from cm_pipelines.resources.object_store import ObjectStoreResource, check_relative_path

IO_STORAGE_ENV = "CM_IO_STORAGE"
IO_STORAGE_MODES = ("filesystem", "object_store")
DEFAULT_IO_PREFIX = "_dagster/io"
RUNS = "runs"
ASSETS = "assets"
UNPARTITIONED = "__all__"
"""The last path segment of an asset that has no partitions."""

_SAFE = frozenset(string.ascii_letters + string.digits + "._-")


class IOStorageConfigError(ValueError):
    """``CM_IO_STORAGE`` names no known storage; says which values are allowed."""


class StoredOutputError(RuntimeError):
    """An output cannot be stored or loaded as asked; says why and what to check."""


def path_segment(value: str) -> str:
    """One path segment: letters, digits, ``.``, ``_`` and ``-`` as they are, every other byte
    as ``%XX``. Step keys of mapped steps (``parse[us_ftc_000001]``) would otherwise carry glob
    characters, partition keys may carry ``/``; the encoding is reversible, so two keys never
    share a path, and a segment of dots only (``.``, ``..``) is encoded too."""
    encoded = "".join(
        char if char in _SAFE else "".join(f"%{byte:02X}" for byte in char.encode())
        for char in value
    )
    if encoded and not encoded.strip("."):
        encoded = encoded.replace(".", "%2E")
    return encoded


def _partition_segments(partition_key: str) -> list[str]:
    """A partition key as path segments: one per dimension (by dimension name) when it has
    several, as Dagster's own UPath IO managers lay them out."""
    if isinstance(partition_key, dg.MultiPartitionKey):
        return [value for _, value in sorted(partition_key.keys_by_dimension.items())]
    return [partition_key]


class ObjectStoreIOManager(dg.ConfigurableIOManager):
    """Pickles op and asset outputs into the object store so any machine's step can load them
    (see the module docstring for the layout)."""

    object_store: ObjectStoreResource
    prefix: str = Field(
        default=DEFAULT_IO_PREFIX,
        description="Object-store folder (relative to the store root) for step outputs.",
    )

    # ---------------------------------------------------------------- paths

    def _path(self, *segments: str) -> str:
        base = check_relative_path(self.prefix.strip("/"))
        return check_relative_path("/".join([base, *(path_segment(s) for s in segments)]))

    def run_output_path(self, identifier: Sequence[str]) -> str:
        """Where an op output lives: ``identifier`` is Dagster's run id, step key, output name
        and, for a dynamic output, mapping key."""
        return self._path(RUNS, *identifier)

    def asset_path(self, asset_key: dg.AssetKey, partition_key: str | None = None) -> str:
        """Where an asset output (one partition of it, if partitioned) lives."""
        tail = [UNPARTITIONED] if partition_key is None else _partition_segments(partition_key)
        return self._path(ASSETS, *asset_key.path, *tail)

    def output_path(self, context: dg.OutputContext) -> str:
        if not context.has_asset_key:
            return self.run_output_path(context.get_identifier())
        if not context.has_asset_partitions:
            return self.asset_path(context.asset_key)
        keys = context.asset_partition_keys
        if len(keys) != 1:
            raise StoredOutputError(
                f"{context.asset_key.to_user_string()}: one output cannot be stored for "
                f"{len(keys)} partitions at once; launch one run per partition"
            )
        return self.asset_path(context.asset_key, keys[0])

    # ---------------------------------------------------------------- IO

    def handle_output(self, context: dg.OutputContext, obj: Any) -> None:
        path = self.output_path(context)
        data = pickle.dumps(obj, protocol=pickle.HIGHEST_PROTOCOL)
        self.object_store.write_bytes(path, data)
        if obj is not None:  # as Dagster's own IO managers: no path for "returned nothing"
            context.add_output_metadata({"io_path": path, "io_bytes": len(data)})

    def _read(self, path: str) -> Any:
        try:
            data = self.object_store.read_bytes(path)
        except FileNotFoundError:
            raise StoredOutputError(
                f"no stored output at {path}: the step that produced it stored it elsewhere. "
                f"Every machine that runs steps needs the same {IO_STORAGE_ENV} and "
                "CM_STORAGE_URL"
            ) from None
        return pickle.loads(data)  # noqa: S301 - only the platform's own steps write here

    def load_input(self, context: dg.InputContext) -> Any:
        if not context.has_asset_key:
            if context.upstream_output is None:
                raise StoredOutputError(
                    f"input {context.name!r} has no upstream output to load; give it a value "
                    "in run config or an input manager"
                )
            return self._read(self.run_output_path(context.get_identifier()))
        if not context.has_asset_partitions:
            return self._read(self.asset_path(context.asset_key))
        keys = list(context.asset_partition_keys)
        if len(keys) == 1:
            return self._read(self.asset_path(context.asset_key, keys[0]))
        return self._load_partitions(context, keys)

    def _load_partitions(self, context: dg.InputContext, keys: Sequence[str]) -> dict[str, Any]:
        """Several upstream partitions: a dict keyed by partition, like Dagster's UPath IO
        managers; missing ones are skipped only if the input allows it
        (``allow_missing_partitions`` metadata)."""
        metadata: Mapping[str, Any] = context.definition_metadata or {}
        allow_missing = bool(metadata.get("allow_missing_partitions", False))
        loaded: dict[str, Any] = {}
        for key in keys:
            path = self.asset_path(context.asset_key, key)
            if allow_missing and not self.object_store.exists(path):
                context.log.warning(f"partition {key} has no stored output; skipped")
                continue
            loaded[key] = self._read(path)
        return loaded


def io_storage_mode() -> str:
    """The storage this deployment asked for through ``CM_IO_STORAGE``."""
    raw = str(dg.EnvVar(IO_STORAGE_ENV).get_value(default="") or "").strip()
    mode = raw.lower().replace("-", "_") or "filesystem"
    if mode not in IO_STORAGE_MODES:
        raise IOStorageConfigError(
            f"{IO_STORAGE_ENV} must be one of {', '.join(IO_STORAGE_MODES)}; got an unknown value"
        )
    return mode


def io_manager_resources(object_store: ObjectStoreResource) -> dict[str, Any]:
    """The ``io_manager`` resource for ``CM_IO_STORAGE``: none for ``filesystem`` (Dagster's
    default stays in place), the object-store manager on ``object_store`` otherwise."""
    if io_storage_mode() == "filesystem":
        return {}
    return {"io_manager": ObjectStoreIOManager(object_store=object_store)}

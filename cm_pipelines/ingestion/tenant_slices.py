"""One call day's ingestion split by tenant, so a large day spreads over workers.

Every ingestion asset of the ``calls`` group is a graph of three steps per call day:

1. *plan*: measure what each configured tenant landed that day and pack tenants into slices of
   about ``CM_INGEST_SLICE_BYTES`` (``domain.work_slices``); one dynamic output per slice;
2. *ingest* (one step per slice, on any worker): parse the slice's files and replace those
   tenants' rows and quarantine of the day, in one transaction guarded per (day, tenant);
3. *finish*: quarantine files under tenant folders nobody configured, drop quarantine of tenants
   no slice covered, and report the day's totals as the asset's materialization metadata.

A small day is one slice, so the default deployment runs three short steps. Re-running a day, or
running it again after a kill between slices, replaces each tenant's rows as a whole: the day
ends as after one clean run, whatever the slicing was.
"""

import time
from collections import Counter
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

import dagster as dg

from cm_pipelines.domain.ingestion.work_slices import plan_tenant_slices
from cm_pipelines.domain.tenants import Tenant
from cm_pipelines.platform import landing, settings
from cm_pipelines.platform.partitions import call_day_backfill, call_day_partitions
from cm_pipelines.resources.configuration import PlatformConfigResource
from cm_pipelines.resources.object_store import ObjectStoreResource
from cm_pipelines.resources.quarantine import QuarantineEntry, replace_quarantine
from cm_pipelines.resources.warehouse import WarehouseResource

CALLS_GROUP = "calls"


@dataclass
class SliceOutcome:
    """What one slice step reports: its tenants, counts and per-key breakdowns only, never a
    record (it travels between steps through the IO manager)."""

    counts: Counter[str] = field(default_factory=Counter)
    breakdowns: dict[str, Counter[str]] = field(default_factory=dict)
    seconds: float = 0.0
    tenant_ids: tuple[str, ...] = ()

    def breakdown(self, name: str) -> Counter[str]:
        return self.breakdowns.setdefault(name, Counter())

    def count_quarantined(self, reasons: Counter[str]) -> None:
        """Quarantined rows or files, by reason code."""
        self.counts["quarantined"] += sum(reasons.values())
        self.breakdown("quarantine_reasons").update(reasons)

    def absorb(self, other: "SliceOutcome") -> None:
        self.counts.update(other.counts)
        for name, counter in other.breakdowns.items():
            self.breakdown(name).update(counter)
        self.seconds += other.seconds
        self.tenant_ids += other.tenant_ids


@dataclass(frozen=True)
class TenantSliceWork:
    """One ingest step's share of a call day."""

    day_key: str
    tenants: Mapping[str, Tenant]
    run_id: str


IngestSlice = Callable[[TenantSliceWork, WarehouseResource, ObjectStoreResource], SliceOutcome]
"""Replaces one slice's tenants' rows and quarantine of the day; reports counts only."""
Summarise = Callable[[SliceOutcome], dict[str, Any]]
"""Turns the day's total outcome into the asset's materialization metadata."""


def landed_bytes_by_tenant(
    object_store: ObjectStoreResource,
    tenants: Mapping[str, Tenant],
    day_key: str,
    landing_kind: str,
    *,
    only_landed: bool,
) -> dict[str, int]:
    """Bytes each tenant landed for the day. ``only_landed`` leaves out tenants with nothing
    there (their rows stay as they are: a missing daily file replaces nothing)."""
    sizes: dict[str, int] = {}
    for tenant_id in sorted(tenants):
        prefix = f"{landing.day_prefixes(landing_kind)}/{tenant_id}/{day_key}"
        found = object_store.list_files(prefix)
        if found or not only_landed:
            sizes[tenant_id] = sum(item.size for item in found)
    return sizes


def unknown_tenant_folders(
    object_store: ObjectStoreResource, landing_kind: str, known: set[str], day_key: str
) -> list[QuarantineEntry]:
    """Files landed under a tenant folder nobody configured: quarantined whole, never guessed at.

    Only the tenant folders are listed, then the day's folder of each unknown one: a day's run
    never walks the landing zone's whole history."""
    kind_prefix = landing.day_prefixes(landing_kind)
    return [
        QuarantineEntry(item.path, None, "unknown_tenant", "tenant folder is not configured")
        for folder in object_store.list_folders(kind_prefix)
        if folder not in known
        for item in object_store.list_files(f"{kind_prefix}/{folder}/{day_key}")
    ]


def _json(counter: Mapping[str, int]) -> dg.MetadataValue:
    return dg.MetadataValue.json(dict(sorted(counter.items())))


def plan_day_slices(
    context: dg.OpExecutionContext,
    warehouse: WarehouseResource,
    object_store: ObjectStoreResource,
    platform_config: PlatformConfigResource,
    *,
    landing_kind: str,
    only_landed_tenants: bool,
) -> Iterator[dg.DynamicOutput]:
    """The *plan* step: measure the day per tenant and emit one slice of tenants per ingest
    step, each as a dynamic output (the tenants' ids and the bytes they landed)."""
    warehouse.assert_schema_current()
    tenants = platform_config.tenants_by_id()
    sizes = landed_bytes_by_tenant(
        object_store,
        tenants,
        context.partition_key,
        landing_kind,
        only_landed=only_landed_tenants,
    )
    slices = plan_tenant_slices(sizes, settings.ingest_slice_bytes())
    for index, planned in enumerate(slices):
        yield dg.DynamicOutput(
            {"tenant_ids": list(planned.tenant_ids), "landed_bytes": planned.landed_bytes},
            mapping_key=f"slice_{index:05d}",
        )
    context.log.info(
        f"{context.partition_key}: {len(sizes)} tenant(s), {sum(sizes.values())} landed "
        f"byte(s), {len(slices)} slice(s)"
    )


def ingest_planned_slice(
    context: dg.OpExecutionContext,
    work: dict,
    warehouse: WarehouseResource,
    object_store: ObjectStoreResource,
    platform_config: PlatformConfigResource,
    *,
    ingest_slice: IngestSlice,
) -> SliceOutcome:
    """The *ingest* step: run ``ingest_slice`` on one planned slice's tenants, timed, and report
    its counts as the step's output metadata."""
    configured = platform_config.tenants_by_id()
    tenants = {
        tenant_id: configured[tenant_id]
        for tenant_id in work["tenant_ids"]
        if tenant_id in configured  # a tenant removed since planning is left alone
    }
    started = time.perf_counter()
    outcome = ingest_slice(
        TenantSliceWork(context.partition_key, tenants, context.run.run_id),
        warehouse,
        object_store,
    )
    outcome.seconds = time.perf_counter() - started
    outcome.tenant_ids = tuple(sorted(tenants))
    context.add_output_metadata(
        {"tenants": len(tenants), "landed_bytes": int(work["landed_bytes"])}
        | {key: int(value) for key, value in sorted(outcome.counts.items())}
    )
    return outcome


def finish_day(
    context: dg.OpExecutionContext,
    slices: list,
    warehouse: WarehouseResource,
    object_store: ObjectStoreResource,
    platform_config: PlatformConfigResource,
    *,
    name: str,
    landing_kind: str,
    summarise: Summarise,
) -> dg.Output:
    """The *finish* step: add up the slices, quarantine files under unknown tenant folders,
    drop quarantine of tenants no slice covered, and return the day's totals as the asset's
    materialization metadata."""
    day_key = context.partition_key
    tenants = platform_config.tenants_by_id()
    total = SliceOutcome()
    for reported in slices:
        total.absorb(reported)
    unknown = unknown_tenant_folders(object_store, landing_kind, set(tenants), day_key)
    with warehouse.begin() as connection:
        reasons = replace_quarantine(
            connection,
            name,
            day_key,
            unknown,
            context.run.run_id,
            other_than_tenants=total.tenant_ids,
        )
    total.count_quarantined(reasons)
    quarantined = total.counts["quarantined"]
    if quarantined:
        context.log.warning(
            f"{quarantined} {name} item(s) quarantined for {day_key}: "
            f"{dict(sorted(total.breakdown('quarantine_reasons').items()))}"
        )
    metadata = summarise(total) | {
        "tenant_slices": len(slices),
        "quarantine_reasons": _json(total.breakdown("quarantine_reasons")),
    }
    return dg.Output(None, metadata=metadata)


def _plan_op(
    name: str, op_tags: dict[str, str], landing_kind: str, only_landed_tenants: bool
) -> dg.OpDefinition:
    """The asset's *plan* op: waits for the upstream asset, fans out one output per slice."""

    @dg.op(
        name=f"{name}_plan_tenant_slices",
        ins={"upstream": dg.In(dg.Nothing)},
        out=dg.DynamicOut(dict),
        tags=op_tags,
    )
    def plan_slices(
        context: dg.OpExecutionContext,
        warehouse: WarehouseResource,
        object_store: ObjectStoreResource,
        platform_config: PlatformConfigResource,
    ):
        """Measure the day per tenant and emit one slice of tenants per ingest step."""
        yield from plan_day_slices(
            context,
            warehouse,
            object_store,
            platform_config,
            landing_kind=landing_kind,
            only_landed_tenants=only_landed_tenants,
        )

    return plan_slices


def _ingest_op(name: str, op_tags: dict[str, str], ingest_slice: IngestSlice) -> dg.OpDefinition:
    """The asset's *ingest* op, mapped over the planned slices (one step each, any worker)."""

    @dg.op(name=f"{name}_ingest_tenant_slice", tags=op_tags)
    def ingest(
        context: dg.OpExecutionContext,
        work: dict,
        warehouse: WarehouseResource,
        object_store: ObjectStoreResource,
        platform_config: PlatformConfigResource,
    ) -> SliceOutcome:
        """Replace the slice's tenants' rows and quarantine for the day."""
        return ingest_planned_slice(
            context, work, warehouse, object_store, platform_config, ingest_slice=ingest_slice
        )

    return ingest


def _finish_op(
    name: str, op_tags: dict[str, str], landing_kind: str, summarise: Summarise
) -> dg.OpDefinition:
    """The asset's *finish* op: collects every slice's outcome and yields the asset's output."""

    @dg.op(name=f"{name}_finish_day", tags=op_tags)
    def finish(
        context: dg.OpExecutionContext,
        slices: list,
        warehouse: WarehouseResource,
        object_store: ObjectStoreResource,
        platform_config: PlatformConfigResource,
    ):
        """Quarantine unknown tenant folders and report the day's totals."""
        return finish_day(
            context,
            slices,
            warehouse,
            object_store,
            platform_config,
            name=name,
            landing_kind=landing_kind,
            summarise=summarise,
        )

    return finish


def tenant_sliced_day_asset(
    *,
    name: str,
    upstream: str,
    landing_kind: str,
    only_landed_tenants: bool,
    ingest_slice: IngestSlice,
    summarise: Summarise,
    description: str,
    kinds: set[str],
    pii: str,
) -> dg.AssetsDefinition:
    """A call-day asset whose ingestion runs as one step per tenant slice.

    ``ingest_slice`` replaces its tenants' rows and quarantine; its outcome's
    ``counts["quarantined"]`` and ``breakdowns["quarantine_reasons"]`` are merged with the
    unknown-tenant files the finishing step finds, then ``summarise`` turns the day's total into
    the asset's metadata. The steps' work is in ``plan_day_slices``, ``ingest_planned_slice``
    and ``finish_day``; their ops are named after the asset and tagged with its PII level.
    """
    op_tags = {"cm/pii": pii, "cm/asset": name}
    plan_slices = _plan_op(name, op_tags, landing_kind, only_landed_tenants)
    ingest = _ingest_op(name, op_tags, ingest_slice)
    finish = _finish_op(name, op_tags, landing_kind, summarise)

    @dg.graph_asset(
        name=name,
        description=description,
        group_name=CALLS_GROUP,
        partitions_def=call_day_partitions,
        backfill_policy=call_day_backfill,
        ins={"upstream": dg.AssetIn(upstream, dagster_type=dg.Nothing)},
        kinds=kinds,
        tags={"cm/pii": pii},
    )
    def sliced(upstream):
        return finish(plan_slices(upstream).map(ingest).collect())

    return sliced


def json_breakdown(outcome: SliceOutcome, name: str) -> dg.MetadataValue:
    return _json(outcome.breakdown(name))

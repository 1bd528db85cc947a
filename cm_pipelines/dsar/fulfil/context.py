"""What every fulfilment step works with: the request, its tenant and key, the run, the report.

The steps are functions in this package's modules; each takes the ``FulfilmentContext`` and
reports into its ``StepReport``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from cm_pipelines.domain.dsar.planning import Subject
from cm_pipelines.domain.keyed_hash import keyed_hash
from cm_pipelines.domain.tenants import Tenant
from cm_pipelines.dsar.locate import subject_for
from cm_pipelines.dsar.request_records import DsarError, RequestRecord, load_request
from cm_pipelines.resources.object_store import ObjectStoreResource
from cm_pipelines.resources.warehouse import WarehouseResource

DEFAULT_EXPORT_TTL_DAYS = 30


class FulfilmentError(DsarError):
    """A step could not complete; the request stays in progress and a re-run resumes it."""


@dataclass
class StepReport:
    """What a run did, for op metadata and the CLI: ids, counts, hashes and paths only."""

    steps_run: list[str] = field(default_factory=list)
    steps_skipped: list[str] = field(default_factory=list)
    counts: dict[str, Any] = field(default_factory=dict)
    result_path: str | None = None
    key_delivery: str | None = None


@dataclass
class FulfilmentContext:
    """One request being fulfilled by one run, shared by its steps."""

    warehouse: WarehouseResource
    object_store: ObjectStoreResource
    tenant: Tenant
    request_id: str
    hash_key: bytes
    run_id: str | None = None
    export_ttl_days: int = DEFAULT_EXPORT_TTL_DAYS
    clock: Callable[[], datetime] = field(default=lambda: datetime.now(UTC))
    report: StepReport = field(default_factory=StepReport)
    dnc_rule: str | None = None
    """The do-not-call evidence floor of the tenant's registries (``evidence_floors``): its
    wash results and blocked calls survive an erasure, minimised, under this rule."""

    def record(self) -> RequestRecord:
        with self.warehouse.connect() as connection:
            return load_request(connection, self.request_id)

    def subject(self, record: RequestRecord | None = None) -> Subject:
        record = record or self.record()
        return subject_for(record.identifiers, self.tenant, self.hash_key)

    def hash_number(self, value: str) -> str:
        return keyed_hash(value, self.hash_key)

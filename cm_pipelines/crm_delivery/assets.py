"""The outbox delivered: one pass over the DSAR tasks for CRM systems that are due."""

from typing import Any

import dagster as dg

from cm_pipelines.crm_delivery.delivery import deliver_due
from cm_pipelines.domain.operations.alerts import outbox_label
from cm_pipelines.resources.crm_connectors import CrmConnectorsResource
from cm_pipelines.resources.object_store import ObjectStoreResource
from cm_pipelines.resources.warehouse import WarehouseResource

CRM_DELIVERY_GROUP = "crm_delivery"


class CrmDeliveryFailed(RuntimeError):
    """A CRM refused the platform's credentials: the run fails so its alert names the system."""


@dg.asset(
    group_name=CRM_DELIVERY_GROUP,
    kinds={"python"},
    tags={"cm/capability": "dsar", "cm/pii": "none"},
)
def dsar_crm_deliveries(
    context: dg.AssetExecutionContext,
    warehouse: WarehouseResource,
    object_store: ObjectStoreResource,
    crm_connectors: CrmConnectorsResource,
) -> dg.MaterializeResult:
    """DSAR tasks (erase, rectify, restrict) sent to the CRM systems holding the subject's
    records, retried with backoff until confirmed or dead-lettered; confirmations are audited
    and listed on the erasure certificate. Safe to re-run or kill: claims and idempotency keys."""
    report = deliver_due(warehouse, object_store, crm_connectors, run_id=context.run_id)
    metadata: dict[str, Any] = {
        "due": report.due,
        "confirmed": report.outcomes.get("done", 0),
        "retrying": report.outcomes.get("retry", 0) + report.outcomes.get("retry_after", 0),
        "dead_letter": report.outcomes.get("dead_letter", 0),
        "auth_failures": report.outcomes.get("auth_failure", 0),
        "no_connector": sum(report.no_connector.values()),
        "certificates_amended": report.certificates_amended,
        "by_recipient": dg.MetadataValue.json(dict(sorted(report.by_recipient.items()))),
        "no_connector_by_recipient": dg.MetadataValue.json(dict(report.no_connector)),
        "confirmed_task_ids": dg.MetadataValue.json(
            [outbox_label(i) for i in report.confirmed_ids]
        ),
        "dead_letter_task_ids": dg.MetadataValue.json(
            [outbox_label(i) for i in report.dead_letter_ids]
        ),
    }
    if report.auth_failed:
        context.add_output_metadata(metadata)
        raise CrmDeliveryFailed(
            "CRM refused the platform's credentials (401/403): "
            f"{', '.join(sorted(report.auth_failed))}; their tasks wait, attempts not charged"
        )
    return dg.MaterializeResult(metadata=metadata)

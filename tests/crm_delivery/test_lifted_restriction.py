"""A lifted restriction and delivery: a restrict task delivery already attempted may have
reached the CRM, so the operator is told to follow it up, and no retry sends it again."""

from __future__ import annotations

from datetime import UTC, datetime

import sqlalchemy as sa

from cm_pipelines.dsar.request_decisions import lift_restriction
from cm_pipelines.tables.dsar import dsar_erasure_outbox, dsar_requests, restrictions

NOW = datetime(2026, 12, 3, 9, 0, tzinfo=UTC)
REQUEST = "dsar-" + "0" * 19 + "7"


def test_attempted_tasks_are_withdrawn_and_counted_as_sent(sqlite_warehouse) -> None:
    with sqlite_warehouse.begin() as connection:
        connection.execute(
            sa.insert(dsar_requests).values(
                request_id=REQUEST, tenant_id="acme-au", request_type="restriction",
                jurisdiction="AU", identifiers=[], identifier_hashes=[], received_at=NOW,
                received_on=NOW.date(), due_date=NOW.date(), state="completed",
                submitted_by="t", created_at=NOW, updated_at=NOW,
            )
        )  # fmt: skip
        connection.execute(
            sa.insert(restrictions).values(
                tenant_id="acme-au", identifier_hash="h", identifier_kind="phone",
                dsar_request_id=REQUEST, created_at=NOW,
            )
        )  # fmt: skip
        for recipient, status, attempts in (
            ("hubspot", "pending", 0),
            ("salesforce", "pending", 2),
            ("zoho", "confirmed", 1),
        ):
            connection.execute(
                sa.insert(dsar_erasure_outbox).values(
                    request_id=REQUEST, tenant_id="acme-au", recipient=recipient,
                    task="restrict", record_refs=["1"], status=status, attempts=attempts,
                    created_at=NOW,
                )
            )  # fmt: skip
    with sqlite_warehouse.begin() as connection:
        outcome = lift_restriction(
            connection, REQUEST, reason="accuracy verified", subject_informed=True,
            lifted_by="cli:priya", now=NOW,
        )  # fmt: skip
    assert (outcome.crm_tasks_withdrawn, outcome.crm_tasks_already_sent) == (1, 2)
    with sqlite_warehouse.connect() as connection:
        outbox = dsar_erasure_outbox.c
        rows = connection.execute(sa.select(outbox.recipient, outbox.status)).all()
    statuses = {row.recipient: row.status for row in rows}
    assert statuses == {"hubspot": "withdrawn", "salesforce": "withdrawn", "zoho": "confirmed"}

"""The requests a DSAR outbox task becomes, for HubSpot's CRM v3 API and for the generic webhook.

Only what the CRM needs leaves the platform: an erasure or a restriction names the CRM's own
record ids and nothing else; a rectification adds the corrected email and/or phone number (the
CRM must hold the new value). No request id, tenant name or subject hash goes to HubSpot.

HubSpot (developers.hubspot.com, CRM v3 objects, contacts):
- erase: ``POST /crm/v3/objects/contacts/gdpr-delete`` with ``{"objectId": "<id>"}``
  (permanent, GDPR-compliant deletion; answers 204);
- rectify / restrict: ``PATCH /crm/v3/objects/contacts/<id>`` with ``{"properties": {...}}``;
  a restriction sets the tenant's restriction property (a custom contact property, default
  ``cm_processing_restricted``) to ``"true"`` so the CRM's workflows can skip the contact.

The idempotency key is derived from the task, so it is the same on every retry and after a
killed run, without having to be stored first.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote

ERASE = "erase"
RECTIFY = "rectify"
RESTRICT = "restrict"
TASKS = (ERASE, RECTIFY, RESTRICT)

HUBSPOT_CONTACTS = "/crm/v3/objects/contacts"
DEFAULT_RESTRICT_PROPERTY = "cm_processing_restricted"
# Rectification fields of a DSAR -> HubSpot contact properties
HUBSPOT_PROPERTIES = {"email": "email", "e164": "phone"}
WEBHOOK_EVENT = "cm.dsar.crm_task/1"


class TaskShapeError(ValueError):
    """A task cannot become a request (unknown kind, no records, nothing to rectify)."""


@dataclass(frozen=True)
class Task:
    """One outbox task as delivery sees it; ``corrections`` only for a rectification."""

    task_id: int
    request_id: str
    tenant_id: str
    recipient: str
    kind: str
    record_ids: tuple[str, ...]
    corrections: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class PlannedRequest:
    """One HTTP request: method, path below the base URL, JSON body, idempotency key."""

    method: str
    path: str
    body: dict[str, Any]
    idempotency_key: str


def idempotency_key(task: Task) -> str:
    """Stable per task: the same on every attempt, different for every task."""
    material = "\x1f".join(
        ("cm-crm/1", str(task.task_id), task.request_id, task.recipient, task.kind)
    )
    return hashlib.sha256(material.encode("utf-8")).hexdigest()[:40]


def _checked(task: Task) -> None:
    if task.kind not in TASKS:
        raise TaskShapeError(f"outbox task {task.task_id}: unknown kind {task.kind!r}")
    if not task.record_ids:
        raise TaskShapeError(f"outbox task {task.task_id}: names no records")
    if task.kind == RECTIFY and not task.corrections:
        raise TaskShapeError(f"outbox task {task.task_id}: nothing to rectify")


def hubspot_properties(corrections: Mapping[str, str]) -> dict[str, str]:
    """The contact properties a rectification changes (fields HubSpot has no place for are
    not sent: a corrected caller name lives on our calls, not in the CRM contact)."""
    return {
        HUBSPOT_PROPERTIES[name]: value
        for name, value in sorted(corrections.items())
        if name in HUBSPOT_PROPERTIES and value
    }


def hubspot_requests(
    task: Task, restrict_property: str = DEFAULT_RESTRICT_PROPERTY
) -> list[PlannedRequest]:
    """One request per CRM record, in a stable order, each with its own idempotency key."""
    _checked(task)
    key = idempotency_key(task)
    planned = []
    for index, record_id in enumerate(sorted(task.record_ids)):
        record_key = f"{key}-{index}"
        if task.kind == ERASE:
            planned.append(
                PlannedRequest(
                    "POST", f"{HUBSPOT_CONTACTS}/gdpr-delete", {"objectId": record_id}, record_key
                )
            )
            continue
        if task.kind == RESTRICT:
            properties = {restrict_property: "true"}
        else:
            properties = hubspot_properties(task.corrections)
            if not properties:
                raise TaskShapeError(f"outbox task {task.task_id}: no HubSpot field to rectify")
        planned.append(
            PlannedRequest(
                "PATCH",
                f"{HUBSPOT_CONTACTS}/{quote(record_id, safe='')}",
                {"properties": properties},
                record_key,
            )
        )
    return planned


def webhook_request(task: Task) -> PlannedRequest:
    """The whole task in one signed POST: the receiver acts on every record it names."""
    _checked(task)
    body: dict[str, Any] = {
        "event": WEBHOOK_EVENT,
        "task_id": task.task_id,
        "task": task.kind,
        "system": task.recipient,
        "record_ids": sorted(task.record_ids),
        "idempotency_key": idempotency_key(task),
    }
    if task.kind == RECTIFY:
        body["corrections"] = dict(sorted(task.corrections.items()))
    return PlannedRequest("POST", "", body, idempotency_key(task))

"""The launchpad door: a new request's identifiers read from an intake file, never run config.

Everyone who can see runs can read their config, so the identifiers of a request submitted from
the launchpad travel in a JSON file under ``intake/dsar/`` in the object store; it is read,
shape-checked (refusals name the problem, never a value) and deleted once the request is stored.
"""

from __future__ import annotations

import json

from pydantic import BaseModel, Field

from cm_pipelines.dsar.run_config import step_failure
from cm_pipelines.resources.object_store import ObjectStoreResource

INTAKE_PREFIX = "intake/dsar/"
INTAKE_MAX_BYTES = 64 * 1024
_INTAKE_LISTS = ("phones", "emails", "crm_ids")
_INTAKE_TEXTS = ("new_email", "new_phone", "new_caller_name")


class IntakeDocument(BaseModel):
    """The identifiers of a launchpad request, read from its intake file."""

    phones: list[str] = Field(default_factory=list)
    emails: list[str] = Field(default_factory=list)
    crm_ids: list[str] = Field(default_factory=list)
    new_email: str = ""
    new_phone: str = ""
    new_caller_name: str = ""


def read_intake(object_store: ObjectStoreResource, path: str) -> IntakeDocument:
    """Load and shape-check an intake file; refusals name the problem, never a value."""
    if not path:
        return IntakeDocument()
    if not path.startswith(INTAKE_PREFIX):
        raise step_failure(f"intake_file must be an object-store path under {INTAKE_PREFIX}")
    try:
        if not object_store.exists(path):
            raise step_failure(
                "intake_file does not exist (intake files are deleted once their request is "
                "stored: run the stored request by its request_id)"
            )
        data = object_store.read_bytes(path)
    except ValueError:
        raise step_failure("intake_file is not a valid object-store path") from None
    if len(data) > INTAKE_MAX_BYTES:
        raise step_failure(f"intake_file is larger than {INTAKE_MAX_BYTES} bytes")
    try:
        document = json.loads(data)
    except (UnicodeDecodeError, json.JSONDecodeError):
        raise step_failure("intake_file is not a JSON document") from None
    if not isinstance(document, dict):
        raise step_failure("intake_file must hold a JSON object")
    unknown = sorted(set(document) - set(_INTAKE_LISTS) - set(_INTAKE_TEXTS))
    if unknown:
        raise step_failure(f"intake_file has unknown keys: {', '.join(k[:40] for k in unknown)}")
    for key in _INTAKE_LISTS:
        values = document.get(key, [])
        if not isinstance(values, list) or not all(isinstance(v, str) for v in values):
            raise step_failure(f"intake_file: {key} must be a list of strings")
    for key in _INTAKE_TEXTS:
        if not isinstance(document.get(key, ""), str):
            raise step_failure(f"intake_file: {key} must be a string")
    return IntakeDocument(**document)


def identifiers_from(intake: IntakeDocument) -> list[tuple[str, str]]:
    return (
        [("phone", value) for value in intake.phones]
        + [("email", value) for value in intake.emails]
        + [("crm_id", value) for value in intake.crm_ids]
    )

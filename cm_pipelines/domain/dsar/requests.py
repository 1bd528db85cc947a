"""Validation of a data-subject request before it is stored.

Every door (CLI, launchpad run config, API) hands raw values to ``validate_request``; a refused
request lists every problem with what to fix, and never echoes the personal value it refused.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime

from cm_pipelines.domain.dsar.clock import JURISDICTIONS
from cm_pipelines.domain.phone_numbers import normalise_party
from cm_pipelines.domain.tenants import Tenant

REQUEST_TYPES: tuple[str, ...] = (
    "access",
    "portability",
    "erasure",
    "rectification",
    "restriction",
    "objection",
    "withdraw_consent",
)
IDENTIFIER_KINDS: tuple[str, ...] = ("phone", "email", "crm_id")
STATES: tuple[str, ...] = (
    "pending",
    "verified",
    "in_progress",
    "awaiting_review",
    "completed",
    "refused",
)
OPEN_STATES: tuple[str, ...] = ("pending", "verified", "in_progress", "awaiting_review")
"""``awaiting_review``: an access package was built but its key is held until the privacy
officer reviews names the recogniser was unsure of; the statutory clock keeps counting."""
MAX_IDENTIFIERS = 20
MAX_NAME = 200

_EMAIL = re.compile(r"[A-Za-z0-9._%+'-]{1,64}@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,63}")
_CRM_ID = re.compile(r"(?:(?P<system>[a-z][a-z0-9_-]{0,63}):)?(?P<record>[A-Za-z0-9._/-]{1,128})")
_REQUEST_ID = re.compile(r"dsar-[0-9a-f]{20}")
_VERIFIER = re.compile(r"[A-Za-z0-9._@+:-]{1,128}")
_METHODS = re.compile(r"[a-z][a-z0-9_-]{1,63}")


class RequestRefused(ValueError):
    """The request cannot be accepted; ``problems`` say what to fix (no personal values)."""

    def __init__(self, problems: list[str]):
        self.problems = problems
        super().__init__("; ".join(problems))


@dataclass(frozen=True)
class Identifier:
    """A normalised identifier: phone as E.164, email lowercased, CRM id as given.

    ``crm_system`` is set when the CRM id was written ``system:record``.
    """

    kind: str
    value: str
    crm_system: str | None = None

    def hash_input(self) -> str:
        """What the keyed hash is computed over (E.164, lowercased email, ``crm:system:id``)."""
        if self.kind == "crm_id":
            return f"crm:{self.crm_system or '*'}:{self.value}"
        return self.value

    def as_dict(self) -> dict[str, str]:
        document = {"kind": self.kind, "value": self.value}
        if self.crm_system:
            document["crm_system"] = self.crm_system
        return document

    @classmethod
    def from_dict(cls, document: Mapping[str, str]) -> Identifier:
        return cls(str(document["kind"]), str(document["value"]), document.get("crm_system"))


@dataclass(frozen=True)
class Rectification:
    """New contact details a rectification request asks to hold instead of the old ones."""

    email: str | None = None
    e164: str | None = None
    caller_name: str | None = None

    def is_empty(self) -> bool:
        return not (self.email or self.e164 or self.caller_name)

    def as_dict(self) -> dict[str, str]:
        return {
            key: value
            for key, value in (
                ("email", self.email),
                ("e164", self.e164),
                ("caller_name", self.caller_name),
            )
            if value
        }


@dataclass(frozen=True)
class ValidatedRequest:
    tenant_id: str
    request_type: str
    jurisdiction: str
    identifiers: tuple[Identifier, ...]
    received_at: datetime
    rectification: Rectification = field(default_factory=Rectification)

    @property
    def phones(self) -> tuple[str, ...]:
        return tuple(i.value for i in self.identifiers if i.kind == "phone")

    @property
    def emails(self) -> tuple[str, ...]:
        return tuple(i.value for i in self.identifiers if i.kind == "email")


def new_request_id() -> str:
    return f"dsar-{uuid.uuid4().hex[:20]}"


def is_request_id(value: str) -> bool:
    return isinstance(value, str) and bool(_REQUEST_ID.fullmatch(value))


def parse_phone(raw: str, country: str) -> str | None:
    """E.164 for a number written any usual way in the tenant's country, else None."""
    if not isinstance(raw, str) or not raw.strip() or len(raw) > 64:
        return None
    party = normalise_party(raw, country)
    return party.e164 if party.kind == "e164" else None


def parse_email(raw: str) -> str | None:
    if not isinstance(raw, str):
        return None
    value = raw.strip()
    if len(value) > 254 or not _EMAIL.fullmatch(value):
        return None
    return value.lower()


def parse_crm_id(raw: str) -> Identifier | None:
    if not isinstance(raw, str):
        return None
    match = _CRM_ID.fullmatch(raw.strip())
    if not match:
        return None
    return Identifier("crm_id", match.group("record"), match.group("system"))


def _parse_identifier(kind: str, raw: str, country: str, where: str) -> Identifier | str:
    """An ``Identifier`` or the problem (saying what to fix, not what was given)."""
    option = {"phone": "--phone", "email": "--email", "crm_id": "--crm-id"}.get(kind)
    if option is None:
        return f"{where}: unknown identifier kind; use one of {', '.join(IDENTIFIER_KINDS)}"
    if kind == "phone":
        e164 = parse_phone(raw, country)
        if e164 is None:
            return (
                f"{where} ({option}): not a valid phone number for the tenant's country "
                f"({country}); give it in E.164 (+ then digits) or as dialled in {country}"
            )
        return Identifier("phone", e164)
    if kind == "email":
        email = parse_email(raw)
        if email is None:
            return f"{where} ({option}): not an email address of the form name@domain.tld"
        return Identifier("email", email)
    parsed = parse_crm_id(raw)
    if parsed is None:
        return (
            f"{where} ({option}): a CRM id is 1-128 characters of letters, digits, '.', '_' or "
            "'-' or '/', optionally prefixed by the CRM system and a colon (hubspot:contact/12345)"
        )
    return parsed


def _parse_received_at(value: datetime | str | None, now: datetime) -> datetime | str:
    if value is None or value == "":
        return now
    if isinstance(value, str):
        try:
            moment = datetime.fromisoformat(value.strip())
        except ValueError:
            return (
                "received_at (--received-at): not an ISO 8601 date-time (2026-01-31T09:30:00+00:00)"
            )
    else:
        moment = value
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    if moment > now:
        return "received_at (--received-at): lies in the future; give when the request arrived"
    return moment.astimezone(UTC)


def validate_rectification(
    *, new_email: str | None, new_phone: str | None, new_caller_name: str | None, country: str
) -> tuple[Rectification, list[str]]:
    problems: list[str] = []
    email = phone = name = None
    if new_email:
        email = parse_email(new_email)
        if email is None:
            problems.append(
                "new_email (--new-email): not an email address of the form name@domain.tld"
            )
    if new_phone:
        phone = parse_phone(new_phone, country)
        if phone is None:
            problems.append(
                f"new_phone (--new-phone): not a valid phone number for the tenant's country ({country})"
            )
    if new_caller_name:
        cleaned = " ".join(new_caller_name.split())
        if not cleaned or len(cleaned) > MAX_NAME or any(ord(ch) < 32 for ch in new_caller_name):
            problems.append(
                f"new_caller_name (--new-name): must be 1-{MAX_NAME} printable characters"
            )
        else:
            name = cleaned
    return Rectification(email=email, e164=phone, caller_name=name), problems


def validate_request(
    *,
    tenant_id: str | None,
    request_type: str | None,
    identifiers: Sequence[tuple[str, str]],
    tenants: Mapping[str, Tenant],
    jurisdiction: str | None = None,
    received_at: datetime | str | None = None,
    new_email: str | None = None,
    new_phone: str | None = None,
    new_caller_name: str | None = None,
    now: datetime | None = None,
) -> ValidatedRequest:
    """Accept a request or raise ``RequestRefused`` listing every problem found."""
    now = (now or datetime.now(UTC)).astimezone(UTC)
    problems: list[str] = []
    tenant: Tenant | None = None
    if not tenant_id:
        problems.append("tenant (--tenant): required; every request is handled within one tenant")
    elif tenant_id not in tenants:
        problems.append(
            f"tenant (--tenant): unknown tenant; use one of {', '.join(sorted(tenants))}"
        )
    else:
        tenant = tenants[tenant_id]
    if request_type not in REQUEST_TYPES:
        problems.append(f"type (--type): must be one of {', '.join(REQUEST_TYPES)}")
    if jurisdiction:
        if jurisdiction not in JURISDICTIONS:
            problems.append(
                f"jurisdiction (--jurisdiction): must be one of {', '.join(JURISDICTIONS)}"
            )
    elif tenant is not None and not tenant.jurisdictions:
        problems.append(
            "jurisdiction (--jurisdiction): the tenant configures none; give one of "
            + ", ".join(JURISDICTIONS)
        )
    if not identifiers:
        problems.append("identifiers: give at least one --phone, --email or --crm-id")
    elif len(identifiers) > MAX_IDENTIFIERS:
        problems.append(f"identifiers: at most {MAX_IDENTIFIERS} per request")
    parsed: list[Identifier] = []
    if tenant is not None and len(identifiers) <= MAX_IDENTIFIERS:
        for index, (kind, raw) in enumerate(identifiers):
            result = _parse_identifier(kind, raw, tenant.country, f"identifiers[{index}]")
            if isinstance(result, str):
                problems.append(result)
            elif result not in parsed:
                parsed.append(result)
    received = _parse_received_at(received_at, now)
    if isinstance(received, str):
        problems.append(received)
    rectification = Rectification()
    if tenant is not None:
        rectification, rectification_problems = validate_rectification(
            new_email=new_email,
            new_phone=new_phone,
            new_caller_name=new_caller_name,
            country=tenant.country,
        )
        problems.extend(rectification_problems)
    if request_type == "rectification" and rectification.is_empty() and not problems:
        problems.append(
            "rectification: give the corrected details (--new-email, --new-phone or --new-name)"
        )
    if problems:
        raise RequestRefused(problems)
    assert tenant is not None and isinstance(received, datetime) and request_type is not None
    return ValidatedRequest(
        tenant_id=tenant.id,
        request_type=request_type,
        jurisdiction=jurisdiction or tenant.jurisdictions[0],
        identifiers=tuple(parsed),
        received_at=received,
        rectification=rectification,
    )


def validate_verification(method: str | None, verified_by: str | None) -> tuple[str, str]:
    """A verification names how identity or authority was checked and who checked it."""
    problems = []
    if not method or not _METHODS.fullmatch(method):
        problems.append(
            "method (--method): 2-64 characters of a-z, 0-9, '_' or '-' "
            "(e.g. id_document, account_login, authorised_agent)"
        )
    if not verified_by or not _VERIFIER.fullmatch(verified_by):
        problems.append(
            "by (--by): the verifier's user id, 1-128 characters of letters, digits or ._@+:-"
        )
    if problems:
        raise RequestRefused(problems)
    assert method is not None and verified_by is not None
    return method, verified_by

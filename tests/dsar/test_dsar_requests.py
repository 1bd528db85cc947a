"""Request validation: every door refuses the same malformed requests, saying what to fix and
never echoing the personal value it refused."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from cm_pipelines.domain.dsar.requests import (
    Identifier,
    RequestRefused,
    is_request_id,
    new_request_id,
    validate_request,
    validate_verification,
)
from cm_pipelines.domain.tenants import Tenant

TENANTS = {
    "acme-au": Tenant("acme-au", "Acme", "AU", "Australia/Sydney", ("au",)),
    "beta-us": Tenant("beta-us", "Beta", "US", "America/New_York", ("ccpa",)),
    "nowhere-gb": Tenant("nowhere-gb", "No jurisdiction", "GB", "Europe/London", ()),
}
NOW = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)


def _validate(**overrides):
    arguments = {
        "tenant_id": "acme-au",
        "request_type": "access",
        "identifiers": [("phone", "0491 570 156")],
        "tenants": TENANTS,
        "now": NOW,
    }
    arguments.update(overrides)
    return validate_request(**arguments)


def test_a_valid_request_is_normalised() -> None:
    request = _validate(
        identifiers=[
            ("phone", "0491 570 156"),
            ("phone", "+61491570156"),  # same number, written differently: kept once
            ("email", " Jane.Doe@Example.com "),
            ("crm_id", "hubspot:contact/10001"),
        ],
        received_at="2026-01-31T09:30:00+11:00",
    )
    assert request.identifiers == (
        Identifier("phone", "+61491570156"),
        Identifier("email", "jane.doe@example.com"),
        Identifier("crm_id", "contact/10001", "hubspot"),
    )
    assert request.phones == ("+61491570156",) and request.emails == ("jane.doe@example.com",)
    assert request.jurisdiction == "au"  # the tenant's jurisdiction when none is given
    assert request.received_at == datetime(2026, 1, 30, 22, 30, tzinfo=UTC)
    assert Identifier.from_dict(request.identifiers[2].as_dict()) == request.identifiers[2]


def test_national_numbers_are_read_in_the_tenant_country() -> None:
    us = _validate(tenant_id="beta-us", identifiers=[("phone", "(212) 555-0147")])
    assert us.phones == ("+12125550147",)
    assert us.jurisdiction == "ccpa"


@pytest.mark.parametrize(
    ("overrides", "fix"),
    [
        ({"tenant_id": None}, "tenant (--tenant): required"),
        ({"tenant_id": "zeta-xx"}, "unknown tenant; use one of acme-au, beta-us"),
        ({"request_type": "delete_everything"}, "type (--type): must be one of access"),
        ({"request_type": None}, "type (--type): must be one of"),
        ({"identifiers": []}, "give at least one --phone, --email or --crm-id"),
        ({"identifiers": [("phone", "12")]}, "identifiers[0] (--phone): not a valid phone"),
        ({"identifiers": [("phone", "0491 570 15")]}, "not a valid phone number for"),
        ({"identifiers": [("email", "jane.doe@")]}, "identifiers[0] (--email): not an email"),
        ({"identifiers": [("crm_id", "bad id!")]}, "identifiers[0] (--crm-id)"),
        ({"identifiers": [("passport", "X1")]}, "unknown identifier kind"),
        ({"jurisdiction": "pdpa"}, "jurisdiction (--jurisdiction): must be one of gdpr"),
        ({"tenant_id": "nowhere-gb"}, "the tenant configures none"),
        ({"received_at": "yesterday"}, "not an ISO 8601 date-time"),
        ({"received_at": "2026-03-02T00:00:00+00:00"}, "lies in the future"),
        ({"request_type": "rectification"}, "give the corrected details"),
        ({"new_email": "not-an-email"}, "new_email (--new-email)"),
        ({"new_phone": "99"}, "new_phone (--new-phone)"),
    ],
)
def test_malformed_requests_are_refused_with_what_to_fix(overrides, fix) -> None:
    with pytest.raises(RequestRefused) as refused:
        _validate(**overrides)
    assert any(fix in problem for problem in refused.value.problems), refused.value.problems


def test_refusals_never_echo_the_personal_value() -> None:
    secrets = ["0491 570 15", "jane.doe@", "Jane Doe\x00", "+99 9999"]
    with pytest.raises(RequestRefused) as refused:
        _validate(
            request_type="rectification",
            identifiers=[("phone", secrets[0]), ("email", secrets[1]), ("phone", secrets[3])],
            new_caller_name=secrets[2],
        )
    message = str(refused.value)
    assert len(refused.value.problems) == 4
    for secret in secrets:
        assert secret not in message


def test_every_problem_is_reported_at_once() -> None:
    with pytest.raises(RequestRefused) as refused:
        _validate(tenant_id=None, request_type="x", identifiers=[])
    assert len(refused.value.problems) == 3


def test_too_many_identifiers_are_refused() -> None:
    with pytest.raises(RequestRefused, match="at most 20"):
        _validate(identifiers=[("email", f"a{n}@example.com") for n in range(21)])


def test_rectification_values_are_validated_and_normalised() -> None:
    request = _validate(
        request_type="rectification",
        new_email="New.Address@Example.org",
        new_phone="0412 345 678",
        new_caller_name="  Jane   Citizen ",
    )
    assert request.rectification.as_dict() == {
        "email": "new.address@example.org",
        "e164": "+61412345678",
        "caller_name": "Jane Citizen",
    }


def test_verification_needs_a_method_and_a_verifier() -> None:
    assert validate_verification("id_document", "ops.lead@cm") == ("id_document", "ops.lead@cm")
    with pytest.raises(RequestRefused) as refused:
        validate_verification("", "")
    assert len(refused.value.problems) == 2
    with pytest.raises(RequestRefused, match="method"):
        validate_verification("ID Document; DROP TABLE", "ops")


def test_request_ids_are_recognised() -> None:
    request_id = new_request_id()
    assert is_request_id(request_id)
    assert not is_request_id("dsar-'; drop table")
    assert new_request_id() != request_id

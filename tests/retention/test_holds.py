"""Legal holds: each scope, date bounds, release, tenant isolation, and the vectorised matcher
agreeing with ``hold_covers`` on generated data."""

from __future__ import annotations

import random
from datetime import date, datetime, timedelta

import pandas as pd
import pytest

from cm_pipelines.domain.retention.holds import (
    HoldRowError,
    active_holds_covering,
    calls_under_hold,
    hold_covers,
    hold_covers_number_record,
    number_records_under_hold,
)

CALL_DAY = date(2026, 3, 10)


def hold(**values):
    row = {
        "hold_id": "hold-1",
        "tenant_id": "acme-au",
        "scope": "call",
        "call_id": None,
        "e164": None,
        "email": None,
        "from_date": None,
        "to_date": None,
        "released_at": None,
    }
    row.update(values)
    return row


def covers(h, **overrides):
    record = {
        "tenant_id": "acme-au",
        "call_id": "1700000000.1",
        "party_e164s": {"+61491570156", "+61299990000"},
        "emails": {"Jo.Citizen@Example.com"},
        "call_date": CALL_DAY,
    }
    record.update(overrides)
    return hold_covers(h, **record)


def test_call_scope_covers_only_that_call():
    h = hold(scope="call", call_id="1700000000.1")
    assert covers(h)
    assert not covers(h, call_id="1700000000.2")
    assert not covers(h, call_id=None)


def test_phone_scope_matches_any_party_or_contact_number():
    h = hold(scope="phone", e164="+61491570156")
    assert covers(h)
    assert covers(h, party_e164s={"+61491570156"}, call_id=None)
    assert not covers(h, party_e164s={"+61491570157"})


def test_email_scope_is_case_insensitive():
    h = hold(scope="email", email="jo.citizen@example.com")
    assert covers(h)
    assert covers(h, emails={"JO.CITIZEN@EXAMPLE.COM"})
    assert not covers(h, emails={"someone@example.com"})
    assert not covers(h, emails=set())


@pytest.mark.parametrize(
    ("from_date", "to_date", "expected"),
    [
        (CALL_DAY, CALL_DAY, True),
        (CALL_DAY - timedelta(days=1), None, True),
        (None, CALL_DAY + timedelta(days=1), True),
        (CALL_DAY + timedelta(days=1), None, False),
        (None, CALL_DAY - timedelta(days=1), False),
    ],
)
def test_from_and_to_dates_bound_the_call_date_inclusively(from_date, to_date, expected):
    h = hold(scope="call", call_id="1700000000.1", from_date=from_date, to_date=to_date)
    assert covers(h) is expected


def test_an_unknown_call_date_is_kept_by_a_dated_hold():
    h = hold(scope="call", call_id="1700000000.1", from_date=CALL_DAY + timedelta(days=30))
    assert covers(h, call_date=None)


def test_a_released_hold_covers_nothing():
    h = hold(scope="phone", e164="+61491570156", released_at=datetime(2026, 4, 1))
    assert not covers(h)
    assert active_holds_covering(
        [h, hold(hold_id="hold-2", scope="call", call_id="1700000000.1")],
        tenant_id="acme-au",
        call_id="1700000000.1",
        party_e164s={"+61491570156"},
        emails=set(),
        call_date=CALL_DAY,
    ) == ["hold-2"]


def test_holds_never_cross_tenants():
    h = hold(scope="phone", e164="+61491570156", tenant_id="beta-us")
    assert not covers(h)


def test_a_corrupt_hold_fails_loudly_without_its_value():
    with pytest.raises(HoldRowError, match="unknown scope") as caught:
        covers(hold(scope="everything", e164="+61491570156"))
    assert "+61491570156" not in str(caught.value)
    with pytest.raises(HoldRowError, match="without its e164"):
        covers(hold(scope="phone"))


def test_phone_hold_covers_number_records_by_value_or_keyed_hash():
    h = hold(scope="phone", e164="+61491570156", from_date=CALL_DAY)

    def hash_number(value: str) -> str:
        return f"hk1:{value[::-1]}"

    assert hold_covers_number_record(
        h,
        tenant_id="acme-au",
        e164=None,
        e164_hash=hash_number("+61491570156"),
        event_date=CALL_DAY,
        hash_number=hash_number,
    )
    assert hold_covers_number_record(
        h,
        tenant_id="acme-au",
        e164="+61491570156",
        e164_hash=None,
        event_date=CALL_DAY,
        hash_number=hash_number,
    )
    assert not hold_covers_number_record(
        h,
        tenant_id="acme-au",
        e164="+61491570156",
        e164_hash=None,
        event_date=CALL_DAY - timedelta(days=1),
        hash_number=hash_number,
    )
    email_hold = hold(scope="email", email="a@example.com")
    assert not hold_covers_number_record(
        email_hold,
        tenant_id="acme-au",
        e164="+61491570156",
        e164_hash=None,
        event_date=CALL_DAY,
        hash_number=hash_number,
    )


def _generated(seed: int):
    rng = random.Random(seed)
    numbers = [f"+6149157{n:04d}" for n in range(12)]
    emails = [f"person{n}@example.com" for n in range(6)]
    tenants = ["acme-au", "beta-us"]
    calls, contacts = [], []
    for index in range(300):
        tenant = rng.choice(tenants)
        call_id = f"17000{index:05d}.{index}"
        day = CALL_DAY + timedelta(days=rng.randint(-20, 20))
        calls.append(
            {
                "tenant_id": tenant,
                "call_id": call_id,
                "call_date": pd.Timestamp(day),
                "src_e164": rng.choice(numbers + [None]),
                "dst_e164": rng.choice(numbers + [None]),
            }
        )
        for _ in range(rng.randint(0, 2)):
            email = rng.choice(emails + [None])
            contacts.append(
                {
                    "tenant_id": tenant,
                    "call_id": call_id,
                    "contact_e164": rng.choice(numbers + [None]),
                    "contact_email": email.upper() if email and rng.random() < 0.3 else email,
                }
            )
    holds = []
    for index in range(15):
        scope = rng.choice(["call", "phone", "email"])
        row = hold(
            hold_id=f"hold-{index:02d}",
            tenant_id=rng.choice(tenants),
            scope=scope,
            call_id=rng.choice(calls)["call_id"] if scope == "call" else None,
            e164=rng.choice(numbers) if scope == "phone" else None,
            email=rng.choice(emails) if scope == "email" else None,
            from_date=CALL_DAY - timedelta(days=rng.randint(0, 15)) if rng.random() < 0.5 else None,
            to_date=CALL_DAY + timedelta(days=rng.randint(0, 15)) if rng.random() < 0.5 else None,
            released_at=datetime(2026, 4, 1) if rng.random() < 0.2 else None,
        )
        holds.append(row)
    return pd.DataFrame(calls), pd.DataFrame(contacts), holds


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_vectorised_matching_agrees_with_hold_covers(seed):
    calls, contacts, holds = _generated(seed)
    matched = calls_under_hold(holds, calls, contacts)
    known = set(zip(calls["tenant_id"], calls["call_id"], strict=True))
    vectorised = {
        (row.tenant_id, row.call_id): row.hold_ids.split(",")
        for row in matched.itertuples()
        if (row.tenant_id, row.call_id) in known  # a call hold on an unknown call adds its own row
    }
    expected = {}
    for call in calls.itertuples():
        linked = contacts.loc[
            (contacts["tenant_id"] == call.tenant_id) & (contacts["call_id"] == call.call_id)
        ]
        parties = {n for n in (call.src_e164, call.dst_e164) if n}
        parties |= {n for n in linked["contact_e164"] if isinstance(n, str)}
        emails = {e for e in linked["contact_email"] if isinstance(e, str)}
        ids = active_holds_covering(
            holds,
            tenant_id=call.tenant_id,
            call_id=call.call_id,
            party_e164s=parties,
            emails=emails,
            call_date=call.call_date.date(),
        )
        if ids:
            expected[(call.tenant_id, call.call_id)] = ids
    assert vectorised == expected
    assert expected, "the generated world should put some calls under hold"


def test_a_call_hold_on_an_unknown_call_still_keeps_its_artefacts():
    calls = pd.DataFrame(columns=["tenant_id", "call_id", "call_date", "src_e164", "dst_e164"])
    contacts = pd.DataFrame(columns=["tenant_id", "call_id", "contact_e164", "contact_email"])
    matched = calls_under_hold([hold(scope="call", call_id="x.1")], calls, contacts)
    assert matched.to_dict("records") == [
        {"tenant_id": "acme-au", "call_id": "x.1", "hold_ids": "hold-1"}
    ]


def test_number_records_under_a_phone_hold():
    records = pd.DataFrame(
        {
            "tenant_id": ["acme-au", "acme-au", "acme-au", "beta-us"],
            "record_type": ["wash_results", "blocked_calls", "wash_results", "wash_results"],
            "artefact_id": ["1", "2", "3", "4"],
            "e164": ["+61491570156", None, "+61491570157", "+61491570156"],
            "e164_hash": ["h1", "hk1:target", "h3", "h4"],
            "event_date": [pd.Timestamp(CALL_DAY)] * 4,
        }
    )
    matched = number_records_under_hold(
        [hold(scope="phone", e164="+61491570156")],
        records,
        lambda value: "hk1:target" if value == "+61491570156" else "other",
    )
    assert sorted(matched["artefact_id"]) == ["1", "2"]

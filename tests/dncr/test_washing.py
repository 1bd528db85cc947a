"""Every wash reason, its precedence, exemption lengths and fail-closed staleness at the exact
validity boundary."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import numpy as np
import pandas as pd
import pytest

from cm_pipelines.domain.dncr.evidence import (
    DownloadableEvidence,
    WashOnlyEvidence,
    evidence_document,
    evidence_instant,
)
from cm_pipelines.domain.dncr.exemptions import relationship_until
from cm_pipelines.domain.dncr.number_index import NumberIndex
from cm_pipelines.domain.dncr.number_preparation import prepare_numbers
from cm_pipelines.domain.dncr.number_sets import sorted_unique
from cm_pipelines.domain.dncr.registries import Registry
from cm_pipelines.domain.dncr.wash_decisions import REASONS
from cm_pipelines.domain.dncr.washing import wash
from cm_pipelines.domain.keyed_hash import keyed_hash

KEY = b"k" * 32
US_FTC = Registry("us_ftc", "FTC", "US", "downloadable", 31, "America/New_York", "ftc_flat_zip")
US_STATE = Registry(
    "us_state", "State list", "US", "downloadable", 31, "America/New_York", "ftc_flat_zip"
)
AU_ACMA = Registry("au_acma", "ACMA", "AU", "wash_only", 30, "Australia/Sydney", "wash_result_csv")
NY = ZoneInfo("America/New_York")
FTC_DAY = date(2026, 11, 2)
WASHED_AT = datetime(2026, 11, 20, 15, 0, tzinfo=UTC)

LISTED = "+12125550147"
NOT_LISTED = "+12125550100"
AU_REGISTERED = "+61491570156"
AU_CLEAR = "+61491570157"
AU_UNWASHED = "+61491570158"


def _index(numbers: list[str]) -> NumberIndex:
    values, _ = sorted_unique(np.array([int(n[1:]) for n in numbers], dtype=np.int64))
    return NumberIndex(values)


def ftc(
    day: date = FTC_DAY, registry: Registry = US_FTC, listed: tuple[str, ...] = (LISTED,)
) -> DownloadableEvidence:
    return DownloadableEvidence(
        registry, "v-ftc", evidence_instant(registry, day), _index(list(listed))
    )


def acma(wash_day: str = "2026-11-10") -> WashOnlyEvidence:
    numbers = sorted([AU_REGISTERED, AU_CLEAR], key=lambda n: int(n[1:]))
    registered = np.array([n == AU_REGISTERED for n in numbers])
    days = np.array([wash_day, wash_day], dtype="datetime64[D]")
    return WashOnlyEvidence(AU_ACMA, "v-acma", _index(numbers), registered, days)


def consent_rows(*rows: tuple[str, str, datetime, datetime | None]) -> pd.DataFrame:
    return pd.DataFrame(
        [
            {
                "e164_hash": keyed_hash(number, KEY),
                "kind": kind,
                "recorded_at": recorded_at,
                "expires_at": expires_at,
                "revoked_at": None,
                "restricted_at": None,
            }
            for number, kind, recorded_at, expires_at in rows
        ],
        columns=["e164_hash", "kind", "recorded_at", "expires_at", "revoked_at", "restricted_at"],
    )


def run(
    numbers: list[str],
    *,
    evidence=None,
    suppressed: tuple[str, ...] = (),
    consents: pd.DataFrame | None = None,
    at: datetime = WASHED_AT,
    country: str = "US",
) -> pd.DataFrame:
    prepared = prepare_numbers(numbers, country, KEY)
    return wash(
        prepared,
        evidence=[ftc()] if evidence is None else evidence,
        suppressed_hashes={keyed_hash(n, KEY) for n in suppressed},
        consents=consents,
        washed_at=at,
        tenant_country=country,
    )


def test_prepare_numbers_hashes_every_written_form_of_a_number_alike() -> None:
    prepared = prepare_numbers(["(212) 555-0147", "+1 212 555 0147", "n/a"], "US", KEY)
    assert prepared["e164"].tolist() == [LISTED, LISTED, None]
    assert prepared["e164_hash"].iat[0] == prepared["e164_hash"].iat[1] == keyed_hash(LISTED, KEY)
    assert prepared["e164_int"].tolist() == [12125550147, 12125550147, -1]


def test_every_reason_is_reachable() -> None:
    recent = WASHED_AT - timedelta(days=10)
    us = run(
        ["not a number", "+12125550199", LISTED, NOT_LISTED, "+14155550100", "+13125550100"],
        suppressed=("+12125550199",),
        consents=consent_rows(
            ("+14155550100", "express_consent", recent, None),
            ("+13125550100", "transaction", recent, None),
        ),
    )
    assert us["reason"].tolist() == [
        "invalid_number",
        "internal_suppression",
        "registry_listed",
        "allowed",
        "consent",
        "existing_relationship",
    ]
    stale = run([NOT_LISTED], evidence=[ftc(day=date(2026, 10, 1))])
    assert stale["reason"].tolist() == ["registry_stale"]
    au = run([AU_REGISTERED, AU_CLEAR, AU_UNWASHED], evidence=[acma()], country="AU")
    assert au["reason"].tolist() == ["registry_listed", "allowed", "needs_wash"]
    seen = set(us["reason"]) | set(stale["reason"]) | set(au["reason"])
    assert seen == set(REASONS)
    blocked = {
        "invalid_number",
        "internal_suppression",
        "registry_listed",
        "registry_stale",
        "needs_wash",
    }
    for frame in (us, stale, au):
        for reason, decision in zip(frame["reason"], frame["decision"], strict=True):
            assert decision == ("blocked" if reason in blocked else "allowed")


def test_suppression_outranks_registry_listing_and_consent() -> None:
    result = run(
        [LISTED],
        suppressed=(LISTED,),
        consents=consent_rows((LISTED, "express_consent", WASHED_AT - timedelta(days=1), None)),
    )
    assert result["reason"].tolist() == ["internal_suppression"]
    assert result["registry_id"].tolist() == [None]


def test_listing_outranks_staleness_of_another_registry() -> None:
    stale_state = ftc(day=date(2026, 9, 1), registry=US_STATE, listed=())
    result = run([LISTED, NOT_LISTED], evidence=[stale_state, ftc()])
    assert result["reason"].tolist() == ["registry_listed", "registry_stale"]
    assert result["registry_id"].tolist() == ["us_ftc", "us_state"]


def test_listing_outranks_consent_unless_the_registry_lets_exemptions_override_it() -> None:
    consents = consent_rows((LISTED, "express_consent", WASHED_AT - timedelta(days=5), None))
    assert run([LISTED], consents=consents)["reason"].tolist() == ["registry_listed"]
    permissive = replace(US_FTC, exemptions_override_listing=True)
    result = run([LISTED], evidence=[ftc(registry=permissive)], consents=consents)
    assert result["reason"].tolist() == ["consent"]
    assert result["decision"].tolist() == ["allowed"]
    assert "overrides listing" in result["rule"].iat[0]


def test_staleness_outranks_consent_fail_closed() -> None:
    consents = consent_rows((NOT_LISTED, "express_consent", WASHED_AT - timedelta(days=5), None))
    result = run([NOT_LISTED], evidence=[ftc(day=date(2026, 10, 1))], consents=consents)
    assert result["reason"].tolist() == ["registry_stale"]
    assert result["valid_until"].tolist() == [WASHED_AT]


def test_consent_outranks_an_existing_relationship() -> None:
    recent = WASHED_AT - timedelta(days=3)
    consents = consent_rows(
        (NOT_LISTED, "transaction", recent, None), (NOT_LISTED, "express_consent", recent, None)
    )
    assert run([NOT_LISTED], consents=consents)["reason"].tolist() == ["consent"]


def test_no_registry_evidence_at_all_fails_closed() -> None:
    result = run(
        [NOT_LISTED, AU_CLEAR], evidence=[DownloadableEvidence(US_FTC), WashOnlyEvidence(AU_ACMA)]
    )
    assert result["reason"].tolist() == ["registry_stale", "needs_wash"]
    assert result["needs_wash_registry"].tolist() == [None, "au_acma"]


def test_a_downloadable_snapshot_is_fresh_up_to_and_including_its_last_instant() -> None:
    last_instant = datetime(2026, 11, 2, tzinfo=NY) + timedelta(days=31)
    at_boundary = run([NOT_LISTED], at=last_instant)
    assert at_boundary["reason"].tolist() == ["allowed"]
    assert at_boundary["valid_until"].tolist() == [last_instant]
    just_after = run([NOT_LISTED], at=last_instant + timedelta(microseconds=1))
    assert just_after["reason"].tolist() == ["registry_stale"]
    assert just_after["decision"].tolist() == ["blocked"]


def test_a_wash_result_is_fresh_for_30_days_from_the_start_of_its_day_in_sydney() -> None:
    last_instant = datetime(2026, 11, 10, tzinfo=ZoneInfo("Australia/Sydney")) + timedelta(days=30)
    assert last_instant.astimezone(UTC) == datetime(2026, 12, 9, 13, 0, tzinfo=UTC)
    fresh = run([AU_CLEAR], evidence=[acma()], at=last_instant, country="AU")
    assert fresh["reason"].tolist() == ["allowed"]
    assert fresh["valid_until"].tolist() == [last_instant]
    stale = run(
        [AU_CLEAR], evidence=[acma()], at=last_instant + timedelta(microseconds=1), country="AU"
    )
    assert stale["reason"].tolist() == ["needs_wash"]
    assert stale["needs_wash_registry"].tolist() == ["au_acma"]
    assert stale["evidence_date"].tolist() == [date(2026, 11, 10)]


def test_a_stale_registered_result_still_blocks_as_listed_and_asks_for_a_new_wash() -> None:
    result = run([AU_REGISTERED], evidence=[acma("2026-09-01")], country="AU")
    assert result["reason"].tolist() == ["registry_listed"]
    assert result["needs_wash_registry"].tolist() == ["au_acma"]


@pytest.mark.parametrize(
    ("kind", "recorded"),
    [
        ("transaction", datetime(2025, 5, 20, 15, 0, tzinfo=UTC)),  # 18 months before
        ("inquiry", datetime(2026, 8, 20, 15, 0, tzinfo=UTC)),  # 3 months before
    ],
)
def test_us_business_relationships_last_18_months_after_a_transaction_3_after_an_inquiry(
    kind: str, recorded: datetime
) -> None:
    last_valid = datetime(2026, 11, 20, 15, 0, tzinfo=UTC)
    assert relationship_until(kind, recorded, "US") == last_valid
    consents = consent_rows((LISTED, kind, recorded, None), (NOT_LISTED, kind, recorded, None))
    at_end = run([NOT_LISTED, LISTED], consents=consents, at=last_valid)
    assert at_end["reason"].tolist() == ["existing_relationship", "registry_listed"]
    later = run([NOT_LISTED], consents=consents, at=last_valid + timedelta(seconds=1))
    assert later["reason"].tolist() == ["allowed"]


def test_the_canadian_inquiry_window_is_six_months() -> None:
    ca_dncl = Registry(
        "ca_dncl", "DNCL", "CA", "downloadable", 31, "America/Toronto", "ftc_flat_zip"
    )
    toronto = "+14165550123"
    recorded = datetime(2026, 5, 20, 15, 0, tzinfo=UTC)
    assert relationship_until("inquiry", recorded, "CA") == datetime(
        2026, 11, 20, 15, 0, tzinfo=UTC
    )
    assert relationship_until("inquiry", recorded, "US") == datetime(2026, 8, 20, 15, 0, tzinfo=UTC)
    evidence = [ftc(registry=ca_dncl, listed=())]
    consents = consent_rows((toronto, "inquiry", recorded, None))
    result = run([toronto], evidence=evidence, consents=consents, country="CA")
    assert result["reason"].tolist() == ["existing_relationship"]
    assert result["registry_id"].tolist() == ["ca_dncl"]
    later = run(
        [toronto],
        evidence=evidence,
        consents=consents,
        country="CA",
        at=WASHED_AT + timedelta(seconds=1),
    )
    assert later["reason"].tolist() == ["allowed"]


def test_an_exemption_caps_valid_until_and_expired_revoked_or_restricted_records_do_not_count() -> (
    None
):
    recorded = WASHED_AT - timedelta(days=80)
    inquiry = run([NOT_LISTED], consents=consent_rows((NOT_LISTED, "inquiry", recorded, None)))
    assert inquiry["reason"].tolist() == ["existing_relationship"]
    assert inquiry["valid_until"].iat[0] == relationship_until("inquiry", recorded, "US")
    expiring = consent_rows(
        (NOT_LISTED, "express_consent", recorded, WASHED_AT + timedelta(days=2))
    )
    assert run([NOT_LISTED], consents=expiring)["valid_until"].iat[0] == WASHED_AT + timedelta(
        days=2
    )
    expired = consent_rows(
        (NOT_LISTED, "express_consent", recorded, WASHED_AT - timedelta(seconds=1))
    )
    assert run([NOT_LISTED], consents=expired)["reason"].tolist() == ["allowed"]
    revoked = consent_rows((NOT_LISTED, "express_consent", recorded, None))
    revoked["revoked_at"] = WASHED_AT - timedelta(days=1)
    assert run([NOT_LISTED], consents=revoked)["reason"].tolist() == ["allowed"]
    restricted = consent_rows((NOT_LISTED, "express_consent", recorded, None))
    restricted["restricted_at"] = WASHED_AT - timedelta(days=1)
    assert run([NOT_LISTED], consents=restricted)["reason"].tolist() == ["allowed"]
    future = consent_rows((NOT_LISTED, "express_consent", WASHED_AT + timedelta(days=1), None))
    assert run([NOT_LISTED], consents=future)["reason"].tolist() == ["allowed"]


def test_valid_until_follows_the_evidence() -> None:
    ftc_until = datetime(2026, 11, 2, tzinfo=NY) + timedelta(days=31)
    result = run(["bad", LISTED, NOT_LISTED])
    assert result["valid_until"].tolist() == [WASHED_AT + timedelta(days=31), ftc_until, ftc_until]
    assert result["evidence_date"].tolist() == [None, FTC_DAY, FTC_DAY]
    assert result["registry_version"].tolist() == [None, "v-ftc", "v-ftc"]
    assert result["evidence_age_days"].iat[1] == pytest.approx(
        (WASHED_AT - datetime(2026, 11, 2, tzinfo=NY)).total_seconds() / 86400, abs=0.01
    )


def test_a_number_no_configured_registry_covers_is_allowed_until_the_rewash_horizon() -> None:
    result = run(["+442079460123"], evidence=[], country="GB")
    assert result["reason"].tolist() == ["allowed"]
    assert result["registry_id"].tolist() == [None]
    assert result["valid_until"].tolist() == [WASHED_AT + timedelta(days=30)]


def test_allowed_numbers_carry_calling_windows_blocked_ones_do_not() -> None:
    result = run([LISTED, NOT_LISTED])
    assert result["calling_window"].iat[0] is None
    window = result["calling_window"].iat[1]
    assert window["timezones"] == ["America/New_York"]
    assert window["windows"], "a New York number has calling hours within a week"


def test_rules_and_evidence_never_carry_the_number() -> None:
    result = run(["2125550147", "+12125550199", NOT_LISTED], suppressed=("+12125550199",))
    for row in result.to_dict(orient="records"):
        document = evidence_document(row)
        text = f"{row['rule']} {document}"
        for digits in ("2125550147", "2125550199", "2125550100"):
            assert digits not in text
        assert len(row["rule"]) <= 120

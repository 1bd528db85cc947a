"""Do-not-call ingestion consults the erasure ledger: a consent record of an erased subject is
kept as the erasure keeps consent evidence (hash, no number), and an erased subject on a
campaign list is neither stored, exported nor submitted to a registry; both are counted."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from cm_pipelines.domain.dsar.erased_subjects import REASON_DROPPED, REASON_PSEUDONYMISED
from cm_pipelines.domain.dsar.planning import Subject
from cm_pipelines.domain.keyed_hash import keyed_hash
from cm_pipelines.dsar.erasure_ledger import record_erased_subject
from cm_pipelines.platform import landing
from cm_pipelines.platform.settings import identifier_hash_key
from cm_pipelines.tables import dncr as tables
from tests.dncr.dncr_helpers import (
    failure_message,
    materialization,
    refresh,
    registries_config,
    us_numbers,
    wash_tenants,
    write_campaign,
    write_consents,
    write_full,
)

ERASED, CLEAR = "+12125559011", "+12125559001"


@pytest.fixture
def resources(sqlite_warehouse, local_store, tmp_path: Path) -> dict[str, Any]:
    return {
        "warehouse": sqlite_warehouse,
        "object_store": local_store,
        "platform_config": registries_config(tmp_path, us_ftc={"max_bad_line_ratio": 0.01}),
    }


def _erase(resources: dict[str, Any], e164: str) -> None:
    key = identifier_hash_key()
    subject = Subject(
        "beta-us", "US", frozenset({e164}), frozenset(), phone_hashes={e164: keyed_hash(e164, key)}
    )
    with resources["warehouse"].begin() as connection:
        record_erased_subject(
            connection,
            tenant_id="beta-us",
            request_id="dsar-erased",
            subject=subject,
            names=[],
            key=key,
            now=datetime(2026, 11, 5, tzinfo=UTC),
        )


def test_consents_and_campaign_lists_of_an_erased_subject(resources) -> None:
    store = resources["object_store"]
    write_full(store, "us_ftc", "2026-11-01", us_numbers(3000))
    assert refresh(resources, ["us_ftc"], as_of="2026-11-02T12:00:00+00:00").success
    _erase(resources, ERASED)
    write_campaign(store, "beta-us", "spring", ["212 555 9011", "212 555 9001"])
    write_consents(
        store,
        "beta-us",
        [
            ("212-555-9011", "express_consent", "2026-10-01T10:00:00Z", "web_form"),
            ("212-555-9001", "express_consent", "2026-10-01T10:00:00Z", "web_form"),
        ],
    )
    result = wash_tenants(resources, ["beta-us"], washed_at="2026-11-10T00:00:00+00:00")
    assert result.success, failure_message(result)
    key = identifier_hash_key()
    with resources["warehouse"].connect() as connection:
        consents = connection.execute(sa.select(tables.consents)).mappings().all()
        washed = connection.execute(sa.select(tables.wash_results)).mappings().all()
    by_hash = {row["e164_hash"]: row for row in consents}
    assert by_hash[keyed_hash(ERASED, key)]["e164"] is None
    assert by_hash[keyed_hash(CLEAR, key)]["e164"] == CLEAR
    assert [row["e164"] for row in washed] == [CLEAR]
    assert materialization(result, "dncr_consents")["erased_subject"] == {REASON_PSEUDONYMISED: 1}
    assert materialization(result, "dncr_wash_results")["erased_subject"] == {REASON_DROPPED: 1}
    [export] = store.list_files(f"{landing.EXPORTS}/dncr/beta-us/spring")
    allowed = store.read_bytes(export.path).decode()
    assert "9001" in allowed and "9011" not in allowed

"""The identifier index: what it holds for a text (domain), that locating through it finds
exactly what the text scan found on a generated, ingested world, that a second ingestion run
leaves it unchanged, and that a retention purge and a DSAR erasure take their rows with them."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import dagster as dg
import pandas as pd
import pytest
import sqlalchemy as sa

from cm_pipelines.domain.dsar.identifier_index import EMAIL, PHONE, IndexEntry, index_entries
from cm_pipelines.domain.dsar.planning import AI_OUTPUTS, TRANSCRIPTS
from cm_pipelines.domain.dsar.requests import Identifier
from cm_pipelines.domain.identifiers import extract_identifiers
from cm_pipelines.domain.keyed_hash import is_keyed_hash, keyed_hash
from cm_pipelines.dsar.identifier_index import backfill, backfill_if_empty
from cm_pipelines.dsar.locate import (
    indexed_text_hits,
    locate,
    scanned_text_hits,
    subject_for,
)
from cm_pipelines.platform import settings
from cm_pipelines.retention.purge.marking import mark_rows
from cm_pipelines.tables import calls as call_tables
from cm_pipelines.tables.identifier_index import identifier_index
from tests.dsar.dsar_helpers import (
    INGESTION_ASSETS,
    START_DAY,
    build_template,
    copy_platform,
    run,
    subject,
    submit,
)

KEY = bytes(range(32))


# ---------------------------------------------------------------- domain


def test_a_text_yields_the_keyed_hashes_of_numbers_in_every_form_and_of_emails() -> None:
    text = (
        "Sure, call me on oh four nine one five seven oh one five six, or the office on "
        "+61 (3) 5550-4567; mail jane dot doe at example dot com or Ops@Example.org."
    )
    entries = index_entries(text, "AU", KEY)
    assert entries == sorted(
        [
            IndexEntry(PHONE, keyed_hash("+61491570156", KEY)),
            IndexEntry(PHONE, keyed_hash("+61355504567", KEY)),
            IndexEntry(EMAIL, keyed_hash("jane.doe@example.com", KEY)),
            IndexEntry(EMAIL, keyed_hash("ops@example.org", KEY)),
        ]
    )
    assert all(is_keyed_hash(entry.keyed_hash) for entry in entries)
    assert not any("491570156" in entry.keyed_hash for entry in entries)


def test_an_empty_or_identifier_free_text_yields_nothing_and_a_repeat_counts_once() -> None:
    assert index_entries("", "AU", KEY) == []
    assert index_entries(None, "AU", KEY) == []
    assert index_entries("The meeting is at nine thirty.", "AU", KEY) == []
    twice = index_entries("0491 570 156 and again 0491570156", "AU", KEY)
    assert twice == [IndexEntry(PHONE, keyed_hash("+61491570156", KEY))]


# ---------------------------------------------------------------- on an ingested world


@pytest.fixture(scope="module")
def template(tmp_path_factory):
    return build_template(tmp_path_factory.mktemp("index_template"))


@pytest.fixture
def platform(template, tmp_path):
    database, storage, world = template
    return copy_platform(database, storage, tmp_path / "platform"), world


def _index_rows(resources) -> list[tuple]:
    with resources["warehouse"].connect() as connection:
        return sorted(tuple(row) for row in connection.execute(sa.select(identifier_index)))


def _tenant_texts(connection: sa.Connection, tenant_id: str) -> list[str]:
    texts = []
    for table in (call_tables.transcripts, call_tables.ai_outputs):
        query = sa.select(table.c.text).where(table.c.tenant_id == tenant_id)
        texts.extend(row.text for row in connection.execute(query))
    return texts


def _subjects(connection: sa.Connection, tenants: dict, key: bytes):
    """Every identifier any text of a tenant names, each as a one-identifier subject, plus
    the generated world's people with their phone and email together."""
    for tenant_id, tenant in sorted(tenants.items()):
        found_phones: set[str] = set()
        found_emails: set[str] = set()
        for text in _tenant_texts(connection, tenant_id):
            found = extract_identifiers(text, tenant.country)
            found_phones |= found.phones
            found_emails |= found.emails
        for phone in sorted(found_phones):
            yield subject_for([Identifier("phone", phone)], tenant, key)
        for email in sorted(found_emails):
            yield subject_for([Identifier("email", email)], tenant, key)


def test_index_lookups_find_exactly_what_the_text_scan_found(platform) -> None:
    resources, world = platform
    key = settings.identifier_hash_key()
    tenants = resources["platform_config"].tenants_by_id()
    compared = spoken_only = 0
    with resources["warehouse"].connect() as connection:
        for one in _subjects(connection, tenants, key):
            indexed = sorted(indexed_text_hits(connection, one, set()))
            scanned = sorted(scanned_text_hits(connection, one, set()))
            assert indexed == scanned
            assert indexed, "every identifier found in a text must lead back to that text"
            compared += 1
            if one.phones and not any(
                next(iter(one.phones))[3:] in text.replace(" ", "")
                for text in _tenant_texts(connection, one.tenant_id)
            ):
                spoken_only += 1
        people = [p for p in world.subjects if p["mentioned_call_ids"]]
        assert people
        for person in people:
            tenant = tenants[person["tenant_id"]]
            who = subject_for(
                [Identifier("phone", person["e164"]), Identifier("email", person["email"])],
                tenant,
                key,
            )
            assert locate(connection, who, hash_number=lambda n: keyed_hash(n, key)) == locate(
                connection, who, hash_number=lambda n: keyed_hash(n, key), text_via_index=False
            )
    assert compared > 10
    assert spoken_only > 0, "the world must name some numbers only as spoken words"


def test_a_second_ingestion_run_and_a_backfill_leave_the_index_unchanged(platform) -> None:
    resources, _ = platform
    before = _index_rows(resources)
    assert before and all(is_keyed_hash(row[1]) for row in before)
    kinds = {(row[2], row[5]) for row in before}
    assert {TRANSCRIPTS, AI_OUTPUTS} <= {kind for kind, _ in kinds}
    day = START_DAY.isoformat()
    assert dg.materialize(INGESTION_ASSETS, resources=resources, partition_key=day).success
    assert _index_rows(resources) == before
    with resources["warehouse"].begin() as connection:
        assert backfill_if_empty(connection, settings.identifier_hash_key()) is None
        connection.execute(sa.delete(identifier_index))
        assert backfill_if_empty(connection, settings.identifier_hash_key()) == len(before)
        backfill(connection, settings.identifier_hash_key())
    assert _index_rows(resources) == before


def test_a_purged_transcript_loses_its_index_rows(platform) -> None:
    resources, _ = platform
    rows = _index_rows(resources)
    tenant_id, call_id = next((row[0], row[3]) for row in rows if row[2] == TRANSCRIPTS)
    ai_kind = next((row[4] for row in rows if row[2] == AI_OUTPUTS and row[0] == tenant_id), None)
    items = pd.DataFrame({"tenant_id": [tenant_id], "artefact_id": [call_id]})
    now = datetime.now(UTC)
    with resources["warehouse"].begin() as connection:
        assert mark_rows(connection, "transcripts", items, now) == {call_id}
    left = _index_rows(resources)
    assert not [r for r in left if r[0] == tenant_id and r[2] == TRANSCRIPTS and r[3] == call_id]
    assert len(left) < len(rows)
    if ai_kind is not None:
        ai_call = next(r[3] for r in left if r[2] == AI_OUTPUTS and r[4] == ai_kind)
        ai_items = pd.DataFrame({"tenant_id": [tenant_id], "artefact_id": [f"{ai_call}#{ai_kind}"]})
        with resources["warehouse"].begin() as connection:
            mark_rows(connection, "ai_summaries", ai_items, now + timedelta(seconds=1))
        assert not [
            r
            for r in _index_rows(resources)
            if r[2] == AI_OUTPUTS and r[3] == ai_call and r[4] == ai_kind
        ]


def test_an_erasure_leaves_no_index_row_of_the_subject(platform) -> None:
    resources, world = platform
    person = subject(world, "acme-au", mentioned=True)
    key = settings.identifier_hash_key()
    hashes = {keyed_hash(person["e164"], key), keyed_hash(person["email"], key)}
    before = _index_rows(resources)
    assert any(row[1] in hashes for row in before)
    identifiers = [("phone", person["e164"]), ("email", person["email"])]
    request_id = submit(resources, "acme-au", "erasure", identifiers)
    outcome = run(resources, request_id)
    assert outcome.success, outcome.failure_messages()
    after = _index_rows(resources)
    assert not [row for row in after if row[1] in hashes]
    others = {row for row in before if row[0] != "acme-au"}
    assert others <= set(after), "another tenant's index is not touched"


# ---------------------------------------------------------------- PostgreSQL, tenant isolation

_TEXTS = {
    ("acme-au", "c1"): "Call me back on oh four nine one five seven oh one five six please.",
    ("acme-au", "c2"): "Her mobile is 0491 570 156, email jane dot doe at example dot com.",
    ("acme-au", "c3"): "Nothing personal here, just the opening hours.",
    ("beta-us", "c1"): "Reach me on +61 491 570 156 or jane.doe@example.com.",
}


def _load_texts(warehouse) -> None:
    rows = [
        {
            "tenant_id": tenant_id,
            "call_id": call_id,
            "partition_date": START_DAY,
            "object_path": f"landing/transcripts/{tenant_id}/{call_id}.json",
            "sha256": "0" * 64,
            "format": "aws",
            "language": "en",
            "text": text,
            "segments": [],
        }
        for (tenant_id, call_id), text in _TEXTS.items()
    ]
    with warehouse.begin() as connection:
        connection.execute(sa.insert(call_tables.transcripts), rows)


def test_on_postgresql_the_index_agrees_with_the_scan_stays_put_and_keeps_tenants_apart(
    postgres_warehouse, platform_config
) -> None:
    from cm_pipelines.dsar.identifier_index import reindex

    _load_texts(postgres_warehouse)
    countries = {"acme-au": "AU", "beta-us": "US"}
    with postgres_warehouse.begin() as connection:
        written = reindex(connection, TRANSCRIPTS, countries, KEY, partition_date=START_DAY)
    assert written == 5  # c1: phone; c2: phone + email; beta c1: phone + email
    first = _index_rows({"warehouse": postgres_warehouse})
    with postgres_warehouse.begin() as connection:
        reindex(connection, TRANSCRIPTS, countries, KEY, partition_date=START_DAY)
    assert _index_rows({"warehouse": postgres_warehouse}) == first
    tenants = platform_config.tenants_by_id()
    with postgres_warehouse.connect() as connection:
        for tenant_id in ("acme-au", "beta-us"):
            who = subject_for(
                [Identifier("phone", "+61491570156"), Identifier("email", "jane.doe@example.com")],
                tenants[tenant_id],
                KEY,
            )
            indexed = sorted(indexed_text_hits(connection, who, set()))
            assert indexed == sorted(scanned_text_hits(connection, who, set()))
            expected = {"acme-au": ["c1", "c2"], "beta-us": ["c1"]}[tenant_id]
            assert [hit.call_id for _, hit in indexed] == expected
            assert all(
                hit.object_path.startswith(f"landing/transcripts/{tenant_id}/")
                for _, hit in indexed
            )

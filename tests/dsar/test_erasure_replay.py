"""Erasure holds against replay: after an erasure, the very same landing files delivered again
and ingested (each day, then again as a backfill) bring nothing of the subject back, neither
into the warehouse nor into any object of the store."""

from __future__ import annotations

import json
from datetime import timedelta

import dagster as dg
import pytest
import sqlalchemy as sa

from cm_pipelines.domain.dsar.erased_subjects import (
    REASON_DROPPED,
    REASON_MASKED,
    REASON_PSEUDONYMISED,
)
from cm_pipelines.domain.identifiers import extract_identifiers
from cm_pipelines.tables import calls as call_tables
from cm_pipelines.tables import metadata
from cm_pipelines.tables.calls import quarantine
from cm_pipelines.tables.dsar import dsar_erased_subjects
from tests.dsar.dsar_helpers import (
    DAYS,
    INGESTION_ASSETS,
    START_DAY,
    add_call_hold,
    build_template,
    copy_platform,
    hash_of,
    readable_text,
    rows,
    run,
    subject,
    submit,
)


@pytest.fixture(scope="module")
def template(tmp_path_factory):
    return build_template(tmp_path_factory.mktemp("erasure_replay"))


@pytest.fixture
def local_resources(template, tmp_path):
    database, storage, _ = template
    return copy_platform(database, storage, tmp_path / "platform")


def _landing(resources) -> dict[str, bytes]:
    store = resources["object_store"]
    return {item.path: store.read_bytes(item.path) for item in store.list_files("landing")}


def _ingest_every_day(resources) -> dict[str, dict]:
    """Each call day ingested; returns the ``erased_subject`` counts per asset, summed."""
    totals: dict[str, dict] = {}
    for offset in range(DAYS):
        day = (START_DAY + timedelta(days=offset)).isoformat()
        result = dg.materialize(INGESTION_ASSETS, resources=resources, partition_key=day)
        assert result.success
        for event in result.get_asset_materialization_events():
            materialization = event.event_specific_data.materialization
            counts = materialization.metadata.get("erased_subject")
            name = materialization.asset_key.to_user_string()
            for reason, value in (counts.value if counts else {}).items():
                totals.setdefault(name, {}).setdefault(reason, 0)
                totals[name][reason] += value
    return totals


def _warehouse_dump(resources) -> str:
    with resources["warehouse"].connect() as connection:
        return json.dumps(
            {
                table.name: [dict(row) for row in connection.execute(sa.select(table)).mappings()]
                for table in metadata.sorted_tables
            },
            default=str,
        )


def _object_texts(resources) -> dict[str, str]:
    """Every object of the store, whatever its prefix (landing, exports, audit ...)."""
    store = resources["object_store"]
    fs = store.filesystem()
    root = store.root_url().split("://", 1)[-1]
    if store.protocol == "s3":
        fs.invalidate_cache(root)
    texts = {}
    for path in sorted(fs.find(root)):
        if path.endswith(".partial"):
            continue
        data = bytes(fs.cat_file(path))
        try:
            texts[path] = readable_text(data)
        except UnicodeDecodeError:
            texts[path] = data.decode("latin-1")  # audio and encrypted packages
    assert any("/landing/transcripts/" in name for name in texts)
    return texts


def _assert_nothing_of(person: dict, where: str, text: str) -> None:
    national = "0" + person["e164"][3:]
    lowered = text.lower()
    assert person["e164"] not in text, where
    assert national not in text, where
    assert person["email"].lower() not in lowered, where
    assert person["name"].lower() not in lowered, where
    assert person["e164"] not in extract_identifiers(text, "AU").phones, where


def test_re_landed_files_bring_nothing_of_an_erased_subject_back(local_resources, template) -> None:
    erase_reland_and_scan(local_resources, template[2])


def erase_reland_and_scan(resources, world) -> None:
    """Erase a subject named in others' calls, land the very same files again, ingest every
    day and backfill, then search the whole warehouse and every object for the subject."""
    person = subject(world, "acme-au", mentioned=True)
    landed = _landing(resources)
    assert any(person["name"] in data.decode("utf-8", "replace") for data in landed.values())

    request_id = submit(
        resources, "acme-au", "erasure", [("phone", person["e164"]), ("email", person["email"])]
    )
    outcome = run(resources, request_id)
    assert outcome.success, outcome.failure_messages()
    ledger = rows(resources, dsar_erased_subjects, tenant_id="acme-au")
    assert {entry["identifier_kind"] for entry in ledger} >= {"phone", "email", "name"}
    assert hash_of(person["e164"]) in {entry["identifier_hash"] for entry in ledger}
    assert person["e164"] not in json.dumps(ledger, default=str)

    # The very same files land again (a re-sent delivery), then every day is ingested twice:
    # the daily run, then a backfill over the same days.
    store = resources["object_store"]
    for path, data in landed.items():
        store.write_bytes(path, data)
    # ... one of them with a malformed line naming the subject (quarantined with its raw text)
    # ... and a new call of the subject on the same day (data arriving after the erasure).
    cdr_path, call_line = next(
        (path, line)
        for path, data in sorted(landed.items())
        if path.startswith("landing/cdr/acme-au/")
        for line in data.decode().splitlines()
        if any(call_id in line for call_id in person["call_ids"])
    )
    old_id = next(call_id for call_id in person["call_ids"] if call_id in call_line)
    new_id = old_id + "7"
    broken = f'acme-au,"{person["name"]}" <{person["e164"]}>,{person["e164"]},broken\n'
    new_call = call_line.replace(old_id, new_id) + "\n"
    store.write_bytes(cdr_path, landed[cdr_path] + broken.encode() + new_call.encode())
    first = _ingest_every_day(resources)
    second = _ingest_every_day(resources)

    assert first["call_records"][REASON_PSEUDONYMISED] >= len(person["call_ids"])
    assert first["call_records"][REASON_MASKED] == 1  # the malformed line's raw text
    with resources["warehouse"].connect() as connection:
        raw = connection.execute(
            sa.select(quarantine.c.raw_record).where(
                quarantine.c.source_file == cdr_path, quarantine.c.raw_record.like("%broken%")
            )
        ).scalar_one()
    assert "[name]" in raw and "[phone]" in raw
    [arrived] = rows(resources, call_tables.calls, tenant_id="acme-au", call_id=new_id)
    assert arrived["erased_at"] is not None and arrived["caller_name"] is None
    assert hash_of(person["e164"]) in (arrived["src_e164"], arrived["dst_e164"])
    assert first["transcripts"][REASON_MASKED] >= len(person["mentioned_call_ids"])
    dropped = first["transcripts"].get(REASON_DROPPED, 0)
    assert dropped + first["ai_summaries"].get(REASON_DROPPED, 0) > 0
    assert "call_records" not in second  # the first pass left nothing of the subject to find

    _assert_nothing_of(person, "warehouse", _warehouse_dump(resources))
    for path, text in _object_texts(resources).items():
        _assert_nothing_of(person, path, text)


def test_a_held_call_of_an_erased_subject_stays_as_the_erasure_left_it(
    local_resources, template
) -> None:
    """A legal hold overrides erasure, and so its replay: the held call, its artefacts, CRM
    links and landing line come back exactly as they were kept."""
    person = subject(template[2], "acme-au", mentioned=True)
    held_call = sorted(person["call_ids"])[0]
    add_call_hold(local_resources, "acme-au", held_call, "H-LIT-9")

    def kept() -> dict[str, list]:
        return {
            table.name: sorted(
                json.dumps(
                    {k: v for k, v in row.items() if k not in ("ingested_run_id", "id")},
                    default=str,
                    sort_keys=True,
                )
                for row in rows(local_resources, table, tenant_id="acme-au", call_id=held_call)
            )
            for table in (call_tables.calls, call_tables.transcripts, call_tables.crm_links)
        }

    landed = _landing(local_resources)
    request_id = submit(
        local_resources,
        "acme-au",
        "erasure",
        [("phone", person["e164"]), ("email", person["email"])],
    )
    assert run(local_resources, request_id).success
    after_erasure = kept()
    assert after_erasure["calls"] and person["e164"] in after_erasure["calls"][0]
    held_lines = [
        line
        for path, data in landed.items()
        if path.startswith("landing/cdr/acme-au/")
        for line in data.decode().splitlines()
        if held_call in line
    ]
    store = local_resources["object_store"]
    for path, data in landed.items():
        store.write_bytes(path, data)
    _ingest_every_day(local_resources)

    assert kept() == after_erasure
    now_landed = _landing(local_resources)
    assert held_lines and all(
        any(line in data.decode("utf-8", "replace") for data in now_landed.values())
        for line in held_lines
    )

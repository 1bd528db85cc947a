"""On PostgreSQL one hostile row must not fail a whole day: NUL characters (which PostgreSQL text
refuses), values wider than their column, unsafe uniqueids and SQL are quarantined or stored
inertly, and every good row of the day is still loaded."""

from __future__ import annotations

import json

import pytest
import sqlalchemy as sa

from cm_pipelines.domain.ingestion.wav import make_wav
from cm_pipelines.platform import landing
from cm_pipelines.resources import ObjectStoreResource, PlatformConfigResource, WarehouseResource
from cm_pipelines.tables import calls as tables
from tests.ingestion.ingestion_helpers import ingest_day

pytestmark = pytest.mark.integration

DAY = "2026-11-20"
GOOD = "1763630102.421"
SQL = "x'); DROP TABLE calls; --"


def _line(**overrides: str) -> str:
    fields = {
        "accountcode": "acme-au",
        "src": "0491570156",
        "dst": "1004",
        "dcontext": "from-pstn",
        "clid": '"Smith, J" <0491570156>',
        "channel": "PJSIP/trunk-1",
        "dstchannel": "PJSIP/1004-2",
        "lastapp": "Dial",
        "lastdata": "PJSIP/1004,30",
        "start": f"{DAY} 09:15:02",
        "answer": f"{DAY} 09:15:09",
        "end": f"{DAY} 09:18:51",
        "duration": "229",
        "billsec": "222",
        "disposition": "ANSWERED",
        "amaflags": "DOCUMENTATION",
        "uniqueid": GOOD,
        "userfield": "",
    }
    fields.update(overrides)
    return ",".join('"' + value.replace('"', '""') + '"' for value in fields.values())


@pytest.fixture
def resources(postgres_warehouse: WarehouseResource, local_store: ObjectStoreResource) -> dict:
    return {
        "warehouse": postgres_warehouse,
        "object_store": local_store,
        "platform_config": PlatformConfigResource(),
    }


def test_hostile_rows_are_quarantined_and_the_day_still_loads(resources: dict) -> None:
    store = resources["object_store"]
    lines = [
        _line(),
        _line(uniqueid="1763630102.500", clid=f'"{SQL}" <0491570156>'),  # stored inertly
        _line(uniqueid="1763630102.501", dcontext="ctx\x00nul"),
        _line(uniqueid="1763630102.502", userfield="campaign=" + "c" * 200),
        _line(uniqueid="1763630102.503", disposition="D" * 40),
        _line(uniqueid="../../etc/passwd"),
        _line(uniqueid="u" * 70),
    ]
    store.write_bytes(landing.cdr_file("acme-au", DAY), "\n".join(lines).encode())
    store.write_bytes(
        landing.crm_links_file("acme-au", DAY),
        (
            "call_id,crm_system,crm_record_id,contact_phone,contact_email\n"
            f"{GOOD},hubspot,C-1,0491570156,jane@example.com\n"
            f"{GOOD},hub\x00spot,C-2,,\n"
            f"{GOOD},hubspot,{'R' * 200},,\n"
            f"{GOOD},{SQL},C-3,,\n"
        ).encode(),
    )
    store.write_bytes(landing.recording_file("acme-au", DAY, GOOD), make_wav(1.0))
    store.write_bytes(
        landing.transcript_file("acme-au", DAY, GOOD, "whisper"),
        json.dumps({"text": "hello\x00there", "segments": [], "language": "en"}).encode(),
    )
    store.write_bytes(
        landing.ai_output_file("acme-au", DAY, GOOD, "summary"),
        json.dumps(
            {
                "call_id": GOOD,
                "kind": "summary",
                "model": "m" * 500,
                "created_at": f"{DAY}T09:20:00Z",
                "text": "ok",
            }
        ).encode(),
    )
    result = ingest_day(resources, DAY)
    assert result.success, "a hostile row failed the whole day"
    with resources["warehouse"].connect() as connection:
        calls = dict(
            connection.execute(sa.select(tables.calls.c.call_id, tables.calls.c.caller_name)).all()
        )
        links = connection.execute(sa.select(tables.crm_links.c.crm_system)).scalars().all()
        reasons = connection.execute(
            sa.select(tables.quarantine.c.asset, tables.quarantine.c.reason_code)
        ).all()
        recordings = connection.execute(sa.select(sa.func.count()).select_from(tables.recordings))
        assert recordings.scalar_one() == 1
    assert calls == {GOOD: "Smith, J", "1763630102.500": SQL}
    assert sorted(links) == sorted([SQL, "hubspot"])  # the SQL is stored inertly, as text
    assert sorted(r for a, r in reasons if a == "call_records") == [
        "bad_uniqueid",
        "bad_uniqueid",
        "control_characters",
        "field_too_long",
        "field_too_long",
    ]
    assert sorted(r for a, r in reasons if a == "crm_links") == [
        "control_characters",
        "field_too_long",
    ]
    assert ("transcripts", "control_characters") in reasons
    assert ("ai_summaries", "field_too_long") in reasons

"""Support access as a record, on a temporary SQLite project through ``cm``: grants recorded,
listed and revoked by the right people, reads refused without or after a grant and masked
within one, and every step an audit entry holding ids only."""

from __future__ import annotations

import hashlib
import json
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest
import sqlalchemy as sa
from click.testing import CliRunner

from cm_pipelines.access.support_grants import grant_access, load_grant, revoke_access
from cm_pipelines.access.support_reads import support_read
from cm_pipelines.domain.access.support_grants import GrantRefused
from cm_pipelines.domain.operations.roles import Identity
from cm_pipelines.domain.redaction import find_personal_data
from cm_pipelines.tables.access import support_access_grants
from cm_pipelines.tables.audit import audit_log
from cm_pipelines.tables.calls import calls, recordings, transcripts
from cm_pipelines.trust.chain import verify_warehouse_chain

APPROVER = "Jo Bloggs, Ops Manager"
PHONE = "+61491570156"
EMAIL = "jo.caller@example.com"
CALL = "1763630102.421"
WAV = b"RIFF\x24\x00\x00\x00WAVEfmt " + bytes(28)
PRIYA = Identity("priya", frozenset({"privacy_officer"}))
SAM = Identity("sam", frozenset({"support"}))


def _seed(warehouse, store) -> None:
    """One call of acme-au with its transcript and recording (a number and an email in it)."""
    store.write_bytes("recordings/acme-au/rec.wav", WAV)
    started = datetime(2026, 12, 1, 9, 0)
    with warehouse.begin() as connection:
        connection.execute(
            sa.insert(calls).values(
                tenant_id="acme-au",
                call_id=CALL,
                partition_date=date(2026, 12, 1),
                call_date=date(2026, 12, 1),
                started_at=started,
                ended_at=started + timedelta(minutes=2),
                duration_s=120,
                billsec_s=110,
                disposition="ANSWERED",
                direction="inbound",
                src_kind="e164",
                src_e164=PHONE,
                dst_kind="extension",
                dst_extension="201",
                caller_name="Jo Caller",
                source_file="landing/cdr/Master.csv",
                source_line=1,
            )
        )
        connection.execute(
            sa.insert(transcripts).values(
                tenant_id="acme-au",
                call_id=CALL,
                partition_date=date(2026, 12, 1),
                object_path="transcripts/acme-au/t.json",
                sha256="a" * 64,
                format="whisper",
                language="en",
                text=f"call me back on {PHONE} or write to {EMAIL} please",
                segments=[{"id": 0}, {"id": 1}],
            )
        )
        connection.execute(
            sa.insert(recordings).values(
                tenant_id="acme-au",
                call_id=CALL,
                partition_date=date(2026, 12, 1),
                object_path="recordings/acme-au/rec.wav",
                bytes=len(WAV),
                sha256=hashlib.sha256(WAV).hexdigest(),
                duration_s=2.0,
                sample_rate=8000,
                channels=1,
            )
        )


@pytest.fixture
def project(tmp_path: Path):
    from cm_pipelines.resources import ObjectStoreResource, WarehouseResource

    warehouse = WarehouseResource()
    warehouse.upgrade()
    _seed(warehouse, ObjectStoreResource())
    return CliRunner(), warehouse


def _cm(runner: CliRunner, *args: str):
    from cm_pipelines.cli.main import cm

    return runner.invoke(cm, list(args))


def _grant_args(**over: str) -> list[str]:
    values = {
        "--tenant": "acme-au",
        "--to": "sam",
        "--scope": "transcripts,recordings",
        "--approved-by": APPROVER,
        "--ticket": "ZD-48213",
        "--hours": "4",
        "--by": "priya",
        **over,
    }
    return ["access", "grant", *[item for pair in values.items() for item in pair]]


def _audit(warehouse) -> list[dict]:
    with warehouse.connect() as connection:
        return [dict(r) for r in connection.execute(sa.select(audit_log)).mappings()]


def test_grant_list_and_revoke_through_cm_with_roles_and_repeats(project) -> None:
    runner, warehouse = project
    made = _cm(runner, *_grant_args())
    assert made.exit_code == 0, made.output
    grant_id = made.output.split(":")[0]
    assert "granted to sam on acme-au for recordings,transcripts" in made.output
    assert "AEDT" in made.output  # expiry shown in the tenant's zone beside UTC
    again = _cm(runner, *_grant_args())
    assert again.exit_code == 0 and again.output.startswith(f"{grant_id}: already granted")

    refusals = {
        "sam": _cm(runner, *_grant_args(**{"--by": "sam"})),
        "dana": _cm(runner, *_grant_args(**{"--by": "dana"})),
        "to_officer": _cm(runner, *_grant_args(**{"--to": "omar"})),
        "too_long": _cm(runner, *_grant_args(**{"--hours": "73"})),
        "scope": _cm(runner, *_grant_args(**{"--scope": "everything"})),
        "tenant": _cm(runner, *_grant_args(**{"--tenant": "nobody"})),
        "ticket": _cm(runner, *_grant_args(**{"--ticket": PHONE})),
    }
    assert all(result.exit_code != 0 for result in refusals.values())
    assert "sam may not grant support access to themselves" in refusals["sam"].output
    assert "omar is not a support identity" in refusals["to_officer"].output
    assert "at most 72" in refusals["too_long"].output
    assert PHONE not in refusals["ticket"].output

    listed = _cm(runner, "access", "list", "--active", "--json")
    (row,) = json.loads(listed.output)
    assert row["grant_id"] == grant_id and row["state"] == "active"
    assert row["approved_by"] == APPROVER and row["scopes"] == ["recordings", "transcripts"]
    assert _cm(runner, "access", "list", "--tenant", "beta-us").output.strip() == "no grants"

    denied = _cm(runner, "access", "revoke", grant_id, "--by", "dana", "--reason", "done")
    assert denied.exit_code != 0 and "a privacy officer or sam may" in denied.output
    revoked = _cm(runner, "access", "revoke", grant_id, "--by", "sam", "--reason", "ticket solved")
    assert revoked.exit_code == 0, revoked.output
    twice = _cm(runner, "access", "revoke", grant_id, "--by", "priya", "--reason", "again")
    assert twice.exit_code != 0 and "already revoked" in twice.output and "cli:sam" in twice.output
    assert "no active" in _cm(runner, "access", "list", "--active").output
    assert "revoked" in _cm(runner, "access", "list").output
    assert _cm(runner, "access", "revoke", "sag-none", "--by", "priya", "--reason", "x").exit_code

    entries = _audit(warehouse)
    assert [e["action"] for e in entries] == ["access.granted", "access.revoked"]
    assert entries[0]["details"]["approved_by_hash"].startswith("hk1:")
    text = json.dumps([e["object_refs"] | e["details"] for e in entries])
    assert "Bloggs" not in text and "ticket solved" not in text
    assert not find_personal_data([e["object_refs"] | e["details"] for e in entries])
    with warehouse.connect() as connection:
        assert verify_warehouse_chain(connection).ok


def test_reads_need_a_covering_grant_are_masked_and_audited(project, tmp_path) -> None:
    runner, warehouse = project
    show = ["support", "show", "--tenant", "acme-au", "--call", CALL, "--as", "sam"]
    before = _cm(runner, *show, "--what", "transcript")
    assert before.exit_code != 0 and "no support access grant for sam" in before.output
    grant_id = _cm(runner, *_grant_args()).output.split(":")[0]

    transcript = _cm(runner, *show, "--what", "transcript")
    assert transcript.exit_code == 0, transcript.output
    assert "call me back on [phone] or write to [email] please" in transcript.output
    assert PHONE not in transcript.output and EMAIL not in transcript.output
    outside = _cm(runner, *show, "--what", "call")
    assert outside.exit_code != 0 and "do not cover call_records" in outside.output
    officer = _cm(runner, *[a if a != "sam" else "priya" for a in show], "--what", "transcript")
    assert officer.exit_code != 0 and "not a support identity" in officer.output

    wav = tmp_path / "out" / "call.wav"
    recording = _cm(runner, *show, "--what", "recording", "--out", str(wav))
    assert recording.exit_code == 0, recording.output
    assert wav.read_bytes() == WAV and (wav.stat().st_mode & 0o777) == 0o600
    stray = _cm(runner, *show, "--what", "transcript", "--out", str(wav))
    assert stray.exit_code != 0 and "--out is for --what recording" in stray.output
    no_url = _cm(runner, *show, "--what", "recording")
    assert no_url.exit_code != 0 and "cannot sign a URL" in no_url.output
    missing = _cm(runner, "support", "show", "--tenant", "acme-au", "--call", "9.9", "--as", "sam",
                  "--what", "transcript")  # fmt: skip
    assert missing.exit_code != 0 and "no transcript for that call" in missing.output

    for hostile in (PHONE, EMAIL, "1' OR '1'='1"):
        bad = _cm(runner, *[hostile if a == CALL else a for a in show], "--what", "transcript")
        assert bad.exit_code != 0 and "--call is the call's uniqueid" in bad.output
        assert hostile not in bad.output

    _cm(runner, "access", "revoke", grant_id, "--by", "priya", "--reason", "closed")
    after = _cm(runner, *show, "--what", "transcript")
    assert after.exit_code != 0 and f"grant {grant_id} is revoked" in after.output

    entries = [e for e in _audit(warehouse) if e["action"].startswith("support.")]
    assert [(e["action"], e["details"]["artefact"]) for e in entries] == [
        ("support.read_refused", "transcript"),
        ("support.read", "transcript"),
        ("support.read_refused", "call"),
        ("support.read", "recording"),
        ("support.read_refused", "transcript"),
        ("support.read_refused", "transcript"),
    ]
    reads = [e for e in entries if e["action"] == "support.read"]
    assert all(e["object_refs"]["grant_id"] == grant_id for e in reads)
    assert all(e["actor"] == "cli:sam" and e["tenant_id"] == "acme-au" for e in entries)
    assert not find_personal_data([e["object_refs"] | e["details"] for e in entries])
    assert "back on" not in json.dumps([e["details"] for e in entries])


def test_expiry_ends_reads_and_revoking_an_expired_grant_is_refused(project) -> None:
    _, warehouse = project
    at = datetime(2026, 12, 3, 9, 0, tzinfo=UTC)
    with warehouse.begin() as connection:
        grant, made = grant_access(
            connection,
            tenant_id="acme-au",
            grantee=SAM,
            grantor=PRIYA,
            scopes="call_records",
            approved_by=APPROVER,
            ticket="ZD-1",
            hours=1,
            now=at,
        )
    assert made
    end = at + timedelta(hours=1)
    with warehouse.begin() as connection:
        last = support_read(
            connection, SAM, tenant_id="acme-au", call_id=CALL, kind="call",
            now=end - timedelta(seconds=1),
        )  # fmt: skip
        late = support_read(
            connection, SAM, tenant_id="acme-au", call_id=CALL, kind="call", now=end
        )
    assert last["artefact"]["src"] == "+61******156"
    assert last["artefact"]["caller_name"] == "[withheld]"
    assert late == {"refused": "grant", "grant_id": grant["grant_id"],
                    "detail": f"grant {grant['grant_id']} is expired"}  # fmt: skip
    with warehouse.begin() as connection, pytest.raises(GrantRefused, match="already expired"):
        revoke_access(connection, grant["grant_id"], PRIYA, reason="late", now=end)
    with warehouse.connect() as connection:
        assert load_grant(connection, grant["grant_id"])["revoked_at"] is None
        stored = connection.execute(sa.select(support_access_grants.c.approved_by)).scalar_one()
    assert stored == APPROVER


def test_the_bound_is_configurable(project, monkeypatch) -> None:
    runner, _ = project
    monkeypatch.setenv("CM_SUPPORT_ACCESS_MAX_HOURS", "8")
    refused = _cm(runner, *_grant_args(**{"--hours": "9"}))
    assert refused.exit_code != 0 and "at most 8" in refused.output
    assert _cm(runner, *_grant_args(**{"--hours": "8"})).exit_code == 0
    monkeypatch.setenv("CM_SUPPORT_ACCESS_MAX_HOURS", "forever")
    assert "must be a number" in _cm(runner, *_grant_args()).output


def test_the_watch_fails_on_a_read_outside_its_grant_or_an_overlong_grant(project) -> None:
    from cm_pipelines.access.checks import support_reads_within_grants
    from cm_pipelines.platform.audit_log import append_audit

    _, warehouse = project
    assert support_reads_within_grants(warehouse=warehouse).passed  # nothing yet: nothing wrong
    at = datetime.now(UTC)
    with warehouse.begin() as connection:
        grant, _ = grant_access(
            connection,
            tenant_id="acme-au",
            grantee=SAM,
            grantor=PRIYA,
            scopes="transcripts",
            approved_by=APPROVER,
            ticket="ZD-2",
            hours=2,
            now=at,
        )
        support_read(connection, SAM, tenant_id="acme-au", call_id=CALL, kind="transcript")
    clean = support_reads_within_grants(warehouse=warehouse)
    assert clean.passed and clean.metadata["reads"].value == 1

    with warehouse.begin() as connection:  # a read recorded around `cm support show`
        append_audit(
            connection,
            actor="cli:sam",
            action="support.read",
            tenant_id="acme-au",
            object_refs={"grant_id": grant["grant_id"], "call_id": CALL},
            details={"artefact": "recording", "scope": "recordings", "delivered": "file"},
        )
    failed = support_reads_within_grants(warehouse=warehouse)
    assert not failed.passed
    assert failed.metadata["violations_by_reason"].value == {"outside scope": 1}
    assert failed.metadata["violation_seqs"].value == [3]

    with warehouse.begin() as connection:  # a window stretched after the fact
        connection.execute(
            sa.update(support_access_grants).values(expires_at=at + timedelta(hours=100))
        )
    stretched = support_reads_within_grants(warehouse=warehouse)
    assert stretched.metadata["overlong_grant_ids"].value == [grant["grant_id"]]
    assert "Bloggs" not in json.dumps({k: str(v) for k, v in stretched.metadata.items()})


def test_grants_and_reads_on_postgresql_with_a_signed_s3_recording_url(
    postgres_warehouse, s3_store
) -> None:
    import urllib.request

    _seed(postgres_warehouse, s3_store)
    with postgres_warehouse.begin() as connection:
        grant, made = grant_access(
            connection,
            tenant_id="acme-au",
            grantee=SAM,
            grantor=PRIYA,
            scopes="recordings,transcripts",
            approved_by=APPROVER,
            ticket="ZD-3",
            hours=72,
        )
        again, made_again = grant_access(
            connection,
            tenant_id="acme-au",
            grantee=SAM,
            grantor=PRIYA,
            scopes="transcripts,recordings",
            approved_by=APPROVER,
            ticket="ZD-3",
            hours=1,
        )
    assert made and not made_again and again["grant_id"] == grant["grant_id"]
    assert grant["expires_at"] - grant["starts_at"] == timedelta(hours=72)
    with postgres_warehouse.begin() as connection:
        answer = support_read(
            connection, SAM, tenant_id="acme-au", call_id=CALL, kind="recording", store=s3_store
        )
        text = support_read(connection, SAM, tenant_id="acme-au", call_id=CALL, kind="transcript")
    artefact = answer["artefact"]
    assert artefact["delivered"] == "url" and artefact["url_seconds"] == 900
    assert "Expires=" in artefact["url"] or "X-Amz-Expires=" in artefact["url"]
    with urllib.request.urlopen(artefact["url"], timeout=10) as response:  # noqa: S310 - loopback
        assert response.read() == WAV
    assert PHONE not in text["artefact"]["text"] and "[phone]" in text["artefact"]["text"]
    with postgres_warehouse.begin() as connection:
        revoke_access(connection, grant["grant_id"], PRIYA, reason="done")
        after = support_read(connection, SAM, tenant_id="acme-au", call_id=CALL, kind="call")
        entries = [
            dict(r)
            for r in connection.execute(sa.select(audit_log).order_by(audit_log.c.seq)).mappings()
        ]
        assert verify_warehouse_chain(connection).ok
    assert after["refused"] == "grant"
    assert [e["action"] for e in entries] == [
        "access.granted",
        "support.read",
        "support.read",
        "access.revoked",
        "support.read_refused",
    ]
    assert not find_personal_data([e["object_refs"] | e["details"] for e in entries])


def test_restricted_or_erased_calls_are_not_shown_and_logs_carry_no_personal_data(
    project, caplog
) -> None:
    import logging

    runner, warehouse = project
    caplog.set_level(logging.DEBUG)
    show = ["support", "show", "--tenant", "acme-au", "--call", CALL, "--as", "sam"]
    _cm(runner, *_grant_args(**{"--scope": "call_records,transcripts"}))
    shown = _cm(runner, *show, "--what", "call", "--json")
    assert shown.exit_code == 0 and json.loads(shown.output)["src"] == "+61******156"
    assert "Jo Caller" not in shown.output

    restricted_at = datetime.now(UTC)
    with warehouse.begin() as connection:
        connection.execute(sa.update(calls).values(restricted_at=restricted_at))
    restricted = _cm(runner, *show, "--what", "transcript")
    assert restricted.exit_code != 0 and "processing is restricted" in restricted.output
    with warehouse.begin() as connection:
        connection.execute(sa.update(calls).values(restricted_at=None, erased_at=restricted_at))
    erased = _cm(runner, *show, "--what", "call")
    assert erased.exit_code != 0 and "no such call in acme-au" in erased.output

    whys = [e["details"]["why"] for e in _audit(warehouse) if e["action"] == "support.read_refused"]
    assert whys == ["restricted", "not_found"]
    logged = "\n".join(record.getMessage() for record in caplog.records)
    for secret in (APPROVER, "Bloggs", PHONE, EMAIL, "Jo Caller", "call me back"):
        assert secret not in logged

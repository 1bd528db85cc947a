"""The whole demo, then a scan of everything Dagster recorded: no identifier, no secret.

The demo runs every capability (ingestion, a DSAR of each type, registry refresh and washing,
retention with a hold, an override and a purge, the trust job) against a PostgreSQL warehouse
whose URL carries a password and an S3-protocol store reached with access keys — the production
shape. Jobs the demo does not run are launched afterwards. Then every event of every run (messages,
metadata, asset and check results, errors), every run's tags and config, every file under
DAGSTER_HOME (event-log databases, captured stdout/stderr) and the process's own console output
are searched for every identifier the generated world contains and for every secret in use.
"""

from __future__ import annotations

import base64
import http.server
import json
import secrets
import threading
from collections import defaultdict
from collections.abc import Iterable
from pathlib import Path

import dagster as dg
import pytest
import sqlalchemy as sa

from tests.conftest import make_bucket

pytestmark = pytest.mark.integration

DEMO_CALLS = 40
KEY_LENGTH = 6
"""Shortest identifier the world holds ("Tan, S"): the width of the scanner's index."""


class LeakScanner:
    """Case-insensitive search for many needles at once: a dict of each needle's first
    ``KEY_LENGTH`` characters, probed at every position of the text (no per-needle pass)."""

    def __init__(self, needles: dict[str, str]):
        self.by_prefix: dict[str, list[tuple[str, str]]] = defaultdict(list)
        for needle, kind in needles.items():
            for variant in _variants(needle):
                lowered = variant.lower()
                if len(lowered) >= KEY_LENGTH:
                    self.by_prefix[lowered[:KEY_LENGTH]].append((lowered, kind))

    def hits(self, text: str) -> list[tuple[str, str, int]]:
        """(kind, masked needle, position) of every needle found with word boundaries."""
        lowered = text.lower()
        found = []
        index = self.by_prefix
        for position in range(len(lowered) - KEY_LENGTH + 1):
            candidates = index.get(lowered[position : position + KEY_LENGTH])
            if not candidates:
                continue
            for needle, kind in candidates:
                end = position + len(needle)
                if not lowered.startswith(needle, position):
                    continue
                before = lowered[position - 1] if position else " "
                after = lowered[end] if end < len(lowered) else " "
                if (needle[0].isalnum() and before.isalnum()) or (
                    needle[-1].isalnum() and after.isalnum()
                ):
                    continue  # part of a longer token (a hash, an id), not this identifier
                found.append((kind, _masked(needle), position))
        return found


def _variants(needle: str) -> set[str]:
    """The needle as JSON, doubly-encoded JSON and CSV would write its quotes."""
    variants = {needle}
    if '"' in needle:
        variants |= {needle.replace('"', '\\"'), needle.replace('"', '\\\\\\"')}
        variants.add(needle.replace('"', '""'))
    return variants


def _masked(needle: str) -> str:
    return needle[:2] + "*" * max(len(needle) - 4, 0) + needle[-2:]


def _event_texts(instance: dg.DagsterInstance) -> Iterable[tuple[str, str]]:
    from dagster._serdes import serialize_value

    for run in instance.get_runs():
        where = f"run {run.run_id[:8]} ({run.job_name})"
        yield f"{where} tags", json.dumps(run.tags, default=str)
        yield f"{where} config", json.dumps(run.run_config, default=str)
        for entry in instance.all_logs(run.run_id):
            event = entry.dagster_event.event_type_value if entry.dagster_event else "log"
            yield f"{where} {event}", serialize_value(entry)


def _file_texts(root: Path) -> Iterable[tuple[str, str]]:
    for path in sorted(root.rglob("*")):
        if path.is_file():
            yield str(path.relative_to(root)), path.read_bytes().decode("utf-8", "ignore")


def _accepting_crm() -> str:
    """A loopback CRM (HubSpot's paths and the webhook) that accepts every request, so the
    delivery job the demo skips sends the demo's outbox tasks and its records are scanned."""

    class Accept(http.server.BaseHTTPRequestHandler):
        def log_message(self, *args) -> None:
            return

        def _accept(self) -> None:
            self.rfile.read(int(self.headers.get("Content-Length") or 0))
            self.send_response(204)
            self.end_headers()

        do_POST = do_PATCH = _accept  # noqa: N815 - http.server's method names

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Accept)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return f"http://127.0.0.1:{server.server_address[1]}"


@pytest.fixture
def production_shaped_platform(
    monkeypatch: pytest.MonkeyPatch, postgres_url: str, s3_endpoint: str
) -> dict[str, str]:
    """PostgreSQL warehouse with a password in its URL, S3 store with keys, a hash key: the
    secrets every log, tag and config must keep out."""
    password = "pw-" + secrets.token_hex(12)
    with_password = postgres_url.replace("postgres@", f"postgres:{password}@", 1)
    engine = sa.create_engine(with_password)
    try:
        with engine.connect() as connection:
            connection.execute(sa.text("SELECT 1"))
    except sa.exc.OperationalError:
        with_password = postgres_url  # a server that checks passwords: keep the placeholder only
    finally:
        engine.dispose()
    found = {
        "warehouse_password": password,
        "aws_access_key_id": "AKIA" + secrets.token_hex(8).upper(),
        "aws_secret_access_key": secrets.token_urlsafe(30),
        "identifier_hash_key": secrets.token_hex(32),
        "dagster_pg_password": "dpw-" + secrets.token_hex(12),
    }
    found["crm_hubspot_token"] = "pat-" + secrets.token_hex(16)
    found["crm_webhook_secret"] = "whsec-" + secrets.token_hex(16)
    crm = _accepting_crm()
    monkeypatch.setenv("CM_CRM_HUBSPOT_TOKEN", found["crm_hubspot_token"])
    monkeypatch.setenv("CM_CRM_HUBSPOT_API_URL", crm)
    monkeypatch.setenv("CM_CRM_WEBHOOK_URL", crm + "/webhook")
    monkeypatch.setenv("CM_CRM_WEBHOOK_SECRET", found["crm_webhook_secret"])
    bucket = make_bucket(s3_endpoint)
    monkeypatch.setenv("CM_WAREHOUSE_URL", with_password)
    monkeypatch.setenv("CM_STORAGE_URL", f"s3://{bucket}/cm")
    monkeypatch.setenv("CM_S3_ENDPOINT_URL", s3_endpoint)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", found["aws_access_key_id"])
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", found["aws_secret_access_key"])
    monkeypatch.setenv("CM_IDENTIFIER_HASH_KEY", found["identifier_hash_key"])
    monkeypatch.setenv("CM_DAGSTER_PG_PASSWORD", found["dagster_pg_password"])
    yield found
    from cm_pipelines.resources import warehouse as warehouse_module

    engine = warehouse_module._ENGINES.pop(
        warehouse_module.settings.normalise_database_url(with_password), None
    )
    if engine is not None:
        engine.dispose()


def _ledger_texts() -> list[tuple[str, str]]:
    """The erasure ledger (a store every ingestion reads): keyed hashes only. The demo erases,
    so an empty ledger would mean the scan proves nothing about it."""
    from cm_pipelines.platform import settings
    from cm_pipelines.tables.dsar import dsar_erased_subjects

    engine = sa.create_engine(settings.normalise_database_url(settings.warehouse_url()))
    try:
        with engine.connect() as connection:
            rows = [
                dict(row) for row in connection.execute(sa.select(dsar_erased_subjects)).mappings()
            ]
    finally:
        engine.dispose()
    assert {row["identifier_kind"] for row in rows} >= {"phone", "email"}
    return [("warehouse dsar_erased_subjects", json.dumps(rows, default=str))]


def _index_texts() -> list[tuple[str, str]]:
    """The identifier index (written by every transcript and AI output ingestion): keyed hashes
    only. The demo's transcripts name people, so an empty index would mean it was never
    written and the scan proves nothing about it."""
    from cm_pipelines.platform import settings
    from cm_pipelines.tables.identifier_index import identifier_index

    engine = sa.create_engine(settings.normalise_database_url(settings.warehouse_url()))
    try:
        with engine.connect() as connection:
            query = sa.select(identifier_index)
            rows = [dict(row) for row in connection.execute(query).mappings()]
    finally:
        engine.dispose()
    assert {row["identifier_kind"] for row in rows} >= {"phone", "email"}
    return [("warehouse identifier_index", json.dumps(rows, default=str))]


def _violation_texts() -> list[tuple[str, str]]:
    """Post-call audit findings: keyed hashes only. The demo's campaign calls predate its wash,
    so an empty table would mean the audit never ran."""
    from cm_pipelines.platform import settings
    from cm_pipelines.tables.dncr import dncr_post_call_violations

    engine = sa.create_engine(settings.normalise_database_url(settings.warehouse_url()))
    try:
        with engine.connect() as connection:
            query = sa.select(dncr_post_call_violations)
            rows = [dict(row) for row in connection.execute(query).mappings()]
    finally:
        engine.dispose()
    assert rows, "the post-call audit stored nothing to scan"
    return [("warehouse dncr_post_call_violations", json.dumps(rows, default=str))]


def _export_key_spy(monkeypatch: pytest.MonkeyPatch) -> list[bytes]:
    from cm_pipelines.dsar import key_handoff

    delivered: list[bytes] = []
    original = key_handoff.deliver_key

    def spy(request_id: str, key: bytes, object_store=None) -> str:
        delivered.append(key)
        return original(request_id, key, object_store)

    monkeypatch.setattr(key_handoff, "deliver_key", spy)
    return delivered


def _run_jobs_the_demo_skipped(instance: dg.DagsterInstance) -> set[str]:
    from cm_pipelines.definitions import defs
    from cm_pipelines.platform.instance import run_job

    ran = {run.job_name for run in instance.get_runs()}
    launched = set()
    for job in defs.resolve_all_job_defs():
        if job.name in ran or job.name.startswith("__") or job.partitions_def is not None:
            continue
        run_job(job.name, instance=instance)
        launched.add(job.name)
    return launched


def _alerts_sent(instance, monkeypatch: pytest.MonkeyPatch) -> list[tuple[str, str]]:
    """Every alert the demo's runs and checks give rise to, received by a real SMTP server on
    loopback: the breaker the demo trips, DSAR deadlines, registry evidence, stale assets."""
    from aiosmtpd.controller import Controller
    from dagster._core.events import DagsterEventType

    from cm_pipelines.operations.sensors import (
        operations_check_alert_sensor,
        operations_run_failure_alerts,
    )
    from cm_pipelines.resources import AlertDeliveryResource
    from tests.operations.conftest import SmtpSink, free_port

    sink = SmtpSink(port=free_port())
    controller = Controller(sink, hostname="127.0.0.1", port=sink.port)
    controller.start()
    try:
        for name, value in {
            "CM_ALERT_SMTP_HOST": "127.0.0.1",
            "CM_ALERT_SMTP_PORT": str(sink.port),
            "CM_ALERT_EMAIL_FROM": "alerts@cm.test",
            "CM_ALERT_EMAIL_TO": "privacy@cm.test",
        }.items():
            monkeypatch.setenv(name, value)
        resources = {"alerts": AlertDeliveryResource()}
        failed = [r for r in instance.get_runs() if r.status == dg.DagsterRunStatus.FAILURE]
        assert failed, "the demo failed no run (its breaker should refuse one purge)"
        for run in failed:
            [event] = instance.all_logs(run.run_id, of_type=DagsterEventType.RUN_FAILURE)
            operations_run_failure_alerts(
                dg.build_run_status_sensor_context(
                    sensor_name="operations_run_failure_alerts",
                    dagster_instance=instance,
                    dagster_run=run,
                    dagster_event=event.dagster_event,
                    resources=resources,
                ).for_run_failure()
            )
        operations_check_alert_sensor(
            dg.build_sensor_context(instance=instance, resources=resources)
        )
    finally:
        controller.stop()
    assert len(sink.envelopes) >= len(failed)
    return [(f"alert email {n}", e.content.decode()) for n, e in enumerate(sink.envelopes)]


def test_a_full_demo_leaves_no_identifier_or_secret_where_dagster_records(
    production_shaped_platform: dict[str, str],
    monkeypatch: pytest.MonkeyPatch,
    capfd: pytest.CaptureFixture[str],
) -> None:
    from cm_pipelines.cli.demo import run_demo
    from cm_pipelines.platform import settings
    from cm_pipelines.platform.instance import get_instance

    export_keys = _export_key_spy(monkeypatch)
    worlds = []
    from cm_pipelines.cli import demo

    original_generate = demo.generate

    def keep_world(*args, **kwargs):
        world = original_generate(*args, **kwargs)
        worlds.append(world)
        return world

    monkeypatch.setattr(demo, "generate", keep_world)
    lines = run_demo(seed=11, calls=DEMO_CALLS, echo=lambda _line: None)
    instance = get_instance()
    extra_jobs = _run_jobs_the_demo_skipped(instance)

    (world,) = worlds
    assert world.identifiers and world.subjects
    assert len(export_keys) >= 2, "the DSAR step delivered no export key to scan for"
    needles: dict[str, str] = {identifier: "identifier" for identifier in world.identifiers}
    for name, value in production_shaped_platform.items():
        needles[value] = name
    for key in export_keys:
        for form in (
            key.hex(),
            base64.b64encode(key).decode(),
            base64.urlsafe_b64encode(key).decode(),
        ):
            needles[form.rstrip("=")] = "export_key"
    scanner = LeakScanner(needles)

    # The scanner itself finds what it must (a control, so a silent scanner cannot pass).
    subject = world.subjects[0]
    control = f'{{"note": "call {subject["e164"]} / {subject["email"].upper()}"}}'
    assert {kind for kind, _, _ in scanner.hits(control)} == {"identifier"}
    assert scanner.hits(json.dumps({"msg": production_shaped_platform["aws_secret_access_key"]}))

    sources = list(_event_texts(instance))
    sources += _alerts_sent(instance, monkeypatch)
    home = settings.dagster_home()
    files = list(_file_texts(home))
    console = capfd.readouterr()
    sources += [("console stdout", console.out), ("console stderr", console.err)]
    sources += [("demo summary", "\n".join(lines))]
    sources += _ledger_texts()
    sources += _violation_texts()
    sources += _index_texts()

    runs = instance.get_runs()
    assert len(runs) >= 15, "the demo ran fewer jobs than expected: the scan would prove little"
    assert {
        "dsar_fulfillment_job",
        "trust_daily_job",
        "call_ingestion_job",
        "dncr_post_call_audit_job",
    } <= {run.job_name for run in runs}
    delivered = instance.get_latest_materialization_event(dg.AssetKey("dsar_crm_deliveries"))
    assert delivered is not None, "the CRM delivery job did not run: its records were not scanned"
    assert delivered.asset_materialization.metadata["confirmed"].value >= 1
    assert sum(1 for where, _ in files if "compute_logs" in where) >= len(runs)
    assert sum(len(text) for _, text in sources + files) > 1_000_000

    leaks = []
    for where, text in sources + files:
        for kind, masked, position in scanner.hits(text):
            leaks.append(f"{kind} {masked} in {where} at {position}")
    assert not leaks, f"{len(leaks)} leak(s), jobs also run: {sorted(extra_jobs)}:\n" + "\n".join(
        leaks[:40]
    )

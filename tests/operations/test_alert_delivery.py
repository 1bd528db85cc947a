"""Alerts delivered for real: email to an SMTP server on loopback, Slack's Web API served by a
local HTTP server that answers like Slack (and fails on purpose)."""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from cm_pipelines.domain.operations.alerts import Alert, FailedRun, run_failure_alert
from cm_pipelines.domain.redaction import PersonalDataError, find_personal_data
from cm_pipelines.resources.alerts import AlertDeliveryResource, AlertSettingError
from tests.operations.conftest import UI_BASE_URL, free_port


def _breaker_alert(base_url: str) -> Alert:
    return run_failure_alert(
        FailedRun(
            job_name="retention_purge_job",
            run_id="run-123",
            tags={"cm/exclusive_tenant": "acme-au"},
            failed_checks=("retention_purge_guard",),
            reason="circuit breaker: acme-au would lose 57% of its artefacts (limit 20%)",
        ),
        base_url,
    )


def test_nothing_configured_means_no_channel_and_nothing_sent() -> None:
    alerts = AlertDeliveryResource()
    assert alerts.channels() == []
    delivery = alerts.deliver(_breaker_alert(alerts.base_url()))
    assert delivery.sent == [] and delivery.failed == {}
    assert alerts.base_url() == "http://127.0.0.1:3000"


def test_an_alert_reaches_the_smtp_server_with_ids_counts_and_links(smtp_sink) -> None:
    alerts = AlertDeliveryResource()
    assert alerts.channels() == ["email"]
    delivery = alerts.deliver(_breaker_alert(alerts.base_url()))
    assert delivery.sent == ["email"] and delivery.delivered
    [envelope] = smtp_sink.envelopes
    assert envelope.mail_from == "cm-alerts@cm.test"
    assert envelope.rcpt_tos == ["privacy@cm.test", "data@cm.test"]
    [message] = smtp_sink.messages
    assert (
        message["Subject"] == "[cm] circuit breaker tripped: retention_purge_job (tenant acme-au)"
    )
    assert message["X-CM-Alert-Kind"] == "breaker_tripped"
    body = smtp_sink.bodies()[0]
    assert f"{UI_BASE_URL}/runs/run-123" in body
    assert "would lose 57% of its artefacts" in body
    # the only addresses in the message are the envelope's, never in what it says
    assert find_personal_data(message["Subject"] + body) == []


def test_an_alert_with_personal_data_is_refused_before_anything_is_sent(smtp_sink) -> None:
    leaking = Alert("run_failed", "[cm] run failed", ("reason: could not reach +61491570156",))
    with pytest.raises(PersonalDataError):
        AlertDeliveryResource().deliver(leaking)
    assert smtp_sink.envelopes == []


def test_an_unreachable_smtp_server_is_reported_as_failed(monkeypatch) -> None:
    monkeypatch.setenv("CM_ALERT_SMTP_HOST", "127.0.0.1")
    monkeypatch.setenv("CM_ALERT_SMTP_PORT", str(free_port()))  # nobody listens
    monkeypatch.setenv("CM_ALERT_EMAIL_FROM", "a@cm.test")
    monkeypatch.setenv("CM_ALERT_EMAIL_TO", "b@cm.test")
    delivery = AlertDeliveryResource().deliver(_breaker_alert("http://x"))
    assert delivery.sent == [] and delivery.failed == {"email": "ConnectionRefusedError"}


def test_incomplete_settings_are_refused_by_name(monkeypatch) -> None:
    monkeypatch.setenv("CM_ALERT_SMTP_HOST", "127.0.0.1")
    with pytest.raises(AlertSettingError, match="CM_ALERT_EMAIL_FROM and CM_ALERT_EMAIL_TO"):
        AlertDeliveryResource().channels()
    monkeypatch.setenv("CM_ALERT_EMAIL_FROM", "a@cm.test")
    monkeypatch.setenv("CM_ALERT_EMAIL_TO", "b@cm.test")
    monkeypatch.setenv("CM_ALERT_SMTP_TLS", "yes")
    with pytest.raises(AlertSettingError, match="CM_ALERT_SMTP_TLS"):
        AlertDeliveryResource().channels()


class _SlackApi(BaseHTTPRequestHandler):
    """``chat.postMessage`` as Slack answers it: 200 with ``ok``; a bad token or an unknown
    channel is ``ok: false`` with Slack's error code."""

    posted: list[dict] = []

    def do_POST(self) -> None:  # noqa: N802 - http.server hook name
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        if self.path != "/api/chat.postMessage":
            answer = {"ok": False, "error": "unknown_method"}
        elif self.headers.get("Authorization") != "Bearer xoxb-test":
            answer = {"ok": False, "error": "invalid_auth"}
        elif body.get("channel") != "#privacy-ops":
            answer = {"ok": False, "error": "channel_not_found"}
        else:
            type(self).posted.append(body)
            answer = {"ok": True, "channel": "C1", "ts": "1.0"}
        data = json.dumps(answer).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, *args) -> None:
        pass


@pytest.fixture
def slack_api():
    _SlackApi.posted = []
    server = ThreadingHTTPServer(("127.0.0.1", 0), _SlackApi)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}/api"
    server.shutdown()
    server.server_close()


def test_slack_gets_the_same_alert_and_its_refusals_are_reported(slack_api, monkeypatch) -> None:
    monkeypatch.setenv("CM_ALERT_SLACK_TOKEN", "xoxb-test")
    monkeypatch.setenv("CM_ALERT_SLACK_CHANNEL", "#privacy-ops")
    monkeypatch.setenv("CM_ALERT_SLACK_API_URL", slack_api)
    alerts = AlertDeliveryResource()
    assert alerts.channels() == ["slack"]
    assert alerts.deliver(_breaker_alert("http://ui")).sent == ["slack"]
    [posted] = _SlackApi.posted
    assert posted["text"].startswith("[cm] circuit breaker tripped")
    assert "http://ui/runs/run-123" in posted["text"]

    monkeypatch.setenv("CM_ALERT_SLACK_CHANNEL", "#nowhere")
    delivery = AlertDeliveryResource().deliver(_breaker_alert("http://ui"))
    assert delivery.failed == {"slack": "SlackRefused"}
    assert len(_SlackApi.posted) == 1


def test_one_failing_channel_does_not_stop_the_other(smtp_sink, slack_api, monkeypatch) -> None:
    monkeypatch.setenv("CM_ALERT_SLACK_TOKEN", "wrong-token")
    monkeypatch.setenv("CM_ALERT_SLACK_CHANNEL", "#privacy-ops")
    monkeypatch.setenv("CM_ALERT_SLACK_API_URL", slack_api)
    delivery = AlertDeliveryResource().deliver(_breaker_alert("http://ui"))
    assert delivery.sent == ["email"]
    assert delivery.failed == {"slack": "SlackRefused"}
    assert not delivery.delivered
    assert len(smtp_sink.envelopes) == 1

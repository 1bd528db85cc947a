"""The door alerts go out through: email over SMTP, and Slack when a token is configured.

Every field left empty reads its environment variable when an alert is sent (never at import),
so the embedded default needs nothing: with no SMTP host and no Slack token an alert is only
logged as not delivered. What is sent is built and checked by
``cm_pipelines.domain.operations.alerts`` (counts, ids and links, never personal data).
"""

from __future__ import annotations

import json
import smtplib
import ssl
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from email.message import EmailMessage
from email.utils import make_msgid

import dagster as dg
from pydantic import Field

from cm_pipelines.domain.operations.alerts import Alert, assert_clean

DEFAULT_UI_BASE_URL = "http://127.0.0.1:3000"
SLACK_API_URL = "https://slack.com/api"
TLS_MODES = ("none", "starttls", "ssl")
TIMEOUT_SECONDS = 15


class AlertSettingError(ValueError):
    """An alert setting cannot be used; names the variable, never a secret."""


@dataclass
class Delivery:
    """Where one alert went: channels that took it and channels that failed (with why)."""

    sent: list[str] = field(default_factory=list)
    failed: dict[str, str] = field(default_factory=dict)

    @property
    def delivered(self) -> bool:
        return bool(self.sent) and not self.failed


def _env(name: str, default: str = "") -> str:
    return str(dg.EnvVar(name).get_value(default=default) or "").strip()


class AlertDeliveryResource(dg.ConfigurableResource):
    """SMTP and Slack settings; each empty field reads the variable named in its description."""

    smtp_host: str = Field(default="", description="Empty reads CM_ALERT_SMTP_HOST.")
    smtp_port: int = Field(default=0, description="0 reads CM_ALERT_SMTP_PORT (default 25).")
    smtp_from: str = Field(default="", description="Empty reads CM_ALERT_EMAIL_FROM.")
    smtp_to: str = Field(default="", description="Comma-separated; empty reads CM_ALERT_EMAIL_TO.")
    smtp_tls: str = Field(
        default="", description="none|starttls|ssl; empty reads CM_ALERT_SMTP_TLS."
    )
    smtp_user: str = Field(default="", description="Empty reads CM_ALERT_SMTP_USER.")
    smtp_password: str = Field(default="", description="Empty reads CM_ALERT_SMTP_PASSWORD.")
    slack_token: str = Field(default="", description="Empty reads CM_ALERT_SLACK_TOKEN.")
    slack_channel: str = Field(default="", description="Empty reads CM_ALERT_SLACK_CHANNEL.")
    slack_api_url: str = Field(
        default="", description="Empty reads CM_ALERT_SLACK_API_URL (default Slack's Web API)."
    )
    ui_base_url: str = Field(
        default="", description="Links in alerts; empty reads CM_UI_BASE_URL (127.0.0.1:3000)."
    )

    # ------------------------------------------------------------------ settings

    def base_url(self) -> str:
        return (self.ui_base_url or _env("CM_UI_BASE_URL", DEFAULT_UI_BASE_URL)).rstrip("/")

    def _smtp(self) -> dict[str, object] | None:
        host = self.smtp_host or _env("CM_ALERT_SMTP_HOST")
        if not host:
            return None
        port_text = str(self.smtp_port or _env("CM_ALERT_SMTP_PORT", "25"))
        if not port_text.isdigit() or not 0 < int(port_text) < 65536:
            raise AlertSettingError("CM_ALERT_SMTP_PORT must be a port number")
        tls = (self.smtp_tls or _env("CM_ALERT_SMTP_TLS", "none")).lower()
        if tls not in TLS_MODES:
            raise AlertSettingError(f"CM_ALERT_SMTP_TLS must be one of {', '.join(TLS_MODES)}")
        recipients = [a.strip() for a in (self.smtp_to or _env("CM_ALERT_EMAIL_TO")).split(",")]
        recipients = [a for a in recipients if a]
        sender = self.smtp_from or _env("CM_ALERT_EMAIL_FROM")
        if not recipients or not sender:
            raise AlertSettingError(
                "CM_ALERT_SMTP_HOST is set: CM_ALERT_EMAIL_FROM and CM_ALERT_EMAIL_TO are needed too"
            )
        return {
            "host": host,
            "port": int(port_text),
            "tls": tls,
            "sender": sender,
            "recipients": recipients,
            "user": self.smtp_user or _env("CM_ALERT_SMTP_USER"),
            "password": self.smtp_password or _env("CM_ALERT_SMTP_PASSWORD"),
        }

    def _slack(self) -> dict[str, str] | None:
        token = self.slack_token or _env("CM_ALERT_SLACK_TOKEN")
        if not token:
            return None
        channel = self.slack_channel or _env("CM_ALERT_SLACK_CHANNEL")
        if not channel:
            raise AlertSettingError("CM_ALERT_SLACK_TOKEN is set: CM_ALERT_SLACK_CHANNEL is needed")
        api = self.slack_api_url or _env("CM_ALERT_SLACK_API_URL", SLACK_API_URL)
        return {"token": token, "channel": channel, "api": api.rstrip("/")}

    def channels(self) -> list[str]:
        """The configured channels (``email``, ``slack``); empty in the embedded default."""
        found = []
        if self._smtp() is not None:
            found.append("email")
        if self._slack() is not None:
            found.append("slack")
        return found

    # ------------------------------------------------------------------ delivery

    def deliver(self, alert: Alert) -> Delivery:
        """Send ``alert`` on every configured channel; refused first if it holds personal data.
        A channel that fails is reported (by exception type), the others still get it."""
        assert_clean(alert)
        delivery = Delivery()
        smtp, slack = self._smtp(), self._slack()
        for name, settings, send in (("email", smtp, _send_email), ("slack", slack, _send_slack)):
            if settings is None:
                continue
            try:
                send(settings, alert)
            except (OSError, smtplib.SMTPException, SlackRefused) as exc:
                delivery.failed[name] = type(exc).__name__
            else:
                delivery.sent.append(name)
        return delivery


def _send_email(settings: dict, alert: Alert) -> None:
    message = EmailMessage()
    message["Subject"] = alert.subject
    message["From"] = settings["sender"]
    message["To"] = ", ".join(settings["recipients"])
    message["Message-ID"] = make_msgid(domain="cm-pipelines")
    message["X-CM-Alert-Kind"] = alert.kind
    message.set_content(alert.text())
    host, port = settings["host"], settings["port"]
    if settings["tls"] == "ssl":
        client: smtplib.SMTP = smtplib.SMTP_SSL(
            host, port, timeout=TIMEOUT_SECONDS, context=ssl.create_default_context()
        )
    else:
        client = smtplib.SMTP(host, port, timeout=TIMEOUT_SECONDS)
    with client:
        if settings["tls"] == "starttls":
            client.starttls(context=ssl.create_default_context())
        if settings["user"]:
            client.login(settings["user"], settings["password"])
        client.send_message(message)


class SlackRefused(OSError):
    """Slack's Web API answered ``ok: false`` (its error code is the message)."""


def _send_slack(settings: dict, alert: Alert) -> None:
    """``chat.postMessage`` of Slack's Web API (what dagster-slack's client calls)."""
    body = json.dumps({"channel": settings["channel"], "text": alert.subject + "\n" + alert.text()})
    request = urllib.request.Request(
        f"{settings['api']}/chat.postMessage",
        data=body.encode(),
        headers={
            "Content-Type": "application/json; charset=utf-8",
            "Authorization": f"Bearer {settings['token']}",
        },
        method="POST",
    )
    with urllib.request.urlopen(request, timeout=TIMEOUT_SECONDS) as response:  # noqa: S310
        answer = json.loads(response.read() or b"{}")
    if not answer.get("ok"):
        raise SlackRefused(str(answer.get("error", "not ok"))[:64])

"""The door DSAR tasks leave through to CRM systems: HubSpot's CRM v3 API and a signed webhook.

Every field left empty reads its environment variable (through ``dagster.EnvVar``) when a run
delivers, never at import and never from a file or run config: the token and the webhook secret
exist only in the environment of the process that sends. With nothing set, no recipient has a
connector and tasks stay pending (``dsar_crm_tasks_delivered`` says so once they are late).

A recipient (the outbox's CRM system, as CRM link files name it) goes to HubSpot when it is
``hubspot`` and a token is set; to the webhook when a webhook URL is set and the recipient is
listed in ``CM_CRM_WEBHOOK_SYSTEMS`` (``*``, the default, takes every other system).

What comes back is a status code and a ``Retry-After`` header, or the kind of failure (timeout,
connection): never a response body, URL or value sent, so nothing a CRM echoes reaches a log.
"""

from __future__ import annotations

import json
import time
import urllib.error
import urllib.request

import dagster as dg
from pydantic import Field

from cm_pipelines.domain.crm_delivery import retries, signing
from cm_pipelines.domain.crm_delivery.requests import (
    DEFAULT_RESTRICT_PROPERTY,
    PlannedRequest,
    Task,
    hubspot_requests,
    webhook_request,
)

HUBSPOT = "hubspot"
WEBHOOK = "webhook"
HUBSPOT_API_URL = "https://api.hubapi.com"
DEFAULT_TIMEOUT_SECONDS = 15.0


class CrmSettingError(ValueError):
    """A connector setting cannot be used; names the variable, never its value."""


def _env(name: str, default: str = "") -> str:
    return str(dg.EnvVar(name).get_value(default=default) or "").strip()


def _whole(name: str, text: str, low: int, high: int) -> int:
    if not text.isdigit() or not low <= int(text) <= high:
        raise CrmSettingError(f"{name} must be a whole number from {low} to {high}")
    return int(text)


class CrmConnectorsResource(dg.ConfigurableResource):
    """HubSpot and webhook settings; each empty field reads the variable its description names."""

    hubspot_token: str = Field(default="", description="Empty reads CM_CRM_HUBSPOT_TOKEN.")
    hubspot_api_url: str = Field(
        default="", description="Empty reads CM_CRM_HUBSPOT_API_URL (https://api.hubapi.com)."
    )
    hubspot_restrict_property: str = Field(
        default="",
        description="Contact property a restriction sets to true; empty reads "
        "CM_CRM_HUBSPOT_RESTRICT_PROPERTY (cm_processing_restricted).",
    )
    webhook_url: str = Field(default="", description="Empty reads CM_CRM_WEBHOOK_URL.")
    webhook_secret: str = Field(default="", description="Empty reads CM_CRM_WEBHOOK_SECRET.")
    webhook_systems: str = Field(
        default="", description="Comma-separated systems; empty reads CM_CRM_WEBHOOK_SYSTEMS (*)."
    )
    timeout_seconds: float = Field(default=0, description="0 reads CM_CRM_TIMEOUT_SECONDS (15).")
    retry_base_seconds: int = Field(
        default=0, description="0 reads CM_CRM_RETRY_BASE_SECONDS (60)."
    )
    retry_cap_seconds: int = Field(
        default=0, description="0 reads CM_CRM_RETRY_CAP_SECONDS (21600)."
    )
    max_attempts: int = Field(default=0, description="0 reads CM_CRM_MAX_ATTEMPTS (8).")

    # ------------------------------------------------------------------ settings

    def policy(self) -> retries.RetryPolicy:
        base = self.retry_base_seconds or _whole(
            "CM_CRM_RETRY_BASE_SECONDS", _env("CM_CRM_RETRY_BASE_SECONDS", "60"), 1, 86400
        )
        cap = self.retry_cap_seconds or _whole(
            "CM_CRM_RETRY_CAP_SECONDS", _env("CM_CRM_RETRY_CAP_SECONDS", "21600"), 1, 7 * 86400
        )
        attempts = self.max_attempts or _whole(
            "CM_CRM_MAX_ATTEMPTS", _env("CM_CRM_MAX_ATTEMPTS", "8"), 1, 100
        )
        if cap < base:
            raise CrmSettingError("CM_CRM_RETRY_CAP_SECONDS must not be below the base delay")
        return retries.RetryPolicy(base_seconds=base, cap_seconds=cap, max_attempts=attempts)

    def _timeout(self) -> float:
        if self.timeout_seconds:
            return float(self.timeout_seconds)
        text = _env("CM_CRM_TIMEOUT_SECONDS", str(int(DEFAULT_TIMEOUT_SECONDS)))
        return float(_whole("CM_CRM_TIMEOUT_SECONDS", text, 1, 300))

    def _token(self) -> str:
        return self.hubspot_token or _env("CM_CRM_HUBSPOT_TOKEN")

    def _webhook(self) -> tuple[str, bytes] | None:
        url = self.webhook_url or _env("CM_CRM_WEBHOOK_URL")
        if not url:
            return None
        secret = self.webhook_secret or _env("CM_CRM_WEBHOOK_SECRET")
        if not secret:
            raise CrmSettingError("CM_CRM_WEBHOOK_URL is set: CM_CRM_WEBHOOK_SECRET is needed")
        return url, secret.encode("utf-8")

    def connector_for(self, recipient: str) -> str | None:
        """``hubspot``, ``webhook`` or None (no connector: the task waits)."""
        if recipient == HUBSPOT and self._token():
            return HUBSPOT
        if self._webhook() is None:
            return None
        listed = [
            s.strip()
            for s in (self.webhook_systems or _env("CM_CRM_WEBHOOK_SYSTEMS", "*")).split(",")
        ]
        if "*" in listed and recipient != HUBSPOT:
            return WEBHOOK
        return WEBHOOK if recipient in listed else None

    def plan(self, connector: str, task: Task) -> list[PlannedRequest]:
        """The requests ``task`` becomes on ``connector`` (raises ``TaskShapeError``)."""
        if connector == HUBSPOT:
            restrict = self.hubspot_restrict_property or _env(
                "CM_CRM_HUBSPOT_RESTRICT_PROPERTY", DEFAULT_RESTRICT_PROPERTY
            )
            return hubspot_requests(task, restrict)
        return [webhook_request(task)]

    # ------------------------------------------------------------------ sending

    def send(self, connector: str, planned: PlannedRequest) -> retries.Response:
        """One request; the answer reduced to what the retry rules read."""
        body = json.dumps(planned.body, sort_keys=True, separators=(",", ":")).encode("utf-8")
        headers = {
            "Content-Type": "application/json",
            signing.IDEMPOTENCY_HEADER: planned.idempotency_key,
        }
        if connector == HUBSPOT:
            base = self.hubspot_api_url or _env("CM_CRM_HUBSPOT_API_URL", HUBSPOT_API_URL)
            url = base.rstrip("/") + planned.path
            headers["Authorization"] = f"Bearer {self._token()}"
        else:
            webhook = self._webhook()
            if webhook is None:
                raise CrmSettingError("CM_CRM_WEBHOOK_URL is not set")
            url, secret = webhook
            headers[signing.SIGNATURE_HEADER] = signing.signature_header(
                secret, int(time.time()), body
            )
        request = urllib.request.Request(url, data=body, headers=headers, method=planned.method)
        return _exchange(request, self._timeout())


def _exchange(request: urllib.request.Request, timeout: float) -> retries.Response:
    try:
        with urllib.request.urlopen(request, timeout=timeout) as answer:  # noqa: S310 - configured URL
            return retries.Response(int(answer.status))
    except urllib.error.HTTPError as refused:
        with refused:
            return retries.Response(int(refused.code), refused.headers.get("Retry-After"))
    except TimeoutError:
        return retries.Response(None, error="timeout")
    except urllib.error.URLError as failed:
        timed_out = isinstance(failed.reason, TimeoutError)
        return retries.Response(None, error="timeout" if timed_out else "connection_error")
    except OSError:
        return retries.Response(None, error="connection_error")

"""Project-local defaults, resolved through ``dagster.EnvVar`` when used (never at import time).

The embedded default needs nothing set: a SQLite warehouse, a local-folder object store and a
Dagster home all live under one project-local folder (``CM_HOME``, default ``<project>/.cm``).
"""

from __future__ import annotations

import os
import secrets
from pathlib import Path

import dagster as dg

PACKAGE_DIR = Path(__file__).resolve().parent.parent
"""The installed ``cm_pipelines`` package (this module sits in its ``platform`` folder)."""


def project_root() -> Path:
    """The checkout the package was installed from (editable), else the working directory."""
    candidate = PACKAGE_DIR.parent
    if (candidate / "pyproject.toml").exists():
        return candidate
    return Path.cwd()


def cm_home() -> Path:
    """Folder that holds the embedded warehouse, object store and Dagster home."""
    value = dg.EnvVar("CM_HOME").get_value(default=str(project_root() / ".cm"))
    return Path(str(value)).resolve()


def warehouse_url() -> str:
    default = f"sqlite:///{cm_home() / 'warehouse.db'}"
    return normalise_database_url(str(dg.EnvVar("CM_WAREHOUSE_URL").get_value(default=default)))


def storage_url() -> str:
    default = f"file://{cm_home() / 'storage'}"
    return str(dg.EnvVar("CM_STORAGE_URL").get_value(default=default)).rstrip("/")


def dagster_home() -> Path:
    value = dg.EnvVar("DAGSTER_HOME").get_value(default=str(cm_home() / "dagster_home"))
    return Path(str(value)).resolve()


def tenants_file() -> Path:
    default = str(PACKAGE_DIR / "config" / "tenants.yaml")
    return Path(str(dg.EnvVar("CM_TENANTS_FILE").get_value(default=default)))


def registries_file() -> Path:
    default = str(PACKAGE_DIR / "config" / "registries.yaml")
    return Path(str(dg.EnvVar("CM_REGISTRIES_FILE").get_value(default=default)))


INGEST_SLICE_BYTES_DEFAULT = 256 * 1024 * 1024


class SettingError(ValueError):
    """A deployment setting in the environment cannot be used; says which and why."""


def ingest_slice_bytes() -> int:
    """Landed bytes one ingestion step takes on (``CM_INGEST_SLICE_BYTES``, default 256 MiB):
    a call day with more is split by tenant into steps that separate workers can run."""
    value = str(dg.EnvVar("CM_INGEST_SLICE_BYTES").get_value(default="") or "").strip()
    if not value:
        return INGEST_SLICE_BYTES_DEFAULT
    try:
        parsed = int(value)
    except ValueError:
        parsed = 0
    if parsed <= 0:
        raise SettingError("CM_INGEST_SLICE_BYTES must be a positive whole number of bytes")
    return parsed


def normalise_database_url(url: str) -> str:
    """SQLAlchemy 2.1 maps ``postgresql://`` to psycopg 3; this project ships psycopg2."""
    if url.startswith("postgresql://"):
        return "postgresql+psycopg2://" + url[len("postgresql://") :]
    if url.startswith("postgres://"):
        return "postgresql+psycopg2://" + url[len("postgres://") :]
    return url


def identifier_hash_key() -> bytes:
    """Key of the keyed identifier hash: ``CM_IDENTIFIER_HASH_KEY`` (hex), else a project-local
    secret created once (mode 0600) under ``CM_HOME/secrets``. Never logged."""
    configured = dg.EnvVar("CM_IDENTIFIER_HASH_KEY").get_value(default="")
    if configured:
        return bytes.fromhex(str(configured))
    path = cm_home() / "secrets" / "identifier_hash.key"
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        try:
            descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except FileExistsError:
            pass  # another process created it first
        else:
            with os.fdopen(descriptor, "w") as handle:
                handle.write(secrets.token_hex(32))
    return bytes.fromhex(path.read_text().strip())


def _days_setting(name: str, default: int) -> int:
    value = str(dg.EnvVar(name).get_value(default="") or "").strip()
    if not value:
        return default
    if not value.isdigit() or not 0 <= int(value) <= 366:
        raise SettingError(f"{name} must be a whole number of days from 0 to 366")
    return int(value)


def dsar_evidence_years() -> int:
    """``CM_DSAR_EVIDENCE_YEARS`` (default 6): how long a done request's evidence (the request
    as keyed hashes, its step log, plan, results and certificate) is kept, from its tenant-local
    completion day; then it is purged with a proof."""
    value = str(dg.EnvVar("CM_DSAR_EVIDENCE_YEARS").get_value(default="") or "").strip()
    if not value:
        return 6
    if not value.isdigit() or not 1 <= int(value) <= 100:
        raise SettingError("CM_DSAR_EVIDENCE_YEARS must be a whole number of years from 1 to 100")
    return int(value)


def alert_dsar_due_days() -> int:
    """``CM_ALERT_DSAR_DUE_DAYS`` (default 7): a DSAR due within this many days is flagged."""
    return _days_setting("CM_ALERT_DSAR_DUE_DAYS", 7)


def alert_registry_expiry_days() -> int:
    """``CM_ALERT_REGISTRY_EXPIRY_DAYS`` (default 5): registry evidence that stops being valid
    within this many days is flagged."""
    return _days_setting("CM_ALERT_REGISTRY_EXPIRY_DAYS", 5)


def alert_crm_task_hours() -> int:
    """``CM_ALERT_CRM_TASK_HOURS`` (default 24): a DSAR task for a CRM (erase, rectify,
    restrict) still pending this many hours after it was written is stuck."""
    value = str(dg.EnvVar("CM_ALERT_CRM_TASK_HOURS").get_value(default="") or "").strip()
    if not value:
        return 24
    if not value.isdigit() or not 1 <= int(value) <= 24 * 366:
        raise SettingError("CM_ALERT_CRM_TASK_HOURS must be a whole number of hours from 1 to 8784")
    return int(value)


def roles_file() -> Path:
    """``CM_ROLES_FILE``: identities and their roles (default: the demo's, in the package)."""
    default = str(PACKAGE_DIR / "config" / "roles.yaml")
    return Path(str(dg.EnvVar("CM_ROLES_FILE").get_value(default=default)))


def erasure_approval_threshold() -> int:
    """``CM_ERASURE_APPROVAL_THRESHOLD`` (default 50): an erasure planned to remove more
    records waits for a second approver."""
    value = str(dg.EnvVar("CM_ERASURE_APPROVAL_THRESHOLD").get_value(default="") or "").strip()
    if not value:
        return 50
    if not value.isdigit():
        raise SettingError("CM_ERASURE_APPROVAL_THRESHOLD must be a whole number of records")
    return int(value)

"""Where things live in the object store: one place so writers and readers never disagree.

Every path is relative to the object-store root (``CM_STORAGE_URL``). Dates are call dates
(``YYYY-MM-DD``, the tenant's local day the PBX rotated its CDR file on).
"""

from __future__ import annotations

LANDING = "landing"
ARCHIVE = "archive"
EXPORTS = "exports"
AUDIT = "audit"
REGISTRY = "registry"


def cdr_file(tenant_id: str, day: str) -> str:
    """Asterisk cdr_csv Master.csv, rotated daily by the PBX."""
    return f"{LANDING}/cdr/{tenant_id}/{day}/Master.csv"


def recording_file(tenant_id: str, day: str, uniqueid: str) -> str:
    """WAV recording named by the call's Asterisk uniqueid."""
    return f"{LANDING}/recordings/{tenant_id}/{day}/{uniqueid}.wav"


def transcript_file(tenant_id: str, day: str, uniqueid: str, engine: str) -> str:
    """Transcript JSON; ``engine`` is ``aws`` (AWS Transcribe job result) or ``whisper``."""
    return f"{LANDING}/transcripts/{tenant_id}/{day}/{engine}_{uniqueid}.json"


def ai_output_file(tenant_id: str, day: str, uniqueid: str, kind: str) -> str:
    """AI summary (``kind='summary'``) or receptionist note (``kind='receptionist_note'``) JSON."""
    return f"{LANDING}/ai_outputs/{tenant_id}/{day}/{kind}_{uniqueid}.json"


def crm_links_file(tenant_id: str, day: str) -> str:
    """CSV rows tying a call to a CRM record."""
    return f"{LANDING}/crm/{tenant_id}/{day}/crm_links.csv"


def campaign_file(tenant_id: str, campaign_id: str) -> str:
    """Outbound campaign list CSV."""
    return f"{LANDING}/campaigns/{tenant_id}/{campaign_id}.csv"


def consents_file(tenant_id: str) -> str:
    """Consent and business-relationship records CSV."""
    return f"{LANDING}/consents/{tenant_id}/consents.csv"


def registry_full_dir(registry_id: str, day: str) -> str:
    """Folder of a full registry download: one ``<areacode>.zip`` per area code."""
    return f"{LANDING}/dncr/{registry_id}/full/{day}"


def registry_changes_dir(registry_id: str, day: str) -> str:
    """Folder of a change list: ``<areacode>_additions.zip`` and ``<areacode>_deletions.zip``."""
    return f"{LANDING}/dncr/{registry_id}/changes/{day}"


def wash_results_dir(registry_id: str) -> str:
    """Result files returned by a wash-only registry (ACMA, Singapore DNC)."""
    return f"{LANDING}/dncr/{registry_id}/wash_results"


def day_prefixes(kind: str) -> str:
    """The landing folder of one kind of file (``cdr``, ``recordings`` ...)."""
    return f"{LANDING}/{kind}"

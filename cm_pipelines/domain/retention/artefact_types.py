"""The record types retention decides about, and how they relate: which tenant policy governs
each, which parent a derived artefact never outlives, which landing file follows which rows.

The call (``call_logs``) is the root of a lineage. A recording never outlives its call; a
transcript or AI output (summary, receptionist note) never outlives its recording (its call
when it has none); a CRM link never outlives its call. Quarantined lines
(``quarantine_records``) follow the ``call_logs`` policy; a landing file follows the rows read
from it (``domain.retention.source_files``).
"""

from __future__ import annotations

ARTEFACT_TYPES: tuple[str, ...] = (
    "recordings",
    "transcripts",
    "ai_summaries",
    "call_logs",
    "crm_links",
    "wash_results",
    "blocked_calls",
    "dncr_check_records",
    "dsar_case_files",
    "quarantine_records",
    "cdr_files",
    "crm_link_files",
)
"""What the purge knows how to find and remove. ``voicemail`` has a policy but no store yet."""

SOURCE_FILE_TYPES: dict[str, str] = {"cdr_files": "call_logs", "crm_link_files": "crm_links"}
"""Landing file type -> the record type of the rows read from it (the file goes after them)."""

POLICY_TYPE: dict[str, str] = {name: name for name in ARTEFACT_TYPES} | {
    "blocked_calls": "wash_results",
    "dncr_check_records": "wash_results",
    "quarantine_records": "call_logs",
    **SOURCE_FILE_TYPES,
}
"""Artefact type -> the tenant's record type whose retention governs it."""

PARENT_TYPE: dict[str, str] = {
    "recordings": "call_logs",
    "transcripts": "recordings",
    "ai_summaries": "recordings",
    "crm_links": "call_logs",
}
"""Lineage: a derived artefact never outlives its parent (the call when the recording is absent)."""

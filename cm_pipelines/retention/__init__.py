"""Retention: every artefact's state from its tenant's policy versions, lineage and legal holds,
and the guarded purge (``purge/``) over what ``inventory/`` finds."""

"""Pure rules over plain data: no Dagster, no SQL, no object storage (an import contract).

Shared here: tenants and their validation, phone numbers, the keyed hash, identifiers found in
free text, redaction, quarantine rows. One folder per capability holds its own rules.
"""

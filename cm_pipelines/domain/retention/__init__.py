"""Retention rules, pure: plain data in, plain data out (no Dagster, SQL or object storage).

* ``artefact_types``: the record types, which policy governs each, lineage, landing files;
* ``policies``: policy versions recorded from the tenants file, the version in force;
* ``artefact_states``: expiry with lineage, each artefact's state (active, due, held, purged);
* ``source_files``: landing files decided by the rows read from them;
* ``holds``: which calls and number records a legal hold keeps;
* ``circuit_breaker``: the limits a purge plan must stay within;
* ``purge_plan``: due artefacts in purge order, cut into batches;
* ``digests``: digests and stable bytes tying manifest, tombstones and proof together;
* ``proof``: the proof-of-deletion document.
"""

"""What retention decides about, read from the warehouse: every artefact of every record type,
the call parties and CRM contacts that holds match on, and the holds.

Besides the rows themselves: the quarantined lines of the call-day assets and of the tenants'
consent and campaign lists (their raw record is as personal as the row would have been) and the
landing files the rows were read from (a CDR day file, a CRM links file), each with the rows
that came from it (``sources``), so a file goes once its rows have
(``domain.retention.source_files``).

Shared by the ``retention_states`` asset, the purge plan and its guard, ``cm retention plan``
and the benchmark (through ``retention.current_states``), so they all decide the same way.
Frames carry personal columns (party numbers, CRM contacts) only as long as hold matching needs
them; nothing read here is logged.

* ``frames``: warehouse rows into frames, in the shapes the retention rules take;
* ``call_lineage``: calls, their recordings, transcripts, AI outputs and CRM links;
* ``number_records``: do-not-call evidence (wash results, blocked calls) and its numbers;
* ``dsar_case_files``: closed DSAR cases and the exports they left;
* ``quarantine_records``: quarantined lines with a known tenant;
* ``landing_files``: the landing files rows were read from, and the lines a DSAR blanked;
* ``legal_holds``: the holds in force (or all of them);
* ``artefacts``: all of the above gathered into one ``Inventory``.
"""

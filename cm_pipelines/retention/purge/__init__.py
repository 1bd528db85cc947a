"""The purge, in four resumable steps: plan, guard, execute in batches, prove.

* **plan** (``plan``, ``open_plans``, ``manifest``) stores the manifest (``purge_plans`` +
  ``purge_plan_items`` + ``purge_batches`` and a summary under ``audit/retention/plans/``)
  before anything is deleted, or resumes the open plan of the run's scope (the items now held
  or no longer due withdrawn).
* **guard** (``guard``) re-derives every pending item's state: nothing held, nothing not yet
  due, and the circuit breaker (share of each tenant's live artefacts, absolute ceiling) unless
  the plan carries an operator override, which is audited when it is used.
* **execute** (``execute``, ``marking``, ``files_in_use``) takes one batch at a time: mark it
  ``deleting``, delete its objects and confirm each is gone (``resources.object_purge``), then
  in one transaction mark the rows purged (``deleted_at`` set, personal columns wiped; a
  quarantined line's raw record wiped and ``purged_at`` set; a landing file has no row, its
  tombstone is its mark), write tombstones and record each item's outcome. An object that
  refuses deletion keeps its row live and is reported.
* **prove** (``prove``) verifies the deleted objects are absent, writes the proof-of-deletion
  manifest under ``audit/retention/proofs/`` and appends an audit entry.

Killed anywhere and run again, a plan finishes as planned: items already purged are never
touched again (their status, ``deleted_at IS NULL`` guards and a unique tombstone per artefact),
an object deleted before the kill is found absent and its row is then marked.

Overlapping runs (an all-tenants purge and a tenant's, two runs of one tenant) are kept apart by
scope locks and claims on the plan (``claims``). ``settings`` is what a run asks for,
``plan_records`` reads and updates a plan's rows for every step; ``dry_run`` is
``cm retention plan``, the preview that writes nothing.
"""

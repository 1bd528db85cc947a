"""Fulfilment of one verified request, step by step (``dispatch`` holds the order and the
resume rules).

Shared by every request type: ``context`` (the request, its tenant, key and run, the report),
``step_log`` (completed steps and per-store results), ``plan_items`` (the persisted plan),
``tenant_rows`` (the tenant's rows a plan names), ``locate_and_plan`` and ``complete``.
By request type: ``export`` with ``package_content`` (access, portability); ``erase`` with
``erase_artefacts``, ``erase_source_lines``, ``object_versions``, ``erase_verification`` and
``erase_certificate``; ``restrict``; ``rectify``; ``suppress`` (objection, consent withdrawal);
``crm_outbox`` holds the tasks for downstream CRM systems.
"""

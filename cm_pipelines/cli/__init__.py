"""The ``cm`` command: ``main`` builds the group, a module per command group, ``command_context``
holds what every command needs (the operator identity, the warehouse, the tenants, masking).

Start-up cost: every ``cm`` invocation imports Dagster (most of its start-up). The platform's
services (purge, fulfilment, washing, launching, the synthetic world) are imported inside the
commands that use them: importing them all at start-up made every ``cm`` invocation cost 17 %
more CPU (about 0.65 s; ``farm-bench`` of the two imports, 8 pairs). Everything else is imported
at module top.
"""

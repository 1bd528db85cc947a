"""Data-subject request fulfilment over the warehouse and the object store.

``request_records`` reads stored requests, ``request_changes`` changes them (each change
audited), ``request_status`` is what ``cm dsar status`` shows; ``locate`` finds a subject's
records in one tenant, ``fulfil`` carries out each request type step by step, ``key_handoff``
hands an export key to whoever launched the run. The Dagster job (``jobs``, ``ops``) and the
``cm dsar`` commands are thin layers over these modules.
"""

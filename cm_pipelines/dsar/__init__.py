"""Data-subject request fulfilment over the warehouse and the object store.

``requests_store`` keeps requests and their step log, ``locate`` finds a subject's records in one
tenant, ``fulfilment`` carries out each request type, ``key_handoff`` hands an export key to
whoever launched the run. The Dagster job in ``cm_pipelines.dsar.assets`` and the ``cm dsar``
commands are thin layers over these modules.
"""

"""Washing: campaign lists and consents read, every number decided against the active registry
evidence, blocked-call records, allowed exports and wash requests written (``dncr_wash_job``)."""

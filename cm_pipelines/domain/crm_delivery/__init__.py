"""Delivering DSAR outbox tasks to CRM systems: retries, signatures and request shapes."""

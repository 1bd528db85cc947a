"""Housekeeping: what finished runs leave behind (step outputs in the object store)."""

"""Ingestion: the landing zone's call data into the warehouse, one call day per partition and
one step per tenant slice, each file read by a pure parser, bad rows quarantined with a reason;
daily call volumes counted from live rows."""

"""Trust rules: the audit log's hash chain and its verification, the compliance overview page
and chart."""

"""Trust: the audit log's hash chain verified against anchors, and the compliance overview a
privacy officer reads."""

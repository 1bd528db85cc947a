"""CRM delivery: DSAR outbox tasks sent to the CRM systems holding the subject's records."""

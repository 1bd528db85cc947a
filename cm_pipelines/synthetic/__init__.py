"""The generated world: tenants' calls, recordings, transcripts, AI outputs, CRM links,
campaign lists, consents and registry files, deterministic per seed, in the real formats."""

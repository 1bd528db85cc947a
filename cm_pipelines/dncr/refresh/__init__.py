"""The registry refresh: source files, candidate versions, their blocking checks, diffs and
promotion (``dncr_registry_refresh_job``)."""

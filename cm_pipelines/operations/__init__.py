"""Operations: the platform watching itself. Freshness checks on what the schedules keep
current, an hourly watch job for deadlines and registry evidence, and alerts (email, Slack)
when a run fails, a breaker trips or a watched check fails."""

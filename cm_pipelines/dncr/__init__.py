"""Do-not-call: registry snapshots refreshed and promoted only after blocking checks, and
campaign lists washed against them.

``refresh/`` builds the next version of each registry (a full download parsed a file per step,
change lists applied, or wash results merged), records it as a candidate, diffs it and promotes
it; ``wash/`` decides every number of every campaign list against the active versions, the
tenant's suppression list and consents, and writes blocked-call evidence and allowed exports.
``run_config`` is how schedules, the sensor, ``cm`` and the demo ask for either job.
"""

"""What every capability runs on and none owns: settings, landing paths, partitions, run tags,
executors, the project's Dagster instance, launching runs, the Celery worker, the audit writer
and log redaction. It knows no capability (an import contract); launching a run loads the
definitions at run time."""

"""Helpers for the scale-out tests: production-shaped environments, Celery workers as
subprocesses, and a comparable snapshot of what the warehouse holds."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from tests.conftest import IN_CI

IDENTIFIER_HASH_KEY = "5a" * 32
CM_EXECUTABLE = str(Path(sys.executable).parent / "cm")

# What both a distributed and an in-process run must leave identical, per table; columns that
# say *when* or *which run* differ by nature: dropped, or reduced to "set or not".
COMPARED_TABLES = (
    "tenants",
    "calls",
    "recordings",
    "transcripts",
    "ai_outputs",
    "crm_links",
    "quarantine",
    "retention_tombstones",
)
DROPPED_COLUMNS = {"id", "run_id", "ingested_run_id", "plan_id", "updated_at"}
DROPPED_PER_TABLE = {"quarantine": {"created_at"}}
SET_OR_NOT_COLUMNS = {"deleted_at", "erased_at", "restricted_at"}


def dagster_storage_env(dagster_db_url: str) -> dict[str, str]:
    parsed = sa.engine.make_url(dagster_db_url)
    return {
        "CM_DAGSTER_STORAGE": "postgres",
        "CM_DAGSTER_PG_USER": parsed.username or "postgres",
        "CM_DAGSTER_PG_PASSWORD": parsed.password or "",
        "CM_DAGSTER_PG_HOST": parsed.host or "127.0.0.1",
        "CM_DAGSTER_PG_PORT": str(parsed.port or 5432),
        "CM_DAGSTER_PG_DB": parsed.database or "",
    }


def apply_env(monkeypatch: pytest.MonkeyPatch, values: Mapping[str, str]) -> None:
    for key, value in values.items():
        monkeypatch.setenv(key, value)


def broker_or_fail(url: str) -> None:
    """A broker that does not answer fails the test under CI=true and skips it elsewhere."""
    from kombu import Connection

    try:
        with Connection(url, connect_timeout=3) as connection:
            connection.ensure_connection(max_retries=1)
    except Exception as exc:  # kombu raises transport-specific errors
        message = f"Celery broker not reachable ({type(exc).__name__})"
        if IN_CI:
            pytest.fail(f"{message} (CI=true: integration tests must not skip)")
        pytest.skip(message)


def snapshot(url: str) -> dict[str, list[tuple[str, ...]]]:
    """Every compared table as sorted rows of strings, volatile columns dropped or reduced."""
    engine = sa.create_engine(url)
    metadata = sa.MetaData()
    result: dict[str, list[tuple[str, ...]]] = {}
    try:
        with engine.connect() as connection:
            for name in COMPARED_TABLES:
                table = sa.Table(name, metadata, autoload_with=connection)
                dropped = DROPPED_COLUMNS | DROPPED_PER_TABLE.get(name, set())
                columns = []
                for column in table.columns:
                    if column.name in dropped:
                        continue
                    if column.name in SET_OR_NOT_COLUMNS:
                        columns.append(column.isnot(None).label(column.name))
                    else:
                        columns.append(column)
                rows = connection.execute(sa.select(*columns)).all()
                result[name] = sorted(tuple(str(value) for value in row) for row in rows)
    finally:
        engine.dispose()
    return result


def start_cm(args: list[str], env: dict[str, str]) -> subprocess.Popen:
    return subprocess.Popen(
        [CM_EXECUTABLE, *args],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        stdin=subprocess.DEVNULL,
        text=True,
        start_new_session=True,
    )


def finish_cm(process: subprocess.Popen, timeout_s: float) -> list[dict[str, Any]]:
    """The JSON lines a ``cm`` command printed; it is killed if it outlives ``timeout_s``."""
    try:
        stdout, stderr = process.communicate(timeout=timeout_s)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        stdout, stderr = process.communicate()
        raise AssertionError(f"cm did not finish in {timeout_s} s:\n{stderr[-4000:]}") from None
    assert process.returncode == 0, f"cm failed ({process.returncode}):\n{stderr[-4000:]}"
    return [json.loads(line) for line in stdout.splitlines() if line.startswith("{")]


def stop_cm(process: subprocess.Popen | None) -> None:
    if process is not None and process.poll() is None:
        os.killpg(process.pid, signal.SIGKILL)
        process.communicate()


@dataclass
class Worker:
    name: str
    process: subprocess.Popen
    log_path: Path

    def log(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""


@dataclass
class WorkerPool:
    """Celery workers as subprocesses, each in its own session so a stop takes it whole."""

    folder: Path
    env: dict[str, str]
    workers: list[Worker] = field(default_factory=list)

    def start(self, name: str, *, concurrency: int = 1, pool: str = "solo") -> Worker:
        from cm_pipelines.platform.executors import celery_worker_command

        log_path = self.folder / f"{name}.log"
        handle = log_path.open("wb")
        process = subprocess.Popen(
            celery_worker_command(name, concurrency=concurrency, loglevel="INFO", pool=pool),
            env=self.env,
            stdout=handle,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            start_new_session=True,
        )
        handle.close()
        worker = Worker(name, process, log_path)
        self.workers.append(worker)
        return worker

    def wait_ready(self, timeout_s: float = 60.0) -> None:
        deadline = time.monotonic() + timeout_s
        pending = list(self.workers)
        while pending:
            for worker in list(pending):
                if worker.process.poll() is not None:
                    raise AssertionError(
                        f"worker {worker.name} exited ({worker.process.returncode}):\n"
                        + worker.log()[-3000:]
                    )
                if f"{worker.name}@" in worker.log() and " ready." in worker.log():
                    pending.remove(worker)
            if pending and time.monotonic() > deadline:
                raise AssertionError(
                    "workers not ready in time: " + ", ".join(w.name for w in pending)
                )
            time.sleep(0.3)

    def stop(self) -> None:
        """Warm shutdown first (a running step finishes), then kill what is left."""
        for worker in self.workers:
            _signal_group(worker.process, signal.SIGTERM)
        deadline = time.monotonic() + 15
        for worker in self.workers:
            try:
                worker.process.wait(timeout=max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                _signal_group(worker.process, signal.SIGKILL)
                worker.process.wait(timeout=10)


def _signal_group(process: subprocess.Popen, signal_number: int) -> None:
    if process.poll() is not None:
        return
    try:
        os.killpg(process.pid, signal_number)
    except ProcessLookupError:
        pass  # it exited between the poll and the signal


def unique_key_prefix() -> str:
    return f"cm-test-{uuid.uuid4().hex[:10]}:"


def wait_until(
    condition: Callable[[], bool],
    *,
    timeout_s: float,
    what: str,
    processes: tuple[subprocess.Popen, ...] = (),
) -> None:
    """Poll ``condition``; fail early when one of ``processes`` has already exited."""
    deadline = time.monotonic() + timeout_s
    while not condition():
        for process in processes:
            if process.poll() is not None:
                _, stderr = process.communicate()
                raise AssertionError(
                    f"a process exited ({process.returncode}) before {what}:\n{stderr[-3000:]}"
                )
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.2)


def forget_broker_keys(broker_url: str, key_prefix: str) -> None:
    """Delete what a test run left in a Redis broker under its own key prefix."""
    if not broker_url.startswith(("redis://", "rediss://")):
        return
    import redis

    client = redis.Redis.from_url(broker_url)
    try:
        keys = list(client.scan_iter(f"{key_prefix}*"))
        if keys:
            client.delete(*keys)
    finally:
        client.close()

"""Measuring helpers shared by the benchmarks: each variant runs in a fresh spawned process so its
peak resident memory is its own, not inherited from the parent or an earlier variant."""

from __future__ import annotations

import multiprocessing
import resource
import time
from collections.abc import Callable
from queue import Empty
from typing import Any


def _child(target: Callable[..., dict[str, Any]], args: tuple, queue: Any) -> None:
    started = time.perf_counter()
    result = target(*args)
    result["seconds"] = time.perf_counter() - started
    result["peak_rss_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    queue.put(result)


def run_isolated(target: Callable[..., dict[str, Any]], *args: Any) -> dict[str, Any]:
    """Run ``target(*args)`` in a spawned process; returns its dict plus seconds and peak RSS."""
    context = multiprocessing.get_context("spawn")
    queue = context.Queue()
    process = context.Process(target=_child, args=(target, args, queue))
    process.start()
    while True:
        try:
            result = queue.get(timeout=5)
            break
        except Empty:
            if not process.is_alive():
                raise RuntimeError(
                    f"benchmark variant {target.__name__} died with exit code {process.exitcode}"
                ) from None
    process.join()
    return result


def rate(count: float, seconds: float) -> str:
    return f"{count / seconds:,.0f}/s" if seconds > 0 else "n/a"

"""The batch's per-Video task on a Ray cluster (Ray is an optional extra, imported lazily).

Workers open the Videos themselves (the paths must be readable on every node) and keep one model
per worker process. With a database server (PostgreSQL) they commit through the store frame by
frame; with a SQLite file, which other nodes cannot reach, they send the masks back and this
process commits them, one transaction per run. Failed tasks are retried.
"""

from __future__ import annotations

import importlib
from collections.abc import Iterator
from types import ModuleType
from typing import Any

from annotator.core.errors import BackendUnavailable
from annotator.store import open_project
from annotator.tools.batch import VideoResult, VideoTask, apply_chunks
from annotator.tools.batch_engines import Event, limit_threads, process_tracker, run_in_process

RETRIES = 2
"""How often Ray re-runs a task whose worker died or raised (a bad video is not retried: it
returns its failure as a result)."""


def import_ray() -> ModuleType:
    """The `ray` module, or a clear error with the fix."""
    try:
        return importlib.import_module("ray")
    except ImportError as exc:
        raise BackendUnavailable(
            "the ray engine needs Ray: pip install 'annotator[ray]' (or use --engine local)"
        ) from exc


def connect(ray: ModuleType, address: str | None) -> bool:
    """Join the cluster at `address`, or start a new local one (never silently join whatever
    cluster `ray start` last left on this machine); True when we started it."""
    if ray.is_initialized():
        return False
    if address:
        ray.init(address=address, log_to_driver=False)
    else:
        ray.init(address="local", include_dashboard=False, log_to_driver=False)
    return True


def _task(task: VideoTask, direct: bool) -> tuple[VideoResult, list[Any]]:
    process_tracker(task.backend)
    limit_threads(1)  # Ray gives each task one CPU
    return run_in_process(task, direct)


def ray_engine(tasks: list[VideoTask], backend: str, address: str | None = None
               ) -> Iterator[Event]:
    """Run every task on Ray; yields each Video's result as it finishes."""
    ray = import_ray()
    started = connect(ray, address)
    direct = not tasks[0].target.startswith("sqlite")
    remote = ray.remote(max_retries=RETRIES, retry_exceptions=True)(_task)
    refs = {remote.remote(task, direct): task for task in tasks}
    pending = list(refs)
    try:
        with open_project(tasks[0].target) as store:
            while pending:
                ready, pending = ray.wait(pending, num_returns=1)
                yield _collect(ray, store, ready[0], refs[ready[0]])
    finally:
        for ref in pending:
            ray.cancel(ref, force=True)
        if started:
            ray.shutdown()


def _collect(ray: ModuleType, store: Any, ref: Any, task: VideoTask) -> VideoResult:
    try:
        result, chunks = ray.get(ref)
    except Exception as exc:  # noqa: BLE001 - a task that failed every retry fails its Video
        return VideoResult(task.video.id, task.video.name,
                           error=f"failed after {RETRIES} retries: {type(exc).__name__}: {exc}")
    apply_chunks(store, chunks)
    return result

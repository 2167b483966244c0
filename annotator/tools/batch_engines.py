"""Where a Batch Propagation runs: inline, in local worker processes, or on Ray, and the
batch job that plans the Videos, runs their tasks and reports progress per frame.

The per-Video work itself (plan, runs, sinks) is in `annotator.tools.batch`.
"""

from __future__ import annotations

import importlib
import multiprocessing
import os
import sys
from collections import defaultdict
from collections.abc import Iterator
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from pathlib import Path
from queue import Empty

from annotator.backends import DEFAULT_BACKEND, get_spec
from annotator.backends.protocol import Tracker
from annotator.core.errors import BackendUnavailable, PromptError
from annotator.core.jobs import Job, Progress
from annotator.store import open_project
from annotator.store.engine import database_url
from annotator.tools.batch import (
    Chunk,
    VideoResult,
    VideoTask,
    backend_version,
    collect_sink,
    plan,
    plan_runs,
    run_task,
    store_sink,
)

# --- one model per process --------------------------------------------------------------------

_PROCESS: dict[str, object] = {}
"""In worker processes only: the tracker (one model per process) and the progress queue."""


def process_tracker(backend: str) -> Tracker:
    """This process's tracker for `backend`, created on first use."""
    key = f"tracker:{backend}"
    if key not in _PROCESS:
        _PROCESS[key] = get_spec(backend).create()
    return _PROCESS[key]  # type: ignore[return-value]


def run_in_process(task: VideoTask, direct: bool) -> tuple[VideoResult, list[Chunk]]:
    """A worker's whole job for one Video: write through the store, or return the chunks."""
    tracker = process_tracker(task.backend)
    queue, parent = _PROCESS.get("queue"), _PROCESS.get("parent")

    def tick() -> None:
        if parent is not None and os.getppid() != parent:
            raise SystemExit("the batch's main process is gone")
        if queue is not None:
            queue.put(task.video.id)  # type: ignore[attr-defined]

    chunks: list[Chunk] = []
    if not direct:
        return run_task(task, tracker, collect_sink(chunks), tick), chunks
    with open_project(task.target) as store:
        return run_task(task, tracker, store_sink(store), tick), chunks


def init_worker(backend: str, queue: object, parent: int, threads: int) -> None:
    """Pool initializer: load the model once and bound the threads each process may use."""
    _PROCESS.update(queue=queue, parent=parent)
    process_tracker(backend)
    limit_threads(threads)


def limit_threads(threads: int) -> None:
    """Keep N workers on N cores from oversubscribing them (OpenCV's and torch's pools)."""
    importlib.import_module("cv2").setNumThreads(threads)
    torch = sys.modules.get("torch")
    if torch is not None:
        torch.set_num_threads(threads)


# --- engines and the batch job ----------------------------------------------------------------

Event = VideoResult | int
"""What an engine yields: a finished Video, or one propagated frame of the Video with this id."""


def inline_engine(tasks: list[VideoTask], backend: str) -> Iterator[Event]:
    """Every Video in this process, one after another (the baseline; no worker start-up)."""
    tracker = get_spec(backend).create()
    for task in tasks:
        with open_project(task.target) as store:
            yield run_task(task, tracker, store_sink(store))  # type: ignore[arg-type]


def local_engine(tasks: list[VideoTask], backend: str, workers: int) -> Iterator[Event]:
    """Worker processes on this machine (spawned, one model each), writing through the store."""
    ctx = multiprocessing.get_context("spawn")
    queue = ctx.Queue()
    threads = max(1, (os.cpu_count() or 1) // workers)
    pool = ProcessPoolExecutor(workers, mp_context=ctx, initializer=init_worker,
                               initargs=(backend, queue, os.getpid(), threads))
    try:
        futures = {pool.submit(run_in_process, t, True): t for t in tasks}
        pending = set(futures)
        while pending:
            done, pending = wait(pending, timeout=0.25, return_when=FIRST_COMPLETED)
            yield from _drain(queue)
            for future in done:
                yield _outcome(future, futures[future])
        yield from _drain(queue)
    finally:
        _stop(pool)


def _drain(queue: object) -> Iterator[int]:
    while True:
        try:
            yield queue.get_nowait()  # type: ignore[attr-defined]
        except Empty:
            return


def _outcome(future: Future[tuple[VideoResult, list[Chunk]]], task: VideoTask) -> VideoResult:
    try:
        return future.result()[0]
    except Exception as exc:  # noqa: BLE001 - a dead worker fails its Video, not the batch
        return VideoResult(task.video.id, task.video.name, error=f"worker failed: "
                           f"{type(exc).__name__}: {exc}")


def _stop(pool: ProcessPoolExecutor) -> None:
    """Cancel what has not started and end the workers now (Ctrl+C must not wait for them)."""
    processes = list(getattr(pool, "_processes", {}).values())
    pool.shutdown(wait=False, cancel_futures=True)
    for process in processes:
        if process.is_alive():
            process.terminate()
    for process in processes:
        process.join(10)


def _estimate(task: VideoTask) -> int:
    return sum(r.frames for r in plan_runs(task)) + (task.video.frame_count if task.pending else 0)


def propagate_batch(target: str | Path, *, backend: str = DEFAULT_BACKEND,
                    videos: list[str] | None = None, engine: str = "local", workers: int = 1,
                    ray_address: str | None = None) -> Job[VideoResult]:
    """Propagate every Video with Keyframes or prompts; yields per frame and per finished Video.

    `engine`: "inline" (this process), "local" (`workers` processes) or "ray" (a Ray cluster at
    `ray_address`, or a local one). Finished work is skipped, interrupted work resumed.
    """
    spec = get_spec(backend)
    reason = spec.unavailable_reason()
    if reason:
        raise BackendUnavailable(f"backend '{backend}' is unavailable: {reason}")
    url = database_url(target)
    with open_project(target, create=False) as store:
        tasks, skipped = plan(store, url, spec.info.id, backend_version(spec), videos)
    total = sum(_estimate(t) for t in tasks)
    done, ticks = 0, defaultdict(int)
    for result in skipped:
        yield Progress(done, total, result, f"{result.name}: up to date")
    for event in _events(engine, tasks, spec.info.id, workers, ray_address):
        if isinstance(event, VideoResult):
            done += max(0, event.frames - ticks[event.video_id])
            total = max(total, done)
            yield Progress(done, total, event, event.name)
        else:
            ticks[event] += 1
            done += 1
            yield Progress(done, max(total, done), None, "")


def _events(engine: str, tasks: list[VideoTask], backend: str, workers: int,
            ray_address: str | None) -> Iterator[Event]:
    if not tasks:
        return iter(())
    if engine == "inline" or (engine == "local" and workers < 1):
        return inline_engine(tasks, backend)
    if engine == "local":
        return local_engine(tasks, backend, workers)
    if engine == "ray":
        from annotator.tools import ray_engine

        return ray_engine.ray_engine(tasks, backend, ray_address)
    raise PromptError(f"unknown engine '{engine}': choose local, ray or inline")

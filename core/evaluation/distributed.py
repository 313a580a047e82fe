"""``evaluate --ray`` and ``analyze FOLDER --ray``: clips spread over a Ray cluster, one model per worker.

Each worker is a Ray actor that loads the model once (on its own GPU where the cluster has them) and runs groups
of clips through the very loop a local run uses (``core.evaluation.runner.run_jobs``: decoding ahead, batches,
error records), into memory instead of a file. The driver hands out groups (``IN_FLIGHT_PER_WORKER`` per worker,
so a worker always has its next clips queued) and is the only writer of the resumable JSONL log: a clip is
written once, when its record comes back, and fsync'ed (``core.evaluation.log``). So:

- a driver killed at any moment leaves a log whose clips are each in it once; a rerun skips them;
- a worker that dies (its process or its node) loses only the clips it had in flight: they go back to the queue
  (``MAX_ATTEMPTS`` times at most, then they are recorded as a model error, retried on the next run) and a new
  worker takes its place (at most ``MAX_REPLACEMENTS_PER_WORKER`` each, so a model that cannot load ends the run);
- the records and the metrics are those of a local run: the same code builds them.

Clip paths and the model folder must be readable at the same paths on every node (a shared mount), as for any
Ray job that reads files. Results cross from the workers to the driver through Ray's object store as plain
JSON-ready dicts.
"""

from __future__ import annotations

import io
import logging
import os
import time
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, TextIO

from core.cli_types import Range
from core.evaluation.log import ResultLog
from core.evaluation.progress import Progress
from core.evaluation.runner import FINAL_STATUSES, STATUS_MODEL_ERROR, STATUS_OK, Job, RunOptions, RunSummary, run_jobs

log = logging.getLogger(__name__)

MAX_ATTEMPTS = 3  # times a clip may be in flight on a worker that died
MAX_REPLACEMENTS_PER_WORKER = 3
IN_FLIGHT_PER_WORKER = 2  # groups queued at a worker
WAIT_S = 0.5  # how often the driver looks at should_stop while it waits for results


@dataclass(frozen=True)
class ClusterOptions:
    """Where and how wide a run goes. ``address`` None: a local loopback-only Ray instance."""

    address: str | None = None
    workers: int | None = None  # None: one per GPU, or per ``cpus_per_worker`` CPUs where there is no GPU
    gpus_per_worker: float | None = None  # None: 1 where the cluster has GPUs, else 0
    cpus_per_worker: float = 1.0


class _MemoryLog:
    """The ``ResultLog`` interface, kept in memory: what a worker's ``run_jobs`` writes comes back to the driver."""

    path = Path("<worker>")

    def __init__(self) -> None:
        self.records: list[dict[str, Any]] = []

    def open(self, settings: Any) -> dict[str, dict[str, Any]]:
        return {}

    def append(self, record: dict[str, Any]) -> dict[str, Any]:
        self.records.append(dict(record))
        return record

    def close(self) -> None:
        pass


class ClipWorker:
    """One model on one Ray worker process (wrapped with ``ray.remote`` by ``run_jobs_on_ray``)."""

    def __init__(self, model_dir: str, device: str, dtype: str, opts: dict[str, Any], profile: str = "exact") -> None:
        from core.evaluation.runner import load_analyzer

        self.model = load_analyzer(model_dir, device, dtype, profile)
        self.opts = RunOptions(**opts)

    def ready(self) -> int:
        return os.getpid()

    def analyze(self, jobs: list[tuple[str, str, str | None]]) -> list[dict[str, Any]]:
        """The records of these clips, built exactly as a local run builds them."""
        memory = _MemoryLog()
        run_jobs([Job(k, Path(p), t) for k, p, t in jobs], self.model, self.opts, memory, {},
                 progress_stream=io.StringIO())
        return memory.records


def run_jobs_on_ray(
    jobs: Sequence[Job],
    model_dir: str,
    device: str,
    dtype: str,
    opts: RunOptions,
    result_log: ResultLog,
    settings: dict[str, Any],
    cluster_options: ClusterOptions | None = None,
    *,
    progress_stream: TextIO | None = None,
    title: str = "",
    should_stop: Callable[[], bool] | None = None,
    worker_class: type = ClipWorker,
) -> RunSummary:
    """Like ``run_jobs``, with the clips analysed by workers on a Ray cluster. Runs on the calling thread.
    Raises ``RuntimeError`` when no worker can load the model, ``core.serve.cluster.RayUnavailable`` without Ray."""
    from core.serve import cluster

    jobs = list(jobs)
    keys = [j.key for j in jobs]
    if len(set(keys)) != len(keys):
        raise ValueError("two clips share a key; each clip may appear once per run")
    records = result_log.open(settings)
    todo = [j for j in jobs if records.get(j.key, {}).get("status") not in FINAL_STATUSES]
    summary = RunSummary(total=len(jobs), resumed=len(jobs) - len(todo), records=records)
    progress = Progress(len(jobs), done=summary.resumed, title=title, stream=progress_stream)
    started_at = time.perf_counter()
    cluster_options = cluster_options or ClusterOptions()
    joined = cluster.connect(cluster_options.address)
    try:
        if todo:
            worker_args = (model_dir, device, dtype, asdict(opts), settings.get("profile", "exact"))
            _Dispatcher(worker_class, worker_args, opts.batch_size, cluster_options,
                        summary, result_log, progress).run(todo, should_stop)
    finally:
        summary.elapsed_s = time.perf_counter() - started_at
        result_log.close()
        progress.finish()
        cluster.disconnect(joined)
    return summary


class _Dispatcher:
    """The driver's side: workers, the queue of clip groups, what is in flight where."""

    def __init__(self, worker_class: type, worker_args: tuple, group_size: int, cluster_options: ClusterOptions,
                 summary: RunSummary, result_log: ResultLog, progress: Progress) -> None:
        import ray

        self.ray = ray
        resources = ray.cluster_resources()
        gpus = cluster_options.gpus_per_worker
        if gpus is None:
            gpus = 1.0 if resources.get("GPU", 0) > 0 else 0.0
        n = cluster_options.workers
        if n is None:
            per = cluster_options.cpus_per_worker
            slots = resources.get("GPU", 0) / gpus if gpus else resources.get("CPU", 1) / per if per else 1
            n = max(1, int(slots))
        self.n_workers = n
        # an actor class; Ray's own types cannot say which (its .remote and .options are used below)
        self.actor_class: Any = ray.remote(num_cpus=cluster_options.cpus_per_worker, num_gpus=gpus)(worker_class)
        self.worker_args = worker_args
        self.group_size = group_size
        self.summary, self.result_log, self.progress = summary, result_log, progress
        self.workers: list[Any] = []
        self.replacements = [0] * n
        self.in_flight: dict[Any, tuple[int, Any, list[Job]]] = {}  # result ref -> (slot, worker, its clips)
        self.attempts: dict[str, int] = {}

    def run(self, todo: list[Job], should_stop: Callable[[], bool] | None) -> None:
        queue = deque(todo[i:i + self.group_size] for i in range(0, len(todo), self.group_size))
        self.workers = [self._spawn() for _ in range(self.n_workers)]
        self._check_loaded()
        log.info("%d clips on %d Ray workers", len(todo), self.n_workers)
        try:
            while queue or self.in_flight:
                if should_stop is not None and should_stop():
                    self.summary.interrupted = True
                    return
                self._fill(queue)
                ready, _ = self.ray.wait(list(self.in_flight), num_returns=1, timeout=WAIT_S)
                for ref in ready:
                    self._collect(ref, queue)
        finally:
            for worker in self.workers:
                self.ray.kill(worker)

    def _spawn(self) -> Any:
        return self.actor_class.remote(*self.worker_args)

    def _check_loaded(self) -> None:
        """Wait for every worker's model; workers that cannot load one are replaced (bounded), and the run
        ends with the loader's message when none can."""
        for slot in range(self.n_workers):
            while True:
                try:
                    self.ray.get(self.workers[slot].ready.remote())
                    break
                except self.ray.exceptions.RayActorError as exc:
                    self._replace(slot, exc)

    def _fill(self, queue: deque[list[Job]]) -> None:
        load = [0] * self.n_workers
        for slot, _, _ in self.in_flight.values():
            load[slot] += 1
        for slot in range(self.n_workers):
            while queue and load[slot] < IN_FLIGHT_PER_WORKER:
                group = queue.popleft()
                worker = self.workers[slot]
                ref = worker.analyze.remote([(j.key, str(j.path), j.truth) for j in group])
                self.in_flight[ref] = (slot, worker, group)
                load[slot] += 1

    def _collect(self, ref: Any, queue: deque[list[Job]]) -> None:
        slot, worker, group = self.in_flight.pop(ref)
        exceptions = self.ray.exceptions
        try:
            records = self.ray.get(ref)
        except (exceptions.RayActorError, exceptions.WorkerCrashedError) as exc:
            self._worker_lost(slot, worker, group, exc, queue)
            return
        except exceptions.RayTaskError as exc:  # the clips' own loop failed as a whole: recorded, retried on resume
            records = [_model_error(job, f"the worker failed: {exc.cause if exc.cause else exc}") for job in group]
        for record in records:
            self._write(record)

    def _worker_lost(self, slot: int, worker: Any, group: list[Job], exc: Exception,
                     queue: deque[list[Job]]) -> None:
        """Only the lost worker's clips go back to the queue; the first of its failures replaces it (its other
        clips in flight fail on their own and are queued again as they come)."""
        log.warning("a Ray worker died with %d clip(s) in flight: %s", len(group), exc)
        for job in group:
            self.attempts[job.key] = self.attempts.get(job.key, 0) + 1
            if self.attempts[job.key] >= MAX_ATTEMPTS:
                self._write(_model_error(job, f"the worker analysing this clip died {MAX_ATTEMPTS} times"))
            else:
                queue.appendleft([job])
        if self.workers[slot] is worker:
            self._replace(slot, exc)

    def _replace(self, slot: int, exc: BaseException) -> None:
        """A new worker in ``slot`` in place of a dead one (bounded: a model that cannot load ends the run)."""
        self.replacements[slot] += 1
        if self.replacements[slot] > MAX_REPLACEMENTS_PER_WORKER:
            raise RuntimeError(f"Ray workers keep failing ({MAX_REPLACEMENTS_PER_WORKER} replaced in one slot); "
                               f"last error: {exc}")
        self.ray.kill(self.workers[slot])
        self.workers[slot] = self._spawn()

    def _write(self, record: dict[str, Any]) -> None:
        record = {k: v for k, v in record.items() if k != "record"}
        s = self.summary
        if record["status"] == STATUS_OK:
            s.analysed += 1
        elif record["status"] == STATUS_MODEL_ERROR:
            s.analysed += 1
            s.model_errors += 1
        else:
            s.decode_errors += 1
        s.records[record["key"]] = self.result_log.append(record)
        self.progress.update(failed=record["status"] != STATUS_OK, note=Path(record["path"]).name)


def _model_error(job: Job, error: str) -> dict[str, Any]:
    from core.evaluation.runner import _error_record

    return _error_record(job, STATUS_MODEL_ERROR, error, 0.0)


# ---- command line ---------------------------------------------------------------------------------------------
# The cluster options' ranges: finite (nan or inf would reach Ray as a resource request), not negative.
WORKERS = Range(1, 4096, integer=True, noun="a whole number of workers")
PER_WORKER = Range(0, 1024, noun="a number of GPUs or CPUs (fractions allowed)")


def add_ray_arguments(parser: Any) -> None:
    """``--ray [ADDRESS]``, ``--workers``, ``--gpus-per-worker``, ``--cpus-per-worker``."""
    parser.add_argument("--ray", nargs="?", const="", default=None, metavar="ADDRESS",
                        help="spread the clips over a Ray cluster, one model per worker: ADDRESS of its head "
                        "(or auto); without one, a local Ray instance (loopback only). Needs the serve extra")
    parser.add_argument("--workers", type=WORKERS.argtype("workers"), default=None,
                        help="with --ray: model workers (default: one per GPU, else one per --cpus-per-worker CPUs)")
    parser.add_argument("--gpus-per-worker", type=PER_WORKER.argtype("GPUs per worker"), default=None,
                        help="with --ray: GPUs per worker (default 1 where the cluster has GPUs, else 0)")
    parser.add_argument("--cpus-per-worker", type=PER_WORKER.argtype("CPUs per worker"), default=1.0,
                        help="with --ray: CPUs per worker (default 1)")


def cluster_options_from_args(args: Any) -> ClusterOptions | None:
    """The run's cluster options, or None without ``--ray`` (raises ValueError naming a bad value)."""
    if getattr(args, "ray", None) is None:
        return None
    from core.serve.client import is_remote_model

    if is_remote_model(getattr(args, "model", None)):
        raise ValueError("--ray runs the model on the cluster's own workers; a model server (--model https://...) "
                         "is used without --ray")
    if args.workers is not None and args.workers not in WORKERS:
        raise ValueError(f"--workers must be {WORKERS.describe()}")
    if args.gpus_per_worker is not None and args.gpus_per_worker not in PER_WORKER or \
            args.cpus_per_worker not in PER_WORKER:
        raise ValueError(f"--gpus-per-worker and --cpus-per-worker must be {PER_WORKER.describe()}")
    return ClusterOptions(address=args.ray or None, workers=args.workers, gpus_per_worker=args.gpus_per_worker,
                          cpus_per_worker=args.cpus_per_worker)

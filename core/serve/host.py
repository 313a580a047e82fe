"""One loaded model on one server replica: streams a window's tokens, or analyses a batch of windows.

The model is not thread-safe and one window keeps it busy, so every model call runs on the host's single model
thread; requests that arrive meanwhile wait there (their wait is reported as ``server_queue``). The event loop of
the replica stays free for other requests, health checks and heartbeats.

Streaming windows (the desktops' live windows) run one by one through ``R1OmniModel.analyze``: they need
their tokens as they come, a cancellation at the next token when the desktop supersedes or drops the window,
and per-label scores, and ``analyze_batch`` offers none of the three. Non-streaming requests (file runs,
evaluation through the server) arrive in groups from Ray Serve's batching and share one ``analyze_batch`` call
when they ask the same question without scores (the same token ids as one by one).

No Ray here: ``core.serve.app`` wraps this in a deployment; tests and benchmarks can use it directly.
"""

from __future__ import annotations

import asyncio
import logging
import threading
import time
from collections import defaultdict
from collections.abc import AsyncIterator, Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from core.backend import is_out_of_memory, software_versions, warm_up_model
from core.model.errors import AnalysisCancelled
from core.serve.wire import (
    API_VERSION,
    EVENT_ERROR,
    EVENT_HEARTBEAT,
    EVENT_RESULT,
    EVENT_TOKEN,
    WindowRequest,
    event_line,
)
from core.window import DEFAULT_MODEL_FRAMES

log = logging.getLogger(__name__)

HEARTBEAT_S = 0.25  # a line at least this often while a window runs: clients cancel and detect loss by it
WARM_UP_TOKENS = 2


class ModelHost:
    """Owns one model. ``stream`` and ``analyze_many`` are called on the replica's event loop; the model runs on
    the host's own thread. ``loader(model_dir, device, dtype)`` returns an object with ``R1OmniModel``'s API."""

    def __init__(self, model_dir: str, device: str = "auto", dtype: str = "auto",
                 loader: Callable[..., Any] | None = None, replica: str = "") -> None:
        if loader is None:
            from core.model import load_model

            loader = load_model
        self.model = loader(model_dir, device=device, dtype=dtype)
        self.replica = replica
        self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="model")
        self.info = self._describe(model_dir)

    def _describe(self, model_dir: str) -> dict[str, Any]:
        from core.session.manifest import WEIGHTS_HASH_METHOD, weights_fingerprint

        own = self.model.info(hash_weights=False) if hasattr(self.model, "info") else {}
        versions = software_versions()
        try:
            import ray

            versions["ray"] = ray.__version__
        except ImportError:
            pass
        return {
            "api": API_VERSION,
            "model_id": Path(model_dir).name or "R1-Omni",
            # the fingerprint a local session's manifest records, so remote and local sessions compare
            "weights_hash": weights_fingerprint(model_dir),
            "weights_hash_method": WEIGHTS_HASH_METHOD,
            "device": own.get("device"),
            "dtype": own.get("dtype"),
            "params": own.get("params"),
            "num_frames": int(getattr(self.model, "num_frames", DEFAULT_MODEL_FRAMES)),
            "versions": versions,
        }

    def warm_up(self, instruction: str, max_new_tokens: int = 256) -> None:
        """One window through every stage (blocking; call once before serving)."""
        warm_up_model(self.model, self.info["num_frames"], instruction, max_new_tokens, WARM_UP_TOKENS)

    def close(self) -> None:
        self._pool.shutdown(wait=True, cancel_futures=True)
        if hasattr(self.model, "close"):
            self.model.close()

    # ---- streaming ----------------------------------------------------------------------------------------
    async def stream(self, req: WindowRequest, received_at: float) -> AsyncIterator[bytes]:
        """Event lines for one window: tokens as generated, heartbeats while quiet, then the result or an error.
        Closing the iterator (the client went away) stops the model at its next token."""
        loop = asyncio.get_running_loop()
        tokens: asyncio.Queue[str] = asyncio.Queue()
        stop = threading.Event()

        def on_token(text: str) -> None:  # model thread
            loop.call_soon_threadsafe(tokens.put_nowait, text)

        job = loop.run_in_executor(self._pool, self._run_one, req, received_at, on_token, stop)
        try:
            while True:
                getter = asyncio.ensure_future(tokens.get())
                pending: set[asyncio.Future[Any]] = {getter, job}  # a token, or the window's end
                done, _ = await asyncio.wait(pending, timeout=HEARTBEAT_S,
                                             return_when=asyncio.FIRST_COMPLETED)
                if getter in done:
                    yield event_line(EVENT_TOKEN, text=getter.result())
                    continue
                getter.cancel()
                if job not in done:
                    yield event_line(EVENT_HEARTBEAT)
                    continue
                while not tokens.empty():  # the model's last tokens were queued before it returned
                    yield event_line(EVENT_TOKEN, text=tokens.get_nowait())
                yield self._outcome_line(job)
                return
        finally:
            stop.set()  # normal end, client gone, or replica shutting down: the model stops at its next token

    def _outcome_line(self, job: asyncio.Future) -> bytes:
        exc = job.exception()
        if exc is None:
            return event_line(EVENT_RESULT, **job.result())
        return event_line(EVENT_ERROR, **self._error(exc))

    def _run_one(self, req: WindowRequest, received_at: float, on_token: Callable[[str], None] | None,
                 stop: threading.Event) -> dict[str, Any]:
        """Model thread: one window with streaming, scores and cancellation."""
        started = time.perf_counter()
        if stop.is_set():  # the client left while the window waited for the model
            raise AnalysisCancelled(None)
        result = self.model.analyze(
            req.frames, req.audio, req.instruction, max_new_tokens=req.max_new_tokens, on_token=on_token,
            label_set=req.label_set, modal=req.modal, scores=req.scores, should_stop=stop.is_set)
        return self._payload(result.to_dict(), received_at, started)

    # ---- batches ------------------------------------------------------------------------------------------
    async def analyze_many(self, items: list[tuple[WindowRequest, float]]) -> list[dict[str, Any]]:
        """Result (or error) payloads for non-streaming requests, in order; windows that ask the same question
        without scores share one batched model call."""
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._pool, self._run_many, items)

    def _run_many(self, items: list[tuple[WindowRequest, float]]) -> list[dict[str, Any]]:
        started = time.perf_counter()
        out: list[dict[str, Any] | None] = [None] * len(items)
        groups: dict[tuple[Any, ...], list[int]] = defaultdict(list)
        for i, (req, _) in enumerate(items):
            groups[("single", i) if req.scores else req.group_key()].append(i)
        for members in groups.values():
            try:
                results = self._analyze_group([items[i][0] for i in members])
            except Exception as exc:  # noqa: BLE001 — each request gets the error, the replica lives on
                if len(members) > 1:  # a failed batch (memory, say): the windows alone, each with its own fate
                    for i in members:
                        out[i] = self._run_many([items[i]])[0]
                    continue
                log.warning("window failed: %s", exc)
                out[members[0]] = {"event": EVENT_ERROR, **self._error(exc)}
                continue
            for i, result in zip(members, results, strict=True):
                out[i] = {"event": EVENT_RESULT, **self._payload(result.to_dict(), items[i][1], started)}
        return [o for o in out if o is not None]

    def _analyze_group(self, reqs: list[WindowRequest]) -> list[Any]:
        first = reqs[0]
        if len(reqs) == 1:
            return [self.model.analyze(first.frames, first.audio, first.instruction,
                                       max_new_tokens=first.max_new_tokens, label_set=first.label_set,
                                       modal=first.modal, scores=first.scores)]
        return self.model.analyze_batch([(r.frames, r.audio) for r in reqs], first.instruction,
                                        max_new_tokens=first.max_new_tokens, label_set=first.label_set,
                                        modal=first.group_key()[3])

    # ---- payloads -----------------------------------------------------------------------------------------
    def _payload(self, result: dict[str, Any], received_at: float, started: float) -> dict[str, Any]:
        now = time.perf_counter()
        result["timings"] = {**result["timings"], "server_queue": started - received_at,
                             "server_total": now - received_at}
        return {"result": result, "server": {"model_id": self.info["model_id"],
                                             "weights_hash": self.info["weights_hash"], "replica": self.replica}}

    @staticmethod
    def _error(exc: BaseException) -> dict[str, Any]:
        if isinstance(exc, AnalysisCancelled):
            return {"message": "the window was cancelled", "retryable": False}
        if isinstance(exc, ValueError):  # the model refused this input: sending it again will not help
            return {"message": f"the server's model refused the window: {exc}", "retryable": False}
        if is_out_of_memory(exc):
            return {"message": "the server ran out of GPU memory on this window", "retryable": True}
        log.error("window failed on the server", exc_info=exc)
        return {"message": f"the server failed on this window: {type(exc).__name__}: {exc}", "retryable": True}

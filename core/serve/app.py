"""The Ray Serve application: a FastAPI ingress whose replicas each own one loaded model (``ModelHost``).

Endpoints (all versioned; see ``core.serve.wire`` for the formats):

- ``GET  /v1/health``  ``{"status": "ok"}``: no token needed, says nothing about the model;
- ``GET  /v1/info``    model id, weights fingerprint, device, precision, versions, limits (token needed);
- ``POST /v1/analyze`` one window; streams tokens then the result (``stream`` true) or answers the result as
  one JSON object, batched on the replica with other such requests (token needed).

Every request is checked in this order, the cheap checks first: the client's rate (429), the bearer token (401,
compared in constant time against its SHA-256; the token itself never enters the cluster), the declared and the
actual body size (413, read in chunks and dropped at the limit), then the format (400/413/422). The API's
documentation pages are off: the server answers only what a client needs.

Imports Ray and FastAPI: only ``main.py serve`` (and tests and benchmarks of the server) import this module.
"""



import asyncio
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, Response, StreamingResponse
from ray import serve

from core.serve.security import DEFAULT_BURST, DEFAULT_RATE_PER_S, RateLimiter, bearer_token, token_matches
from core.serve.wire import (
    ANALYZE_PATH,
    EVENT_RESULT,
    HEALTH_PATH,
    INFO_PATH,
    STREAM_CONTENT_TYPE,
    Limits,
    WindowRequest,
    WireError,
    decode_request,
)

log = logging.getLogger(__name__)

APP_NAME = "r1omni"
DEFAULT_MAX_BATCH_SIZE = 4  # non-streaming windows sharing one model call on a replica
DEFAULT_BATCH_WAIT_S = 0.02  # how long a first non-streaming window waits for others to share its batch
MAX_ONGOING_PER_REPLICA = 8  # requests a replica holds at once (one runs, the others wait for its model)
MAX_QUEUED_REQUESTS = 64  # beyond this Serve answers 503 at once instead of queueing without bound
GRACEFUL_SHUTDOWN_S = 5.0


@dataclass(frozen=True)
class ServerConfig:
    """What every replica needs. Crosses into the cluster: holds the token's digest, never the token."""

    model_dir: str
    device: str = "auto"
    dtype: str = "auto"
    token_sha256: str | None = None
    limits: Limits = field(default_factory=Limits)
    rate_per_s: float = DEFAULT_RATE_PER_S
    burst: int = DEFAULT_BURST
    max_batch_size: int = DEFAULT_MAX_BATCH_SIZE
    batch_wait_s: float = DEFAULT_BATCH_WAIT_S
    warm_up: bool = True
    warm_up_instruction: str | None = None
    warm_up_max_new_tokens: int = 256
    loader: Callable[..., Any] | None = None  # (model_dir, device=, dtype=) -> model; None: core.model.load_model


class Refused(Exception):
    def __init__(self, status: int, message: str, headers: dict[str, str] | None = None) -> None:
        super().__init__(message)
        self.status, self.message, self.headers = status, message, headers or {}


api = FastAPI(docs_url=None, redoc_url=None, openapi_url=None)


def _replica_tag() -> str:
    try:
        return str(serve.get_replica_context().replica_tag)
    except Exception:  # noqa: BLE001 — outside a replica (a unit test)
        return ""


@api.exception_handler(Refused)
async def _refused(_request: Request, exc: Refused) -> JSONResponse:
    return JSONResponse({"error": exc.message}, status_code=exc.status, headers=exc.headers)


@serve.deployment(max_ongoing_requests=MAX_ONGOING_PER_REPLICA, max_queued_requests=MAX_QUEUED_REQUESTS,
                  graceful_shutdown_timeout_s=GRACEFUL_SHUTDOWN_S)
@serve.ingress(api)
class ModelServer:
    """One replica: one model, its rate limiter, its batch queue."""

    def __init__(self, config: ServerConfig) -> None:
        from core.model.preprocess import DEFAULT_INSTRUCTION
        from core.serve.host import ModelHost

        self.config = config
        replica = _replica_tag()
        self.host = ModelHost(config.model_dir, config.device, config.dtype, loader=config.loader, replica=replica)
        if config.warm_up:
            self.host.warm_up(config.warm_up_instruction or DEFAULT_INSTRUCTION, config.warm_up_max_new_tokens)
        self.limiter = RateLimiter(config.rate_per_s, config.burst)
        # Ray types @serve.batch's result as the plain coroutine function; its batch queue has these setters
        self._batched.set_max_batch_size(config.max_batch_size)  # type: ignore[attr-defined]
        self._batched.set_batch_wait_timeout_s(config.batch_wait_s)  # type: ignore[attr-defined]
        log.info("replica %s ready: %s", replica, self.host.info)

    def check_health(self) -> None:
        if self.host.model is None:
            raise RuntimeError("the model of this replica is gone")

    def __del__(self) -> None:
        host = getattr(self, "host", None)
        if host is not None:
            host.close()

    # ---- endpoints -----------------------------------------------------------------------------------------
    @api.get(HEALTH_PATH)
    async def health(self) -> dict[str, str]:
        return {"status": "ok"}

    @api.get(INFO_PATH)
    async def info(self, request: Request) -> dict[str, Any]:
        self._admit(request)
        limits = self.config.limits
        return {**self.host.info, "limits": {
            "max_body_bytes": limits.max_body_bytes, "max_frames": limits.max_frames,
            "max_frame_side_px": limits.max_frame_side_px, "max_audio_s": limits.max_audio_s,
            "max_new_tokens": limits.max_new_tokens, "rate_per_s": self.config.rate_per_s,
            "burst": self.config.burst}, "max_batch_size": self.config.max_batch_size}

    @api.post(ANALYZE_PATH)
    async def analyze(self, request: Request) -> Response:
        received = time.perf_counter()
        self._admit(request)
        body = await self._read_body(request)
        try:
            req = await asyncio.to_thread(decode_request, body, self.config.limits)  # JPEG decoding takes ms
        except WireError as exc:
            raise Refused(exc.status, str(exc)) from None
        if req.stream:
            return StreamingResponse(self.host.stream(req, received), media_type=STREAM_CONTENT_TYPE,
                                     headers={"Cache-Control": "no-store"})
        payload = await self._batched((req, received))
        status = 200 if payload.get("event") == EVENT_RESULT else 500
        return JSONResponse(payload, status_code=status, headers={"Cache-Control": "no-store"})

    @serve.batch(max_batch_size=DEFAULT_MAX_BATCH_SIZE, batch_wait_timeout_s=DEFAULT_BATCH_WAIT_S)
    async def _batched(self, items: list[tuple[WindowRequest, float]]) -> list[dict[str, Any]]:
        return await self.host.analyze_many(items)

    # ---- admission -----------------------------------------------------------------------------------------
    def _admit(self, request: Request) -> None:
        client = request.client.host if request.client else "unknown"
        allowed, retry_s = self.limiter.allow(client)
        if not allowed:
            raise Refused(429, "too many requests from this address; slow down",
                          {"Retry-After": str(max(1, round(retry_s)))})
        digest = self.config.token_sha256
        if digest is not None and not token_matches(bearer_token(request.headers.get("authorization")), digest):
            raise Refused(401, "a valid bearer token is required", {"WWW-Authenticate": 'Bearer realm="r1omni"'})

    async def _read_body(self, request: Request) -> bytes:
        limit = self.config.limits.max_body_bytes
        declared = request.headers.get("content-length")
        if declared is not None and (not declared.isdigit() or int(declared) > limit):
            raise Refused(413, f"the request is larger than this server's limit of {limit} bytes")
        chunks: list[bytes] = []
        size = 0
        async for chunk in request.stream():
            size += len(chunk)
            if size > limit:
                raise Refused(413, f"the request is larger than this server's limit of {limit} bytes")
            chunks.append(chunk)
        return b"".join(chunks)


def build_app(config: ServerConfig, replicas: int = 1, min_replicas: int | None = None,
              max_replicas: int | None = None, gpus_per_replica: float = 0.0,
              cpus_per_replica: float = 1.0) -> Any:
    """The bound Serve application: ``replicas`` fixed replicas, or autoscaling between ``min_replicas`` and
    ``max_replicas`` on the number of ongoing requests (one window per replica at a time is the target)."""
    options: dict[str, Any] = {"ray_actor_options": {"num_gpus": gpus_per_replica, "num_cpus": cpus_per_replica}}
    if min_replicas is not None or max_replicas is not None:
        lo = replicas if min_replicas is None else min_replicas
        hi = max(lo, replicas if max_replicas is None else max_replicas)
        options["autoscaling_config"] = {"min_replicas": lo, "max_replicas": hi, "initial_replicas": lo,
                                         "target_ongoing_requests": 1}
    else:
        options["num_replicas"] = replicas
    # @serve.deployment made the class a Deployment (as Ray's types say), but mypy keeps a decorated class's type
    return ModelServer.options(**options).bind(config)  # type: ignore[attr-defined]

"""Serve the model to other machines: a Ray Serve application whose replicas each own one loaded model.

    python main.py serve --model DIR [--host 127.0.0.1] [--port 8000] [--address RAY_ADDRESS]
                         [--replicas N | --min-replicas N --max-replicas M] [--gpus-per-replica G]
                         [--token-file FILE] [--ssl-certfile PEM --ssl-keyfile PEM | --insecure-http]
    python main.py serve --new-token FILE          write a fresh random token (chmod 600) and exit

Without --address a local Ray instance is started, listening on 127.0.0.1 only; with it (``auto`` or
HOST:PORT of a ``ray start`` head) the replicas are spread over that cluster's GPUs. The server listens on
127.0.0.1 unless --host says otherwise; then it needs a bearer token (--token-file, or R1OMNI_SERVE_TOKEN) and TLS
(--ssl-certfile/--ssl-keyfile), or the explicit --insecure-http. Clients: ``main.py --model https://HOST:PORT``
(the desktop's model menu: Remote server…), ``monitor``/``analyze``/``evaluate --model https://HOST:PORT``.
Stops on Ctrl-C or SIGTERM.
"""

from __future__ import annotations

import argparse
import signal
import sys
import threading
from pathlib import Path

from core.serve.security import (
    DEFAULT_BURST,
    DEFAULT_RATE_PER_S,
    SecurityConfigError,
    check_bind,
    is_loopback,
    new_token,
    resolve_token,
    write_token_file,
)
from core.serve.wire import MIB, Limits

EXIT_BAD_INPUT = 2
EXIT_SERVER = 3
DEFAULT_PORT = 8000


def configure(parser: argparse.ArgumentParser) -> None:
    parser.formatter_class = argparse.RawDescriptionHelpFormatter
    parser.add_argument("--model", help="R1-Omni model folder; on a cluster, the same path on every node")
    parser.add_argument("--device", default="auto", help="auto | cuda | cpu (per replica)")
    parser.add_argument("--dtype", default="auto", help="auto | float32 | float16 | bfloat16")
    parser.add_argument("--address", default=None, help="Ray cluster to join (auto, or HOST:PORT of the head); "
                        "default: start a local instance on 127.0.0.1")
    parser.add_argument("--replicas", type=_positive_int, default=1, help="model replicas (default 1)")
    parser.add_argument("--min-replicas", type=_positive_int, default=None, help="autoscaling: fewest replicas")
    parser.add_argument("--max-replicas", type=_positive_int, default=None, help="autoscaling: most replicas")
    parser.add_argument("--gpus-per-replica", type=_fraction, default=None,
                        help="GPUs each replica reserves (default: 1 where the cluster has GPUs, else 0)")
    parser.add_argument("--cpus-per-replica", type=_fraction, default=1.0, help="CPU slots per replica (default 1)")
    parser.add_argument("--num-cpus", type=_positive_int, default=None,
                        help="local instance only: CPU slots Ray may hand out (default: all cores)")
    parser.add_argument("--host", default="127.0.0.1", help="address to listen on (default 127.0.0.1)")
    parser.add_argument("--port", type=_port, default=DEFAULT_PORT, help=f"port (default {DEFAULT_PORT})")
    parser.add_argument("--token-file", default=None, help="bearer token clients must send (one line, chmod "
                        "600); default: the R1OMNI_SERVE_TOKEN environment variable; required beyond loopback")
    parser.add_argument("--ssl-certfile", default=None, help="TLS certificate (PEM); required beyond loopback")
    parser.add_argument("--ssl-keyfile", default=None, help="TLS private key (PEM)")
    parser.add_argument("--insecure-http", action="store_true",
                        help="allow plain HTTP beyond loopback (only inside an encrypted tunnel); prints a warning")
    parser.add_argument("--rate-limit", type=_positive_float, default=DEFAULT_RATE_PER_S,
                        help=f"requests per second per client address and replica (default {DEFAULT_RATE_PER_S:g})")
    parser.add_argument("--burst", type=_positive_int, default=DEFAULT_BURST,
                        help=f"requests a client may send at once before the rate applies (default {DEFAULT_BURST})")
    parser.add_argument("--max-request-mb", type=_positive_int, default=Limits().max_body_bytes // MIB,
                        help="largest request accepted, MiB (default %(default)s)")
    parser.add_argument("--max-batch-size", type=_positive_int, default=4,
                        help="non-streaming windows batched into one model call on a replica (default 4)")
    parser.add_argument("--no-warmup", action="store_true", help="replicas skip the warm-up window")
    parser.add_argument("--new-token", metavar="FILE", default=None,
                        help="write a new random token to FILE (created with mode 600) and exit")


def _positive_int(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"{text}: must be 1 or more")
    return value


def _positive_float(text: str) -> float:
    value = float(text)
    if not value > 0:
        raise argparse.ArgumentTypeError(f"{text}: must be more than 0")
    return value


def _fraction(text: str) -> float:
    value = float(text)
    if not 0 <= value <= 64:
        raise argparse.ArgumentTypeError(f"{text}: must be from 0 to 64")
    return value


def _port(text: str) -> int:
    value = int(text)
    if not 1 <= value <= 65535:
        raise argparse.ArgumentTypeError(f"{text}: a port is 1 to 65535")
    return value


def _err(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def run(args: argparse.Namespace) -> int:
    if args.new_token:
        try:
            write_token_file(args.new_token, new_token())
        except OSError as exc:
            _err(f"error: cannot create {args.new_token}: {exc.strerror or exc} (an existing file is never "
                 "overwritten)")
            return EXIT_BAD_INPUT
        print(f"wrote a new token to {args.new_token}; give the same file to the clients (--token-file)")
        return 0
    if not args.model or not Path(args.model).is_dir():
        _err(f"error: --model {args.model!r} is not a folder: give the R1-Omni model folder "
             "(see `python main.py download`)")
        return EXIT_BAD_INPUT
    # Every refusal happens here, before Ray starts or a model loads.
    try:
        token = resolve_token(args.token_file)
        policy, warnings = check_bind(args.host, token, args.ssl_certfile, args.ssl_keyfile, args.insecure_http)
    except SecurityConfigError as exc:
        _err(f"error: {exc}")
        return EXIT_BAD_INPUT
    for warning in warnings:
        _err(warning)
    if args.address is None and not is_loopback(args.host) and not _is_local(args.host):
        _err(f"error: {args.host} is not an address of this machine")
        return EXIT_BAD_INPUT
    return _serve(args, policy)


def _is_local(host: str) -> bool:
    import socket

    try:
        with socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET) as s:
            s.bind((host.strip("[]"), 0))
        return True
    except OSError:
        return False


def _serve(args: argparse.Namespace, policy) -> int:
    from core.serve import SERVE_EXTRA_HINT, cluster

    try:
        started = cluster.connect(args.address, num_cpus=args.num_cpus)
        from ray import serve

        from core.serve.app import APP_NAME, ServerConfig, build_app
    except (cluster.RayUnavailable, ImportError) as exc:
        _err(f"error: {exc}" if isinstance(exc, cluster.RayUnavailable) else
             f"error: the server needs Ray Serve and FastAPI ({exc}). Fix: {SERVE_EXTRA_HINT}")
        return EXIT_SERVER
    stop = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: stop.set())
    try:
        import ray

        gpus = args.gpus_per_replica
        if gpus is None:
            gpus = 1.0 if ray.cluster_resources().get("GPU", 0) > 0 else 0.0
        config = ServerConfig(
            model_dir=str(Path(args.model).resolve()), device=args.device, dtype=args.dtype,
            token_sha256=policy.token_sha256, limits=Limits(max_body_bytes=args.max_request_mb * MIB),
            rate_per_s=args.rate_limit, burst=args.burst, max_batch_size=args.max_batch_size,
            warm_up=not args.no_warmup)
        http = {"host": args.host, "port": args.port, "ssl_certfile": policy.certfile,
                "ssl_keyfile": policy.keyfile}
        serve.start(http_options=http)
        problem = _http_mismatch(serve, http)
        if problem:
            _err(f"error: {problem}")
            return EXIT_SERVER
        app = build_app(config, replicas=args.replicas, min_replicas=args.min_replicas,
                        max_replicas=args.max_replicas, gpus_per_replica=gpus, cpus_per_replica=args.cpus_per_replica)
        _err(f"loading the model on {args.replicas if args.min_replicas is None else args.min_replicas} "
             f"replica(s) ({gpus:g} GPU each)…")
        serve.run(app, name=APP_NAME, route_prefix="/", blocking=False)
        shown = f"[{args.host}]" if ":" in args.host else args.host
        print(f"serving R1-Omni on {policy.scheme}://{shown}:{args.port} "
              f"({'token required' if policy.token_sha256 else 'no token: loopback only'}); Ctrl-C stops",
              flush=True)
        stop.wait()
        _err("stopping…")
        return 0
    except Exception as exc:  # noqa: BLE001 — a failed deployment (model folder, port in use) ends the command
        _err(f"error: the server could not start: {exc}")
        return EXIT_SERVER
    finally:
        try:
            if started and args.address is None:  # our own Ray instance: everything goes
                serve.shutdown()
            else:  # a shared cluster: only our application
                serve.delete(APP_NAME)
        finally:
            cluster.disconnect(started)


def _http_mismatch(serve, wanted: dict) -> str | None:
    """Serve's HTTP options are the cluster's: a Serve instance already running there keeps its own. Refuse to
    run behind options other than the ones asked for (another address, no TLS)."""
    from ray.serve.context import _get_global_client

    client = _get_global_client()  # raises when no Serve controller runs: None only when told not to raise
    if client is None:
        raise RuntimeError("Ray Serve is not running on this cluster after serve.start()")
    have = client.http_config
    for key, value in wanted.items():
        if getattr(have, key, None) != value:
            return (f"Ray Serve already runs on this cluster with {key}={getattr(have, key, None)!r}, not "
                    f"{value!r}; stop it (`serve shutdown`) or use the same options")
    return None

"""What the model server costs and gives: per-window overhead of remote over local, and windows/s with 1, 2 and 4
concurrent clients.

    python bench/remote_bench.py [--model DIR] [--windows N] [--max-new-tokens N] [--device cpu] [--dtype float32]
                                 [--replicas R] [--frame-size 480x640] [--frames jpeg|raw]

Starts a local loopback-only Ray instance, deploys ``main.py serve``'s application (no token, 127.0.0.1) with the
given model (default: the tiny parity model of the tests), and compares it with the same model loaded in this
process. Overhead: for the same window, remote round trip minus local ``analyze`` (median and p90 over
``--windows`` windows, alternating so that machine load hits both alike). Throughput: N client threads, each
sending windows back to back for a fixed time, streaming (the desktops' path, one window at a time per replica)
and non-streaming (Serve batches those into ``analyze_batch``). Prints numbers; asserts nothing.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import threading
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

INSTRUCTION = "As an emotional recognition expert, which emotion does the person show?"


def _window(seed: int, size: tuple[int, int]) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    return (rng.integers(0, 256, (8, *size, 3), dtype=np.uint8),
            (0.1 * rng.standard_normal(4 * 16_000)).astype(np.float32))


def _pct(values: list[float], q: float) -> float:
    return float(np.percentile(values, q))


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--model", default=str(ROOT / "tests" / "fixtures" / "parity" / "checkpoint"))
    p.add_argument("--windows", type=int, default=12)
    p.add_argument("--max-new-tokens", type=int, default=32)
    p.add_argument("--device", default="cpu")
    p.add_argument("--dtype", default="float32")
    p.add_argument("--replicas", type=int, default=1)
    p.add_argument("--gpus-per-replica", type=float, default=0.0)
    p.add_argument("--frame-size", default="480x640", help="HxW of the 8 frames sent per window")
    p.add_argument("--frames", choices=("raw", "jpeg"), default="raw")
    p.add_argument("--seconds", type=float, default=8.0, help="per throughput measurement")
    p.add_argument("--port", type=int, default=18300)
    args = p.parse_args()
    size = tuple(int(x) for x in args.frame_size.split("x"))

    from core.serve import cluster

    cluster.connect(None)
    from ray import serve

    from core.model import load_model
    from core.serve.app import APP_NAME, ServerConfig, build_app
    from core.serve.client import RemoteModel, RemoteTarget

    serve.start(http_options={"host": "127.0.0.1", "port": args.port})  # loopback: the traffic stays here
    config = ServerConfig(model_dir=args.model, device=args.device, dtype=args.dtype, max_batch_size=4,
                          warm_up_max_new_tokens=args.max_new_tokens)
    serve.run(build_app(config, replicas=args.replicas, gpus_per_replica=args.gpus_per_replica,
                        cpus_per_replica=1.0 if args.gpus_per_replica else 0.5),
              name=APP_NAME, route_prefix="/", blocking=False)
    target = RemoteTarget.parse(f"http://127.0.0.1:{args.port}", frame_encoding=args.frames)
    remote = RemoteModel(target)
    info = remote.fetch_info()
    import torch

    # a replica with under one CPU slot runs torch on one thread (Ray sets OMP_NUM_THREADS): so does the local
    # model here, or the comparison would measure thread counts instead of the server's cost
    if args.device == "cpu" and not args.gpus_per_replica:
        torch.set_num_threads(1)
    local = load_model(args.model, device=args.device, dtype=args.dtype)
    print(f"model {info['model_id']} on {info['device']} {info['dtype']}, {args.replicas} replica(s); "
          f"8 frames {size[1]}x{size[0]} sent {args.frames}, {args.max_new_tokens} new tokens at most")

    kw = {"max_new_tokens": args.max_new_tokens, "on_token": lambda _: None, "should_stop": lambda: False,
          "scores": True}
    for seed in range(2):  # warm both paths
        local.analyze(*_window(seed, size), INSTRUCTION, **kw)
        remote.analyze(*_window(seed, size), INSTRUCTION, **kw)
    overhead, network, locals_ = [], [], []
    for i in range(args.windows):
        frames, audio = _window(100 + i, size)
        t0 = time.perf_counter()
        want = local.analyze(frames, audio, INSTRUCTION, **kw)
        t_local = time.perf_counter() - t0
        t0 = time.perf_counter()
        got = remote.analyze(frames, audio, INSTRUCTION, **kw)
        t_remote = time.perf_counter() - t0
        if args.frames == "raw":
            assert got.token_ids == want.token_ids, "remote and local answers differ"
        overhead.append((t_remote - t_local) * 1000)
        network.append(got.timings["network"] * 1000)
        locals_.append(t_local * 1000)
    print(f"local window: median {statistics.median(locals_):.1f} ms")
    print(f"remote overhead per window: median {statistics.median(overhead):.1f} ms, p90 {_pct(overhead, 90):.1f} ms "
          f"(network part: median {statistics.median(network):.1f} ms, p90 {_pct(network, 90):.1f} ms)")

    for stream in (True, False):
        for clients in (1, 2, 4):
            done = [0] * clients
            stop_at = time.perf_counter() + args.seconds

            def client(i: int, stream: bool = stream, stop_at: float = stop_at, done: list = done) -> None:
                model = RemoteModel(target)
                model.fetch_info()
                n = 0
                while time.perf_counter() < stop_at:
                    frames, audio = _window(1000 * i + n, size)
                    if stream:
                        model.analyze(frames, audio, INSTRUCTION, **kw)
                    else:
                        model.analyze(frames, audio, INSTRUCTION, max_new_tokens=args.max_new_tokens)
                    n += 1
                done[i] = n
                model.close()

            t0 = time.perf_counter()
            threads = [threading.Thread(target=client, args=(i,)) for i in range(clients)]
            for t in threads:
                t.start()
            for t in threads:
                t.join()
            elapsed = time.perf_counter() - t0
            print(f"{'streaming' if stream else 'batched (no stream)'}: {clients} client(s) "
                  f"{sum(done) / elapsed:.2f} windows/s")
    remote.close()
    local.close()
    serve.shutdown()
    cluster.disconnect(True)
    return 0


if __name__ == "__main__":
    sys.exit(main())

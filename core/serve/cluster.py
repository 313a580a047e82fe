"""Joining a Ray cluster, or starting a local Ray instance that listens on loopback only.

``ray.init()`` on Linux advertises the machine's network address and opens its internal ports there. A local
instance started here is a single machine's: it is told to use 127.0.0.1 for everything (the switch Ray uses on
macOS and Windows), so nothing of it is reachable from the network. Ray 2.52+ also requires its own token
between Ray processes (``RAY_AUTH_MODE=token``, on by default in the versions this was built with). To spread
work over several machines, start the cluster with ``ray start`` as its documentation says and pass
``--address``.

Usage statistics reporting is switched off: the app sends nothing anywhere the user did not ask for.
"""

from __future__ import annotations

import logging
import os
from typing import Any

from core.serve import SERVE_EXTRA_HINT

log = logging.getLogger(__name__)

LOOPBACK_ONLY_ENV = "RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER"  # "0": a single-node instance on 127.0.0.1
USAGE_STATS_ENV = "RAY_USAGE_STATS_ENABLED"


class RayUnavailable(RuntimeError):
    """Ray is not installed; the message says how to get it."""


def import_ray() -> Any:
    try:
        import ray
    except ImportError:
        raise RayUnavailable(f"Ray is not installed. Fix: {SERVE_EXTRA_HINT}") from None
    return ray


def prepare_environment(address: str | None) -> None:
    """Environment for Ray, set before it is imported (its constants are read at import; child processes
    inherit them). ``address`` None: a local loopback-only instance will be started."""
    os.environ.setdefault(USAGE_STATS_ENV, "0")
    if address is None:
        os.environ.setdefault(LOOPBACK_ONLY_ENV, "0")


def connect(address: str | None = None, num_cpus: int | None = None, namespace: str | None = None) -> bool:
    """Join the cluster at ``address`` ("auto" finds a local ``ray start`` cluster), or start a local
    loopback-only instance (``num_cpus``: its CPU slots; None = all cores). True when this call started or
    joined Ray, False when this process was already connected (tests start Ray once for many runs)."""
    prepare_environment(address)
    ray = import_ray()
    if ray.is_initialized():
        return False
    kwargs: dict[str, Any] = {"namespace": namespace, "log_to_driver": False}
    if address is None:
        ray.init(num_cpus=num_cpus, include_dashboard=False, **kwargs)
    else:
        ray.init(address=address, **kwargs)
    log.info("Ray: %s", "local instance on 127.0.0.1" if address is None else f"joined {address}")
    return True


def disconnect(started: bool) -> None:
    """Leave Ray (a local instance started by ``connect`` ends with it)."""
    if started:
        import_ray().shutdown()

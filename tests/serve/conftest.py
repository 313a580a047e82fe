"""One Ray instance for the whole test session (starting Ray takes seconds), small and loopback-only."""

from __future__ import annotations

import pytest

RAY_CPUS = 2


@pytest.fixture(scope="session")
def ray_instance():
    pytest.importorskip("ray", reason="the serve extra is not installed: pip install -e '.[serve]'")
    from core.serve import cluster

    started = cluster.connect(None, num_cpus=RAY_CPUS)
    import ray

    yield ray.get_runtime_context().gcs_address
    cluster.disconnect(started)

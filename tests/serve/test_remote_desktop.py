"""The desktop on a model server: the status bar names the remote model, tokens stream into the reasoning panel,
and a server killed mid-window gives a banner while monitoring goes on, with results again once it is back."""

from __future__ import annotations

import pytest

from core.serve.client import RemoteTarget
from desktop.startup import source_choice
from tests.desktop.test_main_window import make_window, settings  # noqa: F401
from tests.serve.helpers import deployed, slow_parity_loader
from tests.support.streams import free_port

pytestmark = [pytest.mark.slow, pytest.mark.usefixtures("dark_theme")]


def kill_model_replicas() -> int:
    """Kill every model replica process at once, as a crash would (Serve starts new ones)."""
    import ray

    killed = 0
    for actor in ray.util.list_named_actors(all_namespaces=True):
        if actor["name"].startswith("SERVE_REPLICA::") and "ModelServer" in actor["name"]:
            ray.kill(ray.get_actor(actor["name"], namespace=actor["namespace"]), no_restart=True)
            killed += 1
    return killed


def test_a_server_killed_mid_window_gives_a_banner_and_results_resume(ray_instance, qtbot, make_window, settings):  # noqa: F811
    port = free_port()
    with deployed({"host": "127.0.0.1", "port": port}, loader=slow_parity_loader):
        settings.max_new_tokens = 200  # with the slowed model a window streams for seconds
        settings.window_s, settings.hop_s = 2.0, 1.0
        win = make_window()
        win.controller.model.load_remote(RemoteTarget.parse(f"http://127.0.0.1:{port}"))
        qtbot.waitUntil(lambda: win.controller.model.has_model, timeout=30_000)
        # the status bar (refreshed once a second) names the remote model and its server
        qtbot.waitUntil(lambda: f"checkpoint @ 127.0.0.1:{port} · cpu float32" in win.status_text(), timeout=5_000)
        assert win.controller.model.info["backend"] == "remote"

        win.use_source(source_choice("synthetic"))
        win.start_monitoring()
        qtbot.waitUntil(lambda: len(win._results) >= 1, timeout=60_000)
        before = len(win._results)
        qtbot.waitUntil(lambda: len(win.reasoning.live_text) > 0 and len(win._results) == before, timeout=30_000)
        assert kill_model_replicas() == 1  # a window is streaming right now

        qtbot.waitUntil(lambda: any("lost the server" in m or "unreachable" in m or "not analysed" in m
                                    for _, m in win.banner.history), timeout=30_000)
        failed_at = len(win._results)
        session = win.controller.session
        cut = session.stats().scheduler.windows_cut
        # monitoring goes on through the outage: the same session keeps capturing and cutting windows
        qtbot.waitUntil(lambda: session.stats().scheduler.windows_cut >= cut + 2, timeout=10_000)
        assert win.controller.session is session and win.monitor_bar.monitor_action.isChecked()
        assert session.stats().worker.failed >= 1
        qtbot.waitUntil(lambda: len(win._results) > failed_at, timeout=90_000)  # Serve restarted the replica
        assert win.controller.session is session

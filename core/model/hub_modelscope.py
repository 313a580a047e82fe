"""ModelScope through the ``modelscope`` package (optional extra ``modelscope``, imported only when chosen).

Listing: ``HubApi().get_model_files(repo, recursive=True)`` -> ``[{"Path", "Size", ...}]``; fetching:
``snapshot_download(model_id=..., local_dir=..., allow_patterns=[paths], progress_callbacks=[cls])``, which resumes
and checks hashes itself; byte progress comes from the per-file callback. The package reads its endpoint from
``MODELSCOPE_ENDPOINT`` (set from ``--endpoint`` before the import). Sizes are checked by the caller afterwards,
the same as for the Hugging Face hub. Threads: the calling one (the package may use worker threads for files,
so ``on_bytes`` must be thread-safe).
"""

from __future__ import annotations

import contextlib
import errno
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

from core.env_scope import scoped_env
from core.model.hub_files import (
    AUTH,
    MISSING_PACKAGE,
    NOT_FOUND,
    SERVER,
    UNREACHABLE,
    DownloadError,
    RemoteFile,
    checked_path,
    checked_size,
)
from core.model.hub_http import disk_full, parse_endpoint

DEFAULT_ENDPOINT = "https://www.modelscope.cn"
ENDPOINT_ENV = "MODELSCOPE_ENDPOINT"
_UNREACHABLE_NAMES = {"ConnectionError", "ConnectError", "ConnectTimeout", "ReadTimeout", "Timeout",
                      "NameResolutionError", "MaxRetryError", "gaierror", "NewConnectionError"}


def _package() -> Any:
    try:
        import modelscope
        from modelscope.hub.api import HubApi  # noqa: F401 — the two entry points this module uses
        from modelscope.hub.snapshot_download import snapshot_download  # noqa: F401
    except ImportError as e:
        raise DownloadError(MISSING_PACKAGE, f"--hub modelscope needs the modelscope package, which is not "
                            f"installed ({e})", "pip install 'r1omni-live[modelscope]' (or pip install modelscope), "
                            "or use the Hugging Face hub through a mirror: --endpoint URL") from None
    return modelscope


class ModelScopeHub:
    """ModelScope, or the ModelScope-compatible server at ``endpoint``."""

    name = "modelscope"

    def __init__(self, endpoint: str | None = None) -> None:
        self.endpoint = parse_endpoint(endpoint or os.environ.get(ENDPOINT_ENV) or DEFAULT_ENDPOINT)
        _package()

    def _endpoint_env(self) -> contextlib.AbstractContextManager[None]:
        """The package reads its endpoint from ``MODELSCOPE_ENDPOINT`` when it builds a client: set for the call
        and put back afterwards, so that this hub's address never outlives it in the process environment."""
        return scoped_env(ENDPOINT_ENV, self.endpoint)

    def list_files(self, repo_id: str) -> tuple[str, list[RemoteFile]]:
        from modelscope.hub.api import HubApi

        try:
            with self._endpoint_env():
                listing = HubApi().get_model_files(repo_id, recursive=True)
        except Exception as e:  # the package raises many types; classified below
            raise self._classify(e, repo_id) from e
        files = []
        for entry in listing if isinstance(listing, list) else []:
            if not isinstance(entry, dict) or entry.get("Type", "blob") == "tree":
                continue
            path = checked_path(entry.get("Path"), repo_id)
            files.append(RemoteFile(path, checked_size(entry.get("Size"), repo_id, path), None))
        return "master", files

    def fetch(self, repo_id: str, commit: str, files: list[RemoteFile], dest: Path,
              on_bytes: Callable[[int], None]) -> None:
        from modelscope.hub.callback import ProgressCallback
        from modelscope.hub.snapshot_download import snapshot_download

        class _Bytes(ProgressCallback):  # one per file, created by the package
            def update(self, size: int) -> None:
                on_bytes(int(size))

        dest.mkdir(parents=True, exist_ok=True)
        wanted = [f.path for f in files]
        try:
            with self._endpoint_env():
                snapshot_download(model_id=repo_id, local_dir=str(dest), allow_patterns=wanted,
                                  progress_callbacks=[_Bytes])
        except Exception as e:  # classified below
            raise self._classify(e, repo_id, dest) from e

    def _classify(self, exc: BaseException, repo_id: str, dest: Path | None = None) -> DownloadError:
        chain = list(_chain(exc))
        for e in chain:
            if isinstance(e, DownloadError):
                return e
            if isinstance(e, OSError) and e.errno in (errno.ENOSPC, errno.EDQUOT) and dest is not None:
                return disk_full(dest, 0)
            status = _status(e)
            if status == 404 or type(e).__name__ in ("NotExistError", "RepositoryNotFoundError"):
                return DownloadError(NOT_FOUND, f"{repo_id} does not exist on {self.endpoint}"
                                     + (f" (HTTP {status})" if status else ""),
                                     "check the model name (--model); the ModelScope copy may be named differently")
            if status in (401, 403):
                return DownloadError(AUTH, f"{self.endpoint} refused access to {repo_id} (HTTP {status})",
                                     "log in (modelscope login --token TOKEN) and accept the model's licence on its "
                                     "page, then run again")
            if type(e).__name__ in _UNREACHABLE_NAMES:
                return DownloadError(UNREACHABLE, f"{self.endpoint} cannot be reached ({type(e).__name__}: {e})",
                                     "check the network, or use the Hugging Face hub or a mirror (--hub "
                                     "huggingface --endpoint URL)")
        return DownloadError(SERVER, f"downloading {repo_id} from {self.endpoint} failed ({type(exc).__name__}: "
                             f"{exc})", "run the same command again: finished files are kept")


def _status(e: BaseException) -> int | None:
    for holder in (e, getattr(e, "response", None)):
        code = getattr(holder, "status_code", None) or getattr(holder, "status", None)
        if isinstance(code, int):
            return code
    return None


def _chain(exc: BaseException | None):
    seen = set()
    while exc is not None and id(exc) not in seen:
        seen.add(id(exc))
        yield exc
        exc = exc.__cause__ or exc.__context__

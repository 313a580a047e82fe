"""Fetching a published checkpoint of the family and writing a ready-to-use model folder.

Layout written under ``DIR`` (the folder to pass as ``--model``), the same from every hub::

    DIR/config.json, model.safetensors, tokenizer files, generation_config.json   the checkpoint (e.g. R1-Omni-0.5B)
    DIR/towers/<vision tower>/     named by the checkpoint's mm_vision_tower (config, preprocessor, model.safetensors)
    DIR/towers/<audio tower>/      named by the checkpoint's mm_audio_tower
    DIR/bert/                      bert-base-uncased (config + vocabulary only: the BERT weights R1-Omni uses are
                                   inside its own checkpoint)

The checkpoint's ``config.json`` is fetched first (kept as ``config.hub.json``) and decides which towers follow (a
tower the app does not know is refused before anything large is fetched); ``config.json`` is written from it with
the towers' relative paths. Only safetensors, configs and tokenizer files
are fetched; the listed sizes are checked against free disk space before and against the files after; interrupted
downloads resume. Runs on the calling thread (minutes; several GB).
"""

from __future__ import annotations

import json
import os
import shutil
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from core.model.family import BERT, CHECKPOINT_FILES, DEFAULT_MEMBER, TOWERS, Member, Tower, find_member, tower_for
from core.model.hub_files import (
    BAD_INPUT,
    INTERRUPTED,
    NOT_FOUND,
    PART_SUFFIX,
    SIZE,
    DownloadError,
    RemoteFile,
    human_bytes,
    selected,
)
from core.safe_files import atomic_write

HUB_CONFIG_COPY = "config.hub.json"
HUBS = ("huggingface", "modelscope")
FREE_SPACE_MARGIN_BYTES = 200_000_000  # config rewrites, file-system slack
PROGRESS_PERIOD_S = 0.25
SPEED_WINDOW_S = 5.0
BERT_SUBDIR = "bert"
STAGING_DIR = ".download"  # the checkpoint config is fetched here first


class Hub(Protocol):
    """What the download needs of a model hub (see :mod:`core.model.hub_http`, :mod:`core.model.hub_modelscope`)."""

    name: str
    endpoint: str

    def list_files(self, repo_id: str) -> tuple[str, list[RemoteFile]]: ...

    def fetch(self, repo_id: str, commit: str, files: list[RemoteFile], dest: Path,
              on_bytes: Callable[[int], None]) -> None: ...


def make_hub(name: str = "huggingface", endpoint: str | None = None) -> Hub:
    """The hub called ``name`` at ``endpoint`` (default: its env variable, else its public address)."""
    if name == "huggingface":
        from core.model.hub_http import HfHttpHub

        return HfHttpHub(endpoint)
    if name == "modelscope":
        from core.model.hub_modelscope import ModelScopeHub

        return ModelScopeHub(endpoint)
    raise DownloadError(BAD_INPUT, f"unknown hub {name!r}", f"use one of {', '.join(HUBS)}")


# ---------------------------------------------------------------------------------------------------------------
# progress
# ---------------------------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Progress:
    """done/total in bytes; speed over the last few seconds (bytes/s); eta_s None until a speed is known."""

    done_bytes: int
    total_bytes: int
    bytes_per_s: float
    eta_s: float | None
    item: str  # "repo/file" being fetched


class ProgressMeter:
    """Counts bytes from any thread and calls ``report(Progress)`` at most every ``period_s`` (and at the end)."""

    def __init__(self, total_bytes: int, report: Callable[[Progress], None],
                 clock: Callable[[], float] = time.monotonic, period_s: float = PROGRESS_PERIOD_S,
                 window_s: float = SPEED_WINDOW_S) -> None:
        self.total = total_bytes
        self._report = report
        self._clock = clock
        self._period = period_s
        self._window = window_s
        self._lock = threading.Lock()
        self._done = 0
        self._item = ""
        self._samples: deque[tuple[float, int]] = deque()
        self._last_report = float("-inf")

    @property
    def done_bytes(self) -> int:
        return self._done

    def start_item(self, item: str) -> None:
        with self._lock:
            self._item = item

    def add(self, n: int) -> None:
        with self._lock:
            self._done += n
            now = self._clock()
            self._samples.append((now, self._done))
            while len(self._samples) > 2 and now - self._samples[0][0] > self._window:
                self._samples.popleft()
            if now - self._last_report < self._period:
                return
            self._last_report = now
            snapshot = self._snapshot(now)
        self._report(snapshot)

    def finish(self) -> None:
        with self._lock:
            snapshot = self._snapshot(self._clock())
        self._report(snapshot)

    def _snapshot(self, now: float) -> Progress:
        speed = 0.0
        if len(self._samples) >= 2:
            (t0, d0), (t1, d1) = self._samples[0], self._samples[-1]
            speed = max(0.0, (d1 - d0) / (t1 - t0)) if t1 > t0 else 0.0
        left = max(0, self.total - self._done)
        eta = left / speed if speed > 0 else (0.0 if left == 0 else None)
        return Progress(self._done, self.total, speed, eta, self._item)


def format_progress(p: Progress) -> str:
    """'1.2 GB / 6.6 GB  12.3 MB/s  7 min 20 s left'."""
    text = f"{human_bytes(p.done_bytes)} / {human_bytes(p.total_bytes)}  {human_bytes(p.bytes_per_s)}/s"
    if p.eta_s is not None and p.done_bytes < p.total_bytes:
        m, s = divmod(int(p.eta_s + 0.5), 60)
        text += f"  {m} min {s:02d} s left" if m else f"  {s} s left"
    return text


# ---------------------------------------------------------------------------------------------------------------
# the plan: which files of which repositories go where
# ---------------------------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class RepoPlan:
    repo_id: str
    subdir: str  # relative to DIR ("" = DIR itself)
    commit: str
    files: tuple[RemoteFile, ...]

    def bytes_on_disk(self, dest: Path) -> int:
        """Bytes already there: complete files of the listed size, and partial files being resumed."""
        done = 0
        for f in self.files:
            target = dest / self.subdir / f.path
            part = target.with_name(target.name + PART_SUFFIX)
            if target.is_file() and target.stat().st_size == f.size:
                done += f.size
            elif part.is_file():
                done += min(part.stat().st_size, f.size)
        return done


def _repo_of(item: Member | Tower, hub: Hub) -> str:
    return item.modelscope_repo if hub.name == "modelscope" else item.hf_repo


def _plan_repo(hub: Hub, repo_id: str, subdir: str, patterns: tuple[str, ...], required: tuple[str, ...]) -> RepoPlan:
    commit, listed = hub.list_files(repo_id)
    files = selected(listed, patterns)
    missing = [r for r in required if not any(f.path == r or (r.startswith("*") and f.path.endswith(r[1:]))
                                              for f in files)]
    if missing:
        raise DownloadError(NOT_FOUND, f"{repo_id} on {hub.endpoint} has no {', '.join(missing)}",
                            "check the model name and the endpoint; the mirror may hold an incomplete copy")
    return RepoPlan(repo_id, subdir, commit, tuple(files))


def _checkpoint_towers(config_path: Path) -> tuple[Tower, Tower]:
    """The vision and audio towers the checkpoint's config names; DownloadError for an unknown one."""
    try:
        cfg = json.loads(config_path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as e:
        raise DownloadError(BAD_INPUT, f"the checkpoint's config.json is not valid JSON ({e})",
                            "run again; if it repeats, the hub's copy is damaged: try another endpoint") from None
    towers = []
    for key, kind in (("mm_vision_tower", "vision"), ("mm_audio_tower", "audio")):
        value = cfg.get(key) if isinstance(cfg, dict) else None
        tower = tower_for(value) if isinstance(value, str) else None
        if tower is None:
            raise DownloadError(BAD_INPUT, f"the checkpoint's {key} names a {kind} tower {value!r} that this app does "
                                f"not know (known: {', '.join(TOWERS)})",
                                "this checkpoint is not one of the family the app runs; fetch its towers by hand and "
                                f"set {key} to their folder (the loader checks their shapes)")
        towers.append(tower)
    return towers[0], towers[1]


def plan_download(hub: Hub, member: Member, dest: Path, log: Callable[[str], None]) -> list[RepoPlan]:
    """List the repositories, fetch the checkpoint's config.json (into DIR/config.hub.json, always fresh) and
    decide the towers from it. The first plan is the checkpoint's, then audio tower, vision tower, BERT."""
    ckpt = _plan_repo(hub, _repo_of(member, hub), "", CHECKPOINT_FILES, ("config.json", "*.safetensors"))
    staging = dest / STAGING_DIR
    shutil.rmtree(staging, ignore_errors=True)
    log(f"reading {ckpt.repo_id}/config.json")
    hub.fetch(ckpt.repo_id, ckpt.commit, [f for f in ckpt.files if f.path == "config.json"], staging, lambda n: None)
    vision, audio = _checkpoint_towers(staging / "config.json")
    os.replace(staging / "config.json", dest / HUB_CONFIG_COPY)
    shutil.rmtree(staging, ignore_errors=True)
    ckpt = RepoPlan(ckpt.repo_id, "", ckpt.commit, tuple(f for f in ckpt.files if f.path != "config.json"))
    plans = [ckpt]
    for tower in (audio, vision):
        plans.append(_plan_repo(hub, _repo_of(tower, hub), f"towers/{tower.folder}", tower.patterns,
                                ("config.json", "model.safetensors")))
    plans.append(_plan_repo(hub, _repo_of(BERT, hub), BERT_SUBDIR, BERT.patterns, ("config.json", "vocab.txt")))
    return plans


def check_free_space(dest: Path, plans: list[RepoPlan]) -> int:
    """Bytes still to fetch; DownloadError(DISK_FULL) when the disk cannot take them."""
    from core.model.hub_http import disk_full

    total = sum(f.size for p in plans for f in p.files)
    left = total - sum(p.bytes_on_disk(dest) for p in plans)
    free = shutil.disk_usage(dest).free
    if left + FREE_SPACE_MARGIN_BYTES > free:
        err = disk_full(dest, left)
        raise DownloadError(err.kind, f"{err.problem}; {human_bytes(free)} free", err.fix)
    return left


def check_sizes(dest: Path, plans: list[RepoPlan]) -> None:
    """Every planned file is there with the size its hub listed."""
    for p in plans:
        for f in p.files:
            target = dest / p.subdir / f.path
            got = target.stat().st_size if target.is_file() else None
            if got != f.size:
                raise DownloadError(SIZE, f"{p.repo_id}/{f.path}: {target} has {got} bytes, the hub lists {f.size}",
                                    "run the same command again: it fetches what is missing or wrong")


# ---------------------------------------------------------------------------------------------------------------
# the model folder
# ---------------------------------------------------------------------------------------------------------------
def write_model_config(folder: Path, vision_subdir: str, audio_subdir: str) -> Path:
    """Write config.json: the hub's (config.hub.json) pointed at the downloaded towers by relative paths."""
    cfg_path = folder / "config.json"
    cfg = json.loads((folder / HUB_CONFIG_COPY).read_text(encoding="utf-8"))
    cfg["mm_vision_tower"] = vision_subdir
    cfg["mm_audio_tower"] = audio_subdir
    cfg["bert_tower"] = BERT_SUBDIR
    return atomic_write(cfg_path, json.dumps(cfg, indent=2) + "\n")  # a fresh temp file: no planted link followed


def download_model(dest: Path, member: str = DEFAULT_MEMBER, hub: Hub | None = None,
                   log: Callable[[str], None] = print, progress: Callable[[Progress], None] | None = None) -> Path:
    """Fetch ``member`` (a name of :data:`core.model.family.MEMBERS`) and its towers into ``dest``; write its
    config.json. Returns ``dest``.

    progress: called with :class:`Progress` a few times a second (from the fetching thread).
    Raises :class:`DownloadError` (a ModelLoadError with ``kind``) naming the problem and the fix.
    """
    chosen = find_member(member)
    hub = hub or make_hub()
    dest = Path(dest).expanduser()
    dest.mkdir(parents=True, exist_ok=True)
    meter = None
    try:
        log(f"{chosen.name} from {hub.endpoint} ({hub.name})")
        plans = plan_download(hub, chosen, dest, log)
        total = sum(f.size for p in plans for f in p.files)
        left = check_free_space(dest, plans)
        log(f"{human_bytes(total)} in {sum(len(p.files) for p in plans)} files, {human_bytes(left)} still to fetch")
        meter = ProgressMeter(total, progress or (lambda p: None))
        for p in plans:
            target = dest / p.subdir if p.subdir else dest
            log(f"fetching {p.repo_id} -> {target}")
            meter.start_item(p.repo_id)
            hub.fetch(p.repo_id, p.commit, list(p.files), target, meter.add)
        meter.finish()
        check_sizes(dest, plans)
    except KeyboardInterrupt:
        done = human_bytes(meter.done_bytes) if meter else "nothing"
        raise DownloadError(INTERRUPTED, f"the download was interrupted ({done} fetched)",
                            "run the same command again: it resumes where it stopped") from None
    vision, audio = plans[2], plans[1]
    write_model_config(dest, vision.subdir, audio.subdir)
    log(f"model folder ready: {dest}")
    return dest

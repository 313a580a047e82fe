"""Fetching the published weights and writing a ready-to-use model folder.

Layout written under ``DIR`` (the folder to pass as ``--model``)::

    DIR/config.json, model.safetensors, tokenizer files, generation_config.json   StarJiaxing/R1-Omni-0.5B
    DIR/towers/whisper-large-v3/            openai/whisper-large-v3 (config, preprocessor, model.safetensors)
    DIR/towers/siglip-base-patch16-224/     google/siglip-base-patch16-224 (config, preprocessor, model.safetensors)
    DIR/bert/                               google-bert/bert-base-uncased (config + vocabulary only: the BERT
                                            weights R1-Omni uses are inside its own checkpoint)

``config.json`` is then rewritten to point at the towers by relative paths (the hub's original is kept as
``config.hub.json``). Only safetensors, configs and tokenizer files are fetched; interrupted downloads resume.
Runs on the calling thread (minutes; ~7 GB).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from core.model.errors import ModelLoadError


@dataclass(frozen=True)
class Repo:
    repo_id: str
    subdir: str  # relative to DIR ("" = DIR itself)
    patterns: tuple[str, ...]


CHECKPOINT_REPO = Repo("StarJiaxing/R1-Omni-0.5B", "", (
    "config.json", "generation_config.json", "*.safetensors", "model.safetensors.index.json", "tokenizer.json",
    "tokenizer_config.json", "vocab.json", "merges.txt", "special_tokens_map.json", "added_tokens.json",
    "chat_template.json"))
REPOS = (
    CHECKPOINT_REPO,
    Repo("openai/whisper-large-v3", "towers/whisper-large-v3",
         ("config.json", "preprocessor_config.json", "model.safetensors")),
    Repo("google/siglip-base-patch16-224", "towers/siglip-base-patch16-224",
         ("config.json", "preprocessor_config.json", "model.safetensors")),
    Repo("google-bert/bert-base-uncased", "bert",
         ("config.json", "vocab.txt", "tokenizer.json", "tokenizer_config.json")),
)
HUB_CONFIG_COPY = "config.hub.json"

Fetch = Callable[[Repo, Path], None]


def hub_fetch(repo: Repo, dest: Path) -> None:
    """Download one repository's selected files into ``dest`` (resumable; tqdm progress on stderr)."""
    from huggingface_hub import snapshot_download

    snapshot_download(repo.repo_id, local_dir=str(dest), allow_patterns=list(repo.patterns))


def write_model_config(folder: Path) -> Path:
    """Point the downloaded checkpoint's config.json at the downloaded towers (relative paths)."""
    cfg_path = folder / "config.json"
    original = folder / HUB_CONFIG_COPY
    text = cfg_path.read_text(encoding="utf-8")
    cfg = json.loads(text)
    if not original.exists() or cfg.get("mm_vision_tower") != "towers/siglip-base-patch16-224":
        original.write_text(text, encoding="utf-8")
    by_name = {r.repo_id: r.subdir for r in REPOS}
    cfg["mm_vision_tower"] = by_name["google/siglip-base-patch16-224"]
    cfg["mm_audio_tower"] = by_name["openai/whisper-large-v3"]
    cfg["bert_tower"] = by_name["google-bert/bert-base-uncased"]
    cfg_path.write_text(json.dumps(cfg, indent=2) + "\n", encoding="utf-8")
    return cfg_path


def _is_offline_error(exc: BaseException) -> bool:
    names = {type(e).__name__ for e in _chain(exc)}
    return bool(names & {"OfflineModeIsEnabled", "LocalEntryNotFoundError", "ConnectionError", "ConnectError",
                         "ConnectTimeout", "ReadTimeout", "TimeoutException", "NameResolutionError",
                         "MaxRetryError", "gaierror"})


def _chain(exc: BaseException | None):
    seen = set()
    while exc is not None and id(exc) not in seen:
        seen.add(id(exc))
        yield exc
        exc = exc.__cause__ or exc.__context__


def download_model(dest: Path, fetch: Fetch = hub_fetch, log: Callable[[str], None] = print) -> Path:
    """Fetch all four repositories into ``dest`` and write its config.json. Returns ``dest``.

    Raises :class:`ModelLoadError` with a fix when the hub cannot be reached or a download fails.
    """
    dest = Path(dest).expanduser()
    dest.mkdir(parents=True, exist_ok=True)
    for repo in REPOS:
        target = dest / repo.subdir if repo.subdir else dest
        log(f"fetching {repo.repo_id} -> {target}")
        try:
            fetch(repo, target)
        except Exception as exc:  # hub errors come in many types; classify, keep the cause
            if _is_offline_error(exc):
                raise ModelLoadError(
                    f"the Hugging Face hub cannot be reached ({type(exc).__name__}: {exc})",
                    "run the download on a machine with internet access and copy the folder here, or fetch "
                    + ", ".join(r.repo_id for r in REPOS) + " by hand into the layout of `python main.py download "
                    "--help`; if HF_HUB_OFFLINE=1 is set, unset it") from exc
            raise ModelLoadError(f"downloading {repo.repo_id} failed ({type(exc).__name__}: {exc})",
                                 "run the same command again: finished files are kept and partial ones resume") from exc
    write_model_config(dest)
    log(f"model folder ready: {dest}")
    return dest

"""Finding the parts of a model folder: its configs, weight files, tower and BERT folders and tokenizers.

``config.json`` names the towers in ``mm_vision_tower`` / ``mm_audio_tower`` as an absolute path, a path relative
to the checkpoint folder, or a hub id found in the local Hugging Face cache (never downloaded here). Every file is
read through :mod:`core.model.checks` (regular files only, size caps). Errors are
:class:`~core.model.errors.ModelLoadError` naming the problem and the fix.
"""

from __future__ import annotations

import logging
import os
from pathlib import Path
from typing import Any

from core.model import checks
from core.model.errors import ModelLoadError
from core.model.family import TOWERS

log = logging.getLogger(__name__)

CONFIG = "config.json"
WEIGHTS = "model.safetensors"
WEIGHTS_INDEX = "model.safetensors.index.json"
PICKLE_WEIGHTS = ("pytorch_model.bin", "pytorch_model.bin.index.json", "model.bin")
LFS_POINTER_PREFIX = b"version https://git-lfs.github.com/spec"
LFS_POINTER_MAX_BYTES = 1024
TOKENIZER_FILES = (("tokenizer.json",), ("vocab.json", "merges.txt"))
# every file a tokenizer may read from its folder: checked to be regular, size-capped files first
TOKENIZER_READS = ("tokenizer.json", "tokenizer_config.json", "vocab.json", "merges.txt", "special_tokens_map.json",
                   "added_tokens.json", "chat_template.json", "chat_template.jinja", "vocab.txt")
BERT_HUB_IDS = ("google-bert/bert-base-uncased", "bert-base-uncased")
BERT_FOLDER_NAMES = ("bert", "bert-base-uncased")
DOWNLOAD_HINT = "python main.py download --dir DIR"
KNOWN_TOWER_REPOS = {name: tower.hf_repo for name, tower in TOWERS.items()}  # folder name -> hub id


# ---------------------------------------------------------------------------------------------------------------
# files and folders
# ---------------------------------------------------------------------------------------------------------------
def read_json(path: Path, what: str) -> dict[str, Any]:
    """A JSON object from a model folder (a regular, size-capped file); ModelLoadError naming the file."""
    if not path.exists():
        raise ModelLoadError(f"{what}: {path} is missing",
                             f"point to a complete folder (it must contain {path.name}); {DOWNLOAD_HINT} writes one")
    return checks.read_json_object(path, what)


def _is_lfs_pointer(path: Path, what: str) -> bool:
    with checks.open_regular(path, what) as f:
        if os.fstat(f.fileno()).st_size > LFS_POINTER_MAX_BYTES:
            return False
        return f.read(len(LFS_POINTER_PREFIX)) == LFS_POINTER_PREFIX


def weight_files(folder: Path, what: str) -> list[Path]:
    """The safetensors files of a folder, checked for the usual ways a download goes wrong (and for files that
    are not regular files, which are refused rather than opened)."""
    index = folder / WEIGHTS_INDEX
    if index.exists():
        weight_map = read_json(index, what).get("weight_map", {})
        if not isinstance(weight_map, dict):
            raise ModelLoadError(f"{what}: {index} has no weight_map object", "re-download the file")
        shards = sorted({checks.plain_file_name(v, index) for v in weight_map.values()})
        files = [folder / s for s in shards]
        missing = [f.name for f in files if not f.exists()]
        if missing:
            raise ModelLoadError(f"{what}: shards listed in {index.name} are missing: {', '.join(missing)}",
                                 "finish the download (it resumes where it stopped)")
    elif (folder / WEIGHTS).exists():
        files = [folder / WEIGHTS]
    else:
        singles = sorted(folder.glob("*.safetensors"))
        if len(singles) == 1:
            files = singles
        elif any((folder / p).exists() for p in PICKLE_WEIGHTS):
            raise ModelLoadError(
                f"{what}: {folder} holds only PyTorch .bin weights; they are pickle files, which this app never "
                "loads (they can run arbitrary code)",
                "get the safetensors version of the weights (the published repositories have model.safetensors), "
                "or convert the .bin file in an environment you trust")
        else:
            raise ModelLoadError(f"{what}: no {WEIGHTS} in {folder}", f"download the weights ({DOWNLOAD_HINT})")
    for f in files:
        if _is_lfs_pointer(f, what):
            raise ModelLoadError(
                f"{what}: {f} is a Git LFS pointer file ({f.stat().st_size} bytes), not the weights",
                f"run `git lfs pull` inside {folder}, or download with {DOWNLOAD_HINT}")
    return files


def _check_text_files(folder: Path, what: str) -> None:
    """Tokenizer libraries open these files by name: each one present must be a regular, size-capped file."""
    for name in TOKENIZER_READS:
        path = folder / name
        if os.path.lexists(path):
            st = checks.require_regular(path, what)
            if st.st_size > checks.TEXT_LIMIT_BYTES:
                raise ModelLoadError(f"{what}: {path} is {st.st_size} bytes, more than a tokenizer file may have",
                                     checks.REDOWNLOAD)


# ---------------------------------------------------------------------------------------------------------------
# locating towers, BERT, tokenizers
# ---------------------------------------------------------------------------------------------------------------
def _hub_snapshot(repo_id: str, cache_dir: str | None) -> Path | None:
    if repo_id.count("/") != 1 or repo_id.startswith(("/", ".")):
        return None
    try:
        from huggingface_hub import snapshot_download

        return Path(snapshot_download(repo_id, local_files_only=True, cache_dir=cache_dir))
    except Exception:  # noqa: BLE001 — not in the cache (LocalEntryNotFoundError) or an invalid id
        return None


def resolve_folder(name: str, checkpoint_dir: Path, what: str, cache_dir: str | None, key: str) -> Path:
    """Absolute path, path relative to the checkpoint folder, or hub id in the local cache -> existing folder.

    The published config.json names the towers by paths of its authors' machine (``/mnt/.../whisper-large-v3``);
    when such a path does not exist, the folder name is looked up beside the checkpoint (``towers/NAME``,
    ``NAME``, ``../NAME``) and as the known hub repository of that name in the local cache.
    """
    p = Path(os.path.expanduser(name))
    candidates = [p] if p.is_absolute() else [checkpoint_dir / p]
    for c in candidates:
        if c.is_dir():
            return c.resolve()
    snap = _hub_snapshot(name, cache_dir)
    if snap is not None and snap.is_dir():
        return snap
    base = p.name
    if base and base != name:
        for c in (checkpoint_dir / "towers" / base, checkpoint_dir / base, checkpoint_dir.parent / base):
            if c.is_dir():
                log.warning("%s: %s (config.json %s) does not exist; using %s", what, name, key, c)
                return c.resolve()
    repo = KNOWN_TOWER_REPOS.get(base)
    snap = _hub_snapshot(repo, cache_dir) if repo else None
    if snap is not None and snap.is_dir():
        log.warning("%s: %s (config.json %s) does not exist; using the cached hub snapshot of %s", what, name,
                    key, repo)
        return snap
    tried = ", ".join(str(c) for c in candidates)
    raise ModelLoadError(
        f"{what} {name!r} (config.json key {key}) was not found: no folder at {tried} and no hub snapshot of that "
        "name in the local Hugging Face cache",
        f"set {key} in {checkpoint_dir / CONFIG} to the folder holding the tower (absolute or relative to the "
        f"checkpoint), or fetch it with {DOWNLOAD_HINT}")


def find_bert_folder(checkpoint_dir: Path, cfg: dict[str, Any], cache_dir: str | None) -> Path:
    """BERT config + vocabulary: ``bert_tower`` in config.json, ``bert``/``bert-base-uncased`` inside or beside the
    checkpoint, or bert-base-uncased in the hub cache. (Only config and vocabulary are read from it.)"""
    def usable(d: Path) -> bool:  # exists(), not is_file(): a special file there is refused later, by name
        return (d / CONFIG).exists() and ((d / "vocab.txt").exists() or (d / "tokenizer.json").exists())

    if cfg.get("bert_tower"):
        d = resolve_folder(str(cfg["bert_tower"]), checkpoint_dir, "BERT folder", cache_dir, "bert_tower")
        if usable(d):
            return d
        raise ModelLoadError(f"BERT folder {d} lacks config.json or vocab.txt", "point bert_tower at bert-base-uncased")
    candidates = [base / n for base in (checkpoint_dir, checkpoint_dir.parent) for n in BERT_FOLDER_NAMES]
    for d in candidates:
        if usable(d):
            return d.resolve()
    for repo in BERT_HUB_IDS:
        snap = _hub_snapshot(repo, cache_dir)
        if snap is not None and usable(snap):
            return snap
    raise ModelLoadError(
        "BERT configuration and vocabulary (bert-base-uncased) not found: looked in "
        + ", ".join(str(c) for c in candidates) + " and the Hugging Face cache",
        f"put bert-base-uncased's config.json and vocab.txt into {checkpoint_dir / 'bert'}, set \"bert_tower\" in "
        f"config.json, or run {DOWNLOAD_HINT}")


def load_tokenizer(folder: Path, what: str):
    if not any(all((folder / f).is_file() for f in group) for group in TOKENIZER_FILES):
        raise ModelLoadError(
            f"{what}: no tokenizer in {folder} (needs tokenizer.json, or vocab.json + merges.txt)",
            f"copy the tokenizer files of the published checkpoint into {folder} ({DOWNLOAD_HINT} fetches them)")
    _check_text_files(folder, what)
    from transformers import Qwen2Tokenizer

    try:
        return Qwen2Tokenizer.from_pretrained(str(folder), local_files_only=True)
    except Exception as e:  # noqa: BLE001 — a damaged tokenizer.json etc.: reported with the fix
        raise ModelLoadError(f"{what}: the tokenizer in {folder} cannot be read ({e})",
                             "re-download the tokenizer files") from None


def load_bert_tokenizer(folder: Path):
    _check_text_files(folder, "BERT vocabulary")
    from transformers import AutoTokenizer, BertTokenizer  # BertTokenizerFast is an alias of it in transformers 5

    try:
        if (folder / "tokenizer_config.json").is_file() or (folder / "tokenizer.json").is_file():
            return AutoTokenizer.from_pretrained(str(folder), local_files_only=True)
        return BertTokenizer(vocab_file=str(folder / "vocab.txt"), do_lower_case=True)
    except Exception as e:  # noqa: BLE001 — a damaged vocabulary: reported with the fix
        raise ModelLoadError(f"the BERT vocabulary in {folder} cannot be read ({e})",
                             "re-download bert-base-uncased") from None

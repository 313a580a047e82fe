"""The checkpoints of the R1-Omni family that the app can download and run, and the towers they name.

All members share one architecture (model type ``HumanOmni_qwen2``: SigLIP + Whisper + BERT gate + a Qwen2 LLM);
they differ in training and, for HumanOmni-7B, in the size of the language model. Which towers a checkpoint uses
is read from its own ``config.json`` (``mm_vision_tower`` / ``mm_audio_tower``), never assumed from its name.

Sizes are estimates from parameter counts (16-bit weights): the download prints the real sizes the hub lists
before it starts, and the loader checks memory against the real tensors (:mod:`core.model.memory_check`).
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Member:
    """One published checkpoint.

    download_gb: checkpoint + towers, about; memory_gb: what loading it takes in float16/bfloat16, about (float32
    doubles it).
    """

    name: str
    hf_repo: str
    modelscope_repo: str
    download_gb: float
    memory_gb: float


MEMBERS: tuple[Member, ...] = (
    # R1-Omni: reinforcement-learned reasoning and label (the default)
    Member("R1-Omni-0.5B", "StarJiaxing/R1-Omni-0.5B", "iic/R1-Omni-0.5B", 6.6, 3.0),
    # the base model R1-Omni starts from (answers a label, little reasoning)
    Member("HumanOmni-0.5B", "StarJiaxing/HumanOmni-0.5B", "iic/HumanOmni-0.5B", 6.6, 3.0),
    # the cold-start model fine-tuned on explainable emotion reasoning
    Member("EMER-SFT-0.5B", "StarJiaxing/EMER-SFT-0.5B", "iic/EMER-SFT-0.5B", 6.6, 3.0),
    # fine-tuned directly on the MAFW and DFEW training sets (label only)
    Member("MAFW-DFEW-0.5B", "StarJiaxing/MAFW-DFEW-0.5B", "iic/MAFW-DFEW-0.5B", 6.6, 3.0),
    # the 7B HumanOmni (Qwen2.5-7B language model): needs a large GPU
    Member("HumanOmni-7B", "StarJiaxing/HumanOmni-7B", "iic/HumanOmni-7B", 21.0, 18.0),
)
DEFAULT_MEMBER = MEMBERS[0].name


def member_names() -> list[str]:
    return [m.name for m in MEMBERS]


def find_member(name: str) -> Member:
    """The member called ``name`` (case-insensitive). Raises ValueError naming the choices."""
    wanted = name.strip().lower()
    for m in MEMBERS:
        if m.name.lower() == wanted:
            return m
    raise ValueError(f"unknown model {name!r}: choose one of {', '.join(member_names())}")


@dataclass(frozen=True)
class Tower:
    """A tower repository: where it is published and which of its files the app needs."""

    folder: str  # the folder name a checkpoint's config ends its tower path with
    hf_repo: str
    modelscope_repo: str
    patterns: tuple[str, ...]


TOWER_FILES = ("config.json", "preprocessor_config.json", "model.safetensors")
# A checkpoint's config.json names its towers by a path that ends in the folder name (the published configs use
# paths of their authors' machines); that name selects the repository here. Unknown names are refused.
TOWERS: dict[str, Tower] = {t.folder: t for t in (
    Tower("siglip-base-patch16-224", "google/siglip-base-patch16-224", "AI-ModelScope/siglip-base-patch16-224",
          TOWER_FILES),
    Tower("whisper-large-v3", "openai/whisper-large-v3", "AI-ModelScope/whisper-large-v3", TOWER_FILES),
    # the SigLIP of HumanOmni's 7B lineage (VideoLLaMA2 uses it); taken when a checkpoint's config names it
    Tower("siglip-so400m-patch14-384", "google/siglip-so400m-patch14-384", "AI-ModelScope/siglip-so400m-patch14-384",
          TOWER_FILES),
)}
BERT = Tower("bert-base-uncased", "google-bert/bert-base-uncased", "AI-ModelScope/bert-base-uncased",
             ("config.json", "vocab.txt", "tokenizer.json", "tokenizer_config.json"))
CHECKPOINT_FILES = (
    "config.json", "generation_config.json", "*.safetensors", "model.safetensors.index.json", "tokenizer.json",
    "tokenizer_config.json", "vocab.json", "merges.txt", "special_tokens_map.json", "added_tokens.json",
    "chat_template.json")


def tower_for(path_in_config: str) -> Tower | None:
    """The known tower a config value (``/mnt/x/siglip-base-patch16-224``, ``google/whisper-large-v3``,
    ``towers/whisper-large-v3``) names, or None."""
    base = str(path_in_config).replace("\\", "/").rstrip("/").rsplit("/", 1)[-1]
    return TOWERS.get(base)

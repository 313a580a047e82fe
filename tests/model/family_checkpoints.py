"""Tiny random checkpoints in the shape of each member of the family, laid out as a download writes them.

Widths are tiny; what differs between members is kept: the frame count, the vision tower (SigLIP-base at 224 px
with 16 px patches -> a 14x14 grid; SigLIP-so400m at 384 px with 14 px patches -> a 27x27 grid) and whether the
language model ties its output layer (0.5B) or has its own (7B). The config names its towers by paths of another
machine, as the published configs do. The tokenizer, Whisper and BERT folders come from the parity fixture.
HumanOmni-7B's real config is not known from public code: its shape here is an assumption (see README).
"""

from __future__ import annotations

import json
import shutil
from dataclasses import dataclass
from pathlib import Path

from tests.conftest import PARITY_DIR

PARITY = PARITY_DIR / "checkpoint"
TOKENIZER_FILES = ("tokenizer.json", "tokenizer_config.json", "vocab.json", "merges.txt", "special_tokens_map.json",
                   "added_tokens.json", "generation_config.json")


@dataclass(frozen=True)
class Shape:
    num_frames: int
    vision_folder: str
    image_size: int
    patch_size: int
    tied: bool


BASE = Shape(8, "siglip-base-patch16-224", 224, 16, True)
SHAPES = {
    "R1-Omni-0.5B": BASE,
    "HumanOmni-0.5B": BASE,
    "EMER-SFT-0.5B": BASE,
    "MAFW-DFEW-0.5B": BASE,
    "HumanOmni-7B": Shape(16, "siglip-so400m-patch14-384", 384, 14, False),
}
VISION_WIDTH = 48  # the parity fixture's mm_hidden_size


def build(dest: Path, member: str, seed: int = 0, **config_changes) -> Path:
    """Write ``dest/member`` (config.json, model.safetensors, tokenizer, towers/, bert/) and return it."""
    import torch
    from safetensors.torch import save_file
    from transformers import SiglipVisionConfig, SiglipVisionModel

    from core.model.architecture import build_model
    from core.model.config import R1OmniConfig
    from core.model.loading import AUDIO_PREFIX, VISION_PREFIX

    shape = SHAPES[member]
    folder = dest / member
    vision_dir = folder / "towers" / shape.vision_folder
    vision_dir.mkdir(parents=True)
    for name in TOKENIZER_FILES:
        shutil.copy(PARITY / name, folder / name)
    shutil.copytree(PARITY / "whisper", folder / "towers" / "whisper-large-v3")
    shutil.copytree(PARITY / "bert", folder / "bert", ignore=shutil.ignore_patterns("*.safetensors"))

    torch.manual_seed(seed)
    vision_cfg = json.loads((PARITY / "siglip" / "config.json").read_text())
    vision_cfg.update(image_size=shape.image_size, patch_size=shape.patch_size)
    (vision_dir / "config.json").write_text(json.dumps(vision_cfg))
    shutil.copy(PARITY / "siglip" / "preprocessor_config.json", vision_dir)
    fields = {k: v for k, v in vision_cfg.items() if k not in ("architectures", "model_type", "torch_dtype",
                                                                "transformers_version")}
    tower = SiglipVisionModel(SiglipVisionConfig(**fields))
    save_file({k: v.contiguous() for k, v in tower.state_dict().items()}, str(vision_dir / "model.safetensors"))

    cfg = json.loads((PARITY / "config.json").read_text())
    cfg.update(num_frames=shape.num_frames, mm_hidden_size=VISION_WIDTH, tie_word_embeddings=shape.tied,
               mm_vision_tower=f"/mnt/data/models/{shape.vision_folder}",
               mm_audio_tower="/mnt/data/models/whisper-large-v3", bert_tower="bert", _name_or_path=member,
               **config_changes)
    (folder / "config.json").write_text(json.dumps(cfg, indent=1))
    config = R1OmniConfig.from_dicts(cfg, vision_cfg, json.loads((PARITY / "whisper" / "config.json").read_text()),
                                     json.loads((PARITY / "bert" / "config.json").read_text()))
    module = build_model(config, "cpu")
    towers = (VISION_PREFIX, AUDIO_PREFIX)  # these come from the tower folders
    state = {k: v.contiguous() for k, v in module.state_dict().items() if not k.startswith(towers)}
    save_file(state, str(folder / "model.safetensors"))
    return folder

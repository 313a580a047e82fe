"""The R1-Omni module tree, named exactly like the published checkpoint.

``R1OmniForCausalLM``
  ``model`` (:class:`R1OmniBackbone`, a transformers ``Qwen2Model``: ``embed_tokens``, ``layers``, ``norm``)
    ``vision_tower.vision_tower.vision_model``  SigLIP vision model (only the first N-1 layers are run)
    ``audio_tower.audio_tower``                 Whisper encoder + unused classification head
    ``mm_projector``                            :class:`~core.model.projector.AllInOneSmall`
    ``audio_projector``                         Linear-GELU-Linear
    ``bert_model`` / ``bert_gate``              BERT over the instruction, CLS -> 3 branch weights
  ``lm_head``                                   tied to ``model.embed_tokens`` (no parameter of its own)

``state_dict()`` therefore has exactly the checkpoint's keys (``lm_head.weight`` is not stored in it).
Every ``encode_*`` method documents its shapes; they are the stages the runtime times and traces.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import TYPE_CHECKING, cast

import torch
import torch.nn.functional as F
from torch import nn

from core.model.config import AUDIO_POOL, R1OmniConfig
from core.model.projector import AllInOneSmall, bert_gate, mlp2x_gelu

if TYPE_CHECKING:
    from transformers import SiglipVisionModel


class _Holder(nn.Module):
    """Plain container that only contributes a name to the key path."""


class SiglipTower(nn.Module):
    """``vision_tower.vision_model`` = transformers ``SiglipVisionModel``; features of layer ``layers_used``."""

    def __init__(self, cfg: R1OmniConfig) -> None:
        super().__init__()
        from transformers import SiglipVisionModel

        self.vision_tower = _Holder()
        self.vision_tower.vision_model = SiglipVisionModel(cfg.vision)
        self.layers_used = cfg.vision_layers_used

    @property
    def siglip(self) -> SiglipVisionModel:
        # set in __init__; torch types every child reached by attribute as Tensor | Module
        return cast("SiglipVisionModel", self.vision_tower.vision_model)

    def forward(self, pixel_values: torch.Tensor) -> torch.Tensor:
        """pixel_values [T, 3, 224, 224] -> hidden state after ``layers_used`` layers, [T, 196, Dv].

        Runs the embeddings and the first ``layers_used`` encoder layers only: the last layer,
        ``post_layernorm`` and the pooling head do not contribute to the selected feature.
        """
        m = self.siglip
        h = m.embeddings(pixel_values.to(m.embeddings.patch_embedding.weight.dtype))
        for layer in m.encoder.layers[: self.layers_used]:
            h = layer(h, None)
        return h


class WhisperTower(nn.Module):
    """``audio_tower`` = transformers ``WhisperForAudioClassification`` (only its encoder is used)."""

    def __init__(self, cfg: R1OmniConfig) -> None:
        super().__init__()
        from transformers import WhisperForAudioClassification

        self.audio_tower = WhisperForAudioClassification(cfg.audio)

    def forward(self, input_features: torch.Tensor) -> torch.Tensor:
        """input_features [B, n_mels, T] -> encoder last_hidden_state [B, T / 2, Da].

        T = 3000 (30 s, the official input) runs transformers' encoder as is. A shorter T (the fast profile:
        100 frames per second heard) runs the same modules with the first T / 2 position embeddings, which
        transformers' encoder refuses to do; :meth:`encode_any_length` is that computation."""
        enc = self.audio_tower.encoder
        x = input_features.to(enc.conv1.weight.dtype)
        if x.shape[-1] == self.full_length:
            return enc(x).last_hidden_state
        return self.encode_any_length(x)

    @property
    def full_length(self) -> int:
        """Mel frames of the official 30 s input (3000)."""
        enc = self.audio_tower.encoder
        return int(enc.config.max_source_positions) * enc.conv1.stride[0] * enc.conv2.stride[0]

    def encode_any_length(self, x: torch.Tensor) -> torch.Tensor:
        """The encoder's computation for any even T <= 3000: convolutions, GELU, the first T / 2 learned
        positions, the layers, the final norm (equal to transformers' encoder at T = 3000, tested)."""
        enc = self.audio_tower.encoder
        if x.shape[-1] > self.full_length or x.shape[-1] % (enc.conv1.stride[0] * enc.conv2.stride[0]):
            raise ValueError(f"Whisper takes an even number of mel frames up to {self.full_length}, "
                             f"not {x.shape[-1]}")
        h = F.gelu(enc.conv2(F.gelu(enc.conv1(x)))).permute(0, 2, 1)
        h = h + enc.embed_positions.weight[: h.shape[1]]
        for layer in enc.layers:
            h = layer(h, None)
        return enc.layer_norm(h)


def _backbone_class():
    from transformers import Qwen2Model

    class R1OmniBackbone(Qwen2Model):
        """Qwen2 decoder plus the multimodal modules, under the checkpoint's ``model.`` prefix."""

        def __init__(self, cfg: R1OmniConfig) -> None:
            super().__init__(cfg.llm)
            hidden = cfg.hidden_size
            self.vision_tower = SiglipTower(cfg)
            self.audio_tower = WhisperTower(cfg)
            self.mm_projector = AllInOneSmall(cfg.mm.mm_hidden_size, hidden)
            self.audio_projector = mlp2x_gelu(int(cfg.audio.d_model), hidden)
            from transformers import BertModel

            self.bert_model = BertModel(cfg.bert)
            self.bert_gate = bert_gate(int(cfg.bert.hidden_size))

    return R1OmniBackbone


class TiedLMHead(nn.Module):
    """Output layer that reads the token-embedding matrix (weight tying without a second parameter)."""

    def __init__(self, embedding: nn.Embedding) -> None:
        super().__init__()
        self._embedding = (embedding,)  # a tuple keeps it out of the module tree / state_dict

    @property
    def weight(self) -> torch.Tensor:
        return self._embedding[0].weight

    def forward(self, hidden: torch.Tensor) -> torch.Tensor:
        """hidden [..., H] -> logits [..., V]."""
        return F.linear(hidden, self.weight)


class R1OmniForCausalLM(nn.Module):
    def __init__(self, cfg: R1OmniConfig) -> None:
        super().__init__()
        self.config = cfg
        self.model = _backbone_class()(cfg)
        self.lm_head: TiedLMHead | nn.Linear
        if cfg.llm.tie_word_embeddings:
            self.lm_head = TiedLMHead(self.model.embed_tokens)
        else:  # e.g. Qwen2.5-7B: a separate output layer, stored as lm_head.weight
            self.lm_head = nn.Linear(cfg.hidden_size, int(cfg.llm.vocab_size), bias=False)

    # --- per-modality features -------------------------------------------------------------------------
    def encode_vision(self, pixel_values: torch.Tensor) -> torch.Tensor:
        """[T, 3, S, S] (S = the tower's image_size) -> SigLIP selected layer [T, P, Dv], P = (S / patch)^2."""
        return self.model.vision_tower(pixel_values)

    def project_vision(self, feats: torch.Tensor) -> dict[str, torch.Tensor]:
        """feats [B, T, P, Dv] -> video/body [B, T*P', H], face_mlp [B*T, P, H], face [B, T*P', H]; P' = (side//2)^2
        (196 -> 49 for SigLIP-base at 224 px)."""
        proj = self.model.mm_projector
        b = feats.shape[0]
        face_mlp = proj.face_mlp(feats)
        face = proj.face_pool(face_mlp, b).reshape(b, -1, face_mlp.shape[-1])
        return {
            "video": proj.branch("video", feats),
            "body": proj.branch("body", feats),
            "face_mlp": face_mlp,
            "face": face,
        }

    def encode_instruction(self, input_ids: torch.Tensor, attention_mask: torch.Tensor,
                           token_type_ids: torch.Tensor) -> dict[str, torch.Tensor]:
        """BERT ids [B, Tb] -> cls [B, Db], gate logits [B, 3], branch probabilities [B, 3] (softmax)."""
        out = self.model.bert_model(input_ids=input_ids, attention_mask=attention_mask, token_type_ids=token_type_ids)
        cls = out.last_hidden_state[:, 0]
        logits = self.model.bert_gate(cls)
        return {"cls": cls, "logits": logits, "probs": torch.softmax(logits, dim=1)}

    def encode_audio(self, input_features: torch.Tensor) -> dict[str, torch.Tensor]:
        """[B, n_mels, 3000] -> whisper [B, 1500, Da], pooled [B, 500, Da], features [B, 500, H] (a shorter
        input, T mel frames: T / 2 Whisper positions, floor(T / 6) audio tokens)."""
        whisper = self.model.audio_tower(input_features)
        pooled = F.avg_pool1d(whisper.transpose(1, 2), kernel_size=AUDIO_POOL, stride=AUDIO_POOL).transpose(1, 2)
        return {"whisper": whisper, "pooled": pooled, "features": self.model.audio_projector(pooled)}

    def embed(self, ids: torch.Tensor) -> torch.Tensor:
        """Token ids [..., L] -> embeddings [..., L, H]."""
        return self.model.embed_tokens(ids)


@contextlib.contextmanager
def _parameters_on_meta() -> Iterator[None]:
    """Create parameters on the meta device while buffers (rotary frequencies, position ids) stay real.

    Loading then assigns the checkpoint tensors; nothing is randomly initialised and no memory is spent twice.
    """
    original = nn.Module.register_parameter

    def register(self: nn.Module, name: str, param: nn.Parameter | None) -> None:
        if param is not None and param.device.type != "meta":
            param = nn.Parameter(param.to("meta"), requires_grad=param.requires_grad)
        original(self, name, param)

    # patching a method is the point here (mypy flags any assignment to one); undone below
    nn.Module.register_parameter = register  # type: ignore[method-assign]
    try:
        yield
    finally:
        nn.Module.register_parameter = original  # type: ignore[method-assign]


def build_model(cfg: R1OmniConfig, device: str | torch.device = "meta") -> R1OmniForCausalLM:
    """Build the module tree.

    ``device="meta"``: everything on meta (shapes only). ``"empty"``: parameters on meta, buffers on CPU, ready
    for ``load_state_dict(..., assign=True)``. Any other device: materialised with PyTorch's default
    initialisation (random weights, e.g. for benchmarks and tests with tiny configs).
    """
    if str(device) == "meta":
        with torch.device("meta"):
            return R1OmniForCausalLM(cfg)
    if str(device) == "empty":
        with _parameters_on_meta():
            return R1OmniForCausalLM(cfg)
    with torch.device(device):
        return R1OmniForCausalLM(cfg)

"""Projectors that map tower features to the LLM width, and the BERT gate that mixes the visual branches.

``AllInOneSmall`` (config ``mm_projector_type = all_in_one_small``) has three visual branches fed with the same
SigLIP features ``[B, T, P, Dv]`` (P = 196 patches on a 14x14 grid, row-major):

- video and body: RegStage(2) -> Conv3d sampler (kernel 2x2x2, stride 1x2x2, time padded by 1 each side, SiLU,
  the last of the T+1 time slices dropped) -> RegStage(2) -> Linear-GELU-Linear readout -> ``[B, T*49, H]``;
- face: Linear-GELU-Linear per patch -> ``[B*T, 196, H]``, then bilinear 14x14 -> 7x7 pooling -> ``[B, T*49, H]``.

The branches are mixed with the three softmax weights of the BERT gate (see :func:`fuse`).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from core.model.config import GATE_BRANCHES, GATE_HIDDEN
from core.model.regstage import RegStage

REGSTAGE_DEPTH = 2


def mlp2x_gelu(in_dim: int, out_dim: int) -> nn.Sequential:
    """Linear -> GELU (erf) -> Linear; keys ``0.*`` and ``2.*`` as in the checkpoint."""
    return nn.Sequential(nn.Linear(in_dim, out_dim), nn.GELU(), nn.Linear(out_dim, out_dim))


def bert_gate(bert_width: int) -> nn.Sequential:
    """CLS vector [B, Db] -> branch logits [B, 3] (softmax applied by the caller)."""
    return nn.Sequential(nn.Linear(bert_width, GATE_HIDDEN), nn.GELU(), nn.Linear(GATE_HIDDEN, GATE_BRANCHES))


def _grid(n_tokens: int) -> int:
    side = round(n_tokens**0.5)
    if side * side != n_tokens:
        raise ValueError(f"visual tokens per frame must form a square grid, got {n_tokens}")
    return side


class AllInOneSmall(nn.Module):
    def __init__(self, vision_width: int, hidden: int) -> None:
        super().__init__()
        for branch in ("video", "body"):
            self.add_module(f"s1_{branch}", RegStage(REGSTAGE_DEPTH, vision_width, hidden))
            sampler = nn.Sequential(
                nn.Conv3d(hidden, hidden, kernel_size=(2, 2, 2), stride=(1, 2, 2), padding=(1, 0, 0), bias=True),
                nn.SiLU(),
            )
            self.add_module(f"sampler_{branch}", sampler)
            self.add_module(f"s2_{branch}", RegStage(REGSTAGE_DEPTH, hidden, hidden))
            self.add_module(f"readout_{branch}", mlp2x_gelu(hidden, hidden))
        self.mlp_2xgelu_face = mlp2x_gelu(vision_width, hidden)

    def branch(self, name: str, feats: torch.Tensor) -> torch.Tensor:
        """One RegStage/Conv3d branch. feats [B, T, P, Dv] -> [B, T*(side/2)^2, H]."""
        b, t, p, dv = feats.shape
        side = _grid(p)
        x = feats.reshape(b * t, side, side, dv).permute(0, 3, 1, 2)  # [B*T, Dv, side, side]
        x = getattr(self, f"s1_{name}")(x)  # [B*T, H, side, side]
        h = x.shape[1]
        x = x.reshape(b, t, h, side, side).permute(0, 2, 1, 3, 4)  # [B, H, T, side, side]
        x = getattr(self, f"sampler_{name}")(x)[:, :, :t]  # [B, H, T, side/2, side/2]
        half = x.shape[-1]
        x = x.permute(0, 2, 1, 3, 4).reshape(b * t, h, half, half)
        x = getattr(self, f"s2_{name}")(x)  # [B*T, H, half, half]
        x = x.reshape(b, t, h, half * half).permute(0, 1, 3, 2).reshape(b, t * half * half, h)
        return getattr(self, f"readout_{name}")(x)

    def face_mlp(self, feats: torch.Tensor) -> torch.Tensor:
        """feats [B, T, P, Dv] -> [B*T, P, H]."""
        b, t, p, dv = feats.shape
        return self.mlp_2xgelu_face(feats.reshape(b * t, p, dv))

    @staticmethod
    def face_pool(face: torch.Tensor, batch: int) -> torch.Tensor:
        """[B*T, P, H] -> [B*T, P/4, H] by bilinear 2x downsampling (equals a 2x2 mean)."""
        bt, p, h = face.shape
        side = _grid(p)
        x = face.reshape(bt, side, side, h).permute(0, 3, 1, 2)
        x = F.interpolate(x, size=(side // 2, side // 2), mode="bilinear", align_corners=False)
        return x.permute(0, 2, 3, 1).reshape(bt, (side // 2) ** 2, h)


def fuse(probs: torch.Tensor, video: torch.Tensor, body: torch.Tensor, face: torch.Tensor) -> torch.Tensor:
    """Gate-weighted sum. probs [B, 3]; video/body/face [B, V, H] -> [B, V, H]."""
    p = probs.to(video.dtype)[:, :, None, None]
    return p[:, 0] * video + p[:, 1] * body + p[:, 2] * face

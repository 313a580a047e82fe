"""RegNet stage (``RegStage``) of the ``all_in_one_small`` projector, implemented natively.

Reproduces the semantics of timm's ``RegStage`` / ``Bottleneck`` as the projector configures them (bottleneck
ratio 1, group width 1 = depthwise 3x3, squeeze-excitation 0.25 of the block input width, SiLU, per-pixel
LayerNorm with eps 1e-5, no drop-path) with the same module names, so checkpoint keys such as
``s1_video.b1.conv1.conv.weight`` / ``.bn.weight`` / ``se.fc1`` / ``downsample`` load unchanged.
All tensors are NCHW.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

LAYER_NORM_EPS = 1e-5  # timm swaps LayerNorm2d (eps 1e-6) for LayerNormAct2d with its own default 1e-5
SE_RATIO = 0.25  # squeeze-excitation width relative to the block's input channels


class LayerNormAct2d(nn.LayerNorm):
    """LayerNorm over the channel axis of an NCHW tensor, optionally followed by SiLU."""

    def __init__(self, channels: int, apply_act: bool = True) -> None:
        super().__init__(channels, eps=LAYER_NORM_EPS)
        self.apply_act = apply_act

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = F.layer_norm(x.permute(0, 2, 3, 1), self.normalized_shape, self.weight, self.bias, self.eps)
        x = x.permute(0, 3, 1, 2)
        return F.silu(x) if self.apply_act else x


class ConvNormAct(nn.Module):
    """Conv2d without bias (``conv``) + LayerNorm (``bn``, the name timm keeps) + optional SiLU."""

    def __init__(self, in_chs: int, out_chs: int, kernel_size: int, groups: int = 1, apply_act: bool = True) -> None:
        super().__init__()
        self.conv = nn.Conv2d(in_chs, out_chs, kernel_size, padding=kernel_size // 2, groups=groups, bias=False)
        self.bn = LayerNormAct2d(out_chs, apply_act=apply_act)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.bn(self.conv(x))


class SqueezeExcite(nn.Module):
    """Channel gate: global mean -> 1x1 conv -> SiLU -> 1x1 conv -> sigmoid -> scale."""

    def __init__(self, channels: int, rd_channels: int) -> None:
        super().__init__()
        self.fc1 = nn.Conv2d(channels, rd_channels, 1, bias=True)
        self.fc2 = nn.Conv2d(rd_channels, channels, 1, bias=True)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        s = x.mean((2, 3), keepdim=True)
        s = self.fc2(F.silu(self.fc1(s)))
        return x * s.sigmoid()


class Bottleneck(nn.Module):
    """1x1 -> depthwise 3x3 -> SE -> 1x1 (no act), residual (1x1 conv + LN when widths differ), SiLU."""

    def __init__(self, in_chs: int, out_chs: int) -> None:
        super().__init__()
        self.conv1 = ConvNormAct(in_chs, out_chs, 1)
        self.conv2 = ConvNormAct(out_chs, out_chs, 3, groups=out_chs)
        self.se = SqueezeExcite(out_chs, round(in_chs * SE_RATIO))
        self.conv3 = ConvNormAct(out_chs, out_chs, 1, apply_act=False)
        self.downsample = ConvNormAct(in_chs, out_chs, 1, apply_act=False) if in_chs != out_chs else None

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        shortcut = x if self.downsample is None else self.downsample(x)
        x = self.conv3(self.se(self.conv2(self.conv1(x))))
        return F.silu(x + shortcut)


class RegStage(nn.Module):
    """``depth`` bottleneck blocks named ``b1``..``bN``; the first maps ``in_chs`` to ``out_chs``. Stride 1."""

    def __init__(self, depth: int, in_chs: int, out_chs: int) -> None:
        super().__init__()
        for i in range(depth):
            self.add_module(f"b{i + 1}", Bottleneck(in_chs if i == 0 else out_chs, out_chs))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """x: [N, in_chs, H, W] -> [N, out_chs, H, W]."""
        for block in self.children():
            x = block(x)
        return x

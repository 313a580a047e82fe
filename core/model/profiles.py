"""Inference profiles: ``exact`` (the official computation) and ``fast`` (approximate, for live use on a CPU).

``exact`` computes what the official inference code computes: Whisper always hears 30 s (the window's audio
padded with silence, 500 audio tokens) and every weight is used in the precision the model was loaded in.

``fast`` trades exactness for speed where a CPU spends its time, and every result made with it says so
(``AnalysisResult.profile == "fast"``, ``model.info()["profile"]``):

- Whisper hears the window's own audio rounded up to whole seconds (1 to 30 s) instead of 30 s of mostly
  padding; the audio tokens follow (``floor(50 * s / 3)``: 66 for 4 s instead of 500). Whisper's encoder then
  uses its first ``50 * s`` learned position embeddings; the audio projector works per position and the language
  model numbers the shorter sequence 0..L-1 with its usual 1-D rotary positions, so the shorter input is valid —
  but it is not what the model was trained on (always 30 s), hence approximate;
- decoding reads int8 copies of the language model's weights (:mod:`core.model.int8`), where a CPU is bound by
  reading weights. The prefill and label scoring keep the model's own precision.

How far ``fast`` moves the answers on real weights has not been measured here: ``evaluate --profile fast`` and
``evaluate --compare`` measure it on a user's own labelled clips.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from core.model.preprocess import AUDIO_WINDOW_S
from core.window import MODEL_SAMPLE_RATE_HZ

EXACT = "exact"
FAST = "fast"
PROFILES = (EXACT, FAST)
DEFAULT_PROFILE = EXACT


@dataclass(frozen=True)
class Profile:
    name: str
    short_audio: bool  # Whisper over the window's own whole seconds instead of 30 s
    int8_decode: bool  # int8 weights in the decode step and output layer

    @property
    def approximate(self) -> bool:
        return self.short_audio or self.int8_decode

    def audio_seconds(self, samples: int) -> int:
        """Seconds of audio Whisper hears for a clip of ``samples`` samples at 16 kHz."""
        if not self.short_audio:
            return AUDIO_WINDOW_S
        return min(AUDIO_WINDOW_S, max(1, math.ceil(samples / MODEL_SAMPLE_RATE_HZ)))


_PROFILES = {EXACT: Profile(EXACT, short_audio=False, int8_decode=False),
             FAST: Profile(FAST, short_audio=True, int8_decode=True)}


def profile_named(name: str | Profile) -> Profile:
    """``exact`` | ``fast`` (any case) -> its :class:`Profile`; ValueError naming the choices otherwise."""
    if isinstance(name, Profile):
        return name
    key = str(name).strip().lower()
    if key not in _PROFILES:
        raise ValueError(f"unknown profile {name!r}: use {' or '.join(PROFILES)}")
    return _PROFILES[key]

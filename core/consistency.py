"""Consistency checks on an answer: does it agree with its own reasoning and with what was in the window?

R1-Omni explains itself in ``<think>``, but an explanation can fail to hold: the ``<answer>`` label may differ from
the emotion the reasoning concludes, the reasoning may describe a voice in a window that had no audio, or one
person while nobody (or several people) faced the camera. Each check here is a transparent word rule whose result
is a ``Flag`` with a short reason; a flag informs the reader, it never changes the answer.

**Answer versus reasoning** (``ANSWER``). Every emotion word of ``EMOTION_WORDS`` (inflections and a few close
synonyms, per label) is found in the reasoning. A mention is *negated* when one of ``NEGATORS`` stands at most
``NEGATION_WINDOW_WORDS`` words before it in the same clause (clauses end at punctuation and at ``and``/``but``/...):
"not angry", "no sign of anger", "rather than sad". The reasoning's *conclusion* is the set of labels named,
un-negated, in the last sentence that names any. The flag is raised when the answer's label is not in that
conclusion, or when the reasoning names the answer's label only negated ("not angry" with the answer ``angry``).

**Voice without audio** (``VOICE``). The reasoning mentions speech or a voice (``SPEECH_WORDS``, un-negated) while
the window's audio status is ``missing`` (the model heard nothing) or ``silent``.

**One person, faces disagree** (``PERSON``). The reasoning refers to one person (``the man``, ``she``, ``his``...)
while the face check found no frontal face in the frames the model saw, or found several and the reasoning never
refers to more than one person (``they``, ``the two``...).

Limits, on purpose (a rule a reader can predict beats a clever guess):
- Only the words listed are known. An emotion phrased otherwise ("he is on the verge of tears") is not named; a word
  whose label is outside the label set in use (``calm`` under DFEW) is not counted.
- Negation is local and literal: "it would be wrong to call him angry" names ``angry``, "not only angry but also
  afraid" negates ``angry``, and double negatives are not resolved. Words that also mean something else are
  left out of the lists ("upset", "mad", bare "tone" and "words"), at the cost of missing some mentions.
- Hedges ("perhaps", "seems", "a hint of") do not weaken a mention: a hedged emotion counts like a plain one,
  because the model hedges almost every sentence ("appears to be").
- Several emotions in the concluding sentence: the answer agrees when it is one of them ("anger mixed with fear").
- No emotion named: no conclusion, so no ``ANSWER`` flag (``Consistency.conclusion`` is empty; nothing to compare).
- Sounds that are also visible (laughing, crying, sighing) are not read as speech.
- Person words are English; a singular pronoun may refer to someone off camera; any plural person word ("they",
  "both", "two") is taken to acknowledge several people. The face check itself misses profiles and covered faces
  (``core.faces``).

Pure functions, no I/O, any thread.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from core import labels as _labels
from core.faces import FaceCheck
from core.window import AUDIO_MISSING, AUDIO_SILENT

MAX_REASON_CHARS = 500  # a logged reason longer than this is cut (logs are read from anywhere)
MAX_LABEL_CHARS = 64

ANSWER = "answer_vs_reasoning"
VOICE = "voice_without_audio"
PERSON = "person_vs_faces"
CHECKS = (ANSWER, VOICE, PERSON)
CHECK_TITLES = {
    ANSWER: "answer disagrees with the reasoning",
    VOICE: "reasoning describes a voice the model did not hear",
    PERSON: "reasoning describes one person; the faces in view disagree",
}

# Words that name an emotion, by the label they stand for. Inflections of the label and close synonyms only;
# a word that could mean two labels ("upset", "mad", "shock" aside) is left out.
EMOTION_WORDS: dict[str, tuple[str, ...]] = {
    "happy": ("happy", "happily", "happiness", "joy", "joyful", "joyous", "cheerful", "cheerfully", "delighted",
              "delight", "pleased", "glad", "elated", "amused"),
    "surprise": ("surprise", "surprised", "astonished", "astonishment", "amazed", "amazement", "startled",
                 "shocked"),
    "neutral": ("neutral", "neutrality", "expressionless", "impassive"),
    "angry": ("angry", "angrily", "anger", "furious", "fury", "rage", "enraged", "irritated", "irritation",
              "annoyed", "annoyance", "hostile", "hostility", "outraged", "indignant", "indignation"),
    "disgust": ("disgust", "disgusted", "revulsion", "repulsed", "repelled", "loathing"),
    "sad": ("sad", "sadly", "sadness", "sorrow", "sorrowful", "unhappy", "unhappiness", "grief", "grieving",
            "depressed", "melancholy", "gloomy", "dejected"),
    "fear": ("fear", "fearful", "afraid", "scared", "frightened", "terrified", "terror", "panic", "panicked",
             "horrified", "dread"),
    "contemptuous": ("contempt", "contemptuous", "scorn", "scornful", "disdain", "disdainful"),
    "disappointed": ("disappointed", "disappointment", "dismayed", "dismay"),
    "helpless": ("helpless", "helplessness", "powerless"),
    "anxious": ("anxious", "anxiously", "anxiety", "nervous", "nervousness", "worried", "worry", "uneasy",
                "unease"),
    "calm": ("calm", "calmness", "relaxed", "composed", "serene"),
}
WORD_LABEL: dict[str, str] = {w: label for label, words in EMOTION_WORDS.items() for w in words}

NEGATION_WINDOW_WORDS = 4  # "does not appear to be angry": the negator is four words before the emotion
NEGATORS = frozenset({
    "not", "no", "never", "without", "nor", "neither", "hardly", "barely", "lacks", "lack", "lacking", "absence",
    "absent", "devoid", "isn't", "aren't", "wasn't", "weren't", "doesn't", "don't", "didn't", "cannot", "can't",
    "won't", "nothing", "none",
})
# two-word negators whose first word alone is no negation ("rather angry" is angry, "rather than angry" is not)
NEGATOR_PHRASES = frozenset({("rather", "than"), ("instead", "of"), ("free", "of")})
# a clause ends at these words (and at punctuation): "not smiling and angry" negates "smiling", not "angry"
CLAUSE_WORDS = frozenset({"and", "but", "yet", "while", "whereas", "although", "though", "however", "so"})

SPEECH_WORDS = frozenset({
    "voice", "voices", "vocal", "vocally", "intonation", "pitch", "speech", "speaking", "speaks", "spoke", "spoken",
    "says", "said", "saying", "talk", "talks", "talking", "utters", "uttered", "uttering", "utterance",
    "shout", "shouts", "shouted", "shouting", "yell", "yells", "yelled", "yelling", "scream", "screams", "screamed",
    "screaming", "whisper", "whispers", "whispered", "whispering", "audio", "sound", "sounds", "heard", "hear",
    "hearing", "listen", "listening", "exclaims", "exclaimed",
})

SINGULAR_PRONOUNS = frozenset({"he", "she", "him", "his", "her", "hers", "himself", "herself"})
_PERSON_NOUNS = ("man|woman|boy|girl|person|character|speaker|individual|lady|gentleman|guy|child|actor|actress|"
                 "subject|protagonist|figure|host|interviewee")
_SINGULAR_PERSON = re.compile(rf"\b(?:the|a|an|this|that)\s+(?:\w+\s+)?(?:{_PERSON_NOUNS})(?:'s)?\b")
_PLURAL_PERSON = re.compile(
    r"\b(?:they|them|their|themselves|people|persons|characters|men|women|children|both|group|crowd|everyone|"
    r"others|another|two|three|several|multiple)\b")

_SENTENCES = re.compile(r"[^.!?;\n]+")
_TOKENS = re.compile(r"[a-z]+(?:'[a-z]+)?|[,:()\"]")


@dataclass(frozen=True)
class Flag:
    """One failed check: which (``CHECKS``) and why, in a sentence a user can read next to the answer."""

    check: str
    reason: str

    def to_dict(self) -> dict[str, str]:
        return {"check": self.check, "reason": self.reason}


@dataclass(frozen=True)
class Mention:
    """An emotion word in the reasoning: the label it names, the word as written, and whether it is negated."""

    label: str
    word: str
    negated: bool
    sentence: int  # index of the sentence it is in


@dataclass(frozen=True)
class Consistency:
    """The checks of one answer. ``conclusion``: labels the reasoning's last emotion-naming sentence names
    (empty: none named); ``flags``: the failed checks, in ``CHECKS`` order."""

    conclusion: tuple[str, ...]
    flags: tuple[Flag, ...]

    @property
    def ok(self) -> bool:
        return not self.flags

    def to_dict(self) -> dict[str, Any]:
        return {"conclusion": list(self.conclusion), "flags": [f.to_dict() for f in self.flags]}

    @classmethod
    def from_dict(cls, d: Mapping[str, Any] | None) -> Consistency | None:
        """The logged form back (``to_dict``); None for a missing or malformed value (old or damaged logs).
        A log may come from anywhere: only known checks are kept (once each), with bounded text."""
        if not isinstance(d, Mapping):
            return None
        flags, conclusion = d.get("flags"), d.get("conclusion")
        if not isinstance(flags, list) or not isinstance(conclusion, list) or len(conclusion) > len(EMOTION_WORDS):
            return None
        if not all(isinstance(c, str) and len(c) <= MAX_LABEL_CHARS for c in conclusion):
            return None
        kept: dict[str, Flag] = {}
        for f in flags[: 4 * len(CHECKS)]:
            if isinstance(f, Mapping) and f.get("check") in CHECKS and isinstance(f.get("reason", ""), str):
                kept.setdefault(f["check"], Flag(f["check"], f.get("reason", "")[:MAX_REASON_CHARS]))
        return cls(tuple(conclusion), tuple(kept[c] for c in CHECKS if c in kept))


def _clauses(sentence: str) -> list[list[str]]:
    """Words of a sentence (lower case) cut into clauses at punctuation and ``CLAUSE_WORDS``."""
    clauses: list[list[str]] = [[]]
    for tok in _TOKENS.findall(sentence.lower()):
        if tok in CLAUSE_WORDS or not tok[0].isalpha():
            if clauses[-1]:
                clauses.append([])
            continue
        clauses[-1].append(tok)
    return [c for c in clauses if c]


def _negated(words: Sequence[str], at: int) -> bool:
    start = max(0, at - NEGATION_WINDOW_WORDS)
    before = words[start:at]
    return any(w in NEGATORS for w in before) or any(
        (a, b) in NEGATOR_PHRASES for a, b in zip(words[max(0, start - 1):at], words[max(0, start - 1) + 1:at]))


def _sentences(text: str) -> list[str]:
    return [s for s in _SENTENCES.findall(text) if s.strip()]


def emotion_mentions(text: str, labels: Iterable[str] | None = None) -> list[Mention]:
    """Every emotion word in ``text`` in reading order (only labels in ``labels``; None: every known label)."""
    allowed = set(labels) if labels is not None else set(EMOTION_WORDS)
    out = []
    for n, sentence in enumerate(_sentences(text)):
        for clause in _clauses(sentence):
            for i, word in enumerate(clause):
                label = WORD_LABEL.get(word)
                if label is not None and label in allowed:
                    out.append(Mention(label, word, _negated(clause, i), n))
    return out


def conclusion(mentions: Sequence[Mention]) -> tuple[str, ...]:
    """Labels named un-negated in the last sentence that names any (in order of mention, no repeats)."""
    affirmed = [m for m in mentions if not m.negated]
    if not affirmed:
        return ()
    last = affirmed[-1].sentence
    return tuple(dict.fromkeys(m.label for m in affirmed if m.sentence == last))


def answer_label(label: str | None) -> str | None:
    """The label an answer stands for in ``EMOTION_WORDS`` terms (a free-text answer "furious" → ``angry``)."""
    if label is None:
        return None
    word = _labels.canonical(label)
    return word if word in EMOTION_WORDS else WORD_LABEL.get(word)


def check_answer(think: str | None, label: str | None,
                 labels: Sequence[str] | None) -> tuple[tuple[str, ...], Flag | None]:
    """(the reasoning's conclusion, an ``ANSWER`` flag or None). ``labels``: the label set (None: free)."""
    if not think:
        return (), None
    mentions = emotion_mentions(think, labels)
    concluded = conclusion(mentions)
    target = answer_label(label)
    if target is None:
        return concluded, None
    named = [m for m in mentions if m.label == target]
    only_negated = bool(named) and all(m.negated for m in named)
    negated_word = next((m.word for m in named if m.negated), target)
    if concluded and target not in concluded:
        reason = f"the reasoning concludes {' or '.join(concluded)}; the answer is {label}"
        if only_negated:
            reason += f" (the reasoning says not {negated_word})"
        return concluded, Flag(ANSWER, reason)
    if only_negated:
        return concluded, Flag(ANSWER, f"the reasoning says not {negated_word}; the answer is {label}")
    return concluded, None


def _speech_words(text: str) -> list[str]:
    found = []
    for sentence in _sentences(text):
        for clause in _clauses(sentence):
            found += [w for i, w in enumerate(clause) if w in SPEECH_WORDS and not _negated(clause, i)]
    return found


def check_voice(think: str | None, audio_status: str | None) -> Flag | None:
    """A ``VOICE`` flag when the reasoning describes speech while the window had no usable audio."""
    if not think or audio_status not in (AUDIO_MISSING, AUDIO_SILENT):
        return None
    words = _speech_words(think)
    if not words:
        return None
    had = "no audio (the model heard nothing)" if audio_status == AUDIO_MISSING else "only silence"
    quoted = ", ".join(f"“{w}”" for w in dict.fromkeys(words[:3]))
    return Flag(VOICE, f"the reasoning describes speech ({quoted}) but the window had {had}")


def check_person(think: str | None, faces: Sequence[int] | None) -> Flag | None:
    """A ``PERSON`` flag when the reasoning refers to one person and the face check found none, or several
    while the reasoning never refers to more than one."""
    if not think or faces is None:
        return None
    status = FaceCheck(tuple(int(c) for c in faces))
    if status.status == "one":
        return None
    text = think.lower()
    singular = _SINGULAR_PERSON.search(text)
    pronoun = next((w for w in _TOKENS.findall(text) if w in SINGULAR_PRONOUNS), None)
    said = singular.group(0) if singular else pronoun
    if said is None:
        return None
    if status.status == "none":
        return Flag(PERSON, f"the reasoning describes one person (“{said}”) but no frontal face was found in "
                            "the frames the model saw")
    if _PLURAL_PERSON.search(text):
        return None
    return Flag(PERSON, f"the reasoning describes one person (“{said}”) but {status.most} faces were in view; "
                        "it does not say which")


def check(think: str | None, label: str | None, labels: Sequence[str] | None, audio_status: str | None,
          faces: Sequence[int] | None) -> Consistency:
    """Every check of one answer. ``audio_status``: ``core.window`` status (None: unknown, not checked);
    ``faces``: frontal faces per model frame (None: not checked)."""
    concluded, answer_flag = check_answer(think, label, labels)
    flags = [answer_flag, check_voice(think, audio_status), check_person(think, faces)]
    return Consistency(concluded, tuple(f for f in flags if f is not None))


def labels_of(label_set: str | None) -> tuple[str, ...] | None:
    """The labels of a set name as stored in results (``dfew``...); None for ``free`` or an unknown name."""
    try:
        return _labels.label_set(label_set or _labels.FREE)
    except ValueError:
        return None


def flag_counts(items: Iterable[Consistency | None]) -> dict[str, int]:
    """How many answers raised each check (every check listed, zeros included), plus ``checked``/``flagged``."""
    counts = dict.fromkeys(CHECKS, 0)
    checked = flagged = 0
    for c in items:
        if c is None:
            continue
        checked += 1
        flagged += bool(c.flags)
        for f in c.flags:
            counts[f.check] += 1
    return {**counts, "checked": checked, "flagged": flagged}


def of_record(record: Mapping[str, Any]) -> Consistency | None:
    """The checks of a logged window or an evaluation record: the stored ones, else computed from its fields."""
    stored = Consistency.from_dict(record.get("consistency"))
    if stored is not None:
        return stored
    if record.get("text") is None and record.get("think") is None:
        return None
    return check(record.get("think"), record.get("label", record.get("prediction")),
                 labels_of(record.get("label_set")), record.get("audio_status"), record.get("faces"))

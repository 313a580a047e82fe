"""Labelled clip lists for evaluation, from the layouts researchers actually have on disk.

Accepted layouts (auto-detected; ``LAYOUT_HELP`` is the text shown when nothing matches):

manifest
    A ``.csv`` file with a header holding ``path`` and ``label`` columns (other columns ignored),
    or a ``.jsonl`` file with one ``{"path": ..., "label": ...}`` object per line. Relative paths
    are resolved against the manifest's folder.
folders
    ``DATASET/<label>/**/*.mp4``: one sub-folder per label (``Angry``, ``happiness``, ``fearful``
    are all fine: names are normalised like model answers).
ravdess
    RAVDESS file names ``MM-VV-EE-II-SS-RR-AA.mp4`` (modality, vocal channel, emotion, intensity,
    statement, repetition, actor) anywhere under DATASET, e.g. ``Actor_01/01-01-03-01-01-01-01.mp4``.
    Emotion codes 01 neutral, 02 calm, 03 happy, 04 sad, 05 angry, 06 fearful, 07 disgust,
    08 surprised. Full audio-video files (modality 01) are used when present; video-only files
    (modality 02) are then left out and counted in the notes.
dfew
    ``DATASET/EmoLabel_DataSplit/{train,test}(single-labeled)/set_N.csv`` with columns
    ``video_name,label`` (label 1 happy, 2 sad, 3 neutral, 4 angry, 5 surprise, 6 disgust, 7 fear,
    or the label word), clips anywhere under DATASET named by their number (``00001.mp4``). A split
    CSV can be given directly; so can an annotation CSV with columns ``order,1,...,7`` (votes per
    class in the order above; the label is the class with the most votes, ties are left out).
    Default split: ``test`` fold 1 (``--split``, ``--fold``).
mafw
    ``DATASET/Train & Test Set/single/no_caption/set_N/{train,test}.txt`` (also ``Train_Test_Set``),
    lines ``00025.mp4 anger``, clips anywhere under DATASET (``data/clips/00025.mp4``). A split
    ``.txt`` can be given directly. Labels are MAFW's words (anger, happiness, contempt, anxiety,
    helplessness, disappointment, ...), normalised to the model's vocabulary.

Everything returned is a frozen value; loading only lists files, it never decodes video.
"""

from __future__ import annotations

import csv
import json
import os
import re
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import overload

from core import labels as _labels

VIDEO_EXTENSIONS = frozenset(
    {".mp4", ".avi", ".mkv", ".mov", ".webm", ".m4v", ".flv", ".mpg", ".mpeg", ".wmv"}
)
CUSTOM = "custom"

RAVDESS_EMOTIONS = {
    "01": "neutral", "02": "calm", "03": "happy", "04": "sad",
    "05": "angry", "06": "fearful", "07": "disgust", "08": "surprised",
}
RAVDESS_FULL_AV, RAVDESS_VIDEO_ONLY = "01", "02"
_RAVDESS_NAME = re.compile(r"^(\d{2})-(\d{2})-(\d{2})-(\d{2})-(\d{2})-(\d{2})-(\d{2})$")

DFEW_CLASSES = ("happy", "sad", "neutral", "angry", "surprise", "disgust", "fear")  # ids 1..7
DFEW_SPLIT_DIR = "EmoLabel_DataSplit"
MAFW_SPLIT_DIRS = ("Train & Test Set", "Train_Test_Set")
MAFW_SINGLE = Path("single") / "no_caption"
SPLITS = ("test", "train")

LAYOUT_HELP = """\
Accepted dataset layouts:
  manifest  a .csv with a header 'path,label' or a .jsonl of {"path": ..., "label": ...};
            relative paths are resolved against the manifest's folder
  folders   DATASET/<label>/*.mp4 (one sub-folder per label)
  ravdess   RAVDESS names MM-VV-EE-II-SS-RR-AA.mp4 under DATASET (emotion = third field)
  dfew      DATASET/EmoLabel_DataSplit/test(single-labeled)/set_N.csv ('video_name,label', 1..7)
            with the clips (00001.mp4 ...) anywhere under DATASET; or one such CSV directly
  mafw      DATASET/Train & Test Set/single/no_caption/set_N/test.txt ('00025.mp4 anger')
            with the clips anywhere under DATASET; or one such .txt directly"""


class DatasetError(ValueError):
    """The dataset cannot be read as given; the message says what was expected."""


@dataclass(frozen=True)
class LabelledClip:
    key: str  # stable id within the dataset (relative path); results are resumed by it
    path: Path
    label: str  # canonical label, a member of Dataset.labels


@dataclass(frozen=True)
class Dataset:
    root: Path
    layout: str  # manifest | folders | ravdess | dfew | mafw
    label_set: str  # dfew | mafw | ravdess | custom
    labels: tuple[str, ...]
    clips: tuple[LabelledClip, ...]
    notes: tuple[str, ...] = ()  # what was left out or inferred, for the user

    def describe(self) -> str:
        counts = {lab: 0 for lab in self.labels}
        for c in self.clips:
            counts[c.label] += 1
        per = ", ".join(f"{k} {v}" for k, v in counts.items())
        return f"{len(self.clips)} clips ({self.layout} layout, {self.label_set} labels: {per})"


# ----------------------------------------------------------------------------------------- labels


@overload
def resolve_labels(spec: str) -> tuple[str, tuple[str, ...]]: ...


@overload
def resolve_labels(spec: None) -> None: ...


def resolve_labels(spec: str | None) -> tuple[str, tuple[str, ...]] | None:
    """``--labels`` value → (set name, labels). ``None`` → let the layout decide.

    ``spec`` is ``dfew``/``mafw``/``ravdess`` or a text file with one label per line (blank lines
    and ``#`` comments ignored; labels are normalised, e.g. ``Fearful`` → ``fear``).
    """
    if spec is None:
        return None
    key = spec.strip().lower()
    if key in _labels.LABEL_SETS:
        return key, _labels.LABEL_SETS[key]
    path = Path(spec)
    if not path.is_file():
        raise DatasetError(
            f"--labels {spec!r} is neither a known label set ({', '.join(_labels.LABEL_SETS)}) "
            "nor an existing file (one label per line)"
        )
    words = [ln.split("#")[0].strip() for ln in path.read_text(encoding="utf-8").splitlines()]
    found = [_labels.canonical(w) for w in words if w]
    if not found:
        raise DatasetError(f"label file {path} has no labels: write one label per line")
    dupes = sorted({w for w in found if found.count(w) > 1})
    if dupes:
        raise DatasetError(f"label file {path} lists {dupes} more than once (after normalisation)")
    return CUSTOM, tuple(found)


def _infer_label_set(truth: Iterable[str]) -> tuple[str, tuple[str, ...]]:
    present = set(truth)
    for name in ("dfew", "ravdess", "mafw"):  # smallest standard set that covers the data
        if present <= set(_labels.LABEL_SETS[name]):
            return name, _labels.LABEL_SETS[name]
    raise DatasetError(
        f"the labels {sorted(present)} do not fit DFEW, RAVDESS or MAFW; pass --labels FILE with "
        "one label per line (the labels the model should choose from)"
    )


# ---------------------------------------------------------------------------------------- helpers


def _is_video(p: Path) -> bool:
    return p.is_file() and p.suffix.lower() in VIDEO_EXTENSIONS and not p.name.startswith(".")


def _videos_under(root: Path) -> list[Path]:
    return sorted(p for p in root.rglob("*") if _is_video(p))


def _stem_key(name: str) -> str:
    stem = Path(name).stem if Path(name).suffix.lower() in VIDEO_EXTENSIONS else name
    return str(int(stem)) if stem.isdigit() else stem


def _index_by_stem(root: Path) -> dict[str, Path]:
    """Video files under ``root`` by normalised stem (``00025.mp4`` → ``25``); first in sort order wins."""
    index: dict[str, Path] = {}
    for p in _videos_under(root):
        index.setdefault(_stem_key(p.name), p)
    return index


def _key(path: Path, root: Path) -> str:
    """Relative path from the dataset root, symlinks not followed (two links to a file are two clips)."""
    absolute = Path(os.path.abspath(path))
    try:
        return absolute.relative_to(os.path.abspath(root)).as_posix()
    except ValueError:
        return absolute.as_posix()


def _finish(
    root: Path, layout: str, rows: list[tuple[Path, str, str]], labels_spec: str | None,
    default_set: str | None, notes: list[str],
) -> Dataset:
    """rows = (path, raw label, where) → Dataset with normalised, checked labels."""
    if not rows:
        raise DatasetError(f"{root}: no labelled clips found ({layout} layout)\n{LAYOUT_HELP}")
    truth = [_labels.canonical(lab) for _, lab, _ in rows]
    chosen = resolve_labels(labels_spec)
    if chosen is None:
        if default_set is not None:
            chosen = default_set, _labels.LABEL_SETS[default_set]
        else:
            chosen = _infer_label_set(truth)
            notes.append(f"label set inferred from the data: {chosen[0]} (override with --labels)")
    name, labelset = chosen
    bad = [(where, raw) for (_, raw, where), t in zip(rows, truth) if t not in labelset]
    if bad:
        shown = "; ".join(f"{w}: {r!r}" for w, r in bad[:5])
        raise DatasetError(
            f"{len(bad)} clip label(s) are not in the {name} label set {list(labelset)} ({shown}"
            f"{' ...' if len(bad) > 5 else ''}); pass the matching --labels dfew|mafw|ravdess|FILE"
        )
    clips, missing, seen = [], [], set()
    for (path, _, where), t in zip(rows, truth):
        if not path.exists():
            missing.append(f"{where}: {path}")
            continue
        key = _key(path, root)
        if key in seen:
            raise DatasetError(f"{where}: clip {path} is listed twice; each clip may appear once")
        seen.add(key)
        clips.append(LabelledClip(key, path, t))
    if missing and not clips:
        raise DatasetError(
            f"none of the {len(missing)} listed clips exist (first: {missing[0]}); relative paths are "
            f"resolved against {root}"
        )
    if missing:
        notes.append(f"{len(missing)} listed clip(s) not found and left out (first: {missing[0]})")
    return Dataset(root, layout, name, labelset, tuple(clips), tuple(notes))


# ---------------------------------------------------------------------------------------- layouts


def _read_manifest_csv(path: Path) -> list[tuple[Path, str, str]]:
    with path.open(newline="", encoding="utf-8-sig") as f:
        reader = csv.DictReader(f)
        fields = {(h or "").strip().lower(): h for h in reader.fieldnames or []}
        if "path" not in fields or "label" not in fields:
            raise DatasetError(
                f"{path}: a manifest CSV needs a header with 'path' and 'label' columns, found "
                f"{reader.fieldnames}\n{LAYOUT_HELP}"
            )
        rows = []
        for i, row in enumerate(reader, start=2):
            p, lab = (row.get(fields["path"]) or "").strip(), (row.get(fields["label"]) or "").strip()
            if not p and not lab:
                continue
            if not p or not lab:
                raise DatasetError(f"{path}:{i}: both path and label are needed, got {p!r}, {lab!r}")
            rows.append((path.parent / p, lab, f"{path.name}:{i}"))
    return rows


def _read_manifest_jsonl(path: Path) -> list[tuple[Path, str, str]]:
    rows = []
    for i, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        if not line.strip():
            continue
        try:
            obj = json.loads(line)
            p, lab = str(obj["path"]).strip(), str(obj["label"]).strip()
        except (json.JSONDecodeError, KeyError, TypeError):
            raise DatasetError(
                f'{path}:{i}: expected a JSON object {{"path": ..., "label": ...}}, got {line[:80]!r}'
            ) from None
        rows.append((path.parent / p, lab, f"{path.name}:{i}"))
    return rows


def _dfew_label(raw: str, where: str) -> str | None:
    raw = raw.strip()
    if raw.isdigit():
        i = int(raw)
        if not 1 <= i <= len(DFEW_CLASSES):
            raise DatasetError(f"{where}: DFEW label {raw} is outside 1..7 ({', '.join(DFEW_CLASSES)})")
        return DFEW_CLASSES[i - 1]
    return raw or None


def _read_dfew_csv(path: Path, index: dict[str, Path], notes: list[str]) -> list[tuple[Path, str, str]]:
    with path.open(newline="", encoding="utf-8-sig") as f:
        reader = csv.DictReader(f)
        fields = {(h or "").strip().lower(): h for h in reader.fieldnames or []}
        votes = [str(i) for i in range(1, 8)]
        rows, ties = [], 0
        if "video_name" in fields and "label" in fields:
            for i, row in enumerate(reader, start=2):
                name = (row[fields["video_name"]] or "").strip()
                lab = _dfew_label(row[fields["label"]] or "", f"{path.name}:{i}")
                if name and lab:
                    rows.append((index.get(_stem_key(name), path.parent / name), lab, f"{path.name}:{i}"))
        elif "order" in fields and all(v in fields for v in votes):
            for i, row in enumerate(reader, start=2):
                counts = [float(row[fields[v]] or 0) for v in votes]
                best = max(counts)
                if counts.count(best) > 1:
                    ties += 1
                    continue
                name = (row[fields["order"]] or "").strip()
                rows.append((index.get(_stem_key(name), path.parent / name),
                             DFEW_CLASSES[counts.index(best)], f"{path.name}:{i}"))
        else:
            raise DatasetError(
                f"{path}: a CSV needs a header with 'path' and 'label' (manifest) or 'video_name,label' / "
                f"'order,1,...,7' (DFEW), found "
                f"{reader.fieldnames}\n{LAYOUT_HELP}"
            )
    if ties:
        notes.append(f"{ties} DFEW clip(s) with tied votes left out (no single label)")
    return rows


def _read_mafw_txt(path: Path, index: dict[str, Path]) -> list[tuple[Path, str, str]]:
    rows = []
    for i, line in enumerate(path.read_text(encoding="utf-8-sig").splitlines(), start=1):
        parts = [p for p in re.split(r"[\s,]+", line.strip()) if p]
        if not parts:
            continue
        if len(parts) < 2:
            raise DatasetError(f"{path}:{i}: expected 'CLIP LABEL' (e.g. '00025.mp4 anger'), got {line!r}")
        name, lab = parts[0], parts[-1]
        rows.append((index.get(_stem_key(name), path.parent / name), lab, f"{path.name}:{i}"))
    return rows


def _find_ancestor(path: Path, names: Iterable[str]) -> Path | None:
    names = tuple(names)
    for parent in path.resolve().parents:
        if any((parent / n).is_dir() for n in names):
            return parent
    return None


def _ravdess_rows(root: Path, videos: list[Path], notes: list[str]) -> list[tuple[Path, str, str]]:
    parsed: list[tuple[Path, re.Match[str]]] = []
    for p in videos:
        m = _RAVDESS_NAME.match(p.stem)
        if m is None:  # never taken: the caller passes RAVDESS names only
            raise DatasetError(f"{p}: not a RAVDESS file name (seven two-digit fields, e.g. 01-01-03-01-01-01-12)")
        parsed.append((p, m))
    full_av = [pm for pm in parsed if pm[1].group(1) == RAVDESS_FULL_AV]
    chosen = full_av or parsed
    if full_av and len(full_av) < len(parsed):
        notes.append(f"{len(parsed) - len(full_av)} RAVDESS file(s) that are not full audio-video "
                     "(modality 02/03) left out")
    rows = []
    for p, m in chosen:
        code = m.group(3)
        if code not in RAVDESS_EMOTIONS:
            raise DatasetError(f"{p}: RAVDESS emotion code {code} is not one of 01..08")
        rows.append((p, RAVDESS_EMOTIONS[code], _key(p, root)))
    return rows


def _folder_rows(root: Path) -> list[tuple[Path, str, str]]:
    rows = []
    for sub in sorted(d for d in root.iterdir() if d.is_dir() and not d.name.startswith(".")):
        for p in _videos_under(sub):
            rows.append((p, sub.name, _key(p, root)))
    return rows


def load_dataset(
    source: str | Path, labels: str | None = None, *, split: str = "test", fold: int = 1
) -> Dataset:
    """Read a labelled dataset in any accepted layout (see the module docstring).

    ``labels``: ``--labels`` value (``dfew``/``mafw``/``ravdess``/FILE) or ``None`` for the
    layout's own set (inferred from the data for manifests and folders). ``split``/``fold`` pick
    the DFEW/MAFW split file when ``source`` is the dataset's root folder.
    Raises ``DatasetError`` with the expected layout when nothing matches.
    """
    src = Path(source).expanduser()
    notes: list[str] = []
    if split not in SPLITS:
        raise DatasetError(f"split {split!r}: use one of {', '.join(SPLITS)}")
    if not src.exists():
        raise DatasetError(f"dataset {src} does not exist\n{LAYOUT_HELP}")

    if src.is_file():
        suffix = src.suffix.lower()
        if suffix == ".jsonl":
            return _finish(src.parent, "manifest", _read_manifest_jsonl(src), labels, None, notes)
        if suffix == ".csv":
            with src.open(newline="", encoding="utf-8-sig") as f:
                header = [h.strip().lower() for h in next(csv.reader(f), [])]
            if "path" in header and "label" in header:
                return _finish(src.parent, "manifest", _read_manifest_csv(src), labels, None, notes)
            root = _find_ancestor(src, [DFEW_SPLIT_DIR]) or src.parent
            rows = _read_dfew_csv(src, _index_by_stem(root), notes)
            return _finish(root, "dfew", rows, labels, "dfew", notes)
        if suffix == ".txt":
            root = _find_ancestor(src, MAFW_SPLIT_DIRS) or src.parent
            return _finish(root, "mafw", _read_mafw_txt(src, _index_by_stem(root)), labels, "mafw", notes)
        raise DatasetError(f"{src}: not a dataset file (.csv, .jsonl or a MAFW .txt)\n{LAYOUT_HELP}")

    if (src / DFEW_SPLIT_DIR).is_dir():
        split_csv = src / DFEW_SPLIT_DIR / f"{split}(single-labeled)" / f"set_{fold}.csv"
        if not split_csv.is_file():
            raise DatasetError(f"{src} looks like DFEW but {split_csv} is missing\n{LAYOUT_HELP}")
        rows = _read_dfew_csv(split_csv, _index_by_stem(src), notes)
        return _finish(src, "dfew", rows, labels, "dfew", notes)
    for name in MAFW_SPLIT_DIRS:
        if (src / name).is_dir():
            split_txt = src / name / MAFW_SINGLE / f"set_{fold}" / f"{split}.txt"
            if not split_txt.is_file():
                raise DatasetError(f"{src} looks like MAFW but {split_txt} is missing\n{LAYOUT_HELP}")
            return _finish(src, "mafw", _read_mafw_txt(split_txt, _index_by_stem(src)), labels, "mafw", notes)

    videos = _videos_under(src)
    if videos and all(_RAVDESS_NAME.match(p.stem) for p in videos):
        return _finish(src, "ravdess", _ravdess_rows(src, videos, notes), labels, "ravdess", notes)
    rows = _folder_rows(src)
    loose = [p for p in src.iterdir() if _is_video(p)]
    if rows and not loose:
        return _finish(src, "folders", rows, labels, None, notes)
    what = (f"{len(loose)} video file(s) directly in it, so no label is known for them" if loose
            else "no video files in label sub-folders")
    raise DatasetError(f"{src}: no known layout ({what})\n{LAYOUT_HELP}")

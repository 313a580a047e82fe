"""Dataset layouts: each is read from files laid out like the real thing (empty placeholder clips)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from core import labels
from core.evaluation.dataset import DatasetError, load_dataset, resolve_labels


def touch(path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(b"")
    return path


def by_key(ds):
    return {c.key: c.label for c in ds.clips}


def test_csv_manifest_resolves_relative_paths_and_normalises_labels(tmp_path):
    touch(tmp_path / "clips" / "a.mp4")
    touch(tmp_path / "clips" / "b.mp4")
    (tmp_path / "m.csv").write_text("path,label,speaker\nclips/a.mp4,Fearful,x\nclips/b.mp4,surprised,y\n"
                                    "clips/gone.mp4,sad,z\n")
    ds = load_dataset(tmp_path / "m.csv")
    assert ds.layout == "manifest" and ds.label_set == "dfew" and ds.labels == labels.DFEW
    assert by_key(ds) == {"clips/a.mp4": "fear", "clips/b.mp4": "surprise"}
    assert ds.clips[0].path == tmp_path / "clips" / "a.mp4"
    assert any("not found" in n and "gone.mp4" in n for n in ds.notes)
    assert any("inferred" in n for n in ds.notes)


def test_manifest_label_set_inference_picks_the_smallest_covering_set(tmp_path):
    touch(tmp_path / "a.mp4")
    touch(tmp_path / "b.mp4")
    (tmp_path / "m.jsonl").write_text(json.dumps({"path": "a.mp4", "label": "calm"}) + "\n\n"
                                      + json.dumps({"path": "b.mp4", "label": "Anxiety"}) + "\n")
    with pytest.raises(DatasetError, match="--labels FILE"):
        load_dataset(tmp_path / "m.jsonl")  # calm (RAVDESS) + anxious (MAFW): no standard set fits
    (tmp_path / "m.jsonl").write_text(json.dumps({"path": "a.mp4", "label": "calm"}) + "\n")
    assert load_dataset(tmp_path / "m.jsonl").label_set == "ravdess"


def test_manifest_errors_name_the_problem(tmp_path):
    (tmp_path / "m.csv").write_text("file,emotion\na.mp4,sad\n")
    with pytest.raises(DatasetError, match="'path' and 'label'"):
        load_dataset(tmp_path / "m.csv")
    (tmp_path / "m.jsonl").write_text('{"path": "a.mp4"}\n')
    with pytest.raises(DatasetError, match="m.jsonl:1"):
        load_dataset(tmp_path / "m.jsonl")
    (tmp_path / "n.csv").write_text("path,label\nnope.mp4,sad\n")
    with pytest.raises(DatasetError, match="none of the 1 listed clips exist"):
        load_dataset(tmp_path / "n.csv")
    touch(tmp_path / "x.mp4")
    (tmp_path / "d.csv").write_text("path,label\nx.mp4,sad\nx.mp4,sad\n")
    with pytest.raises(DatasetError, match="listed twice"):
        load_dataset(tmp_path / "d.csv")


def test_label_outside_requested_set_is_an_error(tmp_path):
    touch(tmp_path / "a.mp4")
    (tmp_path / "m.csv").write_text("path,label\na.mp4,contempt\n")
    with pytest.raises(DatasetError, match="not in the dfew label set"):
        load_dataset(tmp_path / "m.csv", labels="dfew")
    assert load_dataset(tmp_path / "m.csv", labels="mafw").clips[0].label == "contemptuous"


def test_label_folders(tmp_path):
    touch(tmp_path / "Angry" / "x1.mp4")
    touch(tmp_path / "happiness" / "sub" / "x2.avi")
    touch(tmp_path / "happiness" / "notes.txt")
    (tmp_path / "empty").mkdir()
    ds = load_dataset(tmp_path)
    assert ds.layout == "folders"
    assert by_key(ds) == {"Angry/x1.mp4": "angry", "happiness/sub/x2.avi": "happy"}
    touch(tmp_path / "bored" / "x3.mp4")
    with pytest.raises(DatasetError, match="bored"):
        load_dataset(tmp_path, labels="dfew")


def test_custom_label_file(tmp_path):
    touch(tmp_path / "data" / "Bored" / "x.mp4")
    touch(tmp_path / "data" / "happy" / "y.mp4")
    (tmp_path / "labels.txt").write_text("# my set\nbored\nHappiness\n\n")
    ds = load_dataset(tmp_path / "data", labels=str(tmp_path / "labels.txt"))
    assert ds.label_set == "custom" and ds.labels == ("bored", "happy")
    assert sorted(c.label for c in ds.clips) == ["bored", "happy"]


def test_resolve_labels_errors(tmp_path):
    with pytest.raises(DatasetError, match="neither a known label set"):
        resolve_labels("emotions7")
    (tmp_path / "l.txt").write_text("sad\nsadness\n")
    with pytest.raises(DatasetError, match="more than once"):
        resolve_labels(str(tmp_path / "l.txt"))
    assert resolve_labels("MAFW") == ("mafw", labels.MAFW)


def test_ravdess_names(tmp_path):
    touch(tmp_path / "Actor_01" / "01-01-06-01-01-01-01.mp4")  # full AV, fearful
    touch(tmp_path / "Actor_01" / "01-01-08-02-02-01-01.mp4")  # surprised
    touch(tmp_path / "Actor_02" / "01-02-02-01-01-02-02.mp4")  # song, calm
    touch(tmp_path / "Actor_02" / "02-01-03-01-01-01-02.mp4")  # video-only: left out
    ds = load_dataset(tmp_path)
    assert ds.layout == "ravdess" and ds.labels == labels.RAVDESS
    assert by_key(ds) == {
        "Actor_01/01-01-06-01-01-01-01.mp4": "fear",
        "Actor_01/01-01-08-02-02-01-01.mp4": "surprise",
        "Actor_02/01-02-02-01-01-02-02.mp4": "calm",
    }
    assert any("1 RAVDESS file" in n for n in ds.notes)


def _dfew(root: Path) -> Path:
    for n in (1, 2, 3, 12):
        touch(root / "Clip" / "original" / f"{n:05d}.mp4")
    split = root / "EmoLabel_DataSplit" / "test(single-labeled)"
    split.mkdir(parents=True)
    (split / "set_1.csv").write_text("video_name,label\n1,1\n2,7\n3,5\n")
    (split / "set_2.csv").write_text("video_name,label\n12,3\n")
    return split


def test_dfew_root_split_file_and_votes(tmp_path):
    split = _dfew(tmp_path)
    ds = load_dataset(tmp_path)
    assert ds.layout == "dfew" and ds.label_set == "dfew"
    assert by_key(ds) == {"Clip/original/00001.mp4": "happy", "Clip/original/00002.mp4": "fear",
                          "Clip/original/00003.mp4": "surprise"}
    assert by_key(load_dataset(tmp_path, fold=2)) == {"Clip/original/00012.mp4": "neutral"}
    assert by_key(load_dataset(split / "set_2.csv")) == {"Clip/original/00012.mp4": "neutral"}
    votes = tmp_path / "annotation.csv"
    votes.write_text("order,1,2,3,4,5,6,7\n1,0,0,0,8,1,1,0\n2,5,5,0,0,0,0,0\n")
    ds = load_dataset(votes)
    assert by_key(ds) == {"Clip/original/00001.mp4": "angry"}
    assert any("tied" in n for n in ds.notes)
    with pytest.raises(DatasetError, match=r"train\(single-labeled\)/set_1.csv is missing"):
        load_dataset(tmp_path, split="train")
    (split / "set_3.csv").write_text("video_name,label\n1,9\n")
    with pytest.raises(DatasetError, match="outside 1..7"):
        load_dataset(split / "set_3.csv")


def test_mafw_root_and_split_file(tmp_path):
    for n in (25, 26, 27):
        touch(tmp_path / "data" / "clips" / f"{n:05d}.mp4")
    split = tmp_path / "Train & Test Set" / "single" / "no_caption" / "set_1"
    split.mkdir(parents=True)
    (split / "test.txt").write_text("00025.mp4 anger\n00026.mp4 helplessness\n00027.mp4 contempt\n")
    ds = load_dataset(tmp_path)
    assert ds.layout == "mafw" and ds.labels == labels.MAFW
    assert by_key(ds) == {"data/clips/00025.mp4": "angry", "data/clips/00026.mp4": "helpless",
                          "data/clips/00027.mp4": "contemptuous"}
    assert load_dataset(split / "test.txt").clips == ds.clips
    (split / "bad.txt").write_text("00025.mp4\n")
    with pytest.raises(DatasetError, match="expected 'CLIP LABEL'"):
        load_dataset(split / "bad.txt")


def test_unknown_layout_shows_the_accepted_ones(tmp_path):
    touch(tmp_path / "clip.mp4")
    with pytest.raises(DatasetError, match="no label is known") as e:
        load_dataset(tmp_path)
    assert "Accepted dataset layouts" in str(e.value) and "EmoLabel_DataSplit" in str(e.value)
    with pytest.raises(DatasetError, match="does not exist"):
        load_dataset(tmp_path / "nope")
    (tmp_path / "Train_Test_Set").mkdir()
    with pytest.raises(DatasetError, match="looks like MAFW"):
        load_dataset(tmp_path)


def test_symlinked_clips_keep_their_own_names(tmp_path):
    real = touch(tmp_path / "store" / "real.mp4")
    (tmp_path / "set").mkdir()
    for name in ("a.mp4", "b.mp4"):
        (tmp_path / "set" / name).symlink_to(real)
    (tmp_path / "set" / "m.csv").write_text("path,label\na.mp4,sad\nb.mp4,happy\n../set/a.mp4,sad\n")
    with pytest.raises(DatasetError, match="listed twice"):  # ../set/a.mp4 is a.mp4 again
        load_dataset(tmp_path / "set" / "m.csv")
    (tmp_path / "set" / "m.csv").write_text("path,label\na.mp4,sad\nb.mp4,happy\n")
    assert by_key(load_dataset(tmp_path / "set" / "m.csv")) == {"a.mp4": "sad", "b.mp4": "happy"}

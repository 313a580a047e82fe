"""The consistency rules on hand-written responses: agreeing, disagreeing, synonyms, negations, hedges, no emotion
named; speech without audio; one person while no face or several faces were in view."""

from __future__ import annotations

import pytest

from core import consistency as cc
from core.labels import DFEW, MAFW
from core.results import AnalysisResult, WindowResult


def answer_flag(think, label, labels=DFEW):
    return cc.check_answer(think, label, labels)


@pytest.mark.parametrize("think, label", [
    ("The man frowns and his brows are drawn together. Overall he appears angry.", "angry"),
    ("His jaw is clenched and he raises his voice. The emotion conveyed is anger.", "angry"),  # inflection
    ("She clenches her fists; she looks furious.", "angry"),  # synonym
    ("The woman's eyes widen. She seems astonished by the news.", "surprise"),  # synonym, hedged
    ("At first he smiles, but later he looks frightened.", "fear"),  # the last emotion-naming sentence counts
    ("There is anger mixed with fear in her face.", "fear"),  # several named: the answer is one of them
    ("He is not happy at all. He is sad.", "sad"),  # a negated emotion does not conclude
    ("He looks rather angry.", "angry"),  # "rather" alone is no negation
])
def test_agreeing_answers_raise_no_flag(think, label):
    _, flag = answer_flag(think, label)
    assert flag is None


def test_conclusion_is_the_last_sentence_that_names_an_emotion():
    concluded, _ = answer_flag("He looks happy. Then his face falls and he seems sad. The light is dim.", "sad")
    assert concluded == ("sad",)
    concluded, _ = answer_flag("Anger mixed with fear.", "fear")
    assert concluded == ("angry", "fear")


@pytest.mark.parametrize("think, label, expect", [
    ("Her lips tremble and she looks terrified. The emotion is fear.", "angry",
     "the reasoning concludes fear; the answer is angry"),
    ("He smiles broadly; he is clearly joyful.", "sad", "the reasoning concludes happy; the answer is sad"),
    ("He is not angry but sad.", "angry",
     "the reasoning concludes sad; the answer is angry (the reasoning says not angry)"),
])
def test_disagreeing_answers_are_flagged_with_the_reason(think, label, expect):
    _, flag = answer_flag(think, label)
    assert flag is not None and flag.check == cc.ANSWER
    assert flag.reason == expect


@pytest.mark.parametrize("think", [
    "The man is not angry.",
    "There is no sign of anger in his face.",
    "He does not appear to be angry.",
    "He seems calm rather than angry.",
    "His face is free of anger.",
])
def test_negated_answer_is_flagged(think):
    _, flag = answer_flag(think, "angry")
    assert flag is not None and flag.check == cc.ANSWER
    assert "not ang" in flag.reason or "concludes" in flag.reason


def test_negation_stops_at_the_clause():
    """"not smiling and angry": the negation belongs to smiling; a comma or "but" ends it too."""
    assert cc.emotion_mentions("He is not smiling and looks angry.")[0].negated is False
    assert cc.emotion_mentions("Not happy, but angry.")[1].negated is False
    assert cc.emotion_mentions("Not happy, but angry.")[0].negated is True
    # beyond the window the negation is not seen (a documented limit)
    assert cc.emotion_mentions("There is not a single moment where he looks angry.")[0].negated is False


@pytest.mark.parametrize("think", [
    "The video shows a man in a room under bright light.",  # no emotion named at all
    "",
    None,
])
def test_no_emotion_named_gives_no_conclusion_and_no_flag(think):
    concluded, flag = answer_flag(think, "angry")
    assert concluded == () and flag is None


def test_labels_outside_the_set_are_not_counted():
    # "anxious" is a MAFW label: under DFEW the word names nothing, under MAFW it concludes anxious
    concluded, flag = answer_flag("She looks nervous.", "fear", DFEW)
    assert concluded == () and flag is None
    concluded, flag = answer_flag("She looks nervous.", "fear", MAFW)
    assert concluded == ("anxious",) and flag is not None


def test_free_labels_map_answers_through_the_word_list():
    concluded, flag = answer_flag("He is enraged.", "furious", None)
    assert concluded == ("angry",) and flag is None
    _, flag = answer_flag("He is enraged.", "joyful", None)
    assert flag is not None


def test_unparsed_answer_is_not_compared():
    concluded, flag = answer_flag("She is sad.", None)
    assert concluded == ("sad",) and flag is None


# ---- voice without audio -------------------------------------------------------------------------------------
@pytest.mark.parametrize("status, flagged", [("missing", True), ("silent", True), ("ok", False), ("partial", False),
                                             (None, False)])
def test_speech_described_without_audio(status, flagged):
    flag = cc.check_voice("His voice trembles and he is shouting at someone.", status)
    assert (flag is not None) == flagged
    if flagged:
        assert flag.check == cc.VOICE and "“voice”" in flag.reason and "“shouting”" in flag.reason


@pytest.mark.parametrize("think", [
    "No voice can be heard; his face is tense.",  # negated speech words
    "Without any sound, only his frown tells us he is angry.",
    "The overall tone of the scene is gloomy and he is laughing.",  # bare tone, laughing: not speech
])
def test_no_speech_flag_when_speech_is_negated_or_absent(think):
    assert cc.check_voice(think, "missing") is None


# ---- one person and the faces in view ---------------------------------------------------------------------------
def test_one_person_but_no_frontal_face():
    flag = cc.check_person("The man lowers his head; he is sad.", (0,) * 8)
    assert flag is not None and flag.check == cc.PERSON
    assert "no frontal face" in flag.reason and "“the man”" in flag.reason


def test_one_person_but_several_faces():
    flag = cc.check_person("She smiles at the camera.", (1, 2, 2, 1, 1, 1, 1, 1))
    assert flag is not None and "2 faces were in view" in flag.reason and "“she”" in flag.reason


@pytest.mark.parametrize("think, faces", [
    ("The man frowns.", (1,) * 8),  # one face, one person
    ("The man frowns while the woman beside him laughs; both look tense.", (2,) * 8),  # several people named
    ("They argue loudly.", (2,) * 8),
    ("The scene is dark and still.", (0,) * 8),  # nobody described
    ("The man frowns.", None),  # faces not checked
])
def test_no_person_flag(think, faces):
    assert cc.check_person(think, faces) is None


# ---- the whole check, its logged form and results ---------------------------------------------------------------
def _result(text_think, label, audio_status="ok", faces=(1,) * 8, label_set="dfew"):
    analysis = AnalysisResult(token_ids=(1,), text=f"<think>{text_think}</think><answer>{label}</answer>",
                              think=text_think, answer=label, label=label, parse_status="ok", label_set=label_set,
                              modal="video_audio" if audio_status != "missing" else "video")
    return WindowResult(window_id=3, t0=0.0, t1=4.0, wall_t0=0.0, analysis=analysis, audio_status=audio_status,
                        finished_at=5.0, faces=faces)


def test_result_carries_its_checks_into_its_dict():
    r = _result("The woman speaks softly; her voice breaks. She is sad.", "angry", audio_status="missing",
                faces=(0,) * 8)
    c = r.consistency
    assert [f.check for f in c.flags] == [cc.ANSWER, cc.VOICE, cc.PERSON]
    d = r.to_dict()["consistency"]
    assert d["conclusion"] == ["sad"] and [f["check"] for f in d["flags"]] == list(cc.CHECKS)
    assert cc.Consistency.from_dict(d) == c
    assert cc.of_record(r.to_dict()) == c


def test_of_record_computes_checks_of_old_logs():
    rec = {"think": "He is not angry.", "label": "angry", "label_set": "dfew", "audio_status": "ok", "faces": None,
           "text": "x"}
    assert [f.check for f in cc.of_record(rec).flags] == [cc.ANSWER]
    assert cc.of_record({"label": "angry"}) is None  # nothing to check
    assert cc.Consistency.from_dict({"flags": "junk"}) is None  # a damaged value is not trusted


def test_flag_counts():
    ok = _result("He is angry.", "angry").consistency
    bad = _result("He is sad.", "angry", faces=(0,) * 8).consistency
    counts = cc.flag_counts([ok, bad, None])
    assert counts == {cc.ANSWER: 1, cc.VOICE: 0, cc.PERSON: 1, "checked": 2, "flagged": 1}


def test_logged_checks_from_a_hostile_log_are_bounded():
    d = {"conclusion": ["sad"], "flags": [{"check": cc.VOICE, "reason": "x" * 10_000},
                                           {"check": cc.VOICE, "reason": "again"},
                                           {"check": "rm -rf", "reason": "?"}, {"check": cc.ANSWER, "reason": 7}]}
    c = cc.Consistency.from_dict(d)
    assert [f.check for f in c.flags] == [cc.VOICE] and len(c.flags[0].reason) == cc.MAX_REASON_CHARS
    assert cc.Consistency.from_dict({"conclusion": [{"a": 1}], "flags": []}) is None
    assert cc.Consistency.from_dict({"conclusion": ["x"] * 1000, "flags": []}) is None

"""Timecodes and the [cues]/[[cue]] keys: exact parsing, round trips, and every bad input as a
ScoreError on its line."""

from __future__ import annotations

from fractions import Fraction

import pytest

from symphony.errors import ScoreError
from symphony.score.cues import FPS_CHOICES, format_timecode, parse_timecode
from tests.cues.helpers import load_text, score_text, timecode_seconds


@pytest.mark.parametrize("fps", FPS_CHOICES)
def test_every_frame_of_an_hour_round_trips(fps):
    for frame in range(0, 3600 * fps + 1, 7):
        seconds = Fraction(frame, fps)
        text = format_timecode(seconds, fps)
        assert parse_timecode(text, fps) == seconds
        assert timecode_seconds(text, fps) == seconds


@pytest.mark.parametrize("text, fps, seconds", [
    ("00:00:00:00", 24, Fraction(0)),
    ("00:12:34:05", 24, Fraction(754) + Fraction(5, 24)),
    ("01:00:00:23", 24, Fraction(3600) + Fraction(23, 24)),
    ("00:00:01:24", 25, Fraction(1) + Fraction(24, 25)),
    ("10:59:59:29", 30, Fraction(10 * 3600 + 59 * 60 + 59) + Fraction(29, 30)),
])
def test_parse_timecode(text, fps, seconds):
    assert parse_timecode(text, fps) == seconds


def test_format_floors_to_the_frame_showing():
    assert format_timecode(Fraction(1, 48)) == "00:00:00:00"  # half a frame in: frame 0 still shows
    assert format_timecode(1.0 - 1e-12) == "00:00:01:00"  # float noise below a frame boundary
    assert format_timecode(Fraction(47, 48)) == "00:00:00:23"


@pytest.mark.parametrize("text, fps, fragment", [
    ("0:00:01:00", 24, 'expected "hh:mm:ss:ff"'),
    ("00:00:01", 24, 'expected "hh:mm:ss:ff"'),
    ("00:00:01;12", 24, 'expected "hh:mm:ss:ff"'),
    ("00:60:00:00", 24, "minutes must be 00..59, got 60"),
    ("00:00:61:00", 24, "seconds must be 00..59, got 61"),
    ("00:00:01:24", 24, "frame 24 does not exist at 24 fps (frames run 00..23)"),
    ("00:00:01:25", 25, "frame 25 does not exist at 25 fps"),
])
def test_bad_timecodes_raise_value_error(text, fps, fragment):
    with pytest.raises(ValueError) as info:
        parse_timecode(text, fps)
    assert fragment in str(info.value)


def _line_of(text: str, start: str) -> int:
    """Line of ``start`` (a key, or a table header) in the [cues]/[[cue]] part of ``text``."""
    lines = text.splitlines()
    first = next(i for i, line in enumerate(lines) if line in ("[cues]", "[[cue]]"))
    return next(i for i, line in enumerate(lines, 1) if i > first and line.startswith(start))


@pytest.mark.parametrize("cue, table, key, fragment, hint", [
    ({"bar": 5, "timecode": '"00:00:08:24"'}, "", "timecode",
     "bad timecode '00:00:08:24': frame 24 does not exist at 24 fps", 'write "hh:mm:ss:ff" at 24 fps'),
    ({"bar": 5, "timecode": '"00:00:08:24"'}, "fps = 25", "timecode", None, None),  # fine at 25 fps
    ({"bar": 5, "timecode": '"8 seconds"'}, "", "timecode", "bad timecode '8 seconds'", "or seconds as a number"),
    ({"bar": 5, "timecode": 8}, "", "timecode", "timecode must be a string, got 8", 'timecode = "00:12:34:05"'),
    ({"bar": 5, "at": '"8"'}, "", "at", "at must be a number, got '8'", "without quotes"),
    ({"bar": 5, "at": -1.0}, "", "at", "at must be in 0..360000 s, got -1.0", "between 0"),
    ({"bar": 5, "timecode": '"00:00:08:00"', "at": 8}, "", "[[cue]]", "needs exactly one of timecode or at",
     "at = <seconds>"),
    ({"bar": 5}, "", "[[cue]]", "cue 'bar 5' needs exactly one of timecode or at", "timecode ="),
    ({"bar": 1, "timecode": '"00:00:01:00"'}, "", "bar", "pins bar 1 beat 1, which always sounds at [cues] offset",
     'set [cues] offset = "00:00:01:00"'),
    ({"bar": 5, "timecode": '"00:59:00:00"'}, 'offset = "01:00:00:00"', "timecode",
     "at 00:59:00:00 is not after bar 1, which starts at the offset 01:00:00:00", "check the timecode"),
    ({"bar": 5, "beat": 5, "timecode": '"00:00:08:00"'}, "", "beat", "beat 5 is past the end of bar 5 (4/4)",
     "beats in this bar run 1..4"),
    ({"bar": 5, "timcode": '"00:00:08:00"'}, "", "timcode", "unknown key 'timcode' in [[cue]]",
     "did you mean 'timecode'?"),
    ({"bar": 5, "timecode": '"00:00:08:00"'}, "fps = 23", "fps", "fps must be one of 24, 25, 30, got 23", "24 fps"),
    ({"bar": 5, "timecode": '"00:00:08:00"'}, "min_bpm = 150\nmax_bpm = 100", "min_bpm",
     "min_bpm must be below max_bpm, got 150 >= 100", "min_bpm = 60"),
    ({"bar": 5, "timecode": '"00:00:08:00"'}, "max_bpm = 500", "max_bpm", "max_bpm must be in 20..400, got 500.0",
     "between 20 and 400"),
    ({"bar": 5, "timecode": '"00:00:08:00"'}, 'offset = "01:00:00"', "offset",
     "bad timecode '01:00:00': expected \"hh:mm:ss:ff\" in [cues] offset", "hh:mm:ss:ff"),
    ({"bar": 5, "timecode": '"00:00:08:00"'}, "ofset = 0", "ofset", "unknown key 'ofset' in [cues]",
     "did you mean 'offset'?"),
])
def test_bad_cue_input_is_a_score_error_on_its_line(cue, table, key, fragment, hint):
    text = score_text(cues_table=table, cues=[cue])
    if fragment is None:
        assert load_text(text).cues[0].seconds == Fraction(8) + Fraction(24, 25)
        return
    with pytest.raises(ScoreError) as info:
        load_text(text)
    err = next((p for p in info.value.problems if fragment in p.message), None)
    assert err is not None, info.value.format()
    assert hint in err.hint, info.value.format()
    assert err.line == _line_of(text, key if key.startswith("[") else f"{key} ="), err.format()


def _two_cues(first: dict, second: dict) -> str:
    return score_text(cues=[first, second])


def test_cues_must_be_sorted_by_bar():
    text = _two_cues({"bar": 9, "timecode": '"00:00:16:00"'}, {"bar": 5, "timecode": '"00:00:18:00"'})
    with pytest.raises(ScoreError, match=r"cue 'bar 5' at bar 5 is not after cue 'bar 9' at bar 9: \[\[cue\]\] "
                                         r"entries must be sorted") as info:
        load_text(text)
    assert info.value.line == _line_of(text, "bar = 5")


def test_later_bars_need_later_times():
    text = _two_cues({"name": '"door"', "bar": 5, "timecode": '"00:00:10:00"'},
                     {"name": '"cut"', "bar": 9, "timecode": '"00:00:10:00"'})
    with pytest.raises(ScoreError, match=r"cue 'cut' at bar 9 is at 00:00:10:00, not after cue 'door' at bar 5 "
                                         r"\(00:00:10:00\)"):
        load_text(text)


def test_every_problem_is_reported_at_once():
    text = score_text(cues_table="fps = 23", cues=[{"bar": 5, "timecode": '"00:00:08:99"'},
                                                    {"bar": 9, "timcode": '"x"'}])
    with pytest.raises(ScoreError) as info:
        load_text(text)
    messages = [p.message for p in info.value.problems]
    assert len(messages) == 4, messages  # fps, the bad frame, the unknown key, no timecode/at
    assert [p.line for p in info.value.problems] == sorted(p.line for p in info.value.problems)


def test_cues_and_cue_in_the_wrong_shape():
    with pytest.raises(ScoreError, match="cues must be a table"):
        load_text('cues = 3\n' + score_text())
    with pytest.raises(ScoreError, match="cue must be an array"):
        load_text('cue = "bar 5"\n' + score_text())


def test_a_cue_past_the_end_of_the_chapter_is_an_error():
    ok = load_text(score_text(bars=8, cues=[{"bar": 9, "timecode": '"00:00:16:00"'}]))  # the end itself
    assert ok.cues[0].bar == 9 and ok.end_beat == ok.cues[0].start_beat
    text = score_text(bars=8, cues=[{"name": '"late"', "bar": 9, "beat": 2, "timecode": '"00:00:16:00"'}])
    with pytest.raises(ScoreError, match=r"cue 'late' pins bar 9, past the end of the chapter \(it ends at the "
                                         r"start of bar 9\)") as info:
        load_text(text)
    assert "raise chapter.bars to at least 9" in info.value.hint
    assert info.value.line == _line_of(text, "timecode =")

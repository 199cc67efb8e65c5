"""Tempo-map timing: events land on the sample a hand calculation gives, ramps included."""

from __future__ import annotations

import math
from fractions import Fraction

import numpy as np
import pytest

from symphony.catalog import load
from symphony.conductor import Conductor, build_timeline, NOTE_ON
from symphony.score.model import Position, TempoChange
from symphony.tempo import TempoMap
from tests.conftest import write_score

P = Position("hand")

RAMP_SCORE = """
[chapter]
title = "Timing"
number = 1
seed = 1
sample_rate = {sr}
tail_seconds = 0.5

[[tempo]]
bar = 1
bpm = 120
[[tempo]]
bar = 3
bpm = 140
ramp_bars = 1

[[meter]]
bar = 1
signature = "4/4"
[[meter]]
bar = 4
signature = "7/8"
[[meter]]
bar = 5
signature = "4/4"

[section.drums]
instrument = "drum_machine"

[[passage]]
name = "hit"
bar = 5
bars = 1
sections = ["drums"]
step = "1/8"
pattern = {{ kick = "x......." }}
"""


def hand_seconds_bar5() -> float:
    # bars 1-2: 8 beats at 120 bpm = 4 s
    # bar 3: ramp 120 -> 140 bpm over 4 beats, linear in beats: slope 5 bpm/beat,
    #        t = 60 / 5 * ln(140 / 120)
    # bar 4: 7/8 = 3.5 quarter beats at 140 bpm = 1.5 s
    return 4.0 + 12.0 * math.log(140.0 / 120.0) + 1.5


@pytest.mark.parametrize("sr", [22050, 44100, 48000])
def test_event_at_bar_5_lands_on_the_hand_computed_sample(tmp_path, sr):
    score = load(write_score(tmp_path, RAMP_SCORE.format(sr=sr)))
    assert score.bar_to_beat(5) == Fraction(31, 2)
    expected = round(hand_seconds_bar5() * sr)
    timeline = build_timeline(score, TempoMap(score.tempos, sr))["drums"]
    onsets = timeline.frames[timeline.kinds == NOTE_ON]
    assert onsets.tolist() == [expected]
    audio = Conductor(score).render(master=False)
    nonzero = np.flatnonzero(np.abs(audio).max(axis=0) > 0)
    assert nonzero[0] in (expected, expected + 1)  # silence up to the onset, sound right after
    assert np.abs(audio[:, expected:expected + 64]).max() > 1e-3


def test_constant_tempo_is_exact_fraction():
    tm = TempoMap([TempoChange(1, Fraction(0), 90.0, Fraction(0), P)], 44100)
    # 3 beats at 90 bpm = 2 s exactly
    assert tm.seconds_at(Fraction(3)) == Fraction(2)
    assert tm.frame_at(Fraction(3)) == 88200


def test_ramp_closed_form_matches_numerical_integral():
    tm = TempoMap([TempoChange(1, Fraction(0), 60.0, Fraction(0), P),
                   TempoChange(2, Fraction(4), 180.0, Fraction(8), P)], 48000)
    beats = np.linspace(4.0, 12.0, 200_001)
    bpm = 60.0 + (180.0 - 60.0) * (beats - 4.0) / 8.0
    integral = 4.0 + np.trapezoid(60.0 / bpm, beats)
    assert float(tm.seconds_at(Fraction(12))) == pytest.approx(integral, rel=1e-9)
    # after the ramp the tempo holds at 180 bpm
    assert float(tm.seconds_at(Fraction(15))) == pytest.approx(float(tm.seconds_at(Fraction(12))) + 1.0, rel=1e-12)
    assert tm.bpm_at(Fraction(8)) == pytest.approx(120.0)


def test_beat_at_seconds_inverts_seconds_at():
    tm = TempoMap([TempoChange(1, Fraction(0), 100.0, Fraction(0), P),
                   TempoChange(3, Fraction(8), 70.0, Fraction(6), P),
                   TempoChange(6, Fraction(20), 150.0, Fraction(0), P)], 48000)
    for beat in [Fraction(0), Fraction(5), Fraction(9), Fraction(27, 2), Fraction(17), Fraction(30)]:
        assert tm.beat_at_seconds(float(tm.seconds_at(beat))) == pytest.approx(float(beat), abs=1e-9)


def test_ramp_cut_short_by_next_change():
    # a ramp over 8 beats interrupted after 4 by a new tempo: the new change starts from
    # the tempo reached at that point (60 -> 120 halfway = 90)
    tm = TempoMap([TempoChange(1, Fraction(0), 60.0, Fraction(0), P),
                   TempoChange(2, Fraction(4), 120.0, Fraction(8), P),
                   TempoChange(3, Fraction(8), 90.0, Fraction(0), P)], 48000)
    assert tm.bpm_at(Fraction(7)) == pytest.approx(60.0 + 7.5 * 3)
    assert tm.bpm_at(Fraction(9)) == 90.0
    expected = 4.0 + 60.0 / 7.5 * math.log(90.0 / 60.0)
    assert float(tm.seconds_at(Fraction(8))) == pytest.approx(expected, rel=1e-12)

"""The cue solve: pinned bars land on the exact sample of their film time, the written tempo
shape is kept (one factor per stretch), ramps stay continuous, and impossible pins fail
with the needed tempo, the limits and a window that really works."""

from __future__ import annotations

import dataclasses
import re
from fractions import Fraction
from pathlib import Path

import numpy as np
import pytest
from scipy.integrate import quad

from symphony.errors import ScoreError
from symphony.tempo import TempoMap
from tests.cues.helpers import load_text, score_text, timecode_seconds

REPO = Path(__file__).resolve().parents[2]
RATES = [22050, 44100, 48000]
EPS = Fraction(1, 10**9)  # a billionth of a beat


def _integrated_seconds(tm: TempoMap, beat: Fraction) -> float:
    """Seconds at ``beat`` by numerical quadrature of 60 / bpm(b), piece by piece."""
    edges = sorted({Fraction(0), beat} | {s.start_beat for s in tm.segments if s.start_beat < beat}
                   | {s.end_beat for s in tm.segments if s.end_beat is not None and s.end_beat < beat})
    return sum(quad(lambda b: 60.0 / tm.bpm_at(Fraction(b)), float(a), float(b), epsabs=1e-13, epsrel=1e-13)[0]
               for a, b in zip(edges, edges[1:]))


#: meters, written tempi, cues (timecodes at 24 fps, no offset): every kind of stretch
CASES = {
    "constant": (((1, "4/4"),), (("1", 120),), (("the cut", 9, 1, "00:00:15:13"),)),
    "meter change and ramp before the cue": (
        ((1, "4/4"), (3, "7/8"), (4, "4/4")), (("1", 100), ("5", 130, 2)),
        (("door", 9, 1, "00:00:20:07"), ("cut", 13, 3, "00:00:28:11"))),
    "ramp starting at the pinned bar": (
        ((1, "4/4"),), (("1", 96), ("5", 132, 4)),
        (("a", 5, 1, "00:00:09:17"), ("b", 11, 1, "00:00:21:05"))),
    "cue inside a ramp": (
        ((1, "3/4"),), (("1", 90), ("3", 150, 6)),
        (("mid-ramp", 6, 2, "00:00:09:01"), ("after", 12, 1, "00:00:18:19"))),
    "mid-bar tempo change and 5/8": (
        ((1, "4/4"), (4, "5/8")), (("1", 110), ("2.3", 80), ("6", 140, 1)),
        (("x", 4, 1, "00:00:06:23"), ("y", 7, 4, "00:00:11:12"), ("z", 10, 1, "00:00:15:02"))),
}


def _load_case(name: str, offset: str = ""):
    meters, tempos, cues = CASES[name]
    text = score_text(meters=meters, tempos=tempos, bars=16,
                      cues_table=f'offset = "{offset}"' if offset else "",
                      cues=[{"name": f'"{n}"', "bar": bar, "beat": beat, "timecode": f'"{tc}"'}
                            for n, bar, beat, tc in cues])
    return load_text(text), cues


@pytest.mark.parametrize("sample_rate", RATES)
@pytest.mark.parametrize("case", sorted(CASES))
def test_pinned_bars_land_on_the_exact_sample(case, sample_rate):
    score, cues = _load_case(case)
    tm = TempoMap(score.tempos, sample_rate)
    assert len(score.cues) == len(cues)
    for cue, (_, bar, beat, tc) in zip(score.cues, cues):
        unit = Fraction(4, score.meter_at_bar(bar).denominator)
        pinned_beat = score.bar_to_beat(bar) + (beat - 1) * unit
        assert cue.start_beat == pinned_beat
        assert tm.frame_at(pinned_beat) == round(timecode_seconds(tc) * sample_rate)
    # the floating-point sum agrees with the exact pins long before rounding could matter
    assert tm.anchor_drift_seconds < 1e-10


def test_a_half_sample_tie_rounds_like_the_exact_time():
    # 24 fps at 44.1 kHz: an odd frame falls exactly between two samples (1837.5 per frame)
    score, cues = _load_case("meter change and ramp before the cue")
    tm = TempoMap(score.tempos, 44100)
    exact = timecode_seconds(cues[0][3]) * 44100
    assert exact.denominator == 2  # 00:00:20:07 is a tie
    assert tm.frame_at(score.cues[0].start_beat) == round(exact)  # round half to even, exactly


@pytest.mark.parametrize("case", sorted(CASES))
def test_the_solved_tempo_integrates_to_the_film_times(case):
    """Quadrature of 60/bpm over the solved tempo function reaches each pin at its time (1 us)."""
    score, cues = _load_case(case)
    tm = TempoMap(score.tempos, 48000)
    for cue, (_, _, _, tc) in zip(score.cues, cues):
        assert _integrated_seconds(tm, cue.start_beat) == pytest.approx(float(timecode_seconds(tc)), abs=1e-6)


@pytest.mark.parametrize("case", sorted(CASES))
def test_one_factor_per_stretch_and_the_written_tempo_after_the_last_cue(case):
    score, _ = _load_case(case)
    solved, written = TempoMap(score.tempos, 48000), TempoMap(score.written_tempos, 48000)
    start = Fraction(0)
    for cue in score.cues:
        ramp_at_start = start > 0 and written.bpm_at(start) != written.bpm_at(start + EPS * 10**6)
        for x in np.linspace(0.02, 0.98, 25):
            beat = start + (cue.start_beat - start) * Fraction(x).limit_denominator(1000)
            in_first_ramp = ramp_at_start and any(s.start_beat == start and s.end_beat and beat < s.end_beat
                                                  for s in solved.segments)
            if not in_first_ramp:
                assert solved.bpm_at(beat) / written.bpm_at(beat) == pytest.approx(cue.scale, rel=1e-12)
        start = cue.start_beat
    after = start + Fraction(1, 3)
    in_ramp = any(s.start_beat <= start and s.end_beat and start < s.end_beat and s.slope for s in solved.segments)
    if not in_ramp:
        assert solved.bpm_at(after) == pytest.approx(written.bpm_at(after), rel=1e-12)


@pytest.mark.parametrize("case", ["ramp starting at the pinned bar", "cue inside a ramp"])
def test_ramps_stay_continuous_across_a_pinned_bar(case):
    score, _ = _load_case(case)
    tm = TempoMap(score.tempos, 48000)
    for cue in score.cues[:1]:
        assert tm.bpm_at(cue.start_beat - EPS) == pytest.approx(tm.bpm_at(cue.start_beat), rel=1e-6)


def test_the_offset_shifts_every_cue_into_render_time():
    plain, cues = _load_case("constant")
    shifted, _ = _load_case("constant", offset="00:00:00:00")
    later = load_text(score_text(cues_table='offset = "01:00:00:00"',
                                 cues=[{"bar": 9, "timecode": '"01:00:15:13"'}]))
    assert later.cues[0].seconds == plain.cues[0].seconds == timecode_seconds(cues[0][3])
    assert later.tempos == tuple(dataclasses.replace(t, position=p.position) for t, p in
                                 zip(plain.tempos, later.tempos))
    assert shifted.cues[0].seconds == plain.cues[0].seconds


def test_seconds_and_timecode_pins_agree():
    by_tc = load_text(score_text(cues=[{"bar": 9, "timecode": '"00:00:15:12"'}]))
    by_at = load_text(score_text(cues=[{"bar": 9, "at": 15.5}]))
    assert by_tc.cues[0].seconds == by_at.cues[0].seconds == Fraction(31, 2)
    assert [t.bpm for t in by_tc.tempos] == [t.bpm for t in by_at.tempos]


def test_scores_without_cues_keep_their_written_tempi():
    from symphony.catalog import load

    score = load(REPO / "scores" / "example-01-foundry.toml")
    assert score.cues == () and score.tempos == score.written_tempos
    assert all(t.at_seconds is None for t in score.tempos)


def test_random_scores_land_exactly():
    """Seeded random meters, tempi, ramps and cues: every pin exact at 44.1 and 48 kHz."""
    rng = np.random.default_rng(1927)
    signatures = ["4/4", "3/4", "7/8", "5/4", "6/8", "2/2"]
    for _ in range(25):
        meters = [(1, rng.choice(signatures))] + [(int(b), rng.choice(signatures))
                                                  for b in sorted(rng.choice(np.arange(2, 30), 3, replace=False))]
        tempos, bar = [("1", int(rng.integers(70, 150)))], 1
        while True:
            bar += int(rng.integers(2, 7))
            if bar > 28:
                break
            tempos.append((str(bar), int(rng.integers(70, 150)), int(rng.integers(0, 3))))
            bar += tempos[-1][2]
        text = score_text(meters=meters, tempos=tempos, bars=32)
        written = TempoMap(load_text(text).tempos, 48000)
        pins = sorted(rng.choice(np.arange(2, 32), 3, replace=False))
        cues, film = [], Fraction(0)
        score0 = load_text(text)
        for pin in pins:
            t = written.seconds_at(score0.bar_to_beat(int(pin))) * float(rng.uniform(0.93, 1.07))
            frame = max(round(float(t) * 24), int(film * 24) + 1)
            film = Fraction(frame, 24)
            cues.append({"bar": int(pin), "at": repr(float(film)) if frame % 3 == 0 else None,
                         "timecode": f'"00:{frame // 1440:02d}:{frame // 24 % 60:02d}:{frame % 24:02d}"'})
        for c in cues:  # some by seconds, the rest by timecode
            if c["at"] is not None and float(c["at"]) * 24 == round(float(c["at"]) * 24):
                del c["timecode"]
            else:
                del c["at"]
        try:
            score = load_text(score_text(meters=meters, tempos=tempos, bars=32, cues=cues))
        except ScoreError as exc:  # a random pin may be outside 20..400 bpm: then say so
            assert "outside the limits" in str(exc)
            continue
        for rate in (44100, 48000):
            tm = TempoMap(score.tempos, rate)
            for cue in score.cues:
                assert tm.frame_at(cue.start_beat) == round(cue.seconds * rate)
            assert tm.anchor_drift_seconds < 1e-9


# ------------------------------------------------------------------------ impossible pins
def _impossible(**cue_table):
    text = score_text(tempos=(("1", 120),), cues_table="\n".join(f"{k} = {v}" for k, v in cue_table.items()),
                      cues=[{"name": '"the cut"', "bar": 5, "timecode": '"00:00:06:00"'}])
    with pytest.raises(ScoreError) as info:
        load_text(text)
    return info.value, text


def test_an_impossible_pin_names_the_needed_tempo_the_limits_and_the_line():
    err, text = _impossible(max_bpm=140)
    line = next(i for i, l in enumerate(text.splitlines(), 1) if l.startswith("timecode"))
    assert err.line == line
    assert "cue 'the cut' cannot land bar 5 on 00:00:06:00" in err.message
    assert "bars 1-4 would need 160.00 bpm (+33.33% on the written tempo)" in err.message
    assert "outside the limits 20..140 bpm" in err.message
    assert "raise max_bpm to 160" in err.hint


def test_max_change_percent_is_a_limit_too():
    err, _ = _impossible(max_change_percent=5)
    assert "at most 5% from the written tempo" in err.message and "raise max_change_percent to 33.4" in err.hint


def test_too_slow_asks_to_lower_min_bpm():
    text = score_text(tempos=(("1", 120),), cues_table="min_bpm = 100",
                      cues=[{"bar": 5, "timecode": '"00:00:12:00"'}])
    with pytest.raises(ScoreError, match=r"would need 80\.00 bpm .*outside the limits 100\.\.400 bpm") as info:
        load_text(text)
    assert "lower min_bpm to 80" in info.value.hint


@pytest.mark.parametrize("table", ["max_bpm = 140", "min_bpm = 100\nmax_bpm = 130", "max_change_percent = 7"])
def test_the_window_in_the_hint_is_exactly_right(table):
    """Pinning at the first/last frame the hint allows works; one frame outside fails."""
    tempos = (("1", 110), ("3", 130, 1))
    cue = {"bar": 5, "timecode": '"00:00:01:00"'}
    with pytest.raises(ScoreError) as info:
        load_text(score_text(tempos=tempos, cues_table=table, cues=[cue]))
    first, last = re.search(r"between (\S+) and (\S+) \(film time\)", info.value.hint).groups()
    frames = [timecode_seconds(tc) * 24 for tc in (first, last)]
    for frame, ok in ((frames[0], True), (frames[1], True), (frames[0] - 1, False), (frames[1] + 1, False)):
        frame = int(frame)
        tc = f'"00:00:{frame // 24:02d}:{frame % 24:02d}"'
        text = score_text(tempos=tempos, cues_table=table, cues=[dict(cue, timecode=tc)])
        if ok:
            load_text(text)
        else:
            with pytest.raises(ScoreError, match="outside the limits"):
                load_text(text)


def test_per_cue_limits_override_the_cues_table():
    text = score_text(cues_table="max_bpm = 140",
                      cues=[{"bar": 5, "timecode": '"00:00:06:00"', "max_bpm": 170}])
    assert load_text(text).cues[0].max_bpm == 170.0


@pytest.mark.parametrize("sample_rate", RATES)
def test_notes_on_pinned_bars_start_on_the_cue_sample(sample_rate):
    """End to end through the Conductor's timeline: the drums enter on the cut (bar 5) and the
    low C hits the siren (bar 11 beat 3) on exactly the frames of their film times."""
    from symphony.catalog import load
    from symphony.conductor import Conductor, build_timeline

    score = load(REPO / "scores" / "example-03-picture.toml")
    conductor = Conductor(score, sample_rate=sample_rate)
    timeline = build_timeline(score, conductor.tempo_map)
    cut = round((timecode_seconds("01:00:09:12") - 3600) * sample_rate)
    siren = round(Fraction(23) * sample_rate)
    assert timeline["drums"].frames[0] == cut
    ons = timeline["bass"].frames[timeline["bass"].kinds == 1]
    assert cut in ons and siren in ons

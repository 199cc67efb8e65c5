"""Per-step drum tuning: ``tune = { voice = [semitones, ...] }`` on a step pattern.

The offsets go to the row's hits in order, cycling; the drum machine plays ``pitch - 60``
semitones away from the voice's nominal tuning, so a tuned step must sound at the
nominal frequency times ``2 ** (offset / 12)``.
"""

from __future__ import annotations

from fractions import Fraction as F

import numpy as np
import pytest

from symphony.conductor import Conductor
from symphony.errors import ScoreError
from symphony.score import load_score

SCORE = '''[chapter]
title = "Tuned toms"
seed = 3
[[tempo]]
bar = 1
bpm = 120
[section.drums]
instrument = "drum_machine"
[[passage]]
name = "fill"
bar = 1
bars = 1
sections = ["drums"]
step = "1/4"
pattern = {{ tom_low = "x.xx" }}
{tune}
'''


def score(tune: str, catalog):
    return load_score("t.toml", catalog, text=SCORE.format(tune=tune))


def test_offsets_cycle_over_the_rows_hits(catalog) -> None:
    notes = score('tune = { tom_low = [0, 7] }', catalog).notes
    assert [(n.start_beat, n.pitch) for n in notes] == [(F(0), 60.0), (F(2), 67.0), (F(3), 60.0)]


def test_single_number_and_no_tune(catalog) -> None:
    assert [n.pitch for n in score('tune = { tom_low = -5 }', catalog).notes] == [55.0] * 3
    assert [n.pitch for n in score("", catalog).notes] == [60.0] * 3


@pytest.mark.parametrize("tune, fragment", [
    ('tune = { kick = [0, 2] }', "tune for 'kick', which has no row in this pattern"),
    ('tune = { tom_low = [0, "up"] }', "must be a number or a non-empty list of numbers"),
    ('tune = { tom_low = [] }', "must be a number or a non-empty list of numbers"),
    ('tune = { tom_low = [30] }', "outside -24..24"),
    ('tune = "low"', "tune must be a table"),
])
def test_bad_tunes_name_the_line(tune, fragment, catalog) -> None:
    with pytest.raises(ScoreError) as info:
        score(tune, catalog)
    assert fragment in info.value.format()
    assert info.value.line == 16  # the tune line


def test_tune_outside_a_pattern_is_refused(catalog) -> None:
    text = SCORE.format(tune='tune = { tom_low = 2 }').replace('step = "1/4"\npattern = { tom_low = "x.xx" }',
                                                             'notes = "c4 1/2 c4 c4 |"')
    text = text.replace('instrument = "drum_machine"', 'instrument = "acid_bass"')
    with pytest.raises(ScoreError, match="tune belongs to step patterns, not to a notes passage"):
        load_score("t.toml", catalog, text=text)


def _dominant_hz(x: np.ndarray, sample_rate: int) -> float:
    spectrum = np.abs(np.fft.rfft(x * np.hanning(x.size), 8 * x.size))
    return float(np.argmax(spectrum) * sample_rate / (8 * x.size))


def test_a_tuned_step_sounds_at_the_shifted_pitch(catalog) -> None:
    """Render: the third hit (7 semitones up) sounds 2**(7/12) above the first (nominal)."""
    sr = 48000
    s = load_score("t.toml", catalog, text=SCORE.format(tune='tune = { tom_low = [0, 7] }'))
    audio = Conductor(s, sample_rate=sr).render(master=False)[0]
    beat = sr // 2  # 120 bpm
    # the tom's body: 40-200 ms after each hit, clear of the pitch-drop transient
    first = _dominant_hz(audio[int(0.04 * sr):int(0.2 * sr)], sr)
    third = _dominant_hz(audio[2 * beat + int(0.04 * sr):2 * beat + int(0.2 * sr)], sr)
    assert third / first == pytest.approx(2 ** (7 / 12), rel=0.03)

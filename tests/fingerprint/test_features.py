"""Fingerprint features measure what they claim: band level, pitch class, timing, pitch, onsets."""

from __future__ import annotations

import numpy as np
import pytest

from symphony.fingerprint import features as F
from symphony.fingerprint import fingerprint_audio

SR = F.ANALYSIS_RATE


def tone(freq_hz: float, seconds: float = 2.0, *, amplitude: float = 0.5, sample_rate: int = SR,
         channels: int = 2) -> np.ndarray:
    t = np.arange(int(seconds * sample_rate)) / sample_rate
    return np.tile(amplitude * np.sin(2 * np.pi * freq_hz * t), (channels, 1))


def band_centre(k: int) -> float:
    edges = F.erb_band_edges()
    return float(np.sqrt(edges[k] * edges[k + 1]))


@pytest.mark.parametrize("input_rate", [22050, 44100, 48000])
@pytest.mark.parametrize("band", [3, 9, 15])
def test_band_level_of_a_sine_is_its_mean_square(input_rate, band):
    """A sine of amplitude A reads 20 log10(A) - 3.01 dB in its band (+-0.5 dB quantization)."""
    f = band_centre(band)
    amplitude = 0.3
    g = F.grid_features(F.to_analysis_rate(tone(f, 4.0, amplitude=amplitude, sample_rate=input_rate), input_rate))
    middle = g.bands[2:-2, band]  # frames whose 743 ms window lies inside the tone
    expected = 20 * np.log10(amplitude) - 3.0103
    assert np.all(np.abs(middle - expected) <= 0.5 + 0.05), (middle, expected)
    others = np.delete(g.bands[2:-2], band, axis=1)
    assert others.max() < expected - 30.0  # leakage stays out of the other bands


def test_silence_sits_at_the_floor_and_dither_does_not_lift_it():
    rng = np.random.default_rng(0)
    silence = np.zeros((2, SR * 2))
    dither = (rng.random(silence.shape) - rng.random(silence.shape)) / 32767.0  # 16-bit TPDF
    for x in (silence, dither):
        g = F.grid_features(x)
        assert np.all(g.bands == F.FLOOR_DB)
        assert np.all(g.timing == 0.0) and np.all(g.pitch == 0.0)
        assert len(F.onset_features(x)) == 0


@pytest.mark.parametrize("cents,strong", [(0.0, {"A"}), (50.0, {"A", "A#"}), (-50.0, {"G#", "A"})])
def test_chroma_names_the_sounding_pitch_classes(cents, strong):
    """Chroma is in dB under the strongest class: a sine 50 cents off splits its power
    equally between two classes (linear assignment in cents), the others stay out of range."""
    names = ("C", "C#", "D", "D#", "E", "F", "F#", "G", "G#", "A", "A#", "B")
    g = F.grid_features(tone(440.0 * 2 ** (cents / 1200), 4.0))
    for row in g.chroma[2:-2]:
        assert {names[k] for k in np.nonzero(row == 0.0)[0]} == strong
        others = row[[names.index(n) for n in names if n not in strong]]
        # the window's main lobe (+-2 bins, +-10 cents at 440 Hz) leaks a little into the
        # neighbouring classes; the rest sit at the bottom of the range
        assert others.max() <= -12.0 and np.sum(others > -F.CHROMA_RANGE_DB) <= 2
    silent = F.grid_features(np.zeros((2, SR)))
    assert np.all(silent.chroma == -F.CHROMA_RANGE_DB)  # no class at 0 dB: the frame holds no chroma


@pytest.mark.parametrize("freq_hz", [220.0, 1000.0, 3000.0])
def test_pitch_centroid_of_a_sine_is_its_pitch(freq_hz):
    g = F.grid_features(tone(freq_hz, 4.0))
    group = int(np.searchsorted(F.erb_band_edges(), freq_hz) - 1) // F.CENTROID_WIDTH
    expected = 12 * np.log2(freq_hz / 440.0) - F.centroid_centres_semitones()[group]
    assert np.all(np.abs(g.pitch[2:-2, group] - expected) <= F.PITCH_STEP_SEMITONES / 2 + 0.02)


@pytest.mark.parametrize("offset_ms", [-60.0, 0.0, 35.0, 150.0])
def test_time_centroid_of_a_click_is_its_offset_from_the_frame_centre(offset_ms):
    """An impulse at frame centre + d reads d in every band group it reaches (reassignment)."""
    x = np.zeros((2, SR * 3))
    frame = 3
    at = frame * F.HOP + int(round(offset_ms / 1000 * SR))
    x[:, at] = 0.5
    g = F.grid_features(x)
    exact = (at - frame * F.HOP) / SR * 1000.0
    kept = F.centroid_mask(g.bands)[frame]
    assert kept.sum() >= F.N_CENTROIDS - 1
    assert np.all(np.abs(g.timing[frame][kept] - exact) <= F.TIMING_STEP_MS / 2 + 0.5)
    assert np.all(g.timing[frame][~kept] == 0.0)


def test_silent_frames_skipped_read_exactly_what_a_transform_gives(monkeypatch):
    """Frames under SILENT_PEAK are not transformed; their features equal the computed ones."""
    rng = np.random.default_rng(7)
    x = np.zeros((2, SR * 6))
    x[:, SR:2 * SR] = 0.3 * rng.standard_normal((2, SR))
    x[:, 4 * SR:4 * SR + 100] = 3e-6  # quiet but not zero: skipped, at the floor either way
    fast_grid, fast_onsets = F.grid_features(x), F.onset_features(x)
    monkeypatch.setattr(F, "SILENT_PEAK", -1.0)
    monkeypatch.setattr(F, "ONSET_SILENT_PEAK", -1.0)
    slow_grid, slow_onsets = F.grid_features(x), F.onset_features(x)
    for name in ("bands", "chroma", "balance", "timing", "pitch"):
        np.testing.assert_array_equal(getattr(fast_grid, name), getattr(slow_grid, name), err_msg=name)
    np.testing.assert_array_equal(fast_onsets.times_s, slow_onsets.times_s)
    np.testing.assert_array_equal(fast_onsets.strengths_db, slow_onsets.strengths_db)


def test_chunked_features_equal_one_chunk(monkeypatch):
    """Frames computed GRID_CHUNK / ONSET_CHUNK at a time give what one big chunk gives."""
    rng = np.random.default_rng(8)
    x = 0.2 * rng.standard_normal((2, SR * 5))
    small = (F.grid_features(x), F.onset_features(x))
    monkeypatch.setattr(F, "GRID_CHUNK", 3)
    monkeypatch.setattr(F, "ONSET_CHUNK", 101)
    big = (F.grid_features(x), F.onset_features(x))
    for name in ("bands", "chroma", "balance", "timing", "pitch"):
        np.testing.assert_array_equal(getattr(small[0], name), getattr(big[0], name), err_msg=name)
    np.testing.assert_array_equal(small[1].times_s, big[1].times_s)


def test_onsets_are_found_at_the_burst_times_within_3_ms():
    rng = np.random.default_rng(3)
    x = np.zeros((2, SR * 4))
    times = [0.5, 1.25, 2.0, 3.1]
    for t in times:
        start = int(t * SR)
        n = int(0.05 * SR)
        x[:, start:start + n] += 0.3 * rng.standard_normal(n) * np.exp(-np.arange(n) / (0.01 * SR))
    on = F.onset_features(x)
    high = on.times_s[on.groups == 3]
    assert len(high) == len(times)
    np.testing.assert_allclose(high, times, atol=0.003)


def test_balance_reads_the_left_right_power_ratio():
    x = tone(1000.0)
    x[1] *= 10 ** (-6 / 20)  # right 6 dB down
    g = F.grid_features(x)
    quarter = int(np.searchsorted(F.erb_band_edges(), 1000.0) - 1) // (F.N_BANDS // F.N_BALANCE)
    assert np.all(np.abs(g.balance[1:-1, quarter] - 6.0) <= 0.5)


def test_other_input_rates_give_the_same_fingerprint():
    """A 44.1 kHz tone and its 22.05 kHz twin agree to the quantization step (away from the
    switch-on click, which the resampler's filter spreads differently)."""
    a = fingerprint_audio(tone(700.0, sample_rate=44100), 44100)
    b = fingerprint_audio(tone(700.0), SR)
    assert a.n_frames == b.n_frames
    assert np.abs(a.bands[2:-2] - b.bands[2:-2]).max() <= 1.0


def test_bad_audio_is_refused():
    from symphony.errors import ParameterError

    with pytest.raises(ParameterError, match="NaN or Inf"):
        fingerprint_audio(np.full((2, 100), np.nan), SR)
    with pytest.raises(ParameterError, match=r"shape \(channels, n\)"):
        fingerprint_audio(np.zeros((2, 2, 100)), SR)


@pytest.mark.parametrize("n", [0, 1, 300, 5000])
def test_very_short_audio_gives_a_valid_fingerprint(n):
    from symphony.fingerprint import compare

    fp = fingerprint_audio(np.full((2, n), 0.1), 44100)
    assert fp.n_frames == 1 and compare(fp, fp).same

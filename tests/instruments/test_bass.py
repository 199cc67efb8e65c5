"""AcidBass: pitch, slide, filter and accent physics; mono note priority; the instrument contract."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.signal

from symphony.instruments import REGISTRY
from symphony.instruments.bass import AMP_RELEASE_MS, AcidBass
from symphony.dsp.base import midi_to_hz
from tests.conftest import SEED
from tests.instruments.conftest import _render_events
from tests.instruments.conftest import SPLITS



def play(events, n, *, sample_rate=44100, splits=None, skip_silent=False, **params):
    """Render ``events`` (see ``render_events`` in conftest) on a fresh AcidBass; left channel."""
    inst = AcidBass(sample_rate, params=params, rng=np.random.default_rng(SEED))
    return _render_events(inst, n, events, splits, skip_silent)[0]


def zero_crossing_freqs(x, sample_rate):
    """(time_s, freq_hz) from the intervals between successive upward zero crossings."""
    up = np.flatnonzero((x[:-1] <= 0.0) & (x[1:] > 0.0))
    frac = -x[up] / (x[up + 1] - x[up])
    t = (up + frac) / sample_rate
    return 0.5 * (t[1:] + t[:-1]), 1.0 / np.diff(t)


def fundamental_track(y, sample_rate, cutoff_hz):
    """Zero-crossing frequency of a square-wave bass low-passed below its 3rd harmonic."""
    sos = scipy.signal.butter(8, cutoff_hz, fs=sample_rate, output="sos")
    return zero_crossing_freqs(scipy.signal.sosfiltfilt(sos, y), sample_rate)


def hf_fraction(x, sample_rate, above_hz):
    """Brightness: fraction of the energy above ``above_hz`` (falling half-Hann keeps the onset).

    The power centroid of a saw is pinned near its fundamental (power ~ 1/k^2), so filter
    sweeps are measured by the energy that reaches the upper harmonics instead.
    """
    w = np.hanning(2 * x.size)[x.size:]
    spec = np.abs(np.fft.rfft(x * w)) ** 2
    return float(spec[np.fft.rfftfreq(x.size, 1.0 / sample_rate) > above_hz].sum() / spec.sum())


def acid_line(sample_rate, step_s=0.11, repeats=2):
    """16th-note line: accents every 4th step, a slide (overlap) on steps 6 and 14."""
    step = int(step_s * sample_rate)
    notes = [33, 33, 45, 33, 36, 33, 39, 33, 31, 33, 45, 33, 40, 38, 36, 33]
    ev = []
    for k, p in enumerate(notes * repeats):
        ev.append((k * step, "on", k, float(p), 1.0 if k % 4 == 0 else 0.7))
        ev.append((k * step + (int(1.3 * step) if k % 8 == 6 else step // 2), "off", k))
    return ev, (16 * repeats + 1) * step


# ----------------------------------------------------------------------------- physics


@pytest.mark.parametrize("pitch", [33.0, 45.0, 52.5])
def test_pitch_is_the_fft_peak(sample_rate, pitch):
    sr = sample_rate
    y = play([(0, "on", 1, pitch, 0.7)], sr, sample_rate=sr, env_mod=0.0, cutoff_hz=1500.0, resonance=0.3)
    seg = y[sr // 4:]
    spec = np.abs(np.fft.rfft(seg * np.hanning(seg.size)))
    k = int(np.argmax(spec))
    a, b, c = np.log(spec[k - 1:k + 2])
    f_peak = (k + 0.5 * (a - c) / (a - 2 * b + c)) * sr / seg.size  # parabolic interpolation
    assert f_peak == pytest.approx(midi_to_hz(pitch), rel=0.003)


@pytest.mark.parametrize("glide_ms", [100.0, 300.0])
def test_glide_reaches_target_after_glide_ms(sample_rate, glide_ms):
    sr = sample_rate
    t0 = int(0.3 * sr)
    events = [(0, "on", 1, 45.0, 0.7), (t0, "on", 2, 57.0, 0.7), (t0 + 50, "off", 1)]
    end_s = (glide_ms + 300.0) * 1e-3
    y = play(events, t0 + int(end_s * sr), sample_rate=sr, waveform="square",
             env_mod=0.0, resonance=0.0, glide_ms=glide_ms)
    t, f = fundamental_track(y, sr, 290.0)
    keep = t < t0 / sr + end_s - 0.05  # away from the zero-phase filter's edge
    t, f = t[keep] - t0 / sr, f[keep]
    before, during, after = f[(t > -0.2) & (t < -0.01)], f[(t > 0) & (t < 0.25e-3 * glide_ms)], f[t > 1e-3 * glide_ms]
    np.testing.assert_allclose(before, 110.0, rtol=0.003)
    np.testing.assert_allclose(after, 220.0, rtol=0.003)
    assert np.all(during < 200.0) and np.all(np.diff(f[(t > 0) & (t < 1e-3 * glide_ms)]) > -0.5)
    off = np.abs(f / 220.0 - 1.0) > 0.02  # last moment more than 2 % (1/3 semitone) off target
    reach_s = t[np.flatnonzero(off & (t > 0))[-1]]
    assert 0.5e-3 * glide_ms < reach_s < 1e-3 * glide_ms


def test_separated_notes_jump_without_glide():
    sr = 44100
    t0 = int(0.3 * sr)
    events = [(0, "on", 1, 45.0, 0.7), (int(0.2 * sr), "off", 1), (t0, "on", 2, 57.0, 0.7)]
    y = play(events, t0 + int(0.2 * sr), waveform="square", env_mod=0.0, resonance=0.0, glide_ms=300.0)
    t, f = fundamental_track(y, sr, 290.0)
    np.testing.assert_allclose(f[(t > 0.3 + 0.01) & (t < 0.48)], 220.0, rtol=0.003)


def test_last_note_priority_and_foreign_note_off():
    sr = 22050
    n = int(0.8 * sr)
    # note 2 slides over note 1; releasing note 1 (not sounding) must change nothing at all
    base = [(0, "on", 1, 40.0, 0.7), (int(0.2 * sr), "on", 2, 47.0, 0.7)]
    with_off = play(base + [(int(0.3 * sr), "off", 1)], n, sample_rate=sr)
    without = play(base, n, sample_rate=sr)
    np.testing.assert_array_equal(with_off, without)
    assert np.abs(with_off[int(0.5 * sr):]).max() > 0.2
    # releasing the sounding note falls back (sliding) to the held one
    back = play(base + [(int(0.4 * sr), "off", 2)], n, sample_rate=sr, waveform="square",
                env_mod=0.0, resonance=0.0)
    t, f = fundamental_track(back, sr, 1.5 * midi_to_hz(47.0))
    np.testing.assert_allclose(np.median(f[(t > 0.3) & (t < 0.4)]), midi_to_hz(47.0), rtol=0.005)
    np.testing.assert_allclose(np.median(f[t > 0.6]), midi_to_hz(40.0), rtol=0.005)


def test_legato_does_not_retrigger_filter_envelope():
    sr = 44100
    t0 = int(0.4 * sr)
    win = slice(t0, t0 + int(0.08 * sr))
    legato = play([(0, "on", 1, 45.0, 0.7), (t0, "on", 2, 45.0, 0.7), (t0 + 10, "off", 1)], t0 + sr // 5,
                  glide_ms=0.0)
    retrig = play([(0, "on", 1, 45.0, 0.7), (t0 - int(0.05 * sr), "off", 1), (t0, "on", 2, 45.0, 0.7)],
                  t0 + sr // 5, glide_ms=0.0)
    assert hf_fraction(retrig[win], sr, 1000.0) > 3.0 * hf_fraction(legato[win], sr, 1000.0)
    # legato keeps the amplitude: no dip at the new note (RMS over 20 ms frames around it)
    frame = int(0.02 * sr)
    seg = legato[t0 - 5 * frame:t0 + 5 * frame].reshape(10, frame)
    rms = np.sqrt(np.mean(seg ** 2, axis=1))
    assert rms.min() > 0.8 * rms.max()


def test_accent_raises_peak_and_brightness():
    sr = 44100
    n = int(0.3 * sr)
    plain = play([(0, "on", 1, 45.0, 0.78)], n)
    accented = play([(0, "on", 1, 45.0, 0.82)], n)
    assert np.abs(accented).max() > 1.1 * np.abs(plain).max()
    win = slice(0, int(0.05 * sr))
    assert hf_fraction(accented[win], sr, 2000.0) > 3.0 * hf_fraction(plain[win], sr, 2000.0)
    # accent 0: the 0.8 threshold changes (almost) nothing
    a0 = play([(0, "on", 1, 45.0, 0.82)], n, accent=0.0)
    assert np.abs(a0).max() == pytest.approx(np.abs(plain).max(), rel=0.05)


def test_cutoff_raises_spectral_centroid_monotonically(sample_rate, spectral_centroid):
    sr = sample_rate
    cents = [spectral_centroid(play([(0, "on", 1, 36.0, 0.7)], sr // 2, sample_rate=sr, cutoff_hz=c,
                                    env_mod=0.0)[sr // 10:], sr)
             for c in (100.0, 200.0, 400.0, 800.0, 1600.0, 3200.0)]
    assert np.all(np.diff(cents) > 0), cents


def test_env_mod_and_decay_shape_the_sweep(spectral_centroid):
    sr = 44100
    early, late = slice(0, int(0.05 * sr)), slice(int(0.5 * sr), int(0.6 * sr))
    y = play([(0, "on", 1, 45.0, 0.7)], int(0.6 * sr), env_mod=1.0, decay_ms=100.0)
    flat = play([(0, "on", 1, 45.0, 0.7)], int(0.6 * sr), env_mod=0.0, decay_ms=100.0)
    assert hf_fraction(y[early], sr, 1000.0) > 5.0 * hf_fraction(y[late], sr, 1000.0)
    # after the decay the envelope is done: same timbre as without envelope
    assert spectral_centroid(y[late], sr) == pytest.approx(spectral_centroid(flat[late], sr), rel=0.05)


@pytest.mark.parametrize("params", [{}, {"resonance": 1.2, "env_mod": 1.0, "accent": 1.0},
                                    {"cutoff_hz": 20000.0, "resonance": 0.0}, {"sub_level": 1.0},
                                    {"waveform": "square"}])
def test_full_velocity_peak_level(params):
    peak = max(np.abs(play([(0, "on", 1, p, 1.0)], 22050, **params)).max() for p in (28.0, 40.0, 52.0))
    assert 0.5 <= peak <= 0.9, peak


# ----------------------------------------------------------------------------- contract


def test_registered_with_declared_params():
    assert REGISTRY["acid_bass"] is AcidBass
    assert AcidBass.FAMILY == "bass" and AcidBass.DOC and AcidBass.DEMO and AcidBass.DEFAULT_VOICES == 1
    spec = {p.name: p for p in AcidBass.PARAMS}
    expect = {"cutoff_hz": (400.0, 20.0, 20000.0), "resonance": (0.6, 0.0, 1.2), "env_mod": (0.6, 0.0, 1.0),
              "glide_ms": (60.0, 0.0, 2000.0), "accent": (0.5, 0.0, 1.0), "decay_ms": (300.0, 10.0, 5000.0)}
    for name, triple in expect.items():
        assert (spec[name].default, spec[name].low, spec[name].high) == triple
    assert spec["waveform"].choices == ("saw", "square") and spec["waveform"].default == "saw"


@pytest.mark.parametrize("waveform", ["saw", "square"])
def test_block_size_invariance(sample_rate, waveform):
    events, n = acid_line(sample_rate, step_s=0.05, repeats=1)
    ref = play(events, n, sample_rate=sample_rate, waveform=waveform, sub_level=0.5)
    split = play(events, n, sample_rate=sample_rate, splits=SPLITS, waveform=waveform, sub_level=0.5)
    np.testing.assert_allclose(split, ref, rtol=0, atol=1e-12)
    assert np.abs(ref).max() > 0.3


def test_skipping_process_while_silent_changes_nothing():
    sr = 22050
    events, n = acid_line(sr, step_s=0.12, repeats=1)
    full = play(events, n, sample_rate=sr, splits=[300])
    skipped = play(events, n, sample_rate=sr, splits=[300], skip_silent=True)
    np.testing.assert_allclose(skipped, full, rtol=0, atol=1e-12)


def test_determinism_and_reset_equals_fresh(render_events):
    sr = 22050
    events, n = acid_line(sr, step_s=0.05, repeats=1)
    a = AcidBass(sr, rng=np.random.default_rng(SEED))
    first = render_events(a, n, events)
    a.reset()
    assert a.is_silent
    again = render_events(a, n, events)
    fresh = render_events(AcidBass(sr, rng=np.random.default_rng(SEED)), n, events)
    np.testing.assert_array_equal(first, fresh)
    np.testing.assert_array_equal(again, fresh)


def test_silence_without_notes_and_after_release():
    sr = 44100
    b = AcidBass(sr)
    assert b.is_silent
    np.testing.assert_array_equal(b.process(512), np.zeros((2, 512)))
    b.note_on(1, 40.0, 1.0)
    assert not b.is_silent
    y = b.process(sr // 4)
    assert np.all(np.isfinite(y)) and np.array_equal(y[0], y[1])
    b.note_off(1)
    rel = b.process(int((AMP_RELEASE_MS + 1.0) * 1e-3 * sr))
    assert b.is_silent
    last = np.flatnonzero(rel[0])[-1]
    assert last < AMP_RELEASE_MS * 1e-3 * sr + 2
    np.testing.assert_array_equal(b.process(1000), np.zeros((2, 1000)))


def test_click_detector_catches_a_hard_gated_sine(click_ratio):
    sr = 44100
    x = np.zeros(sr // 2)
    n = sr // 8
    x[n:2 * n] = 0.5 * np.sin(2 * np.pi * 55.0 * np.arange(n) / sr + 1.0)
    assert click_ratio(x, sr) > 20.0


@pytest.mark.parametrize("params", [{}, {"cutoff_hz": 3000.0, "resonance": 0.2},
                                    {"waveform": "square", "resonance": 1.1, "glide_ms": 0.0}])
def test_rapid_line_is_click_free(sample_rate, click_ratio, params):
    events, n = acid_line(sample_rate, step_s=0.09, repeats=1)
    y = play(events, n, sample_rate=sample_rate, **params)
    assert click_ratio(y, sample_rate) < 5.0  # smooth material scores 1-4, a hard gate > 20

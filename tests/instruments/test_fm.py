"""FmSynth: the phase-modulation kernel against a slow reference, Bessel sidebands, presets, contract."""

from __future__ import annotations

import math

import numpy as np
import pytest
import scipy.signal
import scipy.special

from symphony.errors import ParameterError
from symphony.instruments import REGISTRY
from symphony.instruments.fm import (ALGORITHMS, FEEDBACK_MAX, PRESETS, SINE_TABLE, FmSynth,
                                     algorithm_arrays, fm_kernel)
from tests.instruments.conftest import SPLITS, chord_then_release
from tests.instruments.test_ensemble import CLICK_LIMIT, busy_events, fundamental_hz

NAME = "fm_synth"


def make(sample_rate=22050, voices=None, seed=0, **params):
    return FmSynth(sample_rate, params=params, rng=np.random.default_rng(seed), voices=voices)


def table_sin(x):
    """The kernel's sine, written out slowly: linear interpolation in SINE_TABLE."""
    size = SINE_TABLE.size - 1
    u = x - math.floor(x)
    pos = u * size
    i = int(pos)
    frac = pos - i
    if i >= size:
        i -= size
    return SINE_TABLE[i] + frac * (SINE_TABLE[i + 1] - SINE_TABLE[i])


def fm_reference(active, envs, master, levels, inc, matrix, carriers, feedback, phase, fb, n):
    """Obvious per-sample, per-voice phase modulation (operators 4 -> 1)."""
    phase = phase.copy()
    fb = fb.copy()
    out = np.zeros(n)
    for v in active:
        for k in range(n):
            y = [0.0] * 4
            for j in (3, 2, 1, 0):
                mod = sum(matrix[j, i] * y[i] for i in range(4))
                if j == 3:
                    mod += feedback * 0.5 * (fb[v, 0] + fb[v, 1])
                y[j] = levels[v, j] * envs[j][v, k] * table_sin(phase[v, j] + mod / (2 * math.pi))
            fb[v, 1], fb[v, 0] = fb[v, 0], envs[3][v, k] * table_sin(phase[v, 3] + feedback * 0.5 * (
                fb[v, 0] + fb[v, 1]) / (2 * math.pi))
            out[k] += master[v, k] * sum(carriers[j] * y[j] for j in range(4))
            for j in range(4):
                p = phase[v, j] + inc[v, j]
                phase[v, j] = p - 1.0 if p >= 1.0 else p
    return out, phase, fb


def test_sine_table_accuracy():
    x = np.linspace(-3.0, 3.0, 20011)
    err = max(abs(table_sin(u) - math.sin(2 * math.pi * u)) for u in x)
    assert err < 4e-7  # (2 pi / 4096)^2 / 8 = 2.9e-7


@pytest.mark.parametrize("algorithm", list(ALGORITHMS))
def test_kernel_matches_reference(algorithm):
    rng = np.random.default_rng(5)
    voices, n = 5, 300
    envs = [rng.uniform(0.0, 1.0, (voices, n)) for _ in range(4)]
    master = rng.uniform(0.0, 1.0, (voices, n))
    levels = rng.uniform(0.0, 3.0, (voices, 4))
    inc = rng.uniform(0.0, 0.45, (voices, 4))
    matrix, carriers = algorithm_arrays(algorithm)
    phase0 = rng.uniform(0.0, 1.0, (voices, 4))
    fb0 = rng.uniform(-1.0, 1.0, (voices, 2))
    active = np.array([0, 2, 3], dtype=np.int64)
    ref, ref_phase, ref_fb = fm_reference(active, envs, master, levels, inc, matrix, carriers, 1.3,
                                          phase0, fb0, n)
    # the kernel in two calls (state carried), voices 1 and 4 left untouched
    phase, fb = phase0.copy(), fb0.copy()
    out = np.zeros(n)
    for lo, hi in ((0, 117), (117, n)):
        part = np.zeros(hi - lo)
        fm_kernel(active, *[np.ascontiguousarray(e[:, lo:hi]) for e in envs],
                  np.ascontiguousarray(master[:, lo:hi]), levels, inc, matrix, carriers, 1.3, SINE_TABLE,
                  phase, fb, part)
        out[lo:hi] = part
    np.testing.assert_allclose(out, ref, rtol=1e-9, atol=1e-12)
    np.testing.assert_allclose(phase, ref_phase, rtol=0, atol=1e-12)
    np.testing.assert_allclose(fb, ref_fb, rtol=0, atol=1e-12)
    assert np.array_equal(phase[[1, 4]], phase0[[1, 4]])


def two_operator_pair(sample_rate, f0_hz, index, n):
    """Carrier and modulator at ``f0_hz`` (1:1), constant index: ``sin(w t + I sin(w t))``."""
    ones = np.ones((1, n))
    zeros = np.zeros((1, n))
    matrix, carriers = algorithm_arrays("pairs")  # 2 -> 1, with 4 -> 3 switched off
    levels = np.array([[1.0, index, 0.0, 0.0]])
    inc = np.full((1, 4), f0_hz / sample_rate)
    out = np.zeros(n)
    fm_kernel(np.array([0], dtype=np.int64), ones, ones, zeros, zeros, ones, levels, inc, matrix,
              carriers, 0.0, SINE_TABLE, np.zeros((1, 4)), np.zeros((1, 2)), out)
    return out


@pytest.mark.parametrize("index", [0.5, 1.5, 3.0, 5.0])
def test_one_to_one_pair_has_bessel_sidebands(sample_rate, index):
    """sin(t + I sin t) = sum_k J_k(I) sin((1 + k) t): harmonic h gets J_{h-1}(I) + (-1)^h J_{h+1}(I).

    (Chowning 1973, eq. 5; the sideband k = -(h + 1) folds onto +h with a sign flip.)
    """
    n = sample_rate  # 1 s: a 200 Hz tone fills whole periods, so each harmonic sits on a bin
    x = two_operator_pair(sample_rate, 200.0, index, n)
    spec = np.abs(np.fft.rfft(x)) * 2.0 / n
    for h in range(1, 9):
        expected = abs(scipy.special.jv(h - 1, index) + (-1) ** h * scipy.special.jv(h + 1, index))
        assert spec[200 * h] == pytest.approx(expected, abs=2e-3), h
    assert spec[0] < 1e-6  # no DC: the k = -1 term is sin(0)


# --------------------------------------------------------------------------- presets


def harmonic_db(x, sample_rate, f_hz, width=0.01):
    """Level (dB) of the strongest bin within ``width`` (relative) of ``f_hz``; flat-top window."""
    spec = np.abs(np.fft.rfft(x * scipy.signal.windows.flattop(x.size)))
    freqs = np.fft.rfftfreq(x.size, 1.0 / sample_rate)
    band = np.abs(freqs - f_hz) < width * f_hz
    return float(20 * np.log10(spec[band].max() + 1e-30))


def peak_frequencies(x, sample_rate, count):
    """The ``count`` strongest spectral peaks (Hz, parabolic interpolation), strongest first."""
    spec = np.abs(np.fft.rfft(x * np.hanning(x.size)))
    peaks, _ = scipy.signal.find_peaks(spec)
    best = peaks[np.argsort(spec[peaks])[::-1][:count]]
    df = sample_rate / x.size
    out = []
    for k in best:
        a, b, c = np.log(spec[k - 1: k + 2])
        out.append((k + 0.5 * (a - c) / (a - 2 * b + c)) * df)
    return np.array(out)


def test_bell_partials_are_inharmonic_at_the_preset_ratios():
    """Carrier 1 modulated at 3.5 (and 7): partials at f0 |1 + 3.5 k| = 1, 2.5, 4.5, 6 ..."""
    sr = 44100
    inst = make(sr, preset="bell")
    inst.note_on(0, 57, 1.0)  # 220 Hz
    x = inst.process(int(1.5 * sr))[0, int(0.3 * sr):]  # after the 5.19 clang has gone
    peaks = peak_frequencies(x, sr, 6) / 220.0
    np.testing.assert_allclose(np.sort(peaks[:3]), [1.0, 2.5, 4.5], rtol=2e-3)
    lattice = np.abs(1.0 + 3.5 * np.arange(-6, 7))
    for r in peaks:  # every strong partial lies on the lattice
        assert np.min(np.abs(lattice - r)) < 2e-3 * r, r
    ref = harmonic_db(x, sr, 220.0)
    for h in (2.0, 3.0, 4.0):  # where a harmonic instrument would have its partials
        assert harmonic_db(x, sr, 220.0 * h) < ref - 40.0, h


def rms_envelope_db(x, sample_rate, frame_ms=10.0):
    frame = int(frame_ms * 1e-3 * sample_rate)
    m = x.shape[-1] // frame
    rms = np.sqrt(np.mean(x[..., : m * frame].reshape(-1, m, frame) ** 2, axis=(0, 2)))
    return 20 * np.log10(rms + 1e-30), frame / sample_rate


@pytest.mark.parametrize("decay_ms", [0.0, 1500.0])
def test_bell_decay_time_matches_the_preset(sample_rate, decay_ms):
    """T60 from the RMS decay slope (-5 .. -35 dB) is within 15 % of the carrier's decay time."""
    inst = make(sample_rate, preset="bell", decay_ms=decay_ms)
    target_ms = decay_ms or PRESETS["bell"]["ops"][0]["decay_ms"]
    inst.note_on(0, 69, 1.0)
    x = inst.process(int(0.7 * target_ms * 1e-3 * sample_rate))
    db, dt = rms_envelope_db(x, sample_rate)
    db -= db.max()
    t = np.arange(db.size) * dt
    start = np.argmax(db)
    sel = (np.arange(db.size) > start) & (db < -5.0) & (db > -35.0)
    assert sel.sum() > 10
    slope = np.polyfit(t[sel], db[sel], 1)[0]  # dB per second
    t60_ms = -60.0 / slope * 1e3
    assert t60_ms == pytest.approx(target_ms, rel=0.15)


def test_velocity_raises_brightness(spectral_centroid):
    sr = 44100
    cents = {}
    for bv in (0.0, 1.0):
        for vel in (0.3, 1.0):
            inst = make(sr, preset="epiano", brightness_velocity=bv)
            inst.note_on(0, 57, vel)
            # the strike (first 100 ms), where an electric piano's brightness lives
            cents[bv, vel] = spectral_centroid(inst.process(sr // 10)[0], sr, window="fade_out")
    assert cents[1.0, 1.0] > 1.5 * cents[1.0, 0.3]
    # without velocity-to-index the timbre is the same at any level
    assert cents[0.0, 1.0] == pytest.approx(cents[0.0, 0.3], rel=0.01)


def test_key_scaling_makes_high_notes_less_bright(spectral_centroid):
    """Centroid in units of f0: the same ratio below middle C, smaller two octaves above."""
    sr = 44100
    rel = {}
    for pitch in (48, 60, 84):
        inst = make(sr, preset="brass")
        inst.note_on(0, pitch, 1.0)
        f0 = 440.0 * 2 ** ((pitch - 69) / 12)
        rel[pitch] = spectral_centroid(inst.process(sr // 2)[0, sr // 4:], sr) / f0
    assert rel[48] == pytest.approx(rel[60], rel=0.05)
    assert rel[84] < 0.8 * rel[60]


def test_index_zero_is_a_sine_and_index_brightens(spectral_centroid):
    sr = 44100
    cents = []
    for index in (0.0, 0.5, 1.0, 2.0):
        inst = make(sr, preset="brass", index=index, feedback=0.0)
        inst.note_on(0, 57, 1.0)
        x = inst.process(sr // 2)[0, sr // 4:]
        cents.append(spectral_centroid(x, sr))
        if index == 0.0:
            assert fundamental_hz(x, sr, 220.0) == pytest.approx(220.0, rel=1e-3)
            assert harmonic_db(x, sr, 440.0) < harmonic_db(x, sr, 220.0) - 80.0
    assert cents[0] == pytest.approx(220.0, rel=0.01)
    assert np.all(np.diff(cents) > 0.1 * np.array(cents[:-1])), cents


def test_ratio_override_moves_the_sidebands():
    """Bell with ratio_2 = ratio_3 = 2: partials on |1 + 2 k| = odd harmonics only."""
    sr = 44100
    inst = make(sr, preset="bell", ratio_2=2.0, ratio_3=2.0)
    inst.note_on(0, 57, 1.0)
    x = inst.process(sr)[0, int(0.3 * sr):]
    ref = harmonic_db(x, sr, 220.0)
    assert harmonic_db(x, sr, 660.0) > ref - 20.0
    assert harmonic_db(x, sr, 440.0) < ref - 40.0
    assert harmonic_db(x, sr, 550.0) < ref - 40.0  # the preset's 2.5 partial is gone


def test_ratio_override_below_range_raises():
    with pytest.raises(ParameterError, match=r"ratio_3 must be in \[0.25, 16.0\] or 0, got 0.1"):
        make(22050, ratio_3=0.1)


def test_glass_is_additive_without_sidebands():
    """Parallel algorithm: partials exactly at the ratios 1, 3, 5.04, nothing at 2 or 4."""
    sr = 44100
    inst = make(sr, preset="glass")
    inst.note_on(0, 57, 1.0)
    x = inst.process(sr)[0, int(0.05 * sr):int(0.5 * sr)]
    peaks = np.sort(peak_frequencies(x, sr, 3)) / 220.0
    np.testing.assert_allclose(peaks, [1.0, 3.0, 5.04], rtol=1e-3)
    ref = harmonic_db(x, sr, 220.0, width=0.005)
    for h in (2.0, 4.0):
        assert harmonic_db(x, sr, 220.0 * h, width=0.02) < ref - 80.0


def feedback_operator(sample_rate, f0_hz, beta, n):
    """Operator 4 alone, heard, envelope 1, self-modulating with feedback ``beta``."""
    ones = np.ones((1, n))
    matrix, carriers = algorithm_arrays("parallel")
    levels = np.array([[0.0, 0.0, 0.0, 1.0]])
    inc = np.full((1, 4), f0_hz / sample_rate)
    out = np.zeros(n)
    fm_kernel(np.array([0], dtype=np.int64), ones, ones, ones, ones, ones, levels, inc, matrix,
              carriers, beta, SINE_TABLE, np.zeros((1, 4)), np.zeros((1, 2)), out)
    return out


@pytest.mark.parametrize("beta", [0.3, 0.6, 0.9])
def test_feedback_follows_the_kepler_series(beta):
    """y = sin(phi + beta y) is Kepler's equation: y = sum_n 2 J_n(n beta) / (n beta) sin(n phi).

    (psi = phi + beta y solves psi - beta sin psi = phi; the Fourier series of psi - phi is
    sum 2 J_n(n beta)/n sin(n phi), Watson, "Theory of Bessel Functions", 1922, sect. 17.2.)
    The DX7's 2-sample average delays the loop by 1.5 samples, which bends the upper
    harmonics by a few % at 100 Hz and beta 0.9; at 25 Hz the error is below 1 %.
    """
    sr = 48000
    period = 1920  # 25 Hz
    x = feedback_operator(sr, 25.0, beta, sr)[sr // 10:]  # skip the loop's start-up
    x = x[: (x.size // period) * period]  # whole periods: harmonics on bins
    spec = np.abs(np.fft.rfft(x)) * 2.0 / x.size
    k0 = x.size // period
    for h in range(1, 7):
        expected = 2.0 * scipy.special.jv(h, h * beta) / (h * beta)
        assert spec[k0 * h] == pytest.approx(expected, rel=0.01, abs=1e-4), h


def test_feedback_brightens(spectral_centroid):
    sr = 44100
    cents = []
    for fb in (0.0, 0.5, 1.0):
        inst = make(sr, preset="glass", feedback=fb)
        inst.note_on(0, 45, 1.0)
        cents.append(spectral_centroid(inst.process(sr // 5)[0], sr, window="fade_out"))
    assert np.all(np.diff(cents) > 0.0), cents
    assert FEEDBACK_MAX == 1.6


@pytest.mark.parametrize("pitch", [45.0, 69.0, 81.5])
def test_pitch_from_fft_peak(sample_rate, pitch):
    inst = make(sample_rate, preset="brass", index=0.0)  # a plain sine on operator 1
    inst.note_on(0, pitch, 1.0)
    x = inst.process(sample_rate)[0, sample_rate // 10:]
    f0 = 440.0 * 2 ** ((pitch - 69) / 12)
    assert fundamental_hz(x, sample_rate, f0) == pytest.approx(f0, rel=1e-3)


# --------------------------------------------------------------------------- contract


@pytest.mark.parametrize("preset", list(PRESETS))
def test_block_size_invariance_with_events_and_steals(preset, render_events):
    sr = 22050
    n = int(2.6 * sr)
    events = busy_events(sr)
    kw = dict(preset=preset, release_ms=150.0, feedback=0.5)
    ref = render_events(make(sr, voices=4, **kw), n, events)
    split = render_events(make(sr, voices=4, **kw), n, events, splits=SPLITS)
    skipped = render_events(make(sr, voices=4, **kw), n, events, splits=[700, 33], skip_silent=True)
    assert np.abs(ref).max() > 0.05
    assert np.all(ref[:, int(1.2 * sr):int(1.59 * sr)] == 0.0)  # the gap is silent
    np.testing.assert_allclose(split, ref, rtol=0, atol=1e-12)
    np.testing.assert_allclose(skipped, ref, rtol=0, atol=1e-12)


def test_deterministic_and_reset_equals_fresh(render_events):
    sr = 22050
    n = int(2.6 * sr)
    events = busy_events(sr)
    a = render_events(make(sr, voices=4, preset="epiano"), n, events)
    b = render_events(make(sr, voices=4, preset="epiano"), n, events)
    assert np.array_equal(a, b)
    inst = make(sr, voices=4, preset="epiano")
    render_events(inst, n // 2, events[:6])
    inst.reset()
    assert inst.is_silent
    np.testing.assert_allclose(render_events(inst, n, events), a, rtol=0, atol=1e-12)


def test_silent_without_notes_and_after_release():
    sr = 44100
    inst = make(sr)
    assert inst.is_silent and np.all(inst.process(3000) == 0.0)
    inst = make(sr, preset="epiano", release_ms=400.0)
    inst.note_on(1, 57, 1.0)
    inst.process(int(0.5 * sr))
    inst.note_off(1)
    tail = inst.process(int(0.55 * sr))  # the master fade is 1.25 x the release
    assert np.abs(tail[:, :100]).max() > 1e-3
    assert inst.is_silent
    assert np.all(tail[:, -10:] == 0.0)
    assert np.all(inst.process(1000) == 0.0)


@pytest.mark.parametrize("preset", list(PRESETS))
@pytest.mark.parametrize("corner", ["low", "high"])
def test_finite_output_at_parameter_extremes(preset, corner):
    params = {p.name: (p.low if corner == "low" else p.high) for p in FmSynth.PARAMS if not p.choices}
    params["preset"] = preset
    y = chord_then_release(FmSynth(22050, params=params, rng=np.random.default_rng(0)))
    assert np.all(np.isfinite(y))
    assert np.abs(y).max() < 2.0


@pytest.mark.parametrize("preset", list(PRESETS))
def test_levels_single_note_and_chord(preset):
    sr = 44100
    inst = make(sr, preset=preset)
    inst.note_on(0, 60, 1.0)
    single = np.abs(inst.process(sr)).max()
    inst = make(sr, preset=preset)
    for i, p in enumerate([60, 64, 67, 72]):
        inst.note_on(i, p, 1.0)
    chord = np.abs(inst.process(sr)).max()
    assert 0.18 <= single <= 0.4
    assert chord < 0.9


def test_velocity_scales_level():
    sr = 22050
    rms = []
    for vel in (1.0, 0.5):
        inst = make(sr, preset="glass")  # additive: velocity only scales the carriers
        inst.note_on(0, 57, vel)
        y = inst.process(sr // 2)
        rms.append(np.sqrt(np.mean(y ** 2)))
    assert rms[1] / rms[0] == pytest.approx(0.5, rel=1e-6)


@pytest.mark.parametrize("preset", ["bell", "brass"])
def test_rapid_notes_and_steals_are_click_free(preset, render_events, click_ratio):
    """Zero attack/release settings, 40 ms notes overlapping on 2 voices: minimum ramps and steal fades."""
    sr = 44100
    rng = np.random.default_rng(7)
    events = []
    for i in range(40):
        start = int(i * 0.04 * sr)
        events.append((start, "on", i, float(rng.integers(36, 60)), float(rng.uniform(0.5, 1.0))))
        events.append((start + int(0.09 * sr), "off", i))
    inst = make(sr, voices=2, preset=preset, attack_ms=0.0, release_ms=1.0, index=0.3)
    y = render_events(inst, int(2.0 * sr), events)
    assert np.abs(y).max() > 0.05
    for ch in y:
        assert click_ratio(ch, sr) < CLICK_LIMIT


def test_hard_gated_fm_tone_is_flagged(click_ratio):
    """The detector sees a gate in this instrument's own sound (so the test above can fail)."""
    sr = 44100
    inst = make(sr, preset="brass", index=0.3)
    inst.note_on(0, 45, 1.0)
    y = inst.process(sr // 2)[0]
    y[: sr // 4 + 37] = 0.0
    assert click_ratio(y, sr) > 20.0


def test_declared_interface():
    cls = REGISTRY[NAME]
    assert cls is FmSynth
    assert cls.FAMILY == "fm" and cls.DEFAULT_VOICES == 12 and cls.DOC and cls.DEMO
    spec = {p.name: p for p in cls.PARAMS}
    assert spec["preset"].choices == ("bell", "epiano", "metallic", "brass", "glass")
    assert spec["preset"].default == "bell"
    assert (spec["index"].default, spec["index"].low, spec["index"].high) == (1.0, 0.0, 20.0)
    for name in ("ratio_2", "ratio_3", "ratio_4", "feedback", "attack_ms", "decay_ms", "release_ms",
                 "brightness_velocity"):
        assert name in spec

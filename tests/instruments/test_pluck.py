"""Pluck (extended Karplus-Strong): pitch, T60, pick-position notches, brightness, damping, contract."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy.signal import butter, hilbert, sosfiltfilt

from symphony.instruments import REGISTRY
from symphony.instruments import pluck as P
from symphony.instruments.pluck import BODIES, Pluck, allpass_coefficient, loop_design
from tests.conftest import SEED
from tests.instruments.conftest import chord_then_release

SPLITS = [1, 64, 65, 512, 8193]
CLICK_LIMIT = 8.0


def make(sample_rate=22050, voices=None, seed=SEED, **params):
    return Pluck(sample_rate, params=params, rng=np.random.default_rng(seed), voices=voices)


def midi(f_hz):
    return 69.0 + 12.0 * math.log2(f_hz / 440.0)


def pluck(f_hz, *, sample_rate=44100, seconds=1.0, velocity=1.0, **params):
    inst = make(sample_rate, **params)
    inst.note_on(1, midi(f_hz), velocity)
    return inst.process(int(seconds * sample_rate))[0]


def peak_hz(x, sample_rate, lo_hz, hi_hz, pad=8):
    """Frequency of the largest FFT peak in [lo, hi] (Hann, zero-padded, parabolic on log magnitude)."""
    spec = np.abs(np.fft.rfft(x * np.hanning(x.size), pad * x.size))
    freqs = np.fft.rfftfreq(pad * x.size, 1.0 / sample_rate)
    band = np.flatnonzero((freqs >= lo_hz) & (freqs <= hi_hz))
    k = band[np.argmax(spec[band])]
    a, b, c = np.log(spec[k - 1:k + 2])
    return (k + 0.5 * (a - c) / (a - 2.0 * b + c)) * sample_rate / (pad * x.size)


def harmonic_levels_db(x, sample_rate, f0, count):
    """Peak magnitude (dB) within +-3% of each harmonic 1..count."""
    spec = np.abs(np.fft.rfft(x * np.hanning(x.size)))
    freqs = np.fft.rfftfreq(x.size, 1.0 / sample_rate)
    out = []
    for k in range(1, count + 1):
        band = (freqs > k * f0 * 0.97) & (freqs < k * f0 * 1.03)
        out.append(20.0 * np.log10(spec[band].max() + 1e-300))
    return np.array(out)


def band_t60(x, sample_rate, f_hz, t_lo, t_hi, rel_width=0.1):
    """T60 (s) from a line fit to the dB envelope of a band around ``f_hz``."""
    sos = butter(2, [f_hz * (1 - rel_width), f_hz * (1 + rel_width)], "bandpass", fs=sample_rate, output="sos")
    env = np.abs(hilbert(sosfiltfilt(sos, x)))
    t = np.arange(x.size) / sample_rate
    m = (t > t_lo) & (t < t_hi)
    slope = np.polyfit(t[m], 20.0 * np.log10(env[m] + 1e-300), 1)[0]
    return -60.0 / slope


# ----------------------------------------------------------------------------- physics


@pytest.mark.parametrize("f_hz", [110.0, 440.0, 1760.0])
def test_pitch_within_3_cents(sample_rate, f_hz):
    x = pluck(f_hz, sample_rate=sample_rate, seconds=1.1)[int(0.1 * sample_rate):]
    cents = 1200.0 * math.log2(peak_hz(x, sample_rate, 0.8 * f_hz, 1.2 * f_hz) / f_hz)
    assert abs(cents) < 3.0


@pytest.mark.parametrize("delay", [0.6, 0.9, 1.3])
def test_allpass_phase_delay_is_exact_at_the_design_frequency(delay):
    w = 0.7
    c = allpass_coefficient(delay, w)
    h = (c + np.exp(-1j * w)) / (1.0 + c * np.exp(-1j * w))
    assert abs(-np.angle(h) / w - delay) < 1e-12


@pytest.mark.parametrize("f_hz,decay_s,sample_rate", [(110.0, 4.0, 22050), (440.0, 2.0, 44100),
                                                      (220.0, 1.0, 48000), (880.0, 6.0, 22050)])
def test_fundamental_t60_matches_decay(f_hz, decay_s, sample_rate):
    x = pluck(f_hz, sample_rate=sample_rate, seconds=min(1.2 * decay_s, 5.0), decay_s=decay_s)
    t60 = band_t60(x, sample_rate, f_hz, 0.1 * decay_s, min(1.1 * decay_s, 4.8))
    assert t60 == pytest.approx(decay_s, rel=0.2)


def test_body_scales_decay():
    sr = 22050
    for body in ("guitar", "clav"):
        mult = BODIES[body][0]
        x = pluck(220.0, sample_rate=sr, seconds=2.0, body=body, decay_s=4.0)
        t60 = band_t60(x, sr, 220.0, 0.05, 0.9 * 4.0 * mult, rel_width=0.06)
        assert t60 == pytest.approx(4.0 * mult, rel=0.2)


@pytest.mark.parametrize("pick,harmonic", [(0.25, 4), (0.2, 5), (0.5, 2), (1.0 / 3.0, 3)])
def test_pick_position_notches_harmonics(pick, harmonic):
    sr, f0 = 44100, 196.0
    x = pluck(f0, sample_rate=sr, seconds=0.6, pick_position=pick, brightness=1.0)
    levels = harmonic_levels_db(x, sr, f0, harmonic + 2)
    neighbours = np.concatenate([levels[harmonic - 3:harmonic - 1] if harmonic > 2 else levels[:1],
                                 levels[harmonic:harmonic + 2]])
    assert levels[harmonic - 1] < neighbours.mean() - 20.0
    # also the second multiple when in range
    if 2 * harmonic <= 8:
        lv = harmonic_levels_db(x, sr, f0, 2 * harmonic + 1)
        assert lv[2 * harmonic - 1] < 0.5 * (lv[2 * harmonic - 2] + lv[2 * harmonic]) - 15.0


def test_brightness_raises_centroid(spectral_centroid):
    sr = 44100
    c = [spectral_centroid(pluck(220.0, sample_rate=sr, seconds=0.5, brightness=b), sr) for b in (0.1, 0.5, 0.9)]
    assert c[0] * 1.3 < c[1] and c[1] * 1.3 < c[2]


def test_soft_pluck_is_quieter_and_darker(spectral_centroid):
    sr = 44100
    loud = pluck(220.0, sample_rate=sr, seconds=0.5, velocity=1.0)
    soft = pluck(220.0, sample_rate=sr, seconds=0.5, velocity=0.3)
    assert np.abs(soft).max() < 0.5 * np.abs(loud).max()
    assert spectral_centroid(soft, sr) < 0.8 * spectral_centroid(loud, sr)


@pytest.mark.parametrize("release_ms", [5.0, 150.0, 800.0])
def test_note_off_damps_to_exact_silence_after_release(release_ms):
    sr = 22050
    inst = make(sr, release_ms=release_ms)
    inst.note_on(1, 57.0, 1.0)
    inst.process(int(0.3 * sr))
    inst.note_off(1)
    n_rel = int(math.ceil(release_ms * 1e-3 * sr))
    tail = inst.process(n_rel + 4)  # float rounding of the fade may take a sample more
    assert np.abs(tail[:, :max(2, n_rel // 10)]).max() > 1e-3
    assert np.all(tail[:, -2:] == 0.0)
    assert inst.is_silent


def test_ringing_string_ends_by_itself():
    sr = 22050
    inst = make(sr, decay_s=0.5)
    inst.note_on(1, 64.0, 1.0)
    y = inst.process(int((P.END_AFTER_T60 * 0.5 + P.END_FADE_MS * 1e-3) * sr) + 20)
    assert np.abs(y[:, int(0.7 * sr):int(0.75 * sr)]).max() > 1e-7  # still ringing at 1.4 T60
    assert inst.is_silent and np.all(y[:, -5:] == 0.0)


def test_levels_single_note_and_chord():
    sr = 44100
    assert 0.3 <= np.abs(pluck(220.0, sample_rate=sr, seconds=0.5)).max() <= 0.6
    inst = make(sr)
    for i, p in enumerate([48, 55, 60, 64]):
        inst.note_on(i, p, 1.0)
    assert np.abs(inst.process(sr // 2)).max() < 0.9


# ----------------------------------------------------------------------------- kernel


def slow_pluck(inst, n, off_at):
    """Pure-python string loops (one per active slot, fresh state) + body, straight from the equations."""
    out = np.zeros((2, n))
    for s in np.flatnonzero(inst._active):
        p, st0 = inst._prm[s].copy(), inst._st[s].copy()
        exc = inst._exc[s]
        d, c = int(p[P.P_D]), p[P.P_C]
        line = [0.0] * (n + d + 4)  # v history: v[i] at line[i + d + 2]
        g, b, gt, bt = st0[P.S_G], st0[P.S_B], st0[P.S_GT], st0[P.S_BT]
        ch, chd = 1.0, 1.0
        x1 = u1 = um1 = um2 = 0.0
        for i in range(n):
            if i == off_at:
                _, _, gt, bt = loop_design(inst._freq[s], inst.sample_rate, inst.params["release_ms"] * 1e-3, 0.25)
                chd = inst._fade(inst.params["release_ms"])
            x = line[i + 2] if i >= d else 0.0
            u = c * x + x1 - c * u1
            x1, u1 = x, u
            v = g * (b * u + (1 - 2 * b) * um1 + b * um2)
            um2, um1 = um1, u
            if i < p[P.P_EXCLEN]:
                v += exc[i]
            line[i + d + 2] = v
            amp = (ch - P.EPS) / (1 - P.EPS) if ch > P.EPS else 0.0
            out[0, i] += p[P.P_LEVEL_L] * amp * v
            out[1, i] += p[P.P_LEVEL_R] * amp * v
            g += (gt - g) * p[P.P_GK]
            b += (bt - b) * p[P.P_GK]
            ch *= chd
            if chd < 1.0 and ch <= P.EPS:
                break
    if inst._body.shape[0]:
        y = inst._dry * out.copy()
        for f in inst._body:
            for k in range(2):
                s1 = s2 = 0.0
                for i in range(n):
                    xi = out[k, i]
                    yr = f[0] * xi + s1
                    s1, s2 = -f[2] * yr + s2, f[1] * xi - f[3] * yr
                    y[k, i] += f[4] * yr
        out = y
    return out


@pytest.mark.parametrize("body", ["harp", "guitar"])
def test_kernel_matches_slow_python_reference(body):
    sr, n, off_at = 22050, 3000, 1700
    inst = make(sr, body=body, release_ms=30.0)
    inst.note_on(1, 57.3, 0.9)
    inst.note_on(2, 76.0, 0.6)
    ref = slow_pluck(inst, n, off_at)
    first = inst.process(off_at)
    inst.note_off(1)
    inst.note_off(2)
    fast = np.concatenate([first, inst.process(n - off_at)], axis=1)
    np.testing.assert_allclose(fast, ref, rtol=1e-9, atol=1e-13)


# ----------------------------------------------------------------------------- contract


def busy_events(sr):
    """Chords, releases, a silent gap, more notes than voices (steals), rapid repeated notes."""
    ev, nid = [], 0
    for i, p in enumerate([45, 52, 57, 61, 64]):
        ev.append((int(0.01 * sr) + 5 * i, "on", nid, p, 0.9))
        ev.append((int(0.3 * sr) + 11 * i, "off", nid))
        nid += 1
    for i in range(12):  # after a silent gap; 12 notes on 3 voices
        start = int(1.0 * sr) + int(0.045 * sr) * i
        ev.append((start, "on", nid, 60 + (i * 5) % 17 + 0.25, 0.4 + 0.05 * i))
        ev.append((start + int(0.12 * sr), "off", nid))
        nid += 1
    ev.append((int(1.9 * sr), "off", 999))  # unknown id: ignored
    return ev


@pytest.mark.parametrize("body", list(BODIES))
def test_block_size_invariance_and_silence_skipping(body, render_events):
    sr = 22050
    n = int(2.2 * sr)
    kw = dict(body=body, release_ms=100.0, decay_s=2.0)
    ref = render_events(make(sr, voices=3, **kw), n, busy_events(sr))
    split = render_events(make(sr, voices=3, **kw), n, busy_events(sr), splits=SPLITS)
    skipped = render_events(make(sr, voices=3, **kw), n, busy_events(sr), splits=[700, 33], skip_silent=True)
    assert np.abs(ref).max() > 0.05
    assert np.all(ref[:, int(0.8 * sr):int(0.99 * sr)] == 0.0)  # the gap is exactly silent
    np.testing.assert_allclose(split, ref, rtol=0, atol=1e-12)
    np.testing.assert_allclose(skipped, ref, rtol=0, atol=1e-12)


def test_deterministic_seeded_and_reset_equals_fresh(render_events):
    sr = 22050
    n = int(2.2 * sr)
    a = render_events(make(sr, voices=3), n, busy_events(sr))
    assert np.array_equal(a, render_events(make(sr, voices=3), n, busy_events(sr)))
    assert not np.allclose(a, render_events(make(sr, voices=3, seed=SEED + 1), n, busy_events(sr)), atol=1e-3)
    inst = make(sr, voices=3)
    render_events(inst, n // 2, busy_events(sr)[:7])
    inst.reset()
    assert inst.is_silent
    np.testing.assert_allclose(render_events(inst, n, busy_events(sr)), a, rtol=0, atol=1e-12)


def test_silent_without_notes_and_registered():
    assert REGISTRY["pluck"] is Pluck and Pluck.FAMILY == "plucked" and Pluck.DEFAULT_VOICES == 12
    inst = make()
    assert inst.is_silent
    y = inst.process(3000)
    assert y.shape == (2, 3000) and y.dtype == np.float64 and np.all(y == 0.0)


@pytest.mark.parametrize("corner", ["low", "high"])
@pytest.mark.parametrize("body", list(BODIES))
def test_finite_and_bounded_at_parameter_extremes(corner, body):
    params = {p.name: (p.low if corner == "low" else p.high) for p in Pluck.PARAMS if not p.choices}
    y = chord_then_release(make(22050, body=body, **params), (12, 21, 45, 69, 93, 108, 127), hold=6000,
                           tail=6000)
    assert np.all(np.isfinite(y)) and np.abs(y).max() < 2.0


def test_rapid_notes_and_steals_are_click_free(render_events, click_ratio):
    sr = 44100
    rng = np.random.default_rng(7)
    events = []
    for i in range(40):
        start = int(i * 0.04 * sr)
        events.append((start, "on", i, float(rng.integers(40, 72)), float(rng.uniform(0.5, 1.0))))
        events.append((start + int(0.09 * sr), "off", i))
    y = render_events(make(sr, voices=2, release_ms=5.0, brightness=0.3), int(1.8 * sr), events)
    assert np.abs(y).max() > 0.05
    for ch in y:
        assert click_ratio(ch, sr) < CLICK_LIMIT


def test_click_detector_flags_a_hard_cut_string(click_ratio):
    sr = 44100
    y = pluck(110.0, sample_rate=sr, seconds=0.5, brightness=0.0)
    start = int(0.3 * sr)
    cut = start + int(np.argmax(np.abs(y[start:start + sr // 100])))
    assert click_ratio(y[:cut], sr) < 2.0
    y[cut:] = 0.0
    assert click_ratio(y, sr) > 20.0

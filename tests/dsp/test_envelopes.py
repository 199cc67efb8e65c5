"""Envelopes and glide: timing to the sample, no jumps, click detector, kernel reference, contract."""

from __future__ import annotations

import math

import numpy as np
import pytest

from symphony.dsp.envelopes import (
    FALL_RATIO,
    RISE_RATIO,
    AdsrEnvelope,
    Glide,
    SegmentEnvelope,
    _segment_kernel,
)
from symphony.dsp.oscillators import BandlimitedOscillator
from symphony.errors import ParameterError
from tests.conftest import SEED

SPLITS = [1, 64, 65, 512, 8193]
CURVES = ["exponential", "linear"]


def frames(ms: float, fs: int) -> int:
    return int(round(ms * fs / 1000.0))


def render_events(proc, n: int, events: dict[int, list], splits=(10**9,)) -> np.ndarray:
    """Render ``n`` frames, cutting blocks at event frames and then by ``splits``."""
    out, i, j = [], 0, 0
    times = sorted(events)
    while i < n:
        for event in events.get(i, []):
            if callable(event):
                event(proc)
            else:
                getattr(proc, event[0])(*event[1:])
        nxt = next((t for t in times if t > i), n)
        m = min(splits[j % len(splits)], nxt - i, n - i)
        out.append(proc.process(m))
        i += m
        j += 1
    return np.concatenate(out, axis=1)


# --------------------------------------------------------------------------------------
# the click detector


def click_score(y: np.ndarray, carrier_hz: float, sample_rate: int) -> float:
    """Largest second difference of ``y`` relative to that of a clean sine of the same peak.

    A steady sine of amplitude A at ``carrier_hz`` has ``max |y[n+1] - 2 y[n] + y[n-1]| =
    4 sin^2(pi f / fs) A``, so its score is 1. Smooth envelope motion adds little
    (slope changes of e per sample add about e / (4 sin^2(pi f / fs))); a step of height d
    adds d / (4 sin^2(pi f / fs) A), about 58 d / A at 1 kHz and 48 kHz.
    """
    d2 = np.abs(np.diff(y, 2))
    smooth = 4.0 * math.sin(math.pi * carrier_hz / sample_rate) ** 2 * np.max(np.abs(y))
    return float(np.max(d2) / smooth)


CLICK_THRESHOLD = 3.0


def rapid_note_events(fs: int, n_notes: int = 50, voice: int = 0):
    """50 notes of 20-100 ms: gaps, overlaps (retrigger while sounding) and steals."""
    rng = np.random.default_rng(SEED)
    events: dict[int, list] = {}
    gates = []
    t = frames(5, fs)
    for i in range(n_notes):
        dur = frames(rng.uniform(20, 100), fs)
        vel = float(rng.uniform(0.3, 1.0))
        events.setdefault(t, []).append(("gate_on", voice, vel))
        kind = i % 5
        end = t + dur
        if kind == 0:  # legato retrigger: next note starts before this one is released
            t = end
            gates.append((t - dur, t))
            continue
        if kind == 1:  # voice steal: fast release, new note 3 ms later
            events.setdefault(end, []).append(("fast_release", voice, 3.0))
            gates.append((t, end))
            t = end + frames(3, fs)
            continue
        events.setdefault(end, []).append(("gate_off", voice))
        gates.append((t, end))
        t = end + frames(rng.uniform(0, 40), fs)  # often retriggered during the release
    return events, gates, t + frames(200, fs)


def sine(n: int, hz: float, fs: int) -> np.ndarray:
    return np.sin(2 * np.pi * hz * np.arange(n) / fs)


@pytest.mark.parametrize("curve", CURVES)
def test_rapid_notes_through_adsr_have_no_clicks(curve):
    fs = 48000
    events, _, n = rapid_note_events(fs)
    env = AdsrEnvelope(fs, voices=1, attack_ms=5, decay_ms=40, sustain=0.6, release_ms=30, curve=curve)
    y = render_events(env, n, events)[0] * sine(n, 1000.0, fs)
    assert click_score(y, 1000.0, fs) < CLICK_THRESHOLD


def test_click_detector_flags_a_rectangular_gate():
    fs = 48000
    _, gates, n = rapid_note_events(fs)
    gate = np.zeros(n)
    for a, b in gates:
        gate[a:b] = 1.0
    y = gate * sine(n, 1000.0, fs)
    assert click_score(y, 1000.0, fs) > 5 * CLICK_THRESHOLD
    # even one gate opening at a zero crossing (no step, only a slope step) is caught
    z = np.zeros(4800)
    z[2400:] = sine(2400, 1000.0, fs)
    assert click_score(z, 1000.0, fs) > 2 * CLICK_THRESHOLD


def test_click_detector_accepts_a_clean_sine():
    fs = 48000
    assert click_score(0.5 * sine(fs, 1000.0, fs), 1000.0, fs) == pytest.approx(1.0, abs=1e-3)


# --------------------------------------------------------------------------------------
# ADSR timing and shape


@pytest.mark.parametrize("curve", CURVES)
def test_adsr_reaches_peak_sustain_and_zero_on_time(sample_rate, curve):
    fs = sample_rate
    a, d, r = frames(10, fs), frames(50, fs), frames(80, fs)
    env = AdsrEnvelope(fs, voices=2, attack_ms=10, decay_ms=50, sustain=0.6, release_ms=80, curve=curve)
    env.gate_on(1, velocity=0.8)
    y = env.process(a + d + 500)
    np.testing.assert_array_equal(y[0], 0.0)
    v = y[1]
    assert v[0] == 0.0
    assert np.all(np.diff(v[:a + 1]) > 0) and np.all(v[:a] < 0.8)
    assert v[a] == pytest.approx(0.8, abs=1e-12)
    assert np.all(np.diff(v[a:a + d + 1]) < 0)
    assert v[a + d] == pytest.approx(0.48, abs=1e-12)
    np.testing.assert_allclose(v[a + d:], 0.48, atol=1e-12)
    env.gate_off(1)
    rel = env.process(r + 10)[1]
    assert rel[0] == pytest.approx(0.48, abs=1e-12)
    assert np.all(np.diff(rel[:r + 1]) < 0) and rel[r - 1] > 0
    np.testing.assert_array_equal(rel[r:], 0.0)
    assert env.idle.tolist() == [True, True]


def test_adsr_not_idle_until_release_ends():
    env = AdsrEnvelope(48000, voices=1, attack_ms=1, decay_ms=1, release_ms=10)
    assert env.idle[0]
    env.gate_on(0)
    assert not env.idle[0]
    env.process(1000)
    env.gate_off(0)
    env.process(479)
    assert not env.idle[0]
    env.process(1)
    assert env.idle[0]


def test_exponential_segments_follow_the_overshoot_formula():
    fs = 48000
    a, d = frames(20, fs), frames(100, fs)
    env = AdsrEnvelope(fs, voices=1, attack_ms=20, decay_ms=100, sustain=0.25, curve="exponential")
    env.gate_on(0)
    y = env.process(a + d + 1)[0]
    i = np.arange(a + 1)
    over = 1.0 + RISE_RATIO
    c = (RISE_RATIO / (1 + RISE_RATIO)) ** (1 / a)
    np.testing.assert_allclose(y[:a + 1], over - over * c**i, atol=1e-12)
    i = np.arange(d + 1)
    over = 0.25 - FALL_RATIO * 0.75
    c = (FALL_RATIO / (1 + FALL_RATIO)) ** (1 / d)
    np.testing.assert_allclose(y[a:], over + (1.0 - over) * c**i, atol=1e-12)
    # convex attack (RC charge), decay down to -30 dB of its span at half time
    assert y[a // 2] > 0.65
    assert y[a + d // 2] - 0.25 < 0.75 * 0.04


def test_retrigger_during_release_starts_from_current_level():
    fs = 44100
    env = AdsrEnvelope(fs, voices=1, attack_ms=20, decay_ms=30, sustain=0.7, release_ms=300)
    env.gate_on(0)
    env.process(3000)
    env.gate_off(0)
    y1 = env.process(1000)[0]
    level = env.level[0]
    env.gate_on(0, velocity=1.0)
    y2 = env.process(2000)[0]
    assert y2[0] == level  # no jump: the block starts where the release was
    assert abs(y2[0] - y1[-1]) < 0.01
    peak = int(np.argmax(y2))
    assert peak == round(frames(20, fs) * (1 - level))  # shortened attack, constant rate
    assert y2[peak] == pytest.approx(1.0, abs=1e-12)


def test_retrigger_above_new_peak_goes_to_decay_without_jump():
    env = AdsrEnvelope(48000, voices=1, attack_ms=2, decay_ms=10, sustain=0.5)
    env.gate_on(0, 1.0)
    env.process(96)
    env.gate_on(0, 0.4)
    y = env.process(2000)[0]
    assert y[0] == pytest.approx(1.0, abs=1e-12)
    assert np.all(np.diff(y[:481]) < 0)
    assert y[480] == pytest.approx(0.2, abs=1e-12)


def test_fast_release_is_linear_and_short(sample_rate):
    fs = sample_rate
    env = AdsrEnvelope(fs, voices=1, release_ms=500)
    env.gate_on(0)
    env.process(fs // 2)
    level = env.level[0]
    env.fast_release(0, 3.0)
    n = frames(3, fs)
    y = env.process(n + 5)[0]
    np.testing.assert_allclose(y[:n + 1], level * (1 - np.arange(n + 1) / n), atol=1e-12)
    assert env.idle[0]
    env.gate_on(0)
    env.gate_off(0)
    env.process(1)
    env.process(frames(500, fs))
    assert env.idle[0]  # the next ordinary release is slow again


def test_set_does_not_undo_a_pending_fast_release():
    env = AdsrEnvelope(48000, voices=1, release_ms=500)
    env.gate_on(0)
    env.process(1000)
    env.fast_release(0, 2.0)
    env.set(release_ms=300.0)
    env.process(96)
    assert env.idle[0]


def test_gate_off_during_attack_releases_from_current_level():
    env = AdsrEnvelope(48000, voices=1, attack_ms=50, release_ms=10, curve="linear")
    env.gate_on(0)
    env.process(1200)
    level = env.level[0]
    assert level == pytest.approx(0.5, abs=1e-12)
    env.gate_off(0)
    y = env.process(481)[0]
    assert y[0] == level and y[240] == pytest.approx(0.25, abs=1e-12) and y[480] == 0.0


def test_sustain_change_while_holding_glides():
    env = AdsrEnvelope(48000, voices=1, attack_ms=1, decay_ms=1, sustain=0.8)
    env.gate_on(0)
    env.process(1000)
    env.set(sustain=0.2)
    y = env.process(4800)[0]
    assert np.max(np.abs(np.diff(y))) < 0.6 / 200  # 5 ms one-pole: no step
    assert y[-1] == pytest.approx(0.2, abs=1e-6)


def test_retrigger_with_zero_velocity_decays_instead_of_jumping():
    env = AdsrEnvelope(48000, voices=1, attack_ms=1, decay_ms=10, sustain=0.5)
    env.gate_on(0)
    env.process(2000)
    env.gate_on(0, 0.0)
    y = env.process(481)[0]
    assert y[0] == pytest.approx(0.5, abs=1e-12) and np.max(np.abs(np.diff(y))) < 0.05 and y[480] == 0.0


def test_zero_times_are_allowed_and_arrive_next_sample():
    env = AdsrEnvelope(48000, voices=1, attack_ms=0, decay_ms=0, sustain=0.5, release_ms=0)
    env.gate_on(0)
    assert env.process(3)[0].tolist() == [0.5, 0.5, 0.5]
    env.gate_off(0)
    assert env.process(2)[0].tolist() == [0.0, 0.0]
    assert env.idle[0]


# --------------------------------------------------------------------------------------
# SegmentEnvelope and Glide


@pytest.mark.parametrize("curve", CURVES)
def test_segment_envelope_hits_each_breakpoint(sample_rate, curve):
    fs = sample_rate
    pts = [(0, 0.0), (10, 1.0), (30, 0.5), (100, 0.0)]
    env = SegmentEnvelope(fs, voices=1, points=pts, curve=curve)
    env.trigger(0, scale=0.5)
    y = env.process(frames(120, fs))[0]
    for t, level in pts:
        assert y[frames(t, fs)] == pytest.approx(0.5 * level, abs=1e-12)
    assert env.idle[0]
    mid = y[frames(20, fs)]
    assert (mid == pytest.approx(0.375, abs=1e-3)) == (curve == "linear")


def test_segment_envelope_sustain_and_release():
    fs = 48000
    env = SegmentEnvelope(fs, voices=2, points=[(5, 1.0), (20, 0.6), (70, 0.0)], sustain_index=1,
                          curve=["linear", "exponential", "exponential"])
    env.trigger(0)
    y = env.process(fs)[0]
    np.testing.assert_allclose(y[frames(20, fs):], 0.6, atol=1e-12)
    assert not env.idle[0]
    env.release(0)
    r = env.process(frames(50, fs) + 10)[0]
    assert r[0] == pytest.approx(0.6, abs=1e-12) and r[frames(50, fs)] == 0.0
    assert env.idle[0] and env.idle[1]
    # release before the sustain point: continue after it, from the current level
    env.trigger(0)
    env.process(frames(2.5, fs))
    level = env.level[0]
    env.release(0)
    r = env.process(frames(50, fs) + 1)[0]
    assert r[0] == pytest.approx(level, abs=1e-12) and r[-1] == 0.0


def test_segment_envelope_without_sustain_ignores_release():
    env = SegmentEnvelope(22050, voices=1, points=[(0, 1.0), (10, 0.0)], curve="linear")
    env.trigger(0)
    a = env.process(100)
    env.release(0)
    b = env.process(200)[0]
    ref = SegmentEnvelope(22050, voices=1, points=[(0, 1.0), (10, 0.0)], curve="linear")
    ref.trigger(0)
    np.testing.assert_array_equal(np.concatenate([a[0], b]), ref.process(300)[0])


@pytest.mark.parametrize("mode", CURVES)
def test_glide_arrives_after_time_ms_from_any_interval(sample_rate, mode):
    fs = sample_rate
    g = Glide(fs, voices=2, time_ms=60, mode=mode)
    g.set_target(0, 60.0)
    g.set_target(1, 48.0)
    np.testing.assert_array_equal(g.process(10), [[60.0] * 10, [48.0] * 10])  # first target jumps
    g.set_target(0, 67.0)
    g.set_target(1, 36.0)
    n = frames(60, fs)
    y = g.process(n + 10)
    assert y[0, n] == pytest.approx(67.0, abs=1e-12) and y[1, n] == pytest.approx(36.0, abs=1e-12)
    assert np.all(np.diff(y[0, :n + 1]) > 0) and np.all(np.diff(y[1, :n + 1]) < 0)
    if mode == "linear":
        np.testing.assert_allclose(y[0, :n + 1], 60 + 7 * np.arange(n + 1) / n, atol=1e-12)
    else:  # constant-time exponential: same shape for both intervals
        np.testing.assert_allclose((y[0, :n + 1] - 60) / 7, (y[1, :n + 1] - 48) / -12, atol=1e-12)
        assert (y[0, n // 2] - 60) / 7 > 0.85


def test_glide_retarget_mid_glide_and_jump():
    g = Glide(48000, voices=1, time_ms=10, mode="linear")
    g.set_target(0, 0.0)
    g.set_target(0, 12.0)
    a = g.process(240)[0]
    g.set_target(0, 0.0)
    b = g.process(481)[0]
    assert b[0] == pytest.approx(a[-1] + 12 / 480, abs=1e-12) and b[480] == 0.0
    g.set_target(0, 5.0, jump=True)
    assert g.process(2)[0].tolist() == [5.0, 5.0]


# --------------------------------------------------------------------------------------
# kernel against a slow reference


def reference_segments(fstate, istate, targets, lengths, ratios, hold, hold_coef, n):
    """Plain-python segment player using the closed form y0 + ... c**i (no recursion)."""
    voices, n_seg = targets.shape
    out = np.zeros((voices, n))
    for v in range(voices):
        level = fstate[v, 0]
        seg, pos, holding = istate[v, 0], istate[v, 1], istate[v, 3] == 1
        y0, target, length = fstate[v, 1], fstate[v, 2], istate[v, 2]

        def begin(s, level):
            while s < n_seg and lengths[v, s] <= 0:
                level = targets[v, s]
                if s == hold:
                    return s, level, True, level, level, 0
                s += 1
            if s >= n_seg:
                return n_seg, level, False, level, level, 0
            return s, level, False, level, targets[v, s], lengths[v, s]

        if istate[v, 4] >= 0:
            seg, level, holding, y0, target, length = begin(istate[v, 4], level)
            pos = 0
        for k in range(n):
            out[v, k] = level
            if seg >= n_seg:
                continue
            if holding:
                level += (targets[v, seg] - level) * hold_coef
                continue
            pos += 1
            if pos >= length:
                level = target
                if seg == hold:
                    holding = True
                else:
                    seg, level, holding, y0, target, length = begin(seg + 1, level)
                    pos = 0
                continue
            r = ratios[v, seg]
            if r > 0:
                over = target + r * (target - y0)
                level = over + (y0 - over) * (r / (1 + r)) ** (pos / length)
            else:
                level = y0 + (target - y0) * pos / length
    return out


@pytest.mark.parametrize("sample_rate", [22050, 44100, 48000])
def test_long_exponential_release_follows_the_closed_form(sample_rate):
    """A 20 s release evaluated in runs of 64 anchored to its start: within 1e-12 of
    ``o + (y0 - o) c**p`` all the way, whatever the block split."""
    env = AdsrEnvelope(sample_rate, voices=1, attack_ms=1.0, decay_ms=1.0, sustain=0.8, release_ms=20000.0)
    env.gate_on(0, 1.0)
    env.process(sample_rate // 10)
    y0 = float(env.level[0])
    env.gate_off(0)
    n = 20 * sample_rate
    sizes = [1, 64, 65, 512, 8193]
    parts, pos, i = [], 0, 0
    while pos < n:
        k = min(sizes[i % len(sizes)], n - pos)
        parts.append(env.process(k)[0])
        pos += k
        i += 1
    y = np.concatenate(parts)
    length = n
    r = 0.001
    over = 0.0 + r * (0.0 - y0)
    c = (r / (1.0 + r)) ** (1.0 / length)
    p = np.arange(n)
    np.testing.assert_allclose(y, over + (y0 - over) * c ** p, rtol=0, atol=1e-12)
    assert env.process(1)[0, 0] == 0.0  # arrived exactly


@pytest.mark.parametrize("hold", [-1, 1])
def test_segment_kernel_matches_slow_reference(hold):
    rng = np.random.default_rng(SEED)
    voices, n_seg, n = 6, 4, 3000
    targets = rng.uniform(-1, 2, (voices, n_seg))
    lengths = rng.integers(0, 900, (voices, n_seg))
    lengths[0] = 0
    ratios = np.where(rng.random((voices, n_seg)) < 0.5, 0.0, rng.choice([0.3, 0.001, 0.01], (voices, n_seg)))
    fstate = np.zeros((voices, 7))
    fstate[:, 0] = rng.uniform(0, 1, voices)
    istate = np.zeros((voices, 5), dtype=np.int64)
    istate[:, 0] = n_seg
    istate[:, 4] = rng.integers(0, n_seg, voices)
    ref = reference_segments(fstate, istate, targets, lengths, ratios, hold, 0.01, n)
    out = np.empty((voices, n))
    _segment_kernel(fstate, istate, targets, lengths, ratios, hold, 0.01, np.zeros((voices, 64)), out)
    np.testing.assert_allclose(out, ref, atol=1e-9)


# --------------------------------------------------------------------------------------
# contract


def adsr_case(curve):
    fs = 48000
    events, _, n = rapid_note_events(fs, n_notes=12, voice=1)
    events.setdefault(100, []).append(("gate_on", 0, 0.9))
    events.setdefault(6000, []).append(lambda env: env.set(sustain=0.3, release_ms=40.0))
    return lambda: AdsrEnvelope(fs, voices=2, attack_ms=4, decay_ms=30, release_ms=25, curve=curve), events, n


def segment_case(curve):
    fs = 44100
    events = {0: [("trigger", 0, 1.0)], 500: [("trigger", 1, 0.5)], 3000: [("release", 0)],
              4000: [("trigger", 0, 0.7)], 9000: [("release", 0), ("release", 1)]}
    points = [(0, 0.0), (20, 1.0), (60, 0.3), (150, 0.0)]
    return (lambda: SegmentEnvelope(fs, voices=2, points=points, curve=curve, sustain_index=2),
            events, 16000)


def glide_case(mode):
    fs = 22050
    events = {0: [("set_target", 0, 60.0), ("set_target", 1, 40.0)], 300: [("set_target", 0, 72.0)],
              700: [("set_target", 0, 55.0), ("set_target", 1, 41.0)],
              5000: [lambda g: g.set_target(1, 30.0, jump=True)]}
    return lambda: Glide(fs, voices=2, time_ms=80, mode=mode), events, 9000


CASES = [(case, c) for case in (adsr_case, segment_case, glide_case) for c in CURVES]


@pytest.mark.parametrize("case,curve", CASES)
def test_contract_block_size_invariance_and_reset(case, curve):
    make, events, n = case(curve)
    whole = render_events(make(), n, events)
    assert whole.dtype == np.float64 and whole.shape == (2, n) and np.all(np.isfinite(whole))
    np.testing.assert_allclose(render_events(make(), n, events, SPLITS), whole, rtol=0, atol=1e-12)
    proc = make()
    render_events(proc, 5000, events)
    proc.reset()
    assert proc.idle.all()
    np.testing.assert_array_equal(render_events(proc, n, events), whole)


def test_adsr_levels_within_zero_and_velocity():
    fs = 48000
    events, _, n = rapid_note_events(fs)
    for curve in CURVES:
        env = AdsrEnvelope(fs, voices=1, attack_ms=3, decay_ms=20, sustain=0.9, release_ms=15, curve=curve)
        y = render_events(env, n, events)[0]
        assert y.min() >= 0.0 and y.max() <= 1.0


def test_adsr_on_an_oscillator_voice_bank_is_fast_enough_to_use():
    fs = 48000
    env = AdsrEnvelope(fs, voices=16)
    osc = BandlimitedOscillator(fs, voices=16)
    for v in range(16):
        env.gate_on(v)
    y = osc.process(np.full((16, 4800), 110.0)) * env.process(4800)
    assert y.shape == (16, 4800) and np.all(np.isfinite(y))


@pytest.mark.parametrize("call,match", [
    (lambda: AdsrEnvelope(48000, voices=1, attack_ms=-1), "attack_ms must be in"),
    (lambda: AdsrEnvelope(48000, voices=1, sustain=1.5), "sustain must be in"),
    (lambda: AdsrEnvelope(48000, voices=1, curve="log"), "curve must be one of"),
    (lambda: AdsrEnvelope(48000, voices=1).set(hold_ms=3), "unknown AdsrEnvelope parameter 'hold_ms'"),
    (lambda: AdsrEnvelope(48000, voices=2).gate_on(2), r"voice must be an integer in \[0, 1\], got 2"),
    (lambda: AdsrEnvelope(48000, voices=1).gate_on(0, 1.5), "velocity must be in"),
    (lambda: SegmentEnvelope(48000, voices=1, points=[(10, 1.0), (5, 0.0)]), "do not decrease"),
    (lambda: SegmentEnvelope(48000, voices=1, points=[(0, 1.0)], sustain_index=1), "sustain_index must be"),
    (lambda: Glide(48000, voices=1, mode="cubic"), "mode must be one of"),
])
def test_bad_parameters_raise_with_the_value(call, match):
    with pytest.raises(ParameterError, match=match):
        call()

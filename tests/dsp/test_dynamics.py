"""Physics of the true-peak limiter and the bus compressor."""

from __future__ import annotations

import math

import numpy as np
import pytest

from symphony.dsp.dynamics import (
    Compressor,
    TruePeakLimiter,
    _compressor_kernel,
    _limiter_gain_kernel,
    compressor_reference,
    limiter_gain_reference,
)
from symphony.dsp.loudness import LoudnessMeter, true_peak_dbtp
from symphony.errors import ParameterError

RATES = [22050, 44100, 48000]
SPLITS = [1, 64, 65, 512, 8193]


def run_split(proc, x, sizes=SPLITS, **kw):
    out, pos, i = [], 0, 0
    while pos < x.shape[1]:
        n = sizes[i % len(sizes)]
        out.append(proc.process(x[:, pos:pos + n], **{k: v[:, pos:pos + n] for k, v in kw.items()}))
        pos += n
        i += 1
    return np.concatenate(out, axis=1)


def limit_all(lim, x):
    """Process and flush the latency with zeros, so the whole output is measured."""
    y = lim.process(x)
    tail = lim.process(np.zeros((x.shape[0], lim.latency_frames)))
    return np.concatenate([y, tail], axis=1)[:, lim.latency_frames:]


def hot_signals(fs, seconds=1.0):
    rng = np.random.default_rng(11)
    n = int(seconds * fs)
    t = np.arange(n) / fs
    saw = lambda f: 2.0 * ((f * t) % 1.0) - 1.0  # noqa: E731
    return {
        "noise+12dB": rng.standard_normal((2, n)) * 4.0 / 3.0,  # ~ +12 dB over full scale peaks
        "saws+12dB": np.stack([4.0 * saw(110.0), 4.0 * saw(163.0)]),
        "fs4_45deg+12dB": np.tile(4.0 * np.sin(2 * np.pi * t * fs / 4 + np.pi / 4), (2, 1)),
        "bursts": np.tile(np.sin(2 * np.pi * 997 * t) * np.where((t % 0.25) < 0.05, 8.0, 0.2), (2, 1)),
    }


@pytest.mark.parametrize("sample_rate", RATES)
@pytest.mark.parametrize("ceiling", [-1.0, -0.1, -6.0])
def test_output_true_peak_at_or_below_ceiling(sample_rate, ceiling):
    for name, x in hot_signals(sample_rate).items():
        lim = TruePeakLimiter(sample_rate, ceiling_dbtp=ceiling)
        y = limit_all(lim, x)
        tp = true_peak_dbtp(y, sample_rate)  # our 4x meter
        assert tp <= ceiling, (name, tp)
        assert tp > ceiling - 0.5, (name, tp)  # it limits, it does not just attenuate


@pytest.mark.parametrize("lookahead_ms, release_ms", [(0.5, 5.0), (2.0, 80.0), (5.0, 500.0)])
def test_true_peak_bound_over_settings(lookahead_ms, release_ms):
    fs = 48000
    rng = np.random.default_rng(2)
    x = rng.standard_normal((2, fs // 2)) * 10.0
    x[:, ::7] *= 3.0
    lim = TruePeakLimiter(fs, ceiling_dbtp=-1.0, lookahead_ms=lookahead_ms, release_ms=release_ms)
    meter = LoudnessMeter(fs)
    meter.process(limit_all(lim, x))
    meter.flush_true_peak()
    assert meter.true_peak_dbtp() <= -1.0


@pytest.mark.parametrize("sample_rate", RATES)
def test_quiet_material_passes_bit_exact_after_the_delay(sample_rate):
    rng = np.random.default_rng(4)
    x = rng.standard_normal((2, sample_rate // 2))
    x *= 10 ** (-3.0 / 20) / np.max(np.abs(x)) / 1.2  # true peak well below -1 dBTP
    assert true_peak_dbtp(x, sample_rate) < -2.0
    lim = TruePeakLimiter(sample_rate, ceiling_dbtp=-1.0)
    y = limit_all(lim, x)
    assert np.array_equal(y, x)


def test_latency_is_lookahead_plus_interpolator_delay():
    lim = TruePeakLimiter(48000, lookahead_ms=2.0)
    assert lim.latency_frames == 96 + 12
    x = np.zeros((2, 400))
    x[:, 10] = 0.1
    y = lim.process(x)
    assert np.argmax(np.abs(y[0])) == 10 + lim.latency_frames


def test_block_size_invariance():
    fs = 44100
    x = hot_signals(fs, 0.5)["noise+12dB"]
    whole = TruePeakLimiter(fs).process(x)
    split = run_split(TruePeakLimiter(fs), x)
    np.testing.assert_allclose(split, whole, rtol=0, atol=1e-12)


def test_gain_is_smooth_no_clicks():
    # the gain is a box average of a min-hold: piecewise linear, each step at most 1/W
    fs = 48000
    lim = TruePeakLimiter(fs, lookahead_ms=2.0)
    x = hot_signals(fs)["bursts"]
    lim.process(x)
    g = lim.last_gain
    w = 96
    assert np.min(g) < 0.2  # it did reduce ~20 dB
    assert np.max(np.abs(np.diff(g))) <= 1.0 / w + 1e-12
    # a per-sample clipper would jump by ~0.9 at each burst onset
    naive = np.minimum(1.0, 10 ** (-1 / 20) / np.maximum(np.abs(x[0]), 1e-12))
    assert np.max(np.abs(np.diff(naive))) > 0.5


def test_linked_stereo_gain():
    fs = 48000
    x = np.zeros((2, fs // 4))
    x[0] = 4.0 * np.sin(2 * np.pi * 440 * np.arange(fs // 4) / fs)
    x[1] = 0.1 * np.sin(2 * np.pi * 660 * np.arange(fs // 4) / fs)
    lim = TruePeakLimiter(fs)
    y = lim.process(x)
    d = lim.latency_frames
    np.testing.assert_allclose(y[1, d:], x[1, :-d] * lim.last_gain[d:], rtol=0, atol=1e-15)


def test_gain_kernel_matches_reference():
    rng = np.random.default_rng(9)
    p = np.abs(rng.standard_normal(3000)) * np.repeat(rng.uniform(0.2, 3.0, 30), 100)
    w = 37
    rel = math.exp(-1 / 200.0)
    out = np.empty(p.size)
    _limiter_gain_kernel(p, 0.8, rel, np.ones(w + 2), np.ones(w), np.array([0.0, 0.0, 1.0, 0.0, 0.0]), out)
    np.testing.assert_allclose(out, limiter_gain_reference(p, 0.8, rel, w), rtol=0, atol=1e-12)


def test_gain_kernel_counters_across_calls_match_reference():
    """Loud bursts between quiet stretches, fed in uneven calls: the below-1 counters that let
    the kernel skip its ring scans must agree with the plain reference, and quiet stretches
    return to a gain of exactly 1.0."""
    rng = np.random.default_rng(10)
    p = np.minimum(np.abs(rng.standard_normal(6000)) * 0.1, 0.7)  # below the 0.8 ceiling
    p[1000:1100] *= 20.0
    p[3000:3010] = 2.5
    p[4500] = 5.0
    w = 41
    rel = math.exp(-1 / 20.0)  # recovers to exactly 1.0 (within 1e-12) in ~600 frames
    ref = limiter_gain_reference(p, 0.8, rel, w)
    out = np.empty(p.size)
    r_ring, h_ring, state = np.ones(w + 2), np.ones(w), np.array([0.0, 0.0, 1.0, 0.0, 0.0])
    pos = 0
    for size in [1, 63, 64, 700, 2, 5170]:
        seg = slice(pos, min(pos + size, p.size))
        _limiter_gain_kernel(p[seg], 0.8, rel, r_ring, h_ring, state, out[seg])
        pos = seg.stop
    assert pos == p.size
    np.testing.assert_allclose(out, ref, rtol=0, atol=1e-12)
    assert np.all(out[2500:2990] == 1.0) and out[3005] < 1.0
    assert state[3] == np.count_nonzero(r_ring < 1.0) and state[4] == np.count_nonzero(h_ring < 1.0)


def test_limiter_equals_the_exact_detector_path():
    """The detector skips groups that cannot exceed the ceiling; the output must be exactly
    that of exact per-frame peaks through the same gain computer."""
    from symphony.dsp.loudness import OversampledPeak

    fs = 48000
    rng = np.random.default_rng(4)
    x = rng.standard_normal((2, fs)) * 0.1
    x[:, 10000:10500] *= 12.0
    x[0, 30000] = 3.0
    lim = TruePeakLimiter(fs, ceiling_dbtp=-1.0)
    y = np.concatenate([lim.process(x[:, k:k + 4096]) for k in range(0, fs, 4096)], axis=1)
    p = OversampledPeak(2).process(x)  # exact, no floor
    g = np.empty(fs)
    w = lim._window
    _limiter_gain_kernel(p, lim._ceiling, lim._rel_coef, np.ones(w + 2), np.ones(w),
                         np.array([0.0, 0.0, 1.0, 0.0, 0.0]), g)
    d = lim.latency_frames
    np.testing.assert_array_equal(y[:, d:], x[:, :-d] * g[d:])
    assert g.min() < 0.5 and np.mean(g == 1.0) > 0.15  # limits, and passes 1.0 before the burst


def test_limiter_rejects_bad_parameters():
    with pytest.raises(ParameterError, match="ceiling_dbtp"):
        TruePeakLimiter(48000, ceiling_dbtp=3.0)
    with pytest.raises(ParameterError, match="lookahead_ms"):
        TruePeakLimiter(48000, lookahead_ms=0.0)


# --------------------------------------------------------------------------- compressor
@pytest.mark.parametrize("sample_rate", RATES)
def test_compressor_static_curve(sample_rate):
    # steady sine 12 dB over threshold, hard knee, 4:1 -> 9 dB reduction once settled
    n = sample_rate
    t = np.arange(n) / sample_rate
    x = np.tile(10 ** (-6 / 20) * np.sin(2 * np.pi * 1000 * t), (2, 1))  # peak level -6 dBFS
    comp = Compressor(sample_rate, threshold_db=-18.0, ratio=4.0, knee_db=0.0, attack_ms=1.0, release_ms=2000.0)
    comp.process(x)
    assert -comp.last_gain_db[-1] == pytest.approx(9.0, abs=0.1)


def test_compressor_knee_and_below_threshold():
    fs = 48000
    comp = Compressor(fs, threshold_db=-20.0, ratio=2.0, knee_db=10.0, attack_ms=0.01, release_ms=1.0)
    level = np.full(2000, -20.0)  # at threshold, in the middle of the knee
    gdb = np.empty(2000)
    _compressor_kernel(level, -20.0, 2.0, 10.0, comp._att, comp._rel, np.zeros(1), gdb)
    # Giannoulis eq. 4 at x = T: (1/R - 1) (W/2)^2 / (2W) = -0.625 dB
    assert gdb[-1] == pytest.approx(-0.625, abs=1e-6)
    quiet = np.full((2, 1000), 10 ** (-40 / 20))
    comp.reset()
    np.testing.assert_array_equal(comp.process(quiet), quiet)


def test_compressor_attack_time_constant():
    # a step in level: the reduction reaches 1 - 1/e of its final value after attack_ms
    fs = 48000
    comp = Compressor(fs, threshold_db=-30.0, ratio=10.0, knee_db=0.0, attack_ms=10.0, release_ms=100.0)
    x = np.full((2, fs // 5), 0.5)
    comp.process(x)
    red = -comp.last_gain_db
    final = red[-1]
    k = int(0.010 * fs)
    assert red[k] / final == pytest.approx(1 - math.exp(-1), abs=0.01)


def test_sidechain_ducking():
    # pad ducked by a kick on the sidechain; without the kick it passes unchanged
    fs = 48000
    n = fs
    t = np.arange(n) / fs
    pad = np.tile(0.1 * np.sin(2 * np.pi * 220 * t), (2, 1))
    kick = np.where((t % 0.5) < 0.08, 0.9, 0.0) * np.sin(2 * np.pi * 55 * t)
    comp = Compressor(fs, threshold_db=-30.0, ratio=8.0, attack_ms=1.0, release_ms=80.0)
    y = comp.process(pad, sidechain=kick)
    g = comp.last_gain_db
    assert g[int(0.05 * fs)] < -10.0  # ducked during the kick
    assert g[int(0.45 * fs)] > -1.0  # recovered before the next one
    comp.reset()
    np.testing.assert_array_equal(comp.process(pad, sidechain=np.zeros(n)), pad)
    assert y.shape == pad.shape


def test_compressor_kernel_matches_reference_and_block_invariance():
    fs = 44100
    rng = np.random.default_rng(1)
    x = rng.standard_normal((2, fs // 2)) * np.repeat(rng.uniform(0.01, 1.0, 50), fs // 100)
    comp = Compressor(fs, knee_db=6.0, makeup_db=3.0)
    whole = comp.process(x)
    level = 20 * np.log10(np.maximum(np.max(np.abs(x), axis=0), 1e-15))
    ref = compressor_reference(level, comp.threshold_db, comp.ratio, comp.knee_db, comp._att, comp._rel)
    np.testing.assert_allclose(comp.last_gain_db, ref, rtol=0, atol=1e-9)
    split = run_split(Compressor(fs, knee_db=6.0, makeup_db=3.0), x)
    np.testing.assert_allclose(split, whole, rtol=0, atol=1e-12)

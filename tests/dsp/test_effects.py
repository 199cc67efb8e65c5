"""Physics of the bus effects: delay, chorus, saturation, bit crusher, parametric EQ; the registry."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.signal

from symphony.dsp.effects import (
    _DEC_TAPS,
    EFFECTS,
    BitCrusher,
    Chorus,
    ParametricEq,
    Saturation,
    StereoDelay,
    _antideriv,
    _SAT_MODES,
    _SAT_TILE,
    _SAT_VHIST,
    _saturation_kernel,
    rbj_biquad,
)
from symphony.dsp.loudness import _TP_TAPS
from symphony.dsp.reverb import Reverb
from symphony.errors import ParameterError
from symphony.params import Param

RATES = [22050, 44100, 48000]


def run_split(proc, x, sizes=(1, 64, 65, 512, 8193)):
    out, pos, i = [], 0, 0
    while pos < x.shape[1]:
        n = sizes[i % len(sizes)]
        out.append(proc.process(x[:, pos:pos + n]))
        pos += n
        i += 1
    return np.concatenate(out, axis=1)


def impulse(n, at=0):
    x = np.zeros((2, n))
    x[:, at] = 1.0
    return x


# --------------------------------------------------------------------------- registry
def test_registry_and_params():
    assert set(EFFECTS) == {"reverb", "delay", "chorus", "saturation", "bitcrusher", "eq"}
    assert EFFECTS["reverb"] is Reverb
    rng = np.random.default_rng(0)
    x = rng.standard_normal((2, 300)) * 0.3
    for name, cls in EFFECTS.items():
        assert cls.PARAMS and all(isinstance(p, Param) for p in cls.PARAMS), name
        kwargs = {p.name: p.default for p in cls.PARAMS}
        y = cls(48000, **kwargs).process(x)
        assert y.shape == (2, 300) and np.all(np.isfinite(y)), name
        numeric = next(p for p in cls.PARAMS if not p.choices)
        with pytest.raises(ParameterError, match=numeric.name):
            cls(48000, **{numeric.name: numeric.high + 1.0})


@pytest.mark.parametrize("name", ["delay", "chorus", "saturation", "bitcrusher", "eq"])
def test_block_size_invariance(name):
    fs = 44100
    params = {"delay": dict(time_ms=13.7, feedback=0.6, ping_pong=1, damping_hz=3000.0),
              "chorus": dict(mix=0.7), "saturation": dict(drive_db=18.0, mode="tube", mix=0.8),
              "bitcrusher": dict(bits=5, downsample=7, mix=0.9),
              "eq": dict(low_db=3.0, mid_db=-4.0, high_db=2.0)}[name]
    rng = np.random.default_rng(5)
    x = rng.standard_normal((2, 20000)) * 0.5
    whole = EFFECTS[name](fs, **params).process(x)
    split = run_split(EFFECTS[name](fs, **params), x)
    np.testing.assert_allclose(split, whole, rtol=0, atol=1e-12)


# --------------------------------------------------------------------------- delay
@pytest.mark.parametrize("sample_rate", RATES)
def test_delay_echoes_at_time_with_feedback_powers(sample_rate):
    fb = 0.6
    d = StereoDelay(sample_rate, time_ms=100.0, feedback=fb)
    y = d.process(impulse(sample_rate))
    step = sample_rate // 10  # 100 ms is an integer number of frames at these rates
    for k in range(1, 9):
        assert y[0, k * step] == pytest.approx(fb ** (k - 1), abs=1e-12)
    assert np.count_nonzero(np.abs(y[0]) > 1e-12) == 9


def test_delay_fractional_time_keeps_echo_energy_sum():
    fs = 22050
    fb = 0.5
    d = StereoDelay(fs, time_ms=125.0, feedback=fb)  # 2756.25 frames
    y = d.process(impulse(fs))
    for k in range(1, 4):
        centre = int(round(k * 2756.25))
        assert np.sum(y[0, centre - 5:centre + 6]) == pytest.approx(fb ** (k - 1), abs=1e-9)


def test_ping_pong_alternates_and_damping_low_passes():
    fs = 48000
    d = StereoDelay(fs, time_ms=50.0, feedback=0.5, ping_pong=1)
    y = d.process(impulse(fs // 2))
    step = 2400
    assert y[0, step] == pytest.approx(1.0) and y[1, step] == 0.0
    assert y[1, 2 * step] == pytest.approx(0.5) and y[0, 2 * step] == 0.0
    assert y[0, 3 * step] == pytest.approx(0.25)
    dark = StereoDelay(fs, time_ms=50.0, feedback=0.5, damping_hz=1000.0).process(impulse(fs // 2))
    # one-pole low-pass per pass: DC gain 1 (sum kept), peak smeared
    seg = dark[0, 2 * step - 10:3 * step - 10]
    assert np.sum(seg) == pytest.approx(0.5, abs=1e-6)
    assert np.max(seg) < 0.1


# --------------------------------------------------------------------------- chorus
@pytest.mark.parametrize("sample_rate", RATES)
def test_chorus_delay_range(sample_rate):
    # impulses every 50 ms; each tap echoes it at its current delay in [delay - depth, delay + depth]
    delay_ms, depth_ms = 12.0, 4.0
    ch = Chorus(sample_rate, mix=1.0, taps=2, rate_hz=0.7, delay_ms=delay_ms, depth_ms=depth_ms)
    hop = sample_rate // 20
    n = 3 * sample_rate
    x = np.zeros((2, n))
    x[:, ::hop] = 1.0
    y = ch.process(x)
    delays = []
    for start in range(0, n - hop, hop):
        seg = y[0, start:start + hop]
        # each tap leaves a linear-interpolated pair; its centroid is the delay
        for lo, hi in ((int((delay_ms - depth_ms) * 1e-3 * sample_rate) - 2, int((delay_ms + depth_ms) * 1e-3 * sample_rate) + 3),):
            idx = np.nonzero(seg[lo:hi] > 1e-9)[0] + lo
            groups = np.split(idx, np.nonzero(np.diff(idx) > 1)[0] + 1)
            for g in groups:
                if g.size:
                    delays.append(np.sum(g * seg[g]) / np.sum(seg[g]) / sample_rate * 1e3)
    delays = np.array(delays)
    assert np.all(delays >= delay_ms - depth_ms - 1e3 / sample_rate)
    assert np.all(delays <= delay_ms + depth_ms + 1e3 / sample_rate)
    assert np.max(delays) - np.min(delays) > 1.6 * depth_ms  # the sweep covers the range
    assert np.count_nonzero(y[0, :int((delay_ms - depth_ms) * 1e-3 * sample_rate) - 1]) == 0


def test_chorus_dry_mix_is_identity():
    x = np.random.default_rng(1).standard_normal((2, 1000))
    np.testing.assert_array_equal(Chorus(48000, mix=0.0).process(x), x)


# --------------------------------------------------------------------------- saturation
def _spectrum(y, fs):
    w = scipy.signal.windows.blackmanharris(y.size)
    mag = np.abs(np.fft.rfft(y * w))
    return np.fft.rfftfreq(y.size, 1 / fs), mag


def _sat_analysis(mode, drive_db, fs=48000, f0=5000.0, amp=0.5):
    n = fs
    t = np.arange(n) / fs
    x = np.tile(amp * np.sin(2 * np.pi * f0 * t), (2, 1))
    y = Saturation(fs, drive_db=drive_db, mode=mode).process(x)[0, fs // 4:]
    f, mag = _spectrum(y, fs)
    fund = mag[np.argmin(np.abs(f - f0))]
    harm_bins = np.zeros(f.size, bool)
    harmonics = []
    for k in range(0, int(fs / 2 / f0) + 1):
        near = np.abs(f - k * f0) < 40.0
        harm_bins |= near
        if k >= 2:
            harmonics.append(np.max(mag[near]))
    thd = np.sqrt(np.sum(np.square(harmonics))) / fund
    alias = np.max(mag[~harm_bins]) / fund
    return 20 * np.log10(thd), 20 * np.log10(alias), [20 * np.log10(h / fund) for h in harmonics]


@pytest.mark.parametrize("mode", _SAT_MODES)
def test_thd_grows_with_drive(mode):
    thd = [_sat_analysis(mode, d)[0] for d in (0.0, 6.0, 12.0, 24.0)]
    assert all(b > a + 1.0 for a, b in zip(thd[1:], thd[2:])), thd
    assert thd[-1] > -15.0  # heavily driven: strong harmonics


@pytest.mark.parametrize("mode, limit_db", [("tanh", -80.0), ("soft", -75.0), ("hard", -60.0), ("tube", -80.0)])
def test_aliasing_of_5khz_sine_at_24db_drive(mode, limit_db):
    # 4x oversampling + first-order ADAA + a decimator whose stopband starts below fs/2:
    # measured -90 (tanh), -81 (soft), -65 (hard clip: harmonics decay only as 1/k), -93 dB (tube)
    _, alias_db, _ = _sat_analysis(mode, 24.0)
    assert alias_db < limit_db


def test_tube_is_asymmetric_and_dc_blocked():
    _, _, h_tube = _sat_analysis("tube", 12.0)
    _, _, h_tanh = _sat_analysis("tanh", 12.0)
    assert h_tube[0] > -30.0  # second harmonic present
    assert h_tanh[0] < -100.0  # odd-symmetric curve: no even harmonics
    fs = 48000
    t = np.arange(fs) / fs
    y = Saturation(fs, drive_db=18.0, mode="tube").process(np.tile(0.5 * np.sin(2 * np.pi * 200 * t), (2, 1)))
    assert abs(np.mean(y[0, fs // 2:])) < 1e-3


def test_saturation_latency_and_transparency_at_low_level():
    fs = 48000
    sat = Saturation(fs, drive_db=0.0, mode="hard")  # hard clip is the identity below 1
    t = np.arange(fs // 2) / fs
    x = np.tile(0.3 * np.sin(2 * np.pi * 440 * t), (2, 1))
    y = sat.process(x)
    d = sat.latency_frames
    assert d == 36
    # passband ripple of the two FIRs and the 10 Hz DC blocker (phase at 440 Hz: 1.3 degrees)
    err = y[0, 2000:] - x[0, 2000 - d:-d]
    assert np.max(np.abs(err)) < 0.3 * 0.03


def _saturation_reference(x, drive, mode):
    """Zero-stuff, FIR, ADAA waveshaper, FIR, keep every 4th sample: numpy + a python loop."""
    n = x.size
    h = np.zeros(4 * _TP_TAPS.shape[1])
    for i in range(h.size):
        h[i] = _TP_TAPS[i % 4, i // 4]
    xz = np.zeros(4 * n)
    xz[::4] = x
    u = np.convolve(xz, h)[:4 * n] * drive
    v = np.empty_like(u)
    prev = 0.0
    for i, ui in enumerate(u):
        if abs(ui - prev) > 1e-9:
            v[i] = (_antideriv(ui, mode) - _antideriv(prev, mode)) / (ui - prev)
        else:
            v[i] = np.tanh(0.5 * (ui + prev)) if mode == 0 else np.clip(0.5 * (ui + prev), -1, 1)
        prev = ui
    return np.convolve(v, _DEC_TAPS)[:4 * n:4]


@pytest.mark.parametrize("mode", [0, 2])
def test_saturation_kernel_matches_reference(mode):
    # 600 frames: more than two of the kernel's tiles, so the histories cross tile edges
    rng = np.random.default_rng(6)
    x = rng.standard_normal((2, 600)) * 0.7
    x[:, 300:340] = 0.25  # a constant stretch takes the ADAA's u == u_prev branch
    m = _TP_TAPS.shape[1] - 1
    out = np.empty_like(x)
    dc_r = 1.0 - 2.0 * np.pi * 10.0 / 48000
    _saturation_kernel(x, out, _TP_TAPS, _DEC_TAPS, 3.0, mode, np.zeros((2, m + _SAT_TILE)),
                       np.zeros((2, 4, _SAT_VHIST + _SAT_TILE)), np.zeros(2), np.empty((4, _SAT_TILE)),
                       dc_r, np.zeros(2))
    for c in range(2):
        ref = scipy.signal.lfilter([1.0, -1.0], [1.0, -dc_r], _saturation_reference(x[c], 3.0, mode))
        np.testing.assert_allclose(out[c], ref, rtol=0, atol=1e-10)


@pytest.mark.parametrize("mode", _SAT_MODES)
def test_saturation_blocks_of_any_size_give_the_same_samples(mode):
    # the kernel works in tiles of _SAT_TILE frames: block edges and tile edges must not show
    rng = np.random.default_rng(7)
    x = rng.standard_normal((2, 3000)) * 0.5
    whole = Saturation(48000, drive_db=12.0, mode=mode).process(x)
    split = run_split(Saturation(48000, drive_db=12.0, mode=mode), x, sizes=(1, 255, 256, 257, 700, 1))
    np.testing.assert_array_equal(split, whole)


# --------------------------------------------------------------------------- bit crusher
@pytest.mark.parametrize("bits", [1, 3, 8, 12])
def test_bitcrusher_quantization_step(bits):
    x = np.tile(np.linspace(-0.999, 0.999, 5001), (2, 1))
    y = BitCrusher(48000, bits=bits).process(x)
    step = 2.0 ** (1 - bits)
    q = y / step
    np.testing.assert_allclose(q, np.round(q), atol=1e-9)  # on the grid
    assert np.max(np.abs(y - x)) <= step / 2 + 1e-12 or bits == 1
    assert len(np.unique(y[0])) == min(2 * int(np.round(0.999 / step)) + 1, 5001)  # every level in range used


def test_bitcrusher_sample_and_hold_across_blocks():
    x = np.tile(np.arange(20, dtype=float) / 40.0, (2, 1))
    bc = BitCrusher(48000, bits=24, downsample=3)
    y = np.concatenate([bc.process(x[:, :4]), bc.process(x[:, 4:11]), bc.process(x[:, 11:])], axis=1)
    expected = x[0, (np.arange(20) // 3) * 3]
    np.testing.assert_allclose(y[0], expected, atol=2 ** -23)


# --------------------------------------------------------------------------- EQ
def _mag_db(sos, freqs, fs):
    _, h = scipy.signal.sosfreqz(sos, worN=freqs, fs=fs)
    return 20 * np.log10(np.abs(h))


@pytest.mark.parametrize("sample_rate", RATES)
def test_eq_response_matches_rbj_product(sample_rate):
    bands = [("lowshelf", 100.0, 6.0, 0.7071), ("peak", 1000.0, -9.0, 2.0), ("highshelf", 6000.0, 4.0, 0.7071),
             ("highpass", 30.0, 0.0, 0.7071)]
    eq = ParametricEq(sample_rate, bands=bands)
    n = 1 << 15
    y = eq.process(impulse(n))[0]
    freqs = np.array([50.0, 100.0, 300.0, 1000.0, 2500.0, 6000.0, 9000.0])
    measured = 20 * np.log10(np.abs(np.fft.rfft(y)))[np.round(freqs * n / sample_rate).astype(int)]
    bins = np.round(freqs * n / sample_rate) * sample_rate / n
    expected = sum(_mag_db(rbj_biquad(k, f, g, q, sample_rate)[None, :], bins, sample_rate) for k, f, g, q in bands)
    np.testing.assert_allclose(measured, expected, atol=0.1)


@pytest.mark.parametrize("sample_rate", RATES)
def test_rbj_cookbook_properties(sample_rate):
    fs = sample_rate
    # peaking: exactly gain_db at f0, 0 dB at DC
    assert _mag_db(rbj_biquad("peak", 1000.0, 7.5, 1.4, fs)[None], [1000.0], fs)[0] == pytest.approx(7.5, abs=1e-6)
    assert _mag_db(rbj_biquad("peak", 1000.0, 7.5, 1.4, fs)[None], [1e-3], fs)[0] == pytest.approx(0.0, abs=1e-6)
    # shelves: half the gain at f0, full gain far away
    ls = rbj_biquad("lowshelf", 200.0, 8.0, 0.7071, fs)[None]
    assert _mag_db(ls, [200.0], fs)[0] == pytest.approx(4.0, abs=1e-6)
    assert _mag_db(ls, [1e-3], fs)[0] == pytest.approx(8.0, abs=1e-6)
    hs = rbj_biquad("highshelf", 4000.0, -6.0, 0.7071, fs)[None]
    assert _mag_db(hs, [4000.0], fs)[0] == pytest.approx(-3.0, abs=1e-6)
    # Butterworth low-pass: -3.01 dB at f0
    lp = rbj_biquad("lowpass", 2000.0, 0.0, 0.7071067811865476, fs)[None]
    assert _mag_db(lp, [2000.0], fs)[0] == pytest.approx(-3.0103, abs=1e-3)


def test_eq_three_band_params_and_flat_default():
    x = np.random.default_rng(2).standard_normal((2, 2000))
    np.testing.assert_allclose(ParametricEq(48000).process(x), x, atol=1e-15)
    eq = ParametricEq(48000, mid_db=6.0, mid_hz=2000.0, mid_q=1.0)
    assert _mag_db(eq._sos, [2000.0], 48000)[0] == pytest.approx(6.0, abs=1e-6)
    with pytest.raises(ParameterError, match="kind"):
        ParametricEq(48000, bands=[("wobble", 100.0, 1.0, 1.0)])



def test_eq_equals_scipy_sosfilt_across_blocks():
    # the EQ runs through dsp.linear.sos_cascade, which must equal scipy's sosfilt bit for bit
    x = np.random.default_rng(3).standard_normal((2, 5000))
    bands = [("lowshelf", 100.0, 6.0, 0.7071), ("peak", 1000.0, -9.0, 2.0), ("highpass", 30.0, 0.0, 0.7071)]
    eq = ParametricEq(48000, bands=bands)
    expected = scipy.signal.sosfilt(eq._sos, x, axis=-1)
    np.testing.assert_array_equal(run_split(eq, x), expected)

def test_delay_time_change_glides_without_clicks():
    # a steady sine through the delay; halving time_ms mid-stream must not jump the output
    fs = 48000
    d = StereoDelay(fs, time_ms=300.0, feedback=0.0, glide_ms=50.0)
    t = np.arange(fs) / fs
    x = np.tile(0.5 * np.sin(2 * np.pi * 200 * t), (2, 1))
    y1 = d.process(x[:, :fs // 2])
    d.set(time_ms=150.0)
    y2 = d.process(x[:, fs // 2:])
    y = np.concatenate([y1, y2], axis=1)[0]
    # a 200 Hz sine of amplitude 0.5 moves at most 2 pi 200 * 0.5 / fs = 0.0131 per frame; the
    # glide reads at most 1 + (7200 frames / 2400 frames) = 4x faster (Doppler), never jumps
    slope = 2 * np.pi * 200 * 0.5 / fs
    assert np.max(np.abs(np.diff(y[fs // 2 - 100:]))) < 4.0 * slope * 1.02
    assert d._cur[0] == pytest.approx(150.0e-3 * fs + 7200.0 * np.exp(-10.0), rel=1e-3)  # 10 time constants later
    fast = StereoDelay(fs, time_ms=300.0, feedback=0.0, glide_ms=1.0)
    z1 = fast.process(x[:, :fs // 2])
    fast.set(time_ms=150.0)
    z = np.concatenate([z1, fast.process(x[:, fs // 2:])], axis=1)[0]
    assert np.max(np.abs(np.diff(z[fs // 2 - 100:]))) > 10 * slope  # a 1 ms glide does click

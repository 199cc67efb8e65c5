"""Physics and contract tests of symphony.dsp.filters.

Magnitude responses are measured from a long impulse response (FFT) and compared with
the analytic response of each filter's discretization: the bilinear transform with
pre-warping, ``s = j tan(pi f / fs) / tan(pi fc / fs)``, applied to the analog prototype.
Comparison rule: every FFT bin in 20 Hz .. min(20 kHz, 0.45 fs) where the analytic
magnitude is >= -60 dB must agree within 0.5 dB (the bins near a notch or deep in a
stop band, below -60 dB, are skipped; each case checks that the pass and transition band
around the cutoff were compared).

Run ``.venv/bin/python -m tests.dsp.test_filters`` to print the figures recorded in
docs/dsp-measurements.md.
"""

from __future__ import annotations

import math
import time

import numpy as np
import pytest

from symphony.dsp.base import DENORMAL_FLOOR
from symphony.dsp.filters import (
    BIQUAD_KINDS,
    FILTER_MODES,
    MAX_CUTOFF_RATIO,
    MIN_CUTOFF_HZ,
    Biquad,
    LadderFilter,
    OnePole,
    StateVariableFilter,
)
from symphony.errors import ParameterError

RESPONSE_RATES = [44100, 48000, 96000]
SAMPLE_RATES = [22050, 44100, 48000]
TOL_DB = 0.5
FLOOR_DB = -60.0
SPLITS = [1, 64, 65, 512, 8193]
N_IR = 1 << 16


# --------------------------------------------------------------------------- analytic responses


def s_of(freqs_hz, fc_hz, sample_rate):
    """Bilinear-transform Laplace variable, normalized to the pre-warped cutoff."""
    return 1j * np.tan(np.pi * freqs_hz / sample_rate) / np.tan(np.pi * fc_hz / sample_rate)


def svf_analytic(mode, s, q):
    den = s * s + s / q + 1.0
    num = {"lowpass": 1.0, "bandpass": s / q, "highpass": s * s, "notch": s * s + 1.0}[mode]
    return num / den


def ladder_analytic(s, resonance, drive=1.0):
    p4 = (1.0 / (1.0 + s)) ** 4
    return drive * p4 / (1.0 + 4.0 * resonance * p4)


def one_pole_analytic(mode, s):
    return 1.0 / (1.0 + s) if mode == "lowpass" else s / (1.0 + s)


def rbj_analog(kind, s, q, gain_db):
    """RBJ cookbook analog prototypes H(s) (s normalized to w0)."""
    a = 10.0 ** (gain_db / 40.0)
    sq = np.sqrt(a) / q
    den = s * s + s / q + 1.0
    if kind == "lowpass":
        return 1.0 / den
    if kind == "highpass":
        return s * s / den
    if kind == "bandpass":
        return (s / q) / den
    if kind == "notch":
        return (s * s + 1.0) / den
    if kind == "allpass":
        return (s * s - s / q + 1.0) / den
    if kind == "peak":
        return (s * s + s * a / q + 1.0) / (s * s + s / (a * q) + 1.0)
    if kind == "lowshelf":
        return a * (s * s + sq * s + a) / (a * s * s + sq * s + 1.0)
    if kind == "highshelf":
        return a * (a * s * s + sq * s + 1.0) / (s * s + sq * s + a)
    raise AssertionError(kind)


def measured_response(run, sample_rate, amplitude=1.0, n=N_IR):
    """FFT of the impulse response; ``run(x)`` filters a (1, n) array."""
    x = np.zeros((1, n))
    x[0, 0] = amplitude
    h = run(x)[0] / amplitude
    assert np.all(np.isfinite(h))
    # The response must have decayed, or the FFT is not the transfer function.
    assert np.max(np.abs(h[-256:])) < 1e-9 * max(np.max(np.abs(h)), 1e-300)
    freqs = np.fft.rfftfreq(n, 1.0 / sample_rate)
    return freqs, np.fft.rfft(h)


def compare_db(freqs, measured, analytic, sample_rate, fc_hz=None):
    """Max |dB difference| over compared bins (see module docstring), number of bins."""
    band = (freqs >= 20.0) & (freqs <= min(20000.0, 0.45 * sample_rate))
    ana_db = 20 * np.log10(np.maximum(np.abs(analytic), 1e-300))
    use = band & (ana_db >= FLOOR_DB)
    mea_db = 20 * np.log10(np.maximum(np.abs(measured), 1e-300))
    if fc_hz is not None and 20.0 <= fc_hz <= 0.45 * sample_rate:
        near = band & (freqs >= fc_hz / 2) & (freqs <= min(2 * fc_hz, 0.45 * sample_rate))
        # the pass/transition band around the cutoff was compared (all but notch bins)
        assert use[near].mean() > 0.8
    return float(np.max(np.abs(mea_db[use] - ana_db[use]))), int(use.sum())


# --------------------------------------------------------------------------- measurement cases

SVF_CUTOFFS = [100.0, 1000.0, 8000.0]
SVF_QS = [0.5, 0.7071, 5.0]
LADDER_CUTOFFS = [200.0, 1000.0, 5000.0]
LADDER_RESONANCES = [0.0, 0.5, 0.9]
ONE_POLE_CUTOFFS = [20.0, 1000.0, 10000.0]
BIQUAD_FREQS = [100.0, 1000.0, 8000.0]
BIQUAD_QS = [0.7071, 2.0]
BIQUAD_GAINS = {"peak": [-12.0, 6.0], "lowshelf": [-12.0, 6.0], "highshelf": [-12.0, 6.0]}


def svf_error(sample_rate, mode, fc, q):
    f = StateVariableFilter(sample_rate, channels=1, mode=mode, cutoff_hz=fc, q=q)
    freqs, h = measured_response(f.process, sample_rate)
    return compare_db(freqs, h, svf_analytic(mode, s_of(freqs, fc, sample_rate), q), sample_rate, fc)


def ladder_error(sample_rate, fc, resonance):
    f = LadderFilter(sample_rate, channels=1, cutoff_hz=fc, resonance=resonance, drive=1.0)
    # tiny impulse: tanh(u) = u (1 - u^2/3) keeps the loop linear to ~1e-13
    freqs, h = measured_response(f.process, sample_rate, amplitude=1e-6)
    return compare_db(freqs, h, ladder_analytic(s_of(freqs, fc, sample_rate), resonance), sample_rate, fc)


def one_pole_error(sample_rate, mode, fc):
    f = OnePole(sample_rate, channels=1, mode=mode, cutoff_hz=fc)
    freqs, h = measured_response(f.process, sample_rate)
    return compare_db(freqs, h, one_pole_analytic(mode, s_of(freqs, fc, sample_rate)), sample_rate, fc)


def biquad_error(sample_rate, kind, fc, q, gain_db):
    f = Biquad(sample_rate, channels=1, kind=kind, freq_hz=fc, q=q, gain_db=gain_db)
    freqs, h = measured_response(f.process, sample_rate)
    analytic = rbj_analog(kind, s_of(freqs, fc, sample_rate), q, gain_db)
    err_proc = compare_db(freqs, h, analytic, sample_rate, fc if kind != "notch" else None)
    # response() (the digital coefficients) equals the analog prototype under the
    # pre-warped bilinear transform, i.e. the RBJ formulas are implemented correctly
    np.testing.assert_allclose(f.response(freqs[1:-1]), analytic[1:-1], rtol=1e-7, atol=1e-9)
    return err_proc


def biquad_cases():
    for kind in BIQUAD_KINDS:
        for fc in BIQUAD_FREQS:
            for q in BIQUAD_QS:
                for gain_db in BIQUAD_GAINS.get(kind, [0.0]):
                    yield kind, fc, q, gain_db


# --------------------------------------------------------------------------- 1. static responses


@pytest.mark.parametrize("sample_rate", RESPONSE_RATES)
@pytest.mark.parametrize("mode", FILTER_MODES)
def test_svf_response_matches_analytic(sample_rate, mode):
    for fc in SVF_CUTOFFS:
        for q in SVF_QS:
            err, n_bins = svf_error(sample_rate, mode, fc, q)
            assert n_bins > 300
            assert err < TOL_DB, (fc, q, err)


@pytest.mark.parametrize("sample_rate", RESPONSE_RATES)
def test_ladder_linear_response_matches_analytic(sample_rate):
    for fc in LADDER_CUTOFFS:
        for resonance in LADDER_RESONANCES:
            err, n_bins = ladder_error(sample_rate, fc, resonance)
            assert n_bins > 300
            assert err < TOL_DB, (fc, resonance, err)


@pytest.mark.parametrize("sample_rate", RESPONSE_RATES)
@pytest.mark.parametrize("mode", ["lowpass", "highpass"])
def test_one_pole_response_matches_analytic(sample_rate, mode):
    for fc in ONE_POLE_CUTOFFS:
        err, n_bins = one_pole_error(sample_rate, mode, fc)
        assert n_bins > 300
        assert err < TOL_DB, (fc, err)


@pytest.mark.parametrize("sample_rate", RESPONSE_RATES)
def test_biquad_response_matches_rbj(sample_rate):
    for kind, fc, q, gain_db in biquad_cases():
        err, n_bins = biquad_error(sample_rate, kind, fc, q, gain_db)
        assert n_bins > 300
        assert err < TOL_DB, (kind, fc, q, gain_db, err)


def sine_gain(run, freq_hz, sample_rate, amplitude=1.0):
    """Steady-state gain at ``freq_hz``: RMS ratio over the last 0.25 s of 1 s."""
    t = np.arange(sample_rate) / sample_rate
    x = amplitude * np.sin(2 * np.pi * freq_hz * t)[None, :]
    y = run(x)[0]
    tail = slice(3 * sample_rate // 4, None)
    return float(np.sqrt(np.mean(y[tail] ** 2) / np.mean(x[0, tail] ** 2)))


@pytest.mark.parametrize("sample_rate", SAMPLE_RATES)
def test_cutoff_gains_with_sines(sample_rate):
    fc = 1000.0
    # 12 dB/oct SVF, q = 1/sqrt(2): -3.01 dB at cutoff
    svf = StateVariableFilter(sample_rate, channels=1, cutoff_hz=fc, q=0.7071)
    assert sine_gain(svf.process, fc, sample_rate) == pytest.approx(0.7071, rel=0.01)
    # one-pole: -3.01 dB at cutoff
    lp = OnePole(sample_rate, channels=1, cutoff_hz=fc)
    assert sine_gain(lp.process, fc, sample_rate) == pytest.approx(math.sqrt(0.5), rel=0.01)
    # ladder without resonance: four poles at fc, |1/(1+j)^4| = 1/4 (-12 dB) at cutoff
    # and 24 dB/oct far above it (|H(8 fc)| ~ 8^-4 within the bilinear warping)
    lad = LadderFilter(sample_rate, channels=1, cutoff_hz=fc, resonance=0.0)
    assert sine_gain(lad.process, fc, sample_rate, 1e-3) == pytest.approx(0.25, rel=0.01)
    lad.reset()
    g8 = sine_gain(lad.process, 4 * fc, sample_rate, 1e-3) / sine_gain(lad.process, 2 * fc, sample_rate, 1e-3)
    assert 20 * np.log10(g8) == pytest.approx(-24.0, abs=2.5)


# --------------------------------------------------------------------------- 2. self-oscillation


def self_oscillation(sample_rate, fc, resonance, seconds=2.0):
    f = LadderFilter(sample_rate, channels=1, cutoff_hz=fc, resonance=resonance)
    x = np.zeros((1, int(seconds * sample_rate)))
    x[0, 0] = 1e-3
    y = f.process(x)[0]
    tail = y[-sample_rate:]
    spec = np.abs(np.fft.rfft(tail * np.hanning(tail.size)))
    k = int(np.argmax(spec))
    # parabolic interpolation of the peak bin
    if 0 < k < spec.size - 1:
        a, b, c = np.log(spec[k - 1:k + 2] + 1e-300)
        k = k + 0.5 * (a - c) / (a - 2 * b + c)
    freq = k * sample_rate / tail.size
    return y, freq


@pytest.mark.parametrize("sample_rate", SAMPLE_RATES)
@pytest.mark.parametrize("fc", [300.0, 1000.0, 4000.0])
def test_ladder_self_oscillates_at_cutoff(sample_rate, fc):
    y, freq = self_oscillation(sample_rate, fc, 1.1)
    assert np.all(np.isfinite(y))
    assert freq == pytest.approx(fc, rel=0.03)
    last, before = y[-sample_rate // 2:], y[-sample_rate:-sample_rate // 2]
    peak = np.max(np.abs(last))
    assert 0.05 < peak < 1.0  # rings on, bounded by the tanh
    rms_last, rms_before = np.sqrt(np.mean(last ** 2)), np.sqrt(np.mean(before ** 2))
    assert rms_last == pytest.approx(rms_before, rel=0.02)  # steady limit cycle


@pytest.mark.parametrize("sample_rate", SAMPLE_RATES)
def test_ladder_resonance_calibration(sample_rate):
    """resonance 1.0 is the onset: 0.95 decays away, 1.05 sustains."""
    y95, _ = self_oscillation(sample_rate, 1000.0, 0.95, seconds=1.0)
    y105, _ = self_oscillation(sample_rate, 1000.0, 1.05, seconds=1.0)
    assert np.max(np.abs(y95[-sample_rate // 4:])) < 1e-9
    assert np.max(np.abs(y105[-sample_rate // 4:])) > 0.05


# --------------------------------------------------------------------------- 3. extremes


def square(n, sample_rate, freq_hz=110.0):
    t = np.arange(n) / sample_rate
    return np.where(np.sin(2 * np.pi * freq_hz * t) >= 0, 1.0, -1.0)


def extreme_inputs(n, sample_rate):
    return {
        "zero": np.zeros(n),
        "tiny": np.full(n, 1e-300),
        "huge": 1e6 * square(n, sample_rate, 50.0),
        "square": square(n, sample_rate),
    }


def make_all(sample_rate, channels=1):
    """One instance per filter configuration with keyword extremes, keyed by a name."""
    hi = MAX_CUTOFF_RATIO * sample_rate
    out = {}
    for fc in (MIN_CUTOFF_HZ, hi):
        for mode in FILTER_MODES:
            for q in (0.5, 50.0):
                out[f"svf-{mode}-{fc:g}-{q:g}"] = StateVariableFilter(
                    sample_rate, channels=channels, mode=mode, cutoff_hz=fc, q=q)
        for resonance in (0.0, 1.2):
            for drive in (0.1, 10.0):
                out[f"ladder-{fc:g}-{resonance:g}-{drive:g}"] = LadderFilter(
                    sample_rate, channels=channels, cutoff_hz=fc, resonance=resonance, drive=drive)
        for mode in ("lowpass", "highpass"):
            out[f"onepole-{mode}-{fc:g}"] = OnePole(sample_rate, channels=channels, mode=mode, cutoff_hz=fc)
    return out


@pytest.mark.parametrize("sample_rate", SAMPLE_RATES)
def test_extreme_settings_stay_finite(sample_rate):
    n = sample_rate // 4
    # audio-rate sweep that overshoots the clamp range on both sides (1 Hz .. sample_rate)
    sweep = np.geomspace(1.0, float(sample_rate), n)[None, :]
    for name, f in make_all(sample_rate).items():
        for label, sig in extreme_inputs(n, sample_rate).items():
            for cut in (None, sweep):
                f.reset()
                y = f.process(sig[None, :], cutoff_hz=cut)
                assert y.shape == (1, n) and y.dtype == np.float64
                assert np.all(np.isfinite(y)), (name, label)
                if label == "zero":
                    assert not np.any(y), name
                if name.startswith("ladder"):
                    assert np.max(np.abs(y)) < 20.0, (name, label)  # bounded by the tanh
                elif label in ("square", "tiny"):
                    # linear and stable: bounded by peak gain (q <= 50) x input
                    assert np.max(np.abs(y)) <= 200.0 * np.max(np.abs(sig)), (name, label)


def test_svf_extreme_q_sweep():
    sr = 48000
    n = sr // 2
    f = StateVariableFilter(sr, channels=2, mode="bandpass")
    q = np.vstack([np.geomspace(0.5, 50.0, n), np.geomspace(50.0, 0.01, n)])  # 0.01 is clamped to 0.1
    cut = np.vstack([np.geomspace(10.0, 30000.0, n), 1000.0 * 2 ** (4 * np.sin(np.arange(n) / 50.0))])
    y = f.process(np.vstack([square(n, sr), np.ones(n)]), cutoff_hz=cut, q=q)
    assert np.all(np.isfinite(y))
    assert np.max(np.abs(y)) < 100.0


def test_biquad_extremes_finite():
    sr = 48000
    n = sr // 4
    for kind in BIQUAD_KINDS:
        for fc in (10.0, 0.49 * sr):
            for q in (0.5, 50.0):
                f = Biquad(sr, channels=1, kind=kind, freq_hz=fc, q=q, gain_db=24.0)
                for sig in extreme_inputs(n, sr).values():
                    f.reset()
                    y = f.process(sig[None, :])
                    assert np.all(np.isfinite(y)), (kind, fc, q)


def all_states(f):
    return np.concatenate([np.ravel(getattr(f, a)) for a in ("_ic1", "_ic2", "_state", "_zi")
                           if hasattr(f, a)])


@pytest.mark.parametrize("make", [
    lambda sr: StateVariableFilter(sr, channels=16, mode="lowpass", cutoff_hz=1000.0, q=2.0),
    lambda sr: LadderFilter(sr, channels=16, cutoff_hz=1000.0, resonance=0.5),
    lambda sr: OnePole(sr, channels=16, mode="lowpass", cutoff_hz=200.0),
    lambda sr: Biquad(sr, channels=16, kind="lowpass", freq_hz=1000.0, q=2.0),
], ids=["svf", "ladder", "onepole", "biquad"])
def test_denormals_flushed_and_no_stall(make):
    sr = 48000
    f = make(sr)
    noise = 0.5 * np.random.default_rng(1).standard_normal((16, sr))
    impulse = np.zeros((16, sr))
    impulse[:, 0] = 1.0

    def timed(x):
        f.reset()
        t0 = time.perf_counter()
        f.process(x)
        return time.perf_counter() - t0

    f.process(noise[:, :64])  # compile
    # interleaved best-of-5 so that load from other processes hits both alike; a decay
    # from 1 into silence passes through the subnormal range unless it is flushed
    pairs = [(timed(noise), timed(impulse)) for _ in range(5)]
    t_normal = min(p[0] for p in pairs)
    t_decay = min(p[1] for p in pairs)
    assert t_decay < 5.0 * t_normal, (t_decay, t_normal)
    f.reset()
    f.process(impulse)
    f.process(np.zeros((16, 4 * sr)))
    s = np.abs(all_states(f))
    assert np.all((s == 0.0) | (s >= DENORMAL_FLOOR))
    assert np.all(s == 0.0)  # fully flushed, not parked at a tiny value
    assert not np.any(f.process(np.zeros((16, 256))))


# --------------------------------------------------------------------------- 4. kernels vs references


def ref_svf(x, cutoff, q, sample_rate, mode):
    """Obvious per-sample TPT SVF (Simper's a1, a2, a3 form); cutoff, q broadcast to x."""
    cutoff = np.broadcast_to(cutoff, x.shape)
    q = np.broadcast_to(q, x.shape)
    y = np.zeros_like(x)
    for c in range(x.shape[0]):
        ic1 = ic2 = 0.0
        for i in range(x.shape[1]):
            fc = min(max(cutoff[c, i], MIN_CUTOFF_HZ), MAX_CUTOFF_RATIO * sample_rate)
            g = math.tan(math.pi * fc / sample_rate)
            k = 1.0 / min(max(q[c, i], 0.1), 100.0)
            a1 = 1.0 / (1.0 + g * (g + k))
            a2 = g * a1
            a3 = g * a2
            v3 = x[c, i] - ic2
            v1 = a1 * ic1 + a2 * v3
            v2 = ic2 + a2 * ic1 + a3 * v3
            ic1 = 2 * v1 - ic1
            ic2 = 2 * v2 - ic2
            ic1 = 0.0 if abs(ic1) < 1e-30 else ic1
            ic2 = 0.0 if abs(ic2) < 1e-30 else ic2
            y[c, i] = {"lowpass": v2, "bandpass": k * v1, "highpass": x[c, i] - k * v1 - v2,
                       "notch": x[c, i] - k * v1}[mode]
    return y


def ref_ladder(x, cutoff, resonance, drive, sample_rate):
    """Obvious per-sample ZDF ladder: solve the linear loop, tanh, four TPT one-poles."""
    cutoff = np.broadcast_to(cutoff, x.shape)
    resonance = np.broadcast_to(resonance, x.shape)
    y = np.zeros_like(x)
    for c in range(x.shape[0]):
        s = [0.0, 0.0, 0.0, 0.0]
        for i in range(x.shape[1]):
            fc = min(max(cutoff[c, i], MIN_CUTOFF_HZ), MAX_CUTOFF_RATIO * sample_rate)
            g = math.tan(math.pi * fc / sample_rate)
            big_g = g / (1.0 + g)
            k = 4.0 * min(max(resonance[c, i], 0.0), 1.2)
            # y4 = G^4 u + sum_j G^(3-j) s_j / (1 + g)
            state_part = sum(big_g ** (3 - j) * s[j] for j in range(4)) / (1.0 + g)
            u = math.tanh((drive * x[c, i] - k * state_part) / (1.0 + k * big_g ** 4))
            inp = u
            for j in range(4):
                v = (inp - s[j]) * big_g
                out = v + s[j]
                s[j] = out + v
                inp = out
            s = [0.0 if abs(v) < 1e-30 else v for v in s]
            y[c, i] = inp
    return y


def ref_one_pole(x, cutoff, sample_rate, mode):
    cutoff = np.broadcast_to(cutoff, x.shape)
    y = np.zeros_like(x)
    for c in range(x.shape[0]):
        s = 0.0
        for i in range(x.shape[1]):
            fc = min(max(cutoff[c, i], MIN_CUTOFF_HZ), MAX_CUTOFF_RATIO * sample_rate)
            g = math.tan(math.pi * fc / sample_rate)
            v = (x[c, i] - s) * g / (1.0 + g)
            lp = v + s
            s = lp + v
            s = 0.0 if abs(s) < 1e-30 else s
            y[c, i] = lp if mode == "lowpass" else x[c, i] - lp
    return y


def modulation(channels, n, sample_rate, seed):
    """Audio-rate cutoff (overshooting the clamp range) and a second parameter curve."""
    rng = np.random.default_rng(seed)
    t = np.arange(n) / sample_rate
    rate = rng.uniform(2.0, 40.0, (channels, 1))
    cutoff = 800.0 * 2.0 ** (6.0 * np.sin(2 * np.pi * rate * t))  # 12 Hz .. 51 kHz
    other = 0.5 + 0.5 * np.sin(2 * np.pi * rate * 0.7 * t + 1.0)  # 0 .. 1
    return cutoff, other


def signal(channels, n, seed):
    return 0.5 * np.random.default_rng(seed).standard_normal((channels, n))


@pytest.mark.parametrize("sample_rate", SAMPLE_RATES)
@pytest.mark.parametrize("mode", FILTER_MODES)
def test_svf_kernel_matches_reference(sample_rate, mode):
    n = 1500
    x = signal(3, n, 2)
    cutoff, other = modulation(3, n, sample_rate, 3)
    q = 0.05 + 20.0 * other  # crosses the lower clamp 0.1
    f = StateVariableFilter(sample_rate, channels=3, mode=mode, cutoff_hz=500.0, q=2.0)
    cases = [(cutoff, q), (cutoff[:1], 3.0), (700.0, q[1]), (None, None)]
    for cut, qq in cases:
        f.reset()
        y = f.process(x, cutoff_hz=cut, q=qq)
        ref = ref_svf(x, 500.0 if cut is None else cut, 2.0 if qq is None else qq, sample_rate, mode)
        np.testing.assert_allclose(y, ref, rtol=1e-9, atol=1e-12)


@pytest.mark.parametrize("sample_rate", SAMPLE_RATES)
def test_ladder_kernel_matches_reference(sample_rate):
    n = 1500
    channels = 6  # > kernel channel group of 4, and not a multiple of it
    x = signal(channels, n, 4)
    cutoff, other = modulation(channels, n, sample_rate, 5)
    resonance = 1.25 * other  # 0 .. 1.25, crosses self-oscillation and the clamp
    for drive in (0.5, 4.0):
        f = LadderFilter(sample_rate, channels=channels, cutoff_hz=900.0, resonance=0.3, drive=drive)
        for cut, res in [(cutoff, resonance), (cutoff[0], 1.1), (2000.0, resonance[:1]), (None, None)]:
            f.reset()
            y = f.process(x, cutoff_hz=cut, resonance=res)
            ref = ref_ladder(x, 900.0 if cut is None else cut, 0.3 if res is None else res, drive,
                             sample_rate)
            np.testing.assert_allclose(y, ref, rtol=1e-9, atol=1e-12)


@pytest.mark.parametrize("sample_rate", SAMPLE_RATES)
@pytest.mark.parametrize("mode", ["lowpass", "highpass"])
def test_one_pole_kernel_matches_reference(sample_rate, mode):
    n = 2000
    x = signal(3, n, 6)
    cutoff, _ = modulation(3, n, sample_rate, 7)
    f = OnePole(sample_rate, channels=3, mode=mode, cutoff_hz=300.0)
    for cut in (cutoff, cutoff[2], 5000.0, None):
        f.reset()
        y = f.process(x, cutoff_hz=cut)
        ref = ref_one_pole(x, 300.0 if cut is None else cut, sample_rate, mode)
        np.testing.assert_allclose(y, ref, rtol=1e-9, atol=1e-12)


def test_fast_tanh_matches_tanh():
    from symphony.dsp.filters import _tanh

    u = np.concatenate([np.linspace(-30.0, 30.0, 20001), np.geomspace(1e-300, 50.0, 2001),
                        -np.geomspace(1e-300, 50.0, 2001), [0.0, 0.03, -0.03, 20.0, -20.0]])
    got = np.array([_tanh(v) for v in u])
    np.testing.assert_allclose(got, np.tanh(u), rtol=1e-14, atol=0.0)


def test_fast_tan_matches_tan():
    from symphony.dsp.filters import _tan

    # the kernels' argument range: pi * [10 Hz / 384 kHz, 0.49]
    x = np.concatenate([np.linspace(np.pi * 10.0 / 384000.0, 0.49 * np.pi, 20001),
                        [0.25 * np.pi, np.nextafter(0.25 * np.pi, 1.0)]])
    got = np.array([_tan(v) for v in x])
    np.testing.assert_allclose(got, np.tan(x), rtol=1e-14, atol=0.0)


# --------------------------------------------------------------------------- 5. contract


def contract_cases(sample_rate, channels, n):
    cutoff, other = modulation(channels, n, sample_rate, 8)
    return {
        "svf": (lambda: StateVariableFilter(sample_rate, channels=channels, mode="bandpass", q=3.0),
                {"cutoff_hz": cutoff, "q": 0.3 + 10.0 * other}),
        "svf-static": (lambda: StateVariableFilter(sample_rate, channels=channels, mode="notch",
                                                   cutoff_hz=2000.0, q=4.0), {}),
        "ladder": (lambda: LadderFilter(sample_rate, channels=channels, drive=3.0),
                   {"cutoff_hz": cutoff, "resonance": 1.2 * other}),
        "ladder-static": (lambda: LadderFilter(sample_rate, channels=channels, cutoff_hz=3000.0,
                                               resonance=1.1, drive=2.0), {}),
        "onepole": (lambda: OnePole(sample_rate, channels=channels, mode="highpass"),
                    {"cutoff_hz": cutoff}),
        "biquad": (lambda: Biquad(sample_rate, channels=channels, kind="peak", freq_hz=500.0, q=4.0,
                                  gain_db=9.0), {}),
    }


def run_split(f, x, params, splits):
    out, start = [], 0
    for size in splits:
        sl = slice(start, start + size)
        out.append(f.process(x[:, sl], **{k: v[..., sl] for k, v in params.items()}))
        start += size
    return np.concatenate(out, axis=1)


CASE_NAMES = ["svf", "svf-static", "ladder", "ladder-static", "onepole", "biquad"]


@pytest.mark.parametrize("sample_rate", SAMPLE_RATES)
@pytest.mark.parametrize("name", CASE_NAMES)
def test_block_size_invariance(sample_rate, name):
    n = sum(SPLITS)
    channels = 5
    make, params = contract_cases(sample_rate, channels, n)[name]
    x = signal(channels, n, 9)
    whole = make().process(x, **params)
    split = run_split(make(), x, params, SPLITS)
    np.testing.assert_allclose(split, whole, rtol=0, atol=1e-12)
    split_rev = run_split(make(), x, params, SPLITS[::-1])
    np.testing.assert_allclose(split_rev, whole, rtol=0, atol=1e-12)


@pytest.mark.parametrize("name", CASE_NAMES)
def test_reset_equals_fresh_and_shapes(name):
    sample_rate, channels, n = 48000, 3, 4000
    make, params = contract_cases(sample_rate, channels, n)[name]
    x = signal(channels, n, 10)
    fresh = make().process(x, **params)
    f = make()
    f.process(signal(channels, n, 11), **params)
    f.reset()
    again = f.process(x, **params)
    np.testing.assert_array_equal(again, fresh)
    assert fresh.shape == (channels, n) and fresh.dtype == np.float64
    assert np.all(np.isfinite(fresh))
    # silence in, silence out (exactly)
    g = make()
    assert not np.any(g.process(np.zeros((channels, n)), **params))
    # empty block is a no-op
    assert g.process(np.zeros((channels, 0))).shape == (channels, 0)
    # float32 / list input is converted to float64
    assert g.process(np.zeros((channels, 8), dtype=np.float32)).dtype == np.float64


def test_set_keeps_state_and_validates():
    f = StateVariableFilter(48000, channels=1)
    f.process(np.ones((1, 100)))
    f.set(cutoff_hz=2000.0, mode="highpass")
    assert f.cutoff_hz == 2000.0 and f.mode == "highpass"
    assert f._ic2[0] != 0.0
    with pytest.raises(ParameterError, match=r"cutoff_hz must be in \[10.0, 23520.0\], got 30000"):
        f.set(cutoff_hz=30000)
    with pytest.raises(ParameterError, match="mode must be one of .*got 'band'"):
        f.set(mode="band")
    with pytest.raises(ParameterError, match="unknown parameter.*resonance"):
        f.set(resonance=1.0)
    with pytest.raises(ParameterError, match=r"resonance must be in \[0.0, 1.2\], got 1.5"):
        LadderFilter(48000, channels=1, resonance=1.5)
    with pytest.raises(ParameterError, match=r"drive must be in \[0.1, 10.0\], got 20"):
        LadderFilter(48000, channels=1, drive=20)
    with pytest.raises(ParameterError, match="kind must be one of"):
        Biquad(48000, channels=1, kind="bell")
    with pytest.raises(ParameterError, match="channels must be a positive integer, got 0"):
        OnePole(48000, channels=0)
    with pytest.raises(ParameterError, match=r"input must have shape \(channels=2, n\), got \(3, 10\)"):
        OnePole(48000, channels=2).process(np.zeros((3, 10)))
    with pytest.raises(ParameterError, match="cutoff_hz must be a float or an array of shape"):
        OnePole(48000, channels=2).process(np.zeros((2, 10)), cutoff_hz=np.ones(9))
    with pytest.raises(ParameterError, match="q must be finite"):
        StateVariableFilter(48000, channels=1).process(np.zeros((1, 4)), q=np.array([1, 2, np.nan, 1.0]))


# --------------------------------------------------------------------------- 6. speed


def ms_per_second(kind="ladder", cutoff="per-channel", channels=16, sample_rate=48000, repeats=7):
    """CPU time (thread time, robust to other processes) for ``channels`` x 1 s, in ms.

    ``cutoff``: "per-channel" (channels, n) audio-rate, "shared" (n,) audio-rate or "constant".
    """
    x = signal(channels, sample_rate, 12)
    cut_all, _ = modulation(channels, sample_rate, sample_rate, 13)
    cut = {"per-channel": cut_all, "shared": cut_all[0], "constant": 1000.0}[cutoff]
    f = {"ladder": lambda: LadderFilter(sample_rate, channels=channels, resonance=0.8, drive=2.0),
         "svf": lambda: StateVariableFilter(sample_rate, channels=channels, q=2.0),
         "onepole": lambda: OnePole(sample_rate, channels=channels)}[kind]()
    f.process(x[:, :64], cutoff_hz=cut if np.ndim(cut) == 0 else cut[..., :64])  # compile / load cache
    best = math.inf
    for _ in range(repeats):
        t0 = time.thread_time()
        f.process(x, cutoff_hz=cut)
        best = min(best, time.thread_time() - t0)
    return 1e3 * best


def test_ladder_speed():
    ms = ms_per_second("ladder", "per-channel")
    print(f"ladder, 16 ch x 1 s at 48 kHz, audio-rate cutoff per channel: {ms:.1f} ms")
    assert ms < 150.0  # loose bound for loaded CI machines; typical figure in the docs


# --------------------------------------------------------------------------- report


def _report() -> None:  # pragma: no cover - prints the docs figures
    def worst(cases):
        return max(cases, key=lambda c: c[0])

    print("| filter | cases | bins compared (min) | max abs deviation (dB) |")
    print("|---|---|---|---|")
    rows = {
        "SVF (4 modes x 3 cutoffs x 3 q)": [svf_error(sr, m, fc, q) for sr in RESPONSE_RATES
                                           for m in FILTER_MODES for fc in SVF_CUTOFFS for q in SVF_QS],
        "Ladder linear (3 cutoffs x res 0/0.5/0.9)": [ladder_error(sr, fc, r) for sr in RESPONSE_RATES
                                                       for fc in LADDER_CUTOFFS for r in LADDER_RESONANCES],
        "OnePole (LP/HP x 3 cutoffs)": [one_pole_error(sr, m, fc) for sr in RESPONSE_RATES
                                        for m in ("lowpass", "highpass") for fc in ONE_POLE_CUTOFFS],
        "Biquad (8 kinds x 3 freqs x 2 q [x 2 gains])": [biquad_error(sr, *c) for sr in RESPONSE_RATES
                                                         for c in biquad_cases()],
    }
    for name, cases in rows.items():
        print(f"| {name} | {len(cases)} | {min(c[1] for c in cases)} | {worst(cases)[0]:.2e} |")
    print()
    print("| sample rate | cutoff | resonance | oscillation freq | error | peak |")
    print("|---|---|---|---|---|---|")
    for sr in SAMPLE_RATES:
        for fc in (300.0, 1000.0, 4000.0):
            y, freq = self_oscillation(sr, fc, 1.1)
            print(f"| {sr} | {fc:g} | 1.1 | {freq:.1f} Hz | {100 * (freq / fc - 1):+.2f} % "
                  f"| {np.max(np.abs(y[-sr // 2:])):.3f} |")
    for r in (1.0, 1.05, 1.2):
        y, freq = self_oscillation(48000, 1000.0, r)
        print(f"| 48000 | 1000 | {r:g} | {freq:.1f} Hz | {100 * (freq / 1000 - 1):+.2f} % "
              f"| {np.max(np.abs(y[-24000:])):.3g} |")
    print()
    print("| filter | cutoff | CPU ms per 16 ch x 1 s at 48 kHz |")
    print("|---|---|---|")
    for kind in ("ladder", "svf", "onepole"):
        for cutoff in ("per-channel", "shared", "constant"):
            print(f"| {kind} | {cutoff} | {ms_per_second(kind, cutoff):.1f} |")


if __name__ == "__main__":  # pragma: no cover
    _report()


@pytest.mark.parametrize("mode", FILTER_MODES)
def test_svf_shared_cutoff_path_equals_per_channel_path(mode):
    """A shared modulated cutoff takes the sample-major kernel; it must equal the
    channel-major one exactly (same arithmetic per channel)."""
    rng = np.random.default_rng(11)
    n = 3001
    x = rng.standard_normal((3, n))
    cut = 200.0 * 2.0 ** (5.0 * rng.random(n))
    shared = StateVariableFilter(48000, channels=3, mode=mode, q=2.0).process(x, cutoff_hz=cut)
    per_channel = StateVariableFilter(48000, channels=3, mode=mode, q=2.0).process(
        x, cutoff_hz=np.tile(cut, (3, 1)))
    np.testing.assert_array_equal(shared, per_channel)


def test_ladder_rows_process_a_subset_of_the_bank():
    """A bank processed row by row (rows=) equals separate one-channel ladders, and the
    rows it does not touch keep their state; reset_rows clears only the named rows."""
    rng = np.random.default_rng(5)
    n = 700
    x = rng.standard_normal((4, n)) * 0.3
    cut = 300.0 * 2.0 ** (4.0 * rng.random((4, n)))
    bank = LadderFilter(44100, channels=4, resonance=0.8)
    singles = [LadderFilter(44100, channels=1, resonance=0.8) for _ in range(4)]
    rows = np.array([0, 2, 3])
    got = bank.process(x[rows], cutoff_hz=cut[rows], rows=rows)
    for j, r in enumerate(rows):
        np.testing.assert_array_equal(got[j], singles[r].process(x[r:r + 1], cutoff_hz=cut[r:r + 1])[0])
    assert np.all(bank._state[1] == 0.0) and np.any(bank._state[0] != 0.0)
    bank.reset_rows([2])
    assert np.all(bank._state[2] == 0.0) and np.any(bank._state[3] != 0.0)
    # per-row constant cutoffs, shape (rows, 1), equal per-row floats
    const = np.array([[500.0], [2000.0], [8000.0]])
    a = LadderFilter(44100, channels=3, resonance=0.5).process(x[:3], cutoff_hz=const)
    for j in range(3):
        b = LadderFilter(44100, channels=1, resonance=0.5).process(x[j:j + 1], cutoff_hz=float(const[j, 0]))
        np.testing.assert_array_equal(a[j], b[0])


# --------------------------------------------------------------------------- SIMD building blocks


def test_tanh_pade_range_is_accurate():
    """The Pade branch of ``_tanh`` (|u| <= 1.5) stays within 5e-16 of tanh, relative."""
    from symphony.dsp.filters import TANH_PADE_LIMIT, _tanh

    u = np.concatenate([np.linspace(-TANH_PADE_LIMIT, TANH_PADE_LIMIT, 30001),
                        np.geomspace(1e-12, TANH_PADE_LIMIT, 2001)])
    u = u[u != 0.0]
    got = np.array([_tanh(v) for v in u])
    assert np.max(np.abs(got / np.tanh(u) - 1.0)) < 5e-16


def test_exp2_simd_matches_exp2():
    from numba import njit

    from symphony.dsp.filters import exp2_simd

    @njit
    def run(x, out):
        for i in range(x.shape[0]):
            out[i] = exp2_simd(x[i])

    x = np.concatenate([np.linspace(-60.0, 60.0, 120001), np.linspace(0.0, 6.0, 6001), [0.5, -0.5, 2.5]])
    out = np.empty_like(x)
    run(x, out)
    np.testing.assert_allclose(out, np.exp2(x), rtol=4.5e-16, atol=0.0)


@pytest.mark.parametrize("sample_rate", SAMPLE_RATES)
def test_simd_gains_match_the_scalar_gains(sample_rate):
    """One-division coefficient forms equal the textbook ones within a few ulp, up to 0.49 fs."""
    from numba import njit

    from symphony.dsp.filters import _tan, ladder_gains, ladder_gains_simd, svf_gains, svf_gains_simd

    @njit
    def run(x, k, out):
        for i in range(x.shape[0]):
            g = _tan(x[i])
            out[0, i], out[1, i], out[2, i] = ladder_gains_simd(x[i], k)
            out[3, i], out[4, i], out[5, i] = ladder_gains(g, k)
            out[6, i], out[7, i], out[8, i] = svf_gains_simd(x[i], k)
            out[9, i], out[10, i], out[11, i] = svf_gains(g, k)

    x = np.pi * np.geomspace(MIN_CUTOFF_HZ, MAX_CUTOFF_RATIO * sample_rate, 4001) / sample_rate
    for k in (0.0, 1.2, 4.8, 1.0 / 0.9):
        out = np.empty((12, x.size))
        run(x, k, out)
        np.testing.assert_allclose(out[0:3], out[3:6], rtol=2e-15, atol=0.0)
        np.testing.assert_allclose(out[6:9], out[9:12], rtol=2e-15, atol=0.0)


@pytest.mark.parametrize("drive", [0.05, 30.0])
def test_ladder_bank_step_equals_ladder_step(drive):
    """The SIMD bank step is bit-identical to the scalar step, also when the tanh argument
    leaves the Pade range (drive 30: the exp fallback of the whole sample)."""
    from numba import njit

    from symphony.dsp.filters import ladder_bank_step, ladder_gains, ladder_step

    @njit
    def bank(x, k, h, gg, inv, out):
        m, n = x.shape
        st = np.zeros((2, 4, m))
        y = np.empty(m)
        xi = np.empty(m)
        for i in range(n):
            p = i & 1
            for j in range(m):
                xi[j] = x[j, i]
            ladder_bank_step(xi, k, h, gg, inv, st[p], st[1 - p], y)
            for j in range(m):
                out[j, i] = y[j]

    @njit
    def scalar(x, k, h, gg, inv, out):
        m, n = x.shape
        for j in range(m):
            s0 = s1 = s2 = s3 = 0.0
            for i in range(n):
                out[j, i], s0, s1, s2, s3 = ladder_step(x[j, i], k, h[j], gg[j], inv[j], s0, s1, s2, s3)

    rng = np.random.default_rng(7)
    m, n = 7, 3000  # not a multiple of the SIMD width
    x = drive * rng.standard_normal((m, n))
    g = np.tan(np.pi * rng.uniform(50.0, 20000.0, m) / 48000)
    k = 4.0 * 1.1
    h, gg, inv = (np.array(a) for a in zip(*[ladder_gains(gj, k) for gj in g]))
    got, ref = np.empty((m, n)), np.empty((m, n))
    bank(x, k, h, gg, inv, got)
    scalar(x, k, h, gg, inv, ref)
    np.testing.assert_array_equal(got, ref)

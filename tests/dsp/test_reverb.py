"""Physics of the FDN reverb: RT60 per preset, decorrelation, stability, invariance."""

from __future__ import annotations

import math

import numpy as np
import pytest
import scipy.signal

from symphony.dsp.reverb import N_LINES, PARAMS, REVERB_SPACES, Reverb, _shelf_response
from symphony.errors import ParameterError


def impulse_response(rev, seconds):
    n = int(seconds * rev.sample_rate)
    x = np.zeros((2, n))
    x[:, 0] = 1.0
    return rev.process(x)


def rt60_schroeder(ir, fs, band_hz=None, lo_db=-5.0, hi_db=-25.0):
    """RT60 from Schroeder backward integration, line fit between lo_db and hi_db (T20 x 3)."""
    e = ir
    if band_hz is not None:  # third-octave band, 6th-order Butterworth
        f1, f2 = band_hz / 2 ** (1 / 6), band_hz * 2 ** (1 / 6)
        sos = scipy.signal.butter(3, [f1, f2], btype="band", fs=fs, output="sos")
        e = scipy.signal.sosfilt(sos, ir, axis=-1)
    energy = np.sum(e * e, axis=0)
    edc = np.cumsum(energy[::-1])[::-1]
    edc_db = 10 * np.log10(edc / edc[0] + 1e-300)
    i0 = int(np.argmax(edc_db < lo_db))
    i1 = int(np.argmax(edc_db < hi_db))
    assert i1 > i0 > 0
    slope, _ = np.polyfit(np.arange(i0, i1) / fs, edc_db[i0:i1], 1)
    return -60.0 / slope


@pytest.mark.parametrize("space", sorted(REVERB_SPACES))
def test_rt60_at_1khz_matches_preset(space):
    fs = 48000
    decay = REVERB_SPACES[space]["decay_s"]
    rev = Reverb(fs, space=space)
    ir = impulse_response(rev, 0.7 * decay + 0.6)
    assert rt60_schroeder(ir, fs, band_hz=1000.0) == pytest.approx(decay, rel=0.15)


@pytest.mark.parametrize("sample_rate", [22050, 44100, 48000])
@pytest.mark.parametrize("space", ["room", "plate", "cathedral"])
def test_rt60_across_sample_rates(sample_rate, space):
    decay = REVERB_SPACES[space]["decay_s"]
    ir = impulse_response(Reverb(sample_rate, space=space), 0.7 * decay + 0.6)
    assert rt60_schroeder(ir, sample_rate, band_hz=1000.0) == pytest.approx(decay, rel=0.15)


def test_catacomb_is_dark_and_bassy():
    fs = 48000
    ir = impulse_response(Reverb(fs, space="catacomb"), 7.0)
    t_1k = rt60_schroeder(ir, fs, band_hz=1000.0)
    t_4k = rt60_schroeder(ir, fs, band_hz=4000.0)
    t_125 = rt60_schroeder(ir, fs, band_hz=125.0)
    assert t_4k < 0.7 * t_1k  # hf_ratio 0.3 with a 1.5 kHz corner
    assert t_125 > 1.1 * t_1k  # bass_ratio 1.35


@pytest.mark.parametrize("space", sorted(REVERB_SPACES))
def test_stereo_decorrelation(space):
    fs = 48000
    ir = impulse_response(Reverb(fs, space=space), 1.0)
    cc = scipy.signal.correlate(ir[0], ir[1], mode="full", method="fft")
    norm = np.sqrt(np.sum(ir[0] ** 2) * np.sum(ir[1] ** 2))
    assert np.max(np.abs(cc)) / norm < 0.5


def test_predelay():
    fs = 48000
    rev = Reverb(fs, space="cathedral", er_level=0.0)
    ir = impulse_response(rev, 0.3)
    onset = np.argmax(np.abs(ir[0]) > 1e-12)
    assert onset >= int(0.090 * fs)


def test_maximal_settings_are_stable_and_decay():
    fs = 22050
    rev = Reverb(fs, space="catacomb", decay_s=20.0, bass_ratio=2.0, hf_ratio=1.0, size=3.0,
                 diffusion=0.85, er_level=1.0, level_db=12.0)
    # every line's absorbent filter is strictly passive
    w = np.linspace(0, np.pi, 2048)
    for i in range(N_LINES):
        mag = rev._gains[i] * np.abs(_shelf_response(rev._filt[i, :3], w) * _shelf_response(rev._filt[i, 3:], w))
        assert np.max(mag) < 1.0
    rng = np.random.default_rng(0)
    burst = np.zeros((2, 12 * fs))
    burst[:, :fs] = rng.standard_normal((2, fs))
    y = rev.process(burst)
    assert np.all(np.isfinite(y))
    e = np.array([np.sum(y[:, k * fs:(k + 1) * fs] ** 2) for k in range(2, 12)])
    assert np.all(np.diff(e) < 0)
    # ~3 dB per second for a 20 s RT60 (bass up to 40 s): 10 s later at least 15 dB down
    assert 10 * np.log10(e[-1] / e[0]) < -15.0


def test_silence_in_silence_out():
    rev = Reverb(44100, space="nightclub")
    assert not np.any(rev.process(np.zeros((2, 44100))))


def test_block_size_invariance():
    fs = 44100
    rng = np.random.default_rng(3)
    x = rng.standard_normal((2, fs // 2))
    whole = Reverb(fs, space="factory_hall").process(x)
    rev = Reverb(fs, space="factory_hall")
    out, pos, i = [], 0, 0
    sizes = [1, 64, 65, 512, 8193]
    while pos < x.shape[1]:
        n = sizes[i % len(sizes)]
        out.append(rev.process(x[:, pos:pos + n]))
        pos += n
        i += 1
    np.testing.assert_allclose(np.concatenate(out, axis=1), whole, rtol=0, atol=1e-12)


def _reference_fdn(rev, x):
    """Slow, obvious per-sample model of the same network (lists as delay lines)."""
    n = x.shape[1]
    hist = {c: [0.0] * n for c in range(2)}  # predelay input history
    out = np.zeros((2, n))
    ap_hist = [[[0.0] * (n + 1) for _ in range(4)] for _ in range(2)]
    lines = np.zeros((N_LINES, n))
    fs_ = np.zeros((N_LINES, 4))
    had = np.array([[1.0]])
    while had.shape[0] < N_LINES:
        had = np.block([[had, had], [had, -had]])
    had /= math.sqrt(N_LINES)

    def past(seq, t, d):
        return seq[t - d] if t - d >= 0 else 0.0

    for t in range(n):
        u = np.zeros(2)
        er = np.zeros(2)
        for c in range(2):
            hist[c][t] = x[c, t]
            u[c] = past(hist[c], t, rev._pre_len)
            er[c] = sum(rev._er_gain[c, k] * past(hist[c], t, rev._er_idx[c, k]) for k in range(8))
            s = u[c]
            for k in range(4):
                d = past(ap_hist[c][k], t, rev._ap_len[c, k])
                w = s + rev._ap_g * d
                ap_hist[c][k][t] = w
                s = d - rev._ap_g * w
            u[c] = s
        f = np.zeros(N_LINES)
        for i in range(N_LINES):
            s = past(lines[i], t, rev._delays[i])
            b0, b1, a1, c0, c1, e1 = rev._filt[i]
            y1 = b0 * s + b1 * fs_[i, 0] - a1 * fs_[i, 1]
            y2 = c0 * y1 + c1 * fs_[i, 2] - e1 * fs_[i, 3]
            fs_[i] = [s, y1, y1, y2]
            f[i] = rev._gains[i] * y2
        lines[:, t] = had @ f + rev._inj[0] * u[0] + rev._inj[1] * u[1]
        yl, yr = rev._out_l @ f, rev._out_r @ f
        mid, side = 0.5 * (yl + yr), 0.5 * (yl - yr) * rev.width
        out[0, t] = mid + side + er[0]
        out[1, t] = mid - side + er[1]
    return out


def test_kernel_matches_slow_reference():
    fs = 22050
    rev = Reverb(fs, space="room", size=0.3, predelay_ms=2.0, decay_s=0.3)
    rng = np.random.default_rng(8)
    x = rng.standard_normal((2, 1500))
    ref = _reference_fdn(rev, x)
    np.testing.assert_allclose(rev.process(x), ref, rtol=0, atol=1e-10)


def test_kernel_matches_slow_reference_at_the_longest_lags():
    """Longest predelay and room with scattered reflections: the last early reflection lies
    1.07 * 40 ms * size after the predelay; the rings must hold it (plus one run of frames)."""
    fs = 8000
    rev = Reverb(fs, space="catacomb", size=3.0, predelay_ms=250.0, er_regularity=0.0, er_level=1.0)
    assert rev._er_idx.max() + 256 < rev._pre_buf.shape[1]
    rng = np.random.default_rng(9)
    x = np.zeros((2, 3600))
    x[:, :200] = rng.standard_normal((2, 200))
    ref = _reference_fdn(rev, x)
    out = np.concatenate([rev.process(x[:, :1000]), rev.process(x[:, 1000:])], axis=1)
    np.testing.assert_allclose(out, ref, rtol=0, atol=1e-10)
    assert np.abs(out[:, 3000:]).max() > 0.0


def test_parameters_and_presets():
    names = {p.name for p in PARAMS}
    assert set(REVERB_SPACES) == {"catacomb", "cathedral", "factory_hall", "laboratory", "nightclub", "room", "plate"}
    for preset in REVERB_SPACES.values():
        assert set(preset) <= names
        for k, v in preset.items():
            next(p for p in PARAMS if p.name == k).check(v)
    with pytest.raises(ParameterError, match="space"):
        Reverb(48000, space="bathroom")
    with pytest.raises(ParameterError, match="decay_s"):
        Reverb(48000, decay_s=100.0)
    rev = Reverb(48000, space="plate", decay_s=3.3)
    assert rev.decay_s == 3.3 and rev.hf_ratio == REVERB_SPACES["plate"]["hf_ratio"]

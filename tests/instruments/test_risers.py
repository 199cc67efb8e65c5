"""riser physics: the sweep moves the spectrum, the glide lands on its pitch, the ramp follows
its curve. The contract (block splits, skipping silence, determinism, clicks, extremes) is
in ``test_noise.py`` (configurations ``riser_up`` / ``riser_down``)."""

from __future__ import annotations

import numpy as np
import pytest

from symphony.instruments import REGISTRY
from symphony.instruments import noise, risers
from symphony.instruments.risers import Riser


def render(sample_rate, seconds, pitch=60.0, velocity=1.0, **params):
    inst = Riser(sample_rate, params=params, rng=np.random.default_rng(0))
    inst.note_on(0, pitch, velocity)
    return inst.process(int(seconds * sample_rate))


def frame_features(x, sample_rate, frame_s=0.1):
    """Per-frame (centre time s, spectral centroid Hz, RMS) of a mono signal."""
    frame = int(frame_s * sample_rate)
    m = x.size // frame
    frames = x[: m * frame].reshape(m, frame)
    spec = np.abs(np.fft.rfft(frames * np.hanning(frame), axis=1)) ** 2
    freqs = np.fft.rfftfreq(frame, 1.0 / sample_rate)
    centre = (np.arange(m) + 0.5) * frame_s
    return centre, spec @ freqs / np.maximum(spec.sum(axis=1), 1e-300), np.sqrt(np.mean(frames ** 2, axis=1))


def peak_hz(x, sample_rate, guess_hz):
    """Parabolically interpolated FFT peak within a fifth of ``guess_hz`` (Hann window)."""
    spec = np.abs(np.fft.rfft(x * np.hanning(x.size)))
    freqs = np.fft.rfftfreq(x.size, 1.0 / sample_rate)
    band = (freqs > guess_hz / 1.5) & (freqs < guess_hz * 1.5)
    k = np.flatnonzero(band)[np.argmax(spec[band])]
    a, b, c = np.log(spec[k - 1: k + 2])
    return float(freqs[k] + 0.5 * (a - c) / (a - 2 * b + c) * (freqs[1] - freqs[0]))


@pytest.mark.parametrize("tone", [0.0, 0.3])
def test_up_sweep_raises_the_centroid(sample_rate, tone):
    y = render(sample_rate, 2.6, sweep_ms=2000.0, tone=tone)[0]
    t, cent, _ = frame_features(y, sample_rate)
    sweep = (t > 0.2) & (t < 2.0)
    assert np.corrcoef(t[sweep], np.log2(cent[sweep]))[0, 1] > 0.9
    assert np.corrcoef(t[sweep], cent[sweep])[0, 1] > 0.9
    if tone == 0.0:
        # the band-pass lands on end_hz (centroid of a band-passed noise ~ its centre)
        assert np.median(cent[t > 2.05]) == pytest.approx(min(8000.0, 0.4 * sample_rate), rel=0.2)
        assert cent[2] < 2.5 * 200.0 * (8000.0 / 200.0) ** 0.125  # still low at 1/8 of the sweep


def test_down_sweep_lowers_the_centroid(sample_rate):
    y = render(sample_rate, 2.0, sweep_ms=2000.0, direction="down")[0]
    t, cent, rms = frame_features(y, sample_rate)
    sweep = t < 1.8  # the amplitude reaches 0 at the end
    assert np.corrcoef(t[sweep], np.log2(cent[sweep]))[0, 1] < -0.9
    assert rms[1] > 5.0 * rms[16]  # and it falls


@pytest.mark.parametrize("semitones", [12.0, -7.0, 24.0])
def test_glide_ends_on_the_target_pitch(sample_rate, semitones):
    sweep_s = 0.5
    y = render(sample_rate, sweep_s + 1.0, pitch=57.0, sweep_ms=sweep_s * 1e3, tone=1.0,
               sweep_semitones=semitones)
    target = 220.0 * 2.0 ** (semitones / 12.0)
    hold = y[0, int((sweep_s + 0.05) * sample_rate):]
    assert peak_hz(hold, sample_rate, target) == pytest.approx(target, rel=0.02)
    # and already in the first 200 ms after the sweep (no slow settling)
    assert peak_hz(hold[: int(0.2 * sample_rate)], sample_rate, target) == pytest.approx(target, rel=0.02)


def test_glide_is_exponential_in_time():
    """Half way through the sweep the pitch is half way in semitones."""
    sr = 44100
    y = render(sr, 4.2, pitch=57.0, sweep_ms=8000.0, tone=1.0, sweep_semitones=12.0)[0]
    mid = y[int(3.875 * sr): int(4.125 * sr)]  # centred on 4 s = half the sweep
    assert peak_hz(mid, sr, 220.0 * 2 ** 0.5) == pytest.approx(220.0 * 2 ** 0.5, rel=0.01)


@pytest.mark.parametrize("curve", [1.0, 2.0, 3.5])
def test_amplitude_follows_the_curve(curve):
    """Noise power is normalized across the band-pass centre, so RMS(s) / RMS(1) = s ** curve."""
    sr = 44100
    y = render(sr, 2.6, sweep_ms=2000.0, tone=0.0, curve=curve, start_hz=400.0, end_hz=6400.0)
    frame = int(0.05 * sr)

    def rms_at(t_s):
        seg = y[:, int(t_s * sr) - frame // 2: int(t_s * sr) + frame // 2]
        return np.sqrt(np.mean(seg ** 2))

    full = np.mean([rms_at(t) for t in (2.1, 2.2, 2.3, 2.4)])
    for s in (0.35, 0.5, 0.75):
        assert rms_at(2.0 * s) / full == pytest.approx(s ** curve, rel=0.25)


def test_level_and_velocity():
    sr = 44100
    peak = np.abs(render(sr, 2.5, sweep_ms=2000.0)).max()
    assert 0.2 <= peak <= 0.7
    a = render(sr, 1.0, sweep_ms=500.0, velocity=1.0)
    b = render(sr, 1.0, sweep_ms=500.0, velocity=0.4)
    np.testing.assert_allclose(b, 0.4 * a, rtol=1e-9, atol=1e-15)


def test_note_off_releases_in_300_ms():
    sr = 22050
    inst = Riser(sr, params=dict(sweep_ms=200.0), rng=np.random.default_rng(0))
    inst.note_on(0, 60.0, 1.0)
    held = inst.process(sr // 2)
    inst.note_off(0)
    tail = inst.process(int(0.35 * sr))
    assert np.abs(tail[:, :200]).max() > 0.3 * np.abs(held[:, -2000:]).max()
    assert inst.is_silent
    assert np.all(tail[:, int(risers.RELEASE_MS * 1e-3 * sr) + 2:] == 0.0)


def test_declared_interface():
    cls = REGISTRY["riser"]
    assert cls is Riser and cls.FAMILY == "texture" and cls.DEFAULT_VOICES == 4 and cls.DOC and cls.DEMO
    spec = {p.name: p for p in cls.PARAMS}
    assert spec["direction"].choices == ("up", "down")
    assert (spec["sweep_ms"].default, spec["sweep_ms"].low, spec["sweep_ms"].high) == (4000.0, 50.0, 30000.0)
    assert (spec["start_hz"].default, spec["end_hz"].default) == (200.0, 8000.0)
    assert (spec["sweep_semitones"].low, spec["sweep_semitones"].high) == (-48.0, 48.0)
    assert (spec["curve"].low, spec["curve"].high) == (0.2, 5.0)
    assert {"tone", "resonance"} <= set(spec)


def test_riser_kernel_equals_its_python_execution(monkeypatch):
    """The compiled kernel against the same code run by the interpreter (helpers included)."""
    inst = Riser(22050, params=dict(sweep_ms=100.0, tone=0.5), rng=np.random.default_rng(0))
    inst.note_on(0, 60.0, 1.0)
    inst.note_on(1, 64.0, 0.5)
    inst.process(1500)  # crosses the end of the sweep at 2205 frames below
    env = np.random.default_rng(2).uniform(0, 1, (inst.voices, 1000))
    slots = np.array([0, 1], dtype=np.int64)
    copies = [(inst._prm.copy(), inst._st.copy(), inst._rng_state.copy()) for _ in range(2)]
    fast, slow = np.zeros((2, 1000)), np.zeros((2, 1000))
    risers.riser_kernel(slots, env, *copies[0], inst._glob, inst._pan, fast)
    for name in ("uniform", "svf_coefs", "svf_tick", "poly_blep_saw"):
        monkeypatch.setattr(risers, name, getattr(noise, name).py_func)
        monkeypatch.setattr(noise, name, getattr(noise, name).py_func)
    for name in ("_position", "_ramp"):
        monkeypatch.setattr(risers, name, getattr(risers, name).py_func)
    with np.errstate(over="ignore"):
        risers.riser_kernel.py_func(slots, env, *copies[1], inst._glob, inst._pan, slow)
    np.testing.assert_allclose(fast, slow, rtol=1e-9, atol=1e-12)
    assert np.array_equal(copies[0][2], copies[1][2])
    assert np.abs(fast).max() > 0.0

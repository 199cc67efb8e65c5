"""Conformance of the loudness meter: ITU-R BS.1770-4, EBU Tech 3341 (V3) and Tech 3342 cases.

The test signals are built from the descriptions in Tech 3341 section 5 / Tech 3342
section 4 (stereo 1 kHz sines; "-23 dBFS" is the amplitude of each channel's sine, so a
full-scale sine is 0 dBFS). Tolerances are the documents' own: +-0.1 LU for loudness,
+-1 LU for LRA, +0.2/-0.4 dB for true peak.
"""

from __future__ import annotations

import numpy as np
import pytest
import scipy.signal

from symphony.dsp.loudness import (
    LoudnessMeter,
    _oversampled_peak_kernel,
    _TP_TAPS,
    integrated_loudness,
    k_weighting_sos,
    oversampled_peak_reference,
    true_peak_dbtp,
)
from symphony.dsp.linear import sos_cascade

RATES = [22050, 44100, 48000, 96000]


def tone_sequence(sample_rate, segments, freq=1000.0, channels=2):
    """Stereo sine with continuous phase; ``segments`` = [(level_dbfs or None, seconds), ...]."""
    amps = []
    for level, seconds in segments:
        n = int(round(seconds * sample_rate))
        amps.append(np.full(n, 0.0 if level is None else 10.0 ** (level / 20.0)))
    amp = np.concatenate(amps)
    t = np.arange(amp.size) / sample_rate
    x = amp * np.sin(2.0 * np.pi * freq * t)
    return np.tile(x, (channels, 1))


# --------------------------------------------------------------------------- K-weighting
def test_k_weighting_reproduces_bs1770_table_at_48k():
    # BS.1770-4 Table 1 (pre-filter) and Table 2 (RLB), 48 kHz.
    expected = np.array([
        [1.53512485958697, -2.69169618940638, 1.19839281085285, 1.0, -1.69065929318241, 0.73248077421585],
        [1.0, -2.0, 1.0, 1.0, -1.99004745483398, 0.99007225036621],
    ])
    np.testing.assert_allclose(k_weighting_sos(48000), expected, rtol=0, atol=1e-12)


@pytest.mark.parametrize("sample_rate", [22050, 44100, 96000])
def test_k_weighting_response_matches_48k_below_8k(sample_rate):
    freqs = np.array([20.0, 50.0, 100.0, 500.0, 1000.0, 2000.0, 4000.0, 8000.0])
    _, h48 = scipy.signal.sosfreqz(k_weighting_sos(48000), worN=freqs, fs=48000)
    _, h = scipy.signal.sosfreqz(k_weighting_sos(sample_rate), worN=freqs, fs=sample_rate)
    diff = 20 * np.log10(np.abs(h)) - 20 * np.log10(np.abs(h48))
    # bilinear warping only matters near Nyquist: 0.05 dB at 8 kHz for 22.05 kHz
    assert np.max(np.abs(diff)) < 0.05, diff


# --------------------------------------------------------------------------- Tech 3341 cases
@pytest.mark.parametrize("sample_rate", RATES)
@pytest.mark.parametrize("level", [-23.0, -33.0])
def test_case_1_2_constant_tone_momentary_short_integrated(sample_rate, level):
    x = tone_sequence(sample_rate, [(level, 20.0)])
    meter = LoudnessMeter(sample_rate)
    meter.process(x)
    assert meter.integrated_lufs() == pytest.approx(level, abs=0.1)
    m = meter.momentary_lufs()
    s = meter.short_term_lufs()
    assert m.size == 197 and s.size == 171  # (200 - 4 + 1), (200 - 30 + 1) windows
    assert np.all(np.abs(m - level) < 0.1)
    assert np.all(np.abs(s - level) < 0.1)


@pytest.mark.parametrize("sample_rate", [44100, 48000])
@pytest.mark.parametrize("segments", [
    [(-36.0, 10.0), (-23.0, 60.0), (-36.0, 10.0)],                              # case 3
    [(-72.0, 10.0), (-36.0, 10.0), (-23.0, 60.0), (-36.0, 10.0), (-72.0, 10.0)],  # case 4
    [(-26.0, 20.0), (-20.0, 20.1), (-26.0, 20.0)],                              # case 5
], ids=["case3", "case4", "case5"])
def test_cases_3_to_5_gating(sample_rate, segments):
    x = tone_sequence(sample_rate, segments)
    assert integrated_loudness(x, sample_rate) == pytest.approx(-23.0, abs=0.1)


def test_surround_channel_weight_1_41():
    # BS.1770-4 Table 3: G = 1.41 for Ls/Rs -> the same tone reads 10 log10(1.41) dB louder there
    fs = 48000
    tone = tone_sequence(fs, [(-20.0, 5.0)], channels=1)[0]
    x_front = np.zeros((5, tone.size))
    x_front[0] = tone
    x_surr = np.zeros((5, tone.size))
    x_surr[3] = tone
    diff = integrated_loudness(x_surr, fs) - integrated_loudness(x_front, fs)
    assert diff == pytest.approx(10 * np.log10(1.41), abs=1e-9)


def test_ungated_would_fail_case_4():
    # the gate matters: without it the -72/-36 dB parts pull the mean below -23.1
    fs = 48000
    x = tone_sequence(fs, [(-72.0, 10.0), (-36.0, 10.0), (-23.0, 60.0), (-36.0, 10.0), (-72.0, 10.0)])
    meter = LoudnessMeter(fs)
    meter.process(x)
    z = 10 ** ((meter.momentary_lufs() + 0.691) / 10)
    assert -0.691 + 10 * np.log10(np.mean(z)) < -23.9


@pytest.mark.parametrize("sample_rate", [44100, 48000])
def test_case_9_short_term_constant(sample_rate):
    # 20 x [1.34 s at -20 dBFS, 1.66 s at -30 dBFS]: every 3 s window holds one period -> -23.0
    x = tone_sequence(sample_rate, [(-20.0, 1.34), (-30.0, 1.66)] * 20)
    meter = LoudnessMeter(sample_rate)
    meter.process(x)
    s = meter.short_term_lufs()
    assert s.size > 500
    assert np.max(np.abs(s - (-23.0))) < 0.1


def test_case_12_momentary_constant():
    # 20 x [0.18 s at -20 dBFS, 0.22 s at -30 dBFS]: each 400 ms window -> -22.97 LUFS
    fs = 48000
    x = tone_sequence(fs, [(-20.0, 0.18), (-30.0, 0.22)] * 20)
    meter = LoudnessMeter(fs)
    meter.process(x)
    m = meter.momentary_lufs()
    assert np.max(np.abs(m - (-23.0))) < 0.1


@pytest.mark.parametrize("offset_s", [0.0, 0.02, 0.05])
def test_case_10_short_term_max_of_3s_burst(offset_s):
    # one 3 s burst at -23 dBFS at an offset from the 100 ms grid; the max short-term
    # value sees >= 2.95 s of it: -23.0 within 0.1 LU (our update rate is 10 Hz)
    fs = 48000
    x = tone_sequence(fs, [(None, 1.0 + offset_s), (-23.0, 3.0), (None, 2.0)])
    meter = LoudnessMeter(fs)
    meter.process(x)
    assert np.max(meter.short_term_lufs()) == pytest.approx(-23.0, abs=0.1)


# --------------------------------------------------------------------------- Tech 3342 LRA
@pytest.mark.parametrize("levels, expected", [
    ([-20.0, -30.0], 10.0),                       # case 1
    ([-20.0, -15.0], 5.0),                        # case 2
    ([-40.0, -20.0], 20.0),                       # case 3
    ([-50.0, -35.0, -20.0, -35.0, -50.0], 15.0),  # case 4
], ids=["case1", "case2", "case3", "case4"])
def test_tech3342_lra(levels, expected):
    fs = 48000
    x = tone_sequence(fs, [(lv, 20.0) for lv in levels])
    meter = LoudnessMeter(fs)
    meter.process(x)
    assert meter.loudness_range_lu() == pytest.approx(expected, abs=1.0)


# --------------------------------------------------------------------------- true peak
def _tp_signal(fs, freq, phase_deg, amplitude, seconds=2.0):
    """Tech 3341 true-peak tone: sine with 10 ms linear fades at both ends."""
    n = int(seconds * fs)
    t = np.arange(n) / fs
    x = amplitude * np.sin(2 * np.pi * freq * t + np.deg2rad(phase_deg))
    nf = int(0.01 * fs)
    env = np.ones(n)
    env[:nf] = np.linspace(0.0, 1.0, nf)
    env[-nf:] = np.linspace(1.0, 0.0, nf)
    return np.stack([x * env, x * env])


@pytest.mark.parametrize("divisor, phase, amplitude, expected", [
    (4, 0.0, 0.5, -6.0),           # case 15
    (4, 45.0, 0.5, -6.0),          # case 16 (sample peak -9 dBFS)
    (6, 60.0, 0.5, -6.0),          # case 17
    (8, 67.5, 0.5, -6.0),          # case 18
    (4, 45.0, np.sqrt(2), 3.0),    # our case "19": samples at 0 dBFS, true peak +3 dBTP
], ids=["case15", "case16", "case17", "case18", "case19"])
def test_tech3341_true_peak(divisor, phase, amplitude, expected):
    fs = 48000
    x = _tp_signal(fs, fs / divisor, phase, amplitude)
    tp = true_peak_dbtp(x, fs)
    assert expected - 0.4 <= tp <= expected + 0.2
    assert tp == pytest.approx(20 * np.log10(amplitude), abs=0.02)  # our interpolator: within 0.02 dB


def test_true_peak_case_16_sample_peak():
    fs = 48000
    meter = LoudnessMeter(fs)
    meter.process(_tp_signal(fs, fs / 4, 45.0, 0.5))
    assert meter.sample_peak_dbfs() == pytest.approx(-9.03, abs=0.01)
    assert meter.true_peak_dbtp() > meter.sample_peak_dbfs() + 2.9


@pytest.mark.parametrize("sample_rate", [22050, 44100, 96000])
def test_true_peak_half_sample_peak_other_rates(sample_rate):
    # fs/4 at 45 degrees: samples at 0.707 A, peaks halfway -> true peak = A
    x = _tp_signal(sample_rate, sample_rate / 4, 45.0, 0.5)
    assert true_peak_dbtp(x, sample_rate) == pytest.approx(-6.02, abs=0.02)


def test_oversampled_peak_kernel_matches_reference():
    rng = np.random.default_rng(3)
    m = _TP_TAPS.shape[1] - 1
    ext = rng.standard_normal((2, m + 300))
    out = np.empty(300)
    _oversampled_peak_kernel(ext, _TP_TAPS, out)
    np.testing.assert_allclose(out, oversampled_peak_reference(ext), rtol=0, atol=1e-12)


def test_true_peak_never_below_sample_peak():
    rng = np.random.default_rng(5)
    x = rng.standard_normal((2, 5000))
    meter = LoudnessMeter(48000)
    meter.process(x)
    assert meter.true_peak_dbtp() >= meter.sample_peak_dbfs()


# --------------------------------------------------------------------------- streaming
def test_block_size_invariance_and_memory():
    fs = 44100
    rng = np.random.default_rng(7)
    x = rng.standard_normal((2, 12 * fs)) * np.linspace(0.01, 0.5, 12 * fs)
    whole = LoudnessMeter(fs)
    whole.process(x)
    split = LoudnessMeter(fs)
    pos = 0
    sizes = [1, 64, 65, 512, 8193, 4410, 100000]
    i = 0
    while pos < x.shape[1]:
        n = sizes[i % len(sizes)]
        split.process(x[:, pos:pos + n])
        pos += n
        i += 1
    np.testing.assert_allclose(split.momentary_lufs(), whole.momentary_lufs(), atol=1e-9)
    np.testing.assert_allclose(split.short_term_lufs(), whole.short_term_lufs(), atol=1e-9)
    assert split.integrated_lufs() == pytest.approx(whole.integrated_lufs(), abs=1e-9)
    assert split.true_peak_dbtp() == pytest.approx(whole.true_peak_dbtp(), abs=1e-9)
    assert len(whole._sub) == 120  # one float per 100 ms


def test_meter_without_true_peak_measures_the_same_loudness():
    """``true_peak=False`` (the render's pre-master pass) skips only the oversampled peak."""
    rng = np.random.default_rng(12)
    x = rng.standard_normal((2, 3 * 48000)) * 0.2
    full = LoudnessMeter(48000)
    light = LoudnessMeter(48000, true_peak=False)
    for k in range(0, x.shape[1], 5000):
        full.process(x[:, k:k + 5000])
        light.process(x[:, k:k + 5000])
    light.flush_true_peak()
    assert light.integrated_lufs() == full.integrated_lufs()
    np.testing.assert_array_equal(light.momentary_lufs(), full.momentary_lufs())
    assert light.true_peak_dbtp() == light.sample_peak_dbfs() == full.sample_peak_dbfs()
    assert full.true_peak_dbtp() > full.sample_peak_dbfs()


@pytest.mark.parametrize("n", [1, 7, 1023, 1024, 1025, 5000])
def test_oversampled_peak_kernel_runs_match_reference(n):
    """The kernel works in runs of 1024 frames: lengths around a run boundary."""
    rng = np.random.default_rng(n)
    m = _TP_TAPS.shape[1] - 1
    ext = rng.standard_normal((2, m + n))
    out = np.empty(n)
    _oversampled_peak_kernel(ext, _TP_TAPS, out)
    np.testing.assert_allclose(out, oversampled_peak_reference(ext), rtol=0, atol=1e-12)


def test_oversampled_peak_kernel_floor_skips_only_what_cannot_matter():
    """With a floor, groups that provably stay below it get a bound (<= floor, >= the true
    peak); every frame above the floor keeps its exact value."""
    rng = np.random.default_rng(21)
    m = _TP_TAPS.shape[1] - 1
    n = 3000
    ext = rng.standard_normal((2, m + n)) * 0.05
    ext[:, 700:720] *= 20.0
    ext[1, 2500] = 1.5
    ref = np.empty(n)
    _oversampled_peak_kernel(ext, _TP_TAPS, ref)  # exact (matches the reference, tested above)
    np.testing.assert_allclose(ref, oversampled_peak_reference(ext), rtol=0, atol=1e-12)
    floor = 0.5 * ref.max()
    out = np.empty(n)
    _oversampled_peak_kernel(ext, _TP_TAPS, out, floor)
    above = ref > floor
    assert above.any() and (~above).sum() > n // 2
    np.testing.assert_array_equal(out[above], ref[above])
    assert np.all(out >= ref)
    assert np.all(out[out != ref] <= floor)
    assert np.mean(out != ref) > 0.5  # most groups were skipped


def test_silence_is_minus_infinity():
    meter = LoudnessMeter(48000)
    meter.process(np.zeros((2, 48000 * 2)))
    assert meter.integrated_lufs() == float("-inf")
    assert meter.true_peak_dbtp() == float("-inf")
    assert meter.loudness_range_lu() == 0.0


# --- the biquad-cascade kernel (K-weighting, master DC blocker) ----------------------


def _cascades(sample_rate):
    from symphony.dsp.filters import rbj_coefficients

    return [k_weighting_sos(sample_rate),
            rbj_coefficients("highpass", 10.0, 0.7071, 0.0, sample_rate),
            np.vstack([rbj_coefficients("peak", 3000.0, 2.0, 6.0, sample_rate),
                       rbj_coefficients("lowpass", 5000.0, 0.9, 0.0, sample_rate),
                       rbj_coefficients("highshelf", 900.0, 0.7, -4.0, sample_rate)])]


@pytest.mark.parametrize("sample_rate", [22050, 44100, 48000])
@pytest.mark.parametrize("channels", [1, 2, 3])
def test_sos_cascade_equals_scipy_sosfilt_bit_for_bit(sample_rate, channels):
    rng = np.random.default_rng(channels)
    for sos in _cascades(sample_rate):
        x = rng.standard_normal((channels, 3000))
        zi = rng.standard_normal((sos.shape[0], channels, 2)) * 0.1
        ref, ref_zi = scipy.signal.sosfilt(sos, x * 0.37, axis=-1, zi=zi)
        state = zi.copy()
        y = sos_cascade(sos, x, state, gain=0.37)
        assert np.array_equal(y, ref)           # same operations in the same order
        assert np.array_equal(state, ref_zi)
        np.testing.assert_allclose(y, ref, rtol=0, atol=1e-12)  # the brief's bound, trivially


@pytest.mark.parametrize("sample_rate", [22050, 44100, 48000])
def test_sos_cascade_block_size_invariance_and_in_place(sample_rate):
    sos = k_weighting_sos(sample_rate)
    x = np.random.default_rng(5).standard_normal((2, 1 + 64 + 65 + 512 + 8193))
    whole = sos_cascade(sos, x, np.zeros((2, 2, 2)))
    state, parts, pos = np.zeros((2, 2, 2)), [], 0
    for n in [1, 64, 65, 512, 8193]:
        chunk = x[:, pos:pos + n].copy()
        parts.append(sos_cascade(sos, chunk, state, out=chunk))  # in place: y is x
        pos += n
    assert np.array_equal(np.concatenate(parts, axis=1), whole)


def test_sos_cascade_floor_ends_decays_in_exact_zeros():
    from symphony.dsp.base import DENORMAL_FLOOR

    sos = k_weighting_sos(48000)
    x = np.zeros((2, 48000 * 20))
    x[:, 0] = 1.0  # an impulse, then 20 s of silence: scipy's state ends in subnormals
    ref, ref_zi = scipy.signal.sosfilt(sos, x, axis=-1, zi=np.zeros((2, 2, 2)))
    assert np.any((ref_zi != 0) & (np.abs(ref_zi) < 1e-300))  # the slow case exists
    state = np.zeros((2, 2, 2))
    y = sos_cascade(sos, x, state, floor=DENORMAL_FLOOR)
    assert np.all(state == 0.0)
    np.testing.assert_allclose(y, ref, rtol=0, atol=1e-29)
    assert np.array_equal(y[:, :4800], ref[:, :4800])  # nothing is flushed while it sounds


def test_sos_cascade_rejects_mismatched_state():
    from symphony.errors import ParameterError

    with pytest.raises(ParameterError, match=r"zi \(sections, channels, 2\)"):
        sos_cascade(k_weighting_sos(48000), np.zeros((2, 10)), np.zeros((1, 2, 2)))

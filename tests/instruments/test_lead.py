"""PolyLead and BrassSection physics (their contract tests are in ``test_ensemble.py``)."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.signal

from symphony.instruments import REGISTRY
from symphony.instruments.lead import BrassSection, PolyLead, vibrato_ratio
from tests.instruments.test_ensemble import fundamental_hz, make

#: The lead with its filter envelope and detune out of the way: a plain filtered oscillator.
PLAIN = dict(env_mod=0.0, detune_cents=0.0, key_track=0.0, resonance=0.0, attack_ms=5.0)


def harmonic_db(x, sample_rate, f_hz):
    """Level (dB, arbitrary reference) of the strongest bin within 2 % of ``f_hz``.

    Flat-top window: its scalloping loss is < 0.02 dB wherever the partial falls.
    """
    spec = np.abs(np.fft.rfft(x * scipy.signal.windows.flattop(x.size)))
    freqs = np.fft.rfftfreq(x.size, 1.0 / sample_rate)
    band = np.abs(freqs - f_hz) < 0.02 * f_hz
    return float(20 * np.log10(spec[band].max()))


@pytest.mark.parametrize("pitch", [45.0, 69.0, 81.25])
def test_lead_pitch_from_fft_peak(sample_rate, pitch):
    inst = make("poly_lead", sample_rate, cutoff_hz=20000.0, **PLAIN)
    inst.note_on(0, pitch, 1.0)
    x = inst.process(sample_rate)[0, sample_rate // 4:]
    f0 = 440.0 * 2 ** ((pitch - 69) / 12)
    assert fundamental_hz(x, sample_rate, f0) == pytest.approx(f0, rel=1e-3)


@pytest.mark.parametrize("waveform,second_db", [("saw", -6.0), ("square", None), ("pulse", None)])
def test_lead_waveforms(waveform, second_db):
    """Saw: 2nd harmonic at half the fundamental; square: no even harmonics; pulse 35 %: has them."""
    sr = 44100
    inst = make("poly_lead", sr, cutoff_hz=20000.0, waveform=waveform, osc2_level=0.0, **PLAIN)
    inst.note_on(0, 45, 1.0)  # 110 Hz: the ladder at 20 kHz leaves the low harmonics alone
    x = inst.process(sr)[0, sr // 4:]
    rel2 = harmonic_db(x, sr, 220.0) - harmonic_db(x, sr, 110.0)
    if waveform == "saw":
        assert rel2 == pytest.approx(second_db, abs=0.5)
    elif waveform == "square":
        assert rel2 < -30.0
    else:  # pulse width 0.35: |sin(2 pi 0.35)| / (2 |sin(pi 0.35)|) -> -5.1 dB
        assert rel2 == pytest.approx(20 * np.log10(abs(np.sin(2 * np.pi * 0.35)) / (2 * np.sin(np.pi * 0.35))),
                                     abs=0.7)


def test_lead_detune_beats_at_the_cent_offset():
    """Two saws ``d`` cents apart: the fundamental's envelope beats at f0 (2^(d/1200) - 1)."""
    sr = 22050
    inst = make("poly_lead", sr, cutoff_hz=300.0, **{**PLAIN, "detune_cents": 40.0}, osc2_level=1.0)
    inst.note_on(0, 57, 1.0)
    x = inst.process(4 * sr)[0, sr // 2:]
    env = np.abs(x)
    frame = sr // 100  # 10 ms peak envelope
    m = env.size // frame
    env = env[: m * frame].reshape(m, frame).max(axis=1)
    spec = np.abs(np.fft.rfft((env - env.mean()) * np.hanning(m)))
    freqs = np.fft.rfftfreq(m, 0.01)
    beat = freqs[1:][np.argmax(spec[1:])]
    assert beat == pytest.approx(220.0 * (2 ** (40 / 1200) - 1), abs=0.5)


def test_lead_cutoff_moves_the_centroid_monotonically(spectral_centroid):
    sr = 44100
    cents = []
    for cutoff in (300.0, 800.0, 2000.0, 5000.0):
        inst = make("poly_lead", sr, cutoff_hz=cutoff, **PLAIN)
        inst.note_on(0, 45, 1.0)
        cents.append(spectral_centroid(inst.process(sr)[0, sr // 4:], sr))
    assert np.all(np.diff(cents) > 0.15 * np.array(cents[:-1])), cents


def test_lead_resonance_boosts_the_cutoff_region():
    sr = 44100
    boost = []
    for res in (0.0, 0.9):
        inst = make("poly_lead", sr, cutoff_hz=990.0, **{**PLAIN, "resonance": res})
        inst.note_on(0, 45, 1.0)  # 110 Hz: the 9th harmonic sits at the cutoff
        x = inst.process(sr)[0, sr // 4:]
        boost.append(harmonic_db(x, sr, 990.0) - harmonic_db(x, sr, 110.0))
    assert boost[1] > boost[0] + 12.0


def hf_fraction(x, sample_rate, above_hz):
    spec = np.abs(np.fft.rfft(x * np.hanning(x.size))) ** 2
    freqs = np.fft.rfftfreq(x.size, 1.0 / sample_rate)
    return float(spec[freqs > above_hz].sum() / spec.sum())


def test_lead_filter_envelope_sweeps_down():
    """env_mod opens the ladder at the note start; it closes as the filter envelope decays."""
    sr = 44100
    ratio = {}
    for env_mod in (0.0, 1.0):
        inst = make("poly_lead", sr, cutoff_hz=400.0, env_mod=env_mod, decay_ms=150.0,
                    filter_sustain=0.0, detune_cents=0.0, key_track=0.0, attack_ms=2.0)
        inst.note_on(0, 45, 1.0)
        x = inst.process(sr)[0]
        early = hf_fraction(x[int(0.005 * sr):int(0.045 * sr)], sr, 1500.0)
        late = hf_fraction(x[int(0.6 * sr):int(0.9 * sr)], sr, 1500.0)
        ratio[env_mod] = early / late
    assert 0.5 < ratio[0.0] < 2.0
    assert ratio[1.0] > 100.0


def cycle_cents(x, sample_rate, f0):
    """(times_s, cents) of each rising-zero-crossing period (linear interpolation).

    The signal is first low-passed at 1.4 f0 (8th-order Butterworth, forward-backward: no
    phase shift), so only the fundamental crosses zero.
    """
    sos = scipy.signal.butter(8, 1.4 * f0, fs=sample_rate, output="sos")
    x = scipy.signal.sosfiltfilt(sos, x)
    i = np.flatnonzero((x[:-1] < 0) & (x[1:] >= 0))
    t = i + x[i] / (x[i] - x[i + 1])
    periods = np.diff(t) / sample_rate
    return t[1:] / sample_rate, 1200 * np.log2(1.0 / periods / f0)


def test_lead_vibrato_depth_rate_and_delay():
    sr = 44100
    inst = make("poly_lead", sr, cutoff_hz=150.0, **PLAIN, vibrato_cents=30.0, vibrato_hz=5.0,
                vibrato_delay_ms=300.0)
    inst.note_on(0, 57, 1.0)  # 220 Hz through a 150 Hz 4-pole low-pass: nearly a sine
    x = inst.process(2 * sr)[0]
    t, cents = cycle_cents(x, sr, 220.0)
    before = cents[(t > 0.08) & (t < 0.29)]
    after = cents[(t > 0.7) & (t < 1.9)]
    assert np.abs(before).max() < 1.0
    assert after.max() == pytest.approx(30.0, abs=3.0)
    assert after.min() == pytest.approx(-30.0, abs=3.0)
    # rate: sign changes of the deviation, 2 per vibrato cycle
    sel = (t > 0.7) & (t < 1.9)
    crossings = np.count_nonzero(np.diff(np.sign(cents[sel])) != 0)
    assert crossings / (t[sel][-1] - t[sel][0]) == pytest.approx(10.0, rel=0.15)


def test_vibrato_ratio_formula():
    t = np.arange(0, 48000, 997, dtype=np.float64)
    got = vibrato_ratio(t, 48000, depth_cents=20.0, rate_hz=6.0, delay_ms=100.0, fade_ms=200.0)
    sec = t / 48000 - 0.1
    fade = np.clip(sec / 0.2, 0, 1)
    want = 2 ** (20.0 * fade * np.sin(2 * np.pi * 6.0 * np.maximum(sec, 0)) / 1200)
    np.testing.assert_allclose(got, want, rtol=1e-14)


# --------------------------------------------------------------------------- brass


def windowed_centroids(x, sample_rate, centres_ms, width_ms, spectral_centroid):
    half = int(width_ms * 0.5e-3 * sample_rate)
    return np.array([spectral_centroid(x[int(c * 1e-3 * sample_rate) - half:
                                         int(c * 1e-3 * sample_rate) + half], sample_rate)
                     for c in centres_ms])


def test_brass_swell_raises_the_centroid_during_swell_ms(spectral_centroid):
    sr = 44100
    inst = make("brass_section", sr, swell_ms=400.0, attack_ms=20.0, vibrato_cents=0.0, detune_cents=0.0)
    inst.note_on(0, 48, 1.0)
    x = inst.process(sr)[0]
    during = windowed_centroids(x, sr, [60, 140, 220, 300, 380], 40.0, spectral_centroid)
    assert np.all(np.diff(during) > 0), during
    assert during[-1] > 2.0 * during[0]
    # without the swell the filter is open from the start
    inst = make("brass_section", sr, swell_ms=0.0, attack_ms=20.0, vibrato_cents=0.0, detune_cents=0.0)
    inst.note_on(0, 48, 1.0)
    x0 = inst.process(sr)[0]
    assert windowed_centroids(x0, sr, [60], 40.0, spectral_centroid)[0] > 2.0 * during[0]


def test_brass_brightness_moves_the_centroid_monotonically(spectral_centroid):
    sr = 44100
    cents = []
    for b in (0.1, 0.4, 0.7, 1.0):
        inst = make("brass_section", sr, brightness=b, swell_ms=20.0, vibrato_cents=0.0)
        inst.note_on(0, 52, 1.0)
        cents.append(spectral_centroid(inst.process(sr)[0, sr // 2:], sr))
    assert np.all(np.diff(cents) > 0.1 * np.array(cents[:-1])), cents


def test_brass_vibrato_fades_in():
    """Deviation from the same note without vibrato (the swell's moving filter cancels out)."""
    sr = 44100
    curves = []
    for vib in (0.0, 20.0):
        inst = make("brass_section", sr, brightness=0.0, detune_cents=0.0, vibrato_cents=vib, swell_ms=0.0)
        inst.note_on(0, 45, 1.0)
        x = inst.process(2 * sr)
        curves.append(cycle_cents(x[0] + x[1], sr, 110.0))
    (t0, c0), (t, c) = curves
    dev = np.abs(c - np.interp(t, t0, c0))
    early = dev[(t > 0.1) & (t < 0.24)].max()  # before the 250 ms delay
    middle = dev[(t > 0.35) & (t < 0.65)].max()  # fading in
    late = dev[(t > 1.1) & (t < 1.9)].max()  # full depth
    assert early < 0.05
    assert 2.0 < middle < 0.8 * late
    assert late == pytest.approx(20.0, abs=3.0)


# --------------------------------------------------------------------------- declaration


def test_declared_interface():
    lead = REGISTRY["poly_lead"]
    assert lead is PolyLead and lead.FAMILY == "lead" and lead.DEFAULT_VOICES == 8
    spec = {p.name: p for p in lead.PARAMS}
    expected = {"attack_ms": (8.0, 0.0, 10000.0), "decay_ms": (250.0, 0.0, 10000.0),
                "sustain": (0.7, 0.0, 1.0), "release_ms": (300.0, 0.0, 20000.0),
                "cutoff_hz": (1800.0, 20.0, 20000.0), "resonance": (0.3, 0.0, 1.2),
                "env_mod": (0.5, 0.0, 1.0), "detune_cents": (7.0, 0.0, 50.0)}
    for name, triple in expected.items():
        assert (spec[name].default, spec[name].low, spec[name].high) == triple
    assert spec["waveform"].default == "saw" and spec["waveform"].choices == ("saw", "square", "pulse")

    brass = REGISTRY["brass_section"]
    assert brass is BrassSection and brass.FAMILY == "brass" and brass.DEFAULT_VOICES == 12
    spec = {p.name: (p.default, p.low, p.high) for p in brass.PARAMS}
    assert spec["attack_ms"] == (60.0, 0.0, 5000.0)
    assert spec["release_ms"] == (250.0, 0.0, 10000.0)
    assert spec["brightness"] == (0.6, 0.0, 1.0)
    assert spec["swell_ms"] == (180.0, 0.0, 5000.0)
    assert spec["detune_cents"] == (6.0, 0.0, 50.0)
    for cls in (lead, brass):
        assert cls.DOC and cls.DEMO


def test_fused_vibrato_kernel_matches_the_formula():
    from symphony.instruments.lead import vibrato_ratio
    from symphony.instruments.poly import vibrato_kernel

    onsets = np.array([0.0, 1234.0, 48000.0])
    out = np.empty((3, 700))
    vibrato_kernel(onsets, 700, 48000.0, 25.0, 5.5, 200.0, 300.0, out)
    t = onsets[:, None] + np.arange(700.0)
    ref = vibrato_ratio(t, 48000, depth_cents=25.0, rate_hz=5.5, delay_ms=200.0, fade_ms=300.0)
    np.testing.assert_allclose(out, ref, rtol=1e-13, atol=0)


def test_pan_stack_kernel_matches_matmul():
    from symphony.instruments.poly import pan_stack_kernel

    rng = np.random.default_rng(3)
    voices, stack, n = 6, 4, 257
    rows = rng.standard_normal((voices * stack, n))
    pan = rng.random((2, 2, stack))
    active = np.array([0, 3, 5])
    out = np.empty((3, 2, n))
    pan_stack_kernel(rows, active, pan, out)
    ref = pan[active & 1] @ rows.reshape(voices, stack, n)[active]
    np.testing.assert_allclose(out, ref, rtol=1e-12, atol=1e-14)


# --------------------------------------------------------------------------- fused kernels


def smooth_rows(rng, rows, n, low, high):
    """Slowly moving random curves in [low, high], one per row (envelope-like test input)."""
    t = np.arange(n) / n
    phase = rng.uniform(0, 2 * np.pi, (rows, 1))
    return low + (high - low) * (0.5 + 0.5 * np.sin(2 * np.pi * rng.uniform(0.5, 3.0, (rows, 1)) * t + phase))


@pytest.mark.parametrize("sample_rate", [22050, 44100, 48000])
@pytest.mark.parametrize("vibrato", [False, True])
def test_lead_kernel_matches_oscillators_and_ladder(sample_rate, vibrato):
    """``_lead_kernel`` = two BandlimitedOscillators -> LadderFilter (per-sample cutoff) ->
    amplitude, on (voices, n) arrays, summed over the active voices."""
    from symphony.dsp.filters import LadderFilter
    from symphony.dsp.oscillators import BandlimitedOscillator
    from symphony.instruments.lead import _NO_VIBRATO, _lead_kernel

    rng = np.random.default_rng(5)
    voices, n = 6, 3001  # n > the kernel's chunk and not a multiple of it
    active = np.array([0, 2, 3, 5])
    f0 = rng.uniform(40.0, 2000.0, voices)
    vib = 2.0 ** (smooth_rows(rng, active.size, n, -0.05, 0.05)) if vibrato else _NO_VIBRATO
    amp = smooth_rows(rng, voices, n, 0.0, 1.0)
    fenv = smooth_rows(rng, voices, n, 0.0, 1.0)
    fenv[:, 1000:1500] = fenv[:, 1000:1001]  # a held stretch
    base, depth, gain = rng.uniform(100.0, 3000.0, voices), rng.uniform(0.0, 5.0, voices), rng.random(voices)
    ratio2, mix2, drive_gain, resonance, hi = 2 ** (7 / 1200), 0.8, 0.7, 0.9, 0.45 * sample_rate
    pw1, pw2 = np.array([0.5]), np.array([0.3])
    oscs = [BandlimitedOscillator(sample_rate, voices=voices, waveform=w) for w in ("saw", "pulse") * 2]
    for osc in oscs:
        for v in range(voices):
            osc.reset_phase(v, 0.1 * v)
    # reference: processors on full (voices, n) arrays
    freq = np.repeat(f0[:, None], n, axis=1)
    if vibrato:
        freq[active] *= vib
    mask = np.zeros(voices, dtype=bool)
    mask[active] = True
    x = oscs[0].process(freq, active=mask) + mix2 * oscs[1].process(freq * ratio2, pulse_width=0.3, active=mask)
    cut = np.clip(base[:, None] * np.exp2(depth[:, None] * fenv), 20.0, hi)
    ladder = LadderFilter(sample_rate, channels=active.size, resonance=resonance)
    y = ladder.process(drive_gain * x[active], cutoff_hz=cut[active])
    ref = np.sum(y * amp[active] * gain[active, None], axis=0)
    # the kernel
    state = np.zeros((voices, 4))
    out = np.empty(n)
    o1, o2 = oscs[2], oscs[3]
    _lead_kernel(active, f0, vib, ratio2, mix2, drive_gain, o1._bank, o1._t_offset, o1._pulse, pw1, o1._phase,
                 o1._band, o1._table_index, o1._table_weight, o2._bank, o2._t_offset, o2._pulse, pw2, o2._phase,
                 o2._band, o2._table_index, o2._table_weight, 1.0 / sample_rate, amp, fenv, base, depth, gain, hi,
                 np.pi / sample_rate, 4.0 * resonance, state, out)
    assert np.abs(ref).max() > 0.05
    np.testing.assert_allclose(out, ref, rtol=0, atol=1e-12)
    np.testing.assert_allclose(state[active], ladder._state, rtol=0, atol=1e-12)
    np.testing.assert_array_equal(o1._phase, oscs[0]._phase)


@pytest.mark.parametrize("sample_rate", [22050, 48000])
@pytest.mark.parametrize("vibrato", [False, True])
def test_brass_kernel_matches_oscillators_pan_and_svf(sample_rate, vibrato):
    """``_brass_kernel`` = saw stack -> pan -> StateVariableFilter low-pass per slot (cutoff
    per sample, q 0.9) -> amplitude, summed over the active slots."""
    from symphony.dsp.filters import StateVariableFilter
    from symphony.dsp.oscillators import BandlimitedOscillator
    from symphony.instruments.lead import _NO_VIBRATO, _brass_kernel

    rng = np.random.default_rng(6)
    voices, stack, n = 5, 4, 2100
    active = np.array([1, 2, 4])
    row_freq = rng.uniform(50.0, 1500.0, voices * stack)
    vib = 2.0 ** (smooth_rows(rng, active.size, n, -0.02, 0.02)) if vibrato else _NO_VIBRATO
    amp, swell = smooth_rows(rng, voices, n, 0.0, 1.0), smooth_rows(rng, voices, n, 0.0, 1.0)
    closed, octaves, gain = rng.uniform(60.0, 400.0, voices), rng.uniform(1.0, 6.0, voices), rng.random(voices)
    pan = rng.random((2, 2, stack))
    hi = 0.45 * sample_rate
    oscs = [BandlimitedOscillator(sample_rate, voices=voices * stack) for _ in range(2)]
    for osc in oscs:
        for r in range(voices * stack):
            osc.reset_phase(r, 0.37 * r)
    freq = np.repeat(row_freq[:, None], n, axis=1).reshape(voices, stack, n)
    if vibrato:
        freq[active] *= vib[:, None, :]
    mask = np.zeros((voices, stack), dtype=bool)
    mask[active] = True
    saws = oscs[0].process(freq.reshape(-1, n), active=mask.reshape(-1)).reshape(voices, stack, n)
    ref = np.zeros((2, n))
    for slot in active:
        lr = pan[slot & 1] @ saws[slot]
        cut = np.clip(closed[slot] * np.exp2(octaves[slot] * swell[slot]), 20.0, hi)
        y = StateVariableFilter(sample_rate, channels=2, q=0.9).process(lr, cutoff_hz=cut)
        ref += y * amp[slot] * gain[slot]
    o = oscs[1]
    out = np.empty((2, n))
    state = np.zeros((2, 2, voices))
    _brass_kernel(active, row_freq, vib, o._bank, o._t_offset, o._phase, o._band, o._table_index,
                  o._table_weight, 1.0 / sample_rate, pan, amp, swell, closed, octaves, gain, hi,
                  np.pi / sample_rate, 1.0 / 0.9, state, out)
    assert np.abs(ref).max() > 0.05
    np.testing.assert_allclose(out, ref, rtol=0, atol=1e-12)

"""StringEnsemble physics, the ensemble chorus kernel, and the contract of every PolyInstrument.

The contract section is parametrized over the three instruments built on
:class:`symphony.instruments.ensemble.PolyInstrument` (string_ensemble, poly_lead,
brass_section); their own physics is in ``test_lead.py``.
"""

from __future__ import annotations

import math

import numpy as np
import pytest

from symphony.instruments import REGISTRY
from symphony.instruments.ensemble import EnsembleChorus, StringEnsemble, _CHORUS_CONTROL
from symphony.instruments.poly import PolyInstrument
from tests.instruments.conftest import check_block_size_invariance, check_deterministic_and_reset, chord_then_release

POLY = ["string_ensemble", "poly_lead", "brass_section"]
#: Click detector threshold (see conftest ``click_ratio``: steady sound ~1-3, a hard gate > 20).
CLICK_LIMIT = 8.0


def make(name, sample_rate=22050, voices=None, seed=0, **params):
    return REGISTRY[name](sample_rate, params=params, rng=np.random.default_rng(seed), voices=voices)


def busy_events(sample_rate):
    """Chords, releases, a silent gap, steals (more notes than 4 voices), rapid notes."""
    s = sample_rate
    ev = []
    nid = 0
    for i, p in enumerate([50, 53, 57, 62]):  # a chord, released
        ev.append((int(0.01 * s) + 7 * i, "on", nid, p, 0.9))
        ev.append((int(0.35 * s), "off", nid))
        nid += 1
    # silence until ~1.6 s (every release is shorter), then 7 overlapping notes on 4 voices
    for i, p in enumerate([60, 62, 64, 65, 67, 69, 71]):
        ev.append((int(1.6 * s) + int(0.031 * s) * i, "on", nid, p + 0.3, 0.5 + 0.07 * i))
        ev.append((int(1.6 * s) + int(0.031 * s) * i + int(0.2 * s), "off", nid))
        nid += 1
    # one note stolen and released before its delayed start
    ev.append((int(2.0 * s), "on", 100, 48, 1.0))
    ev.append((int(2.0 * s) + 3, "on", 101, 52, 1.0))
    ev.append((int(2.0 * s) + 4, "on", 102, 55, 1.0))
    ev.append((int(2.0 * s) + 5, "on", 103, 59, 1.0))
    ev.append((int(2.0 * s) + 6, "on", 104, 62, 1.0))
    ev.append((int(2.0 * s) + 9, "off", 104))
    for k in range(100, 104):
        ev.append((int(2.3 * s), "off", k))
    return ev


# --------------------------------------------------------------------------- contract


#: Extra settings for the invariance test: switch on every optional signal path.
INVARIANCE_PARAMS = {
    "string_ensemble": dict(pulse_mix=0.5),
    "poly_lead": dict(vibrato_cents=20.0, vibrato_delay_ms=100.0, waveform="pulse", osc2_waveform="triangle"),
    "brass_section": dict(),
}


@pytest.mark.parametrize("name", POLY)
def test_block_size_invariance_with_events_and_steals(name):
    sr = 22050
    kw = dict(release_ms=150.0, **INVARIANCE_PARAMS[name])
    check_block_size_invariance(lambda: make(name, sr, voices=4, **kw), int(2.6 * sr), busy_events(sr),
                                min_peak=0.05, silent_gap=slice(int(1.2 * sr), int(1.59 * sr)))


@pytest.mark.parametrize("name", POLY)
def test_deterministic_and_reset_equals_fresh(name):
    sr = 22050
    check_deterministic_and_reset(lambda: make(name, sr, voices=4), int(2.6 * sr), busy_events(sr))


@pytest.mark.parametrize("name", POLY)
def test_silent_without_notes(name):
    inst = make(name)
    assert inst.is_silent
    y = inst.process(5000)
    assert y.shape == (2, 5000) and y.dtype == np.float64
    assert np.all(y == 0.0)


@pytest.mark.parametrize("name", POLY)
def test_silent_within_release_after_last_note(name):
    sr = 44100
    release_ms = 400.0
    inst = make(name, sr, release_ms=release_ms)
    inst.note_on(1, 57, 1.0)
    inst.process(int(0.5 * sr))
    inst.note_off(1)
    tail = inst.process(int((release_ms + 50.0) * 1e-3 * sr))  # release + chorus delay + margin
    assert np.abs(tail[:, :100]).max() > 1e-3
    assert inst.is_silent
    assert np.all(tail[:, -10:] == 0.0)
    assert np.all(inst.process(1000) == 0.0)


@pytest.mark.parametrize("name", POLY)
@pytest.mark.parametrize("corner", ["low", "high"])
def test_finite_output_at_parameter_extremes(name, corner):
    cls = REGISTRY[name]
    params = {p.name: (p.choices[-1] if p.choices else (p.low if corner == "low" else p.high))
              for p in cls.PARAMS}
    y = chord_then_release(cls(22050, params=params, rng=np.random.default_rng(0)))
    assert np.all(np.isfinite(y))
    assert np.abs(y).max() < 4.0


@pytest.mark.parametrize("name", POLY)
def test_levels_single_note_and_chord(name):
    sr = 44100
    inst = make(name, sr)
    inst.note_on(0, 60, 1.0)
    single = np.abs(inst.process(sr)).max()
    inst = make(name, sr)
    for i, p in enumerate([60, 64, 67, 72]):
        inst.note_on(i, p, 1.0)
    chord = np.abs(inst.process(sr)).max()
    assert 0.2 <= single <= 0.55
    assert chord < 0.95


@pytest.mark.parametrize("name", POLY)
def test_velocity_scales_level(name):
    sr = 22050
    rms = []
    for vel in (1.0, 0.5):
        inst = make(name, sr)
        inst.note_on(0, 57, vel)
        y = inst.process(sr)[:, sr // 2:]
        rms.append(np.sqrt(np.mean(y ** 2)))
    # level halves; the slightly darker filter at low velocity takes a little more
    assert 0.3 <= rms[1] / rms[0] <= 0.55


def test_click_detector_catches_a_hard_gated_sine(click_ratio):
    sr = 44100
    t = np.arange(sr // 2) / sr
    x = 0.3 * np.sin(2 * np.pi * 220.0 * t + 1.0)
    x[: sr // 4] = 0.0
    assert click_ratio(x, sr) > 20.0
    ramp = np.clip((t - 0.25) / 0.005, 0.0, 1.0)  # the same sine with a 5 ms fade-in
    assert click_ratio(0.3 * np.sin(2 * np.pi * 220.0 * t + 1.0) * ramp, sr) < CLICK_LIMIT


CLICK_SETTINGS = {
    "string_ensemble": dict(attack_ms=0.0, release_ms=0.0, brightness=0.3, chorus=0.0),
    "poly_lead": dict(attack_ms=0.0, release_ms=0.0, cutoff_hz=800.0, env_mod=0.0, key_track=0.0,
                      resonance=0.0),
    "brass_section": dict(attack_ms=0.0, release_ms=0.0, brightness=0.2, swell_ms=0.0, vibrato_cents=0.0),
}


@pytest.mark.parametrize("name", POLY)
def test_rapid_notes_and_steals_are_click_free(name, render_events, click_ratio):
    """Zero attack/release settings, 40 ms notes overlapping on 2 voices: minimum ramps and steal fades."""
    sr = 44100
    rng = np.random.default_rng(7)
    events = []
    for i in range(40):
        start = int(i * 0.04 * sr)
        events.append((start, "on", i, float(rng.integers(36, 60)), float(rng.uniform(0.5, 1.0))))
        events.append((start + int(0.09 * sr), "off", i))  # overlaps: forces steals
    y = render_events(make(name, sr, voices=2, **CLICK_SETTINGS[name]), int(2.0 * sr), events)
    assert np.abs(y).max() > 0.05
    for ch in y:
        assert click_ratio(ch, sr) < CLICK_LIMIT


def test_stealing_fades_the_stolen_voice():
    sr = 44100
    inst = make("string_ensemble", sr, voices=1, attack_ms=5.0, chorus=0.0)
    inst.note_on(0, 57, 1.0)
    inst.process(sr // 2)
    inst.note_on(1, 64, 1.0)
    y = inst.process(int(0.02 * sr))
    fade = int(PolyInstrument.STEAL_MS * 1e-3 * sr)
    # the old note ramps down (linear, STEAL_MS) and the slot is silent before the new one
    head = np.abs(y[0, : fade // 4]).max()
    assert head > 0.02
    assert np.all(y[:, fade + 1: fade + 10] == 0.0)
    assert np.abs(y[:, -200:]).max() > 0.0


# --------------------------------------------------------------------------- ensemble physics


def fundamental_hz(x, sample_rate, guess_hz):
    """Parabolically interpolated FFT peak near ``guess_hz`` (Hann window)."""
    spec = np.abs(np.fft.rfft(x * np.hanning(x.size)))
    freqs = np.fft.rfftfreq(x.size, 1.0 / sample_rate)
    band = (freqs > guess_hz / 1.2) & (freqs < guess_hz * 1.2)
    k = np.flatnonzero(band)[np.argmax(spec[band])]
    a, b, c = np.log(spec[k - 1: k + 2])
    return float(freqs[k] + 0.5 * (a - c) / (a - 2 * b + c) * (freqs[1] - freqs[0]))


@pytest.mark.parametrize("pitch", [45.0, 57.0, 69.5])
def test_pitch_from_fft_peak(sample_rate, pitch):
    inst = make("string_ensemble", sample_rate, detune_cents=0.0, chorus=0.0, attack_ms=10.0)
    inst.note_on(0, pitch, 1.0)
    x = inst.process(sample_rate)[0, sample_rate // 4:]
    f0 = 440.0 * 2 ** ((pitch - 69) / 12)
    assert fundamental_hz(x, sample_rate, f0) == pytest.approx(f0, rel=1e-3)


def peak_width_cents(x, sample_rate, f0):
    """Power-weighted RMS spread (cents) of the L+R power spectrum within +-60 cents of ``f0``."""
    spec = np.sum(np.abs(np.fft.rfft(x * np.hanning(x.shape[-1]), axis=-1)) ** 2, axis=0)
    freqs = np.fft.rfftfreq(x.shape[-1], 1.0 / sample_rate)
    band = (freqs > f0 * 2 ** (-60 / 1200)) & (freqs < f0 * 2 ** (60 / 1200))
    cents = 1200 * np.log2(freqs[band] / f0)
    w = spec[band] / spec[band].sum()
    mean = np.sum(w * cents)
    return float(np.sqrt(np.sum(w * (cents - mean) ** 2)))


def test_detune_widens_the_spectral_peak():
    sr = 22050
    widths = []
    for detune in (0.0, 10.0, 25.0):
        inst = make("string_ensemble", sr, detune_cents=detune, chorus=0.0, attack_ms=10.0)
        inst.note_on(0, 57, 1.0)
        x = inst.process(5 * sr)[:, sr // 2:]
        widths.append(peak_width_cents(x, sr, 220.0))
    assert widths[0] < 4.0  # the window's own main lobe
    assert widths[1] > widths[0] + 3.0
    assert widths[2] > widths[1] + 5.0
    assert widths[2] == pytest.approx(25.0 * math.sqrt(2 / 3), rel=0.3)  # 3 lines at -d, 0, +d


def lr_correlation(y):
    return float(np.corrcoef(y[0], y[1])[0, 1])


def test_chorus_and_stack_spread_give_stereo_width():
    sr = 22050
    corr = {}
    for chorus in (0.0, 1.0):
        inst = make("string_ensemble", sr, chorus=chorus, attack_ms=10.0)
        for i, p in enumerate([50, 57, 62]):
            inst.note_on(i, p, 1.0)
        corr[chorus] = lr_correlation(inst.process(3 * sr)[:, sr // 2:])
    assert corr[0.0] < 0.98  # stack members panned apart
    assert corr[1.0] < corr[0.0] - 0.05
    assert corr[1.0] < 0.85


@pytest.mark.parametrize("attack_ms", [200.0, 800.0, 2000.0])
def test_attack_time_reaches_90_percent(sample_rate, attack_ms):
    inst = make("string_ensemble", sample_rate, attack_ms=attack_ms, chorus=0.0, detune_cents=0.0)
    inst.note_on(0, 57, 1.0)
    x = inst.process(int((attack_ms * 1e-3 + 1.0) * sample_rate))
    frame = int(0.01 * sample_rate)
    m = x.shape[1] // frame
    rms = np.sqrt(np.mean(x[:, : m * frame].reshape(2, m, frame) ** 2, axis=(0, 2)))
    steady = rms[-20:].mean()
    t90_ms = (np.argmax(rms >= 0.9 * steady) + 0.5) * 10.0
    # exponential (RC) attack aimed 30 % above the peak passes 90 % at 0.80 of attack_ms
    assert t90_ms == pytest.approx(0.80 * attack_ms, abs=0.06 * attack_ms + 10.0)


def test_brightness_moves_the_centroid_monotonically(spectral_centroid):
    sr = 44100
    cents = []
    for b in (0.1, 0.3, 0.5, 0.7, 0.9):
        inst = make("string_ensemble", sr, brightness=b, attack_ms=10.0, chorus=0.0)
        inst.note_on(0, 52, 1.0)
        cents.append(spectral_centroid(inst.process(sr)[0, sr // 4:], sr))
    assert np.all(np.diff(cents) > 0.1 * np.array(cents[:-1])), cents


def test_cutoff_tracks_pitch(spectral_centroid):
    sr = 44100
    ratio = []
    for pitch in (45, 69):
        inst = make("string_ensemble", sr, brightness=0.3, attack_ms=10.0, chorus=0.0)
        inst.note_on(0, pitch, 1.0)
        ratio.append(spectral_centroid(inst.process(sr)[0, sr // 4:], sr))
    assert ratio[1] / ratio[0] > 1.5  # two octaves up: the centroid follows at least partly


# --------------------------------------------------------------------------- chorus kernel


def chorus_reference(x, sample_rate, amount, frame0):
    """Slow, obvious chorus: per sample, per tap, delays from the control-point LFO values."""
    ch = EnsembleChorus(sample_rate, amount=amount)
    base, depth, rate, phase = ch._base, ch._depth, ch._rate, ch._phase
    fast_d, fast_r = ch._fast_depth, 5.9

    def delays(t):
        slow = np.sin(2 * np.pi * (rate[None, :] * t / sample_rate + phase))
        fast = np.sin(2 * np.pi * (fast_r * t / sample_rate + 2 * phase))
        return base[None, :] + depth[None, :] * slow + fast_d * fast

    n = x.shape[1]
    hist = np.concatenate([np.zeros((2, 4096)), x], axis=1)
    out = np.zeros_like(x)
    ctl = _CHORUS_CONTROL
    for i in range(n):
        t = frame0 + i
        s = t // ctl
        d0, d1 = delays(s * ctl), delays((s + 1) * ctl)
        d = d0 + (t - s * ctl) / ctl * (d1 - d0)
        for c in range(2):
            acc = 0.0
            for k in range(3):
                pos = 4096 + i - d[c, k]
                lo = int(math.floor(pos))
                fr = pos - lo
                acc += hist[c, lo] * (1 - fr) + hist[c, lo + 1] * fr
            out[c, i] = (1 - 0.5 * amount) * x[c, i] + 0.9 * amount * acc / 3
    return out


@pytest.mark.parametrize("sample_rate", [22050, 48000])
def test_chorus_kernel_matches_reference(sample_rate):
    rng = np.random.default_rng(3)
    x = rng.standard_normal((2, 700))
    ch = EnsembleChorus(sample_rate, amount=0.7)
    y = np.concatenate([ch.process(x[:, :333], 1000), ch.process(x[:, 333:], 1333)], axis=1)
    np.testing.assert_allclose(y, chorus_reference(x, sample_rate, 0.7, 1000), rtol=0, atol=1e-12)


def test_chorus_quiet_after_its_delay_line_empties():
    sr = 22050
    ch = EnsembleChorus(sr, amount=1.0)
    assert ch.quiet
    x = np.zeros((2, 2000))
    x[:, 0] = 1.0
    y = ch.process(x, 0)
    assert np.abs(y[:, 1:]).max() > 0.0  # the delayed copies
    assert ch.quiet
    assert np.all(y[:, 400:] == 0.0)  # longest delay 14 ms = 309 samples


# --------------------------------------------------------------------------- declaration


def test_declared_interface():
    cls = REGISTRY["string_ensemble"]
    assert cls is StringEnsemble
    assert cls.FAMILY == "strings" and cls.DEFAULT_VOICES == 16 and cls.DOC and cls.DEMO
    spec = {p.name: (p.default, p.low, p.high) for p in cls.PARAMS}
    assert spec["attack_ms"] == (350.0, 0.0, 10000.0)
    assert spec["release_ms"] == (900.0, 0.0, 20000.0)
    assert spec["brightness"] == (0.5, 0.0, 1.0)
    assert spec["detune_cents"] == (12.0, 0.0, 50.0)
    assert spec["chorus"] == (0.6, 0.0, 1.0)


# --------------------------------------------------------------------------- fused voice kernel


@pytest.mark.parametrize("sample_rate", [22050, 44100, 48000])
@pytest.mark.parametrize("pulse_gain", [0.0, 0.35])
def test_voices_kernel_matches_pan_filter_and_sum(sample_rate, pulse_gain):
    """The fused kernel equals pan matrix + StateVariableFilter (low-pass, q 0.75) + enveloped sum."""
    from symphony.dsp.filters import StateVariableFilter
    from symphony.instruments.ensemble import _SVF_Q, _ensemble_voices_kernel

    rng = np.random.default_rng(11)
    voices, stack, n = 5, 3, 600
    active = np.array([0, 2, 3], dtype=np.int64)
    saws = rng.uniform(-1, 1, (voices * stack, n))
    pulses = rng.uniform(-1, 1, (voices, n))
    pan = rng.uniform(0, 1, (2, 2, stack))
    cutoff = rng.uniform(100.0, 0.6 * sample_rate, voices)  # some above the 0.49 fs clamp
    env = rng.uniform(0, 1, (voices, n))
    gain = rng.uniform(0.1, 0.5, voices)
    s1 = rng.uniform(-0.1, 0.1, (voices, 2))
    s2 = rng.uniform(-0.1, 0.1, (voices, 2))
    ref = np.zeros((2, n))
    for v in active:
        lr = pan[v & 1] @ saws[v * stack:(v + 1) * stack] + pulse_gain * pulses[v]
        svf = StateVariableFilter(sample_rate, channels=2, cutoff_hz=1000.0, q=_SVF_Q)
        svf._ic1[:] = s1[v]
        svf._ic2[:] = s2[v]
        ref += svf.process(lr, cutoff_hz=min(float(cutoff[v]), 0.49 * sample_rate)) * (env[v] * gain[v])
    out = np.empty((2, n))
    st1, st2 = s1.copy(), s2.copy()
    _ensemble_voices_kernel(saws, active, pan, pulses, pulse_gain, cutoff, float(sample_rate),
                            st1, st2, env, gain, out)
    np.testing.assert_allclose(out, ref, rtol=1e-12, atol=1e-12)
    # states carried: two halves equal one call
    out2 = np.empty((2, n))
    st1b, st2b = s1.copy(), s2.copy()
    _ensemble_voices_kernel(saws[:, :250], active, pan, pulses[:, :250], pulse_gain, cutoff,
                            float(sample_rate), st1b, st2b, env[:, :250], gain, out2[:, :250])
    _ensemble_voices_kernel(saws[:, 250:], active, pan, pulses[:, 250:], pulse_gain, cutoff,
                            float(sample_rate), st1b, st2b, env[:, 250:], gain, out2[:, 250:])
    np.testing.assert_array_equal(out2, out)
    np.testing.assert_array_equal(st1b, st1)

"""ModalMetal and Timpani (modal synthesis): mode frequencies and decays, strike, bend, rolls, contract."""

from __future__ import annotations

import cmath
import math

import numpy as np
import pytest
from scipy.signal import butter, hilbert, sosfiltfilt

from symphony.instruments import REGISTRY
from symphony.instruments import modal as M
from symphony.instruments.modal import MATERIALS, ModalMetal, modal_modes, strike_pulse
from symphony.instruments.timpani import TIMPANI_MODES, Timpani
from tests.conftest import SEED

SPLITS = [1, 64, 65, 512, 8193]
CLICK_LIMIT = 8.0


def make(name, sample_rate=22050, voices=None, **params):
    return REGISTRY[name](sample_rate, params=params, rng=np.random.default_rng(SEED), voices=voices)


def midi(f_hz):
    return 69.0 + 12.0 * math.log2(f_hz / 440.0)


def strike(name, f_hz, *, sample_rate=44100, seconds=1.0, velocity=1.0, **params):
    inst = make(name, sample_rate, **params)
    inst.note_on(1, midi(f_hz), velocity)
    return inst.process(int(seconds * sample_rate))[0]


def spectrum(x, sample_rate, pad=4):
    spec = np.abs(np.fft.rfft(x * np.hanning(x.size), pad * x.size))
    return np.fft.rfftfreq(pad * x.size, 1.0 / sample_rate), spec


def peak_near(freqs, spec, f_hz, rel):
    """Interpolated frequency of the largest bin within ``f_hz * (1 +- rel)``; None at a band edge."""
    band = np.flatnonzero((freqs >= f_hz * (1 - rel)) & (freqs <= f_hz * (1 + rel)))
    j = int(np.argmax(spec[band]))
    if j in (0, band.size - 1):
        return None
    k = band[j]
    a, b, c = np.log(spec[k - 1:k + 2])
    return freqs[k] + 0.5 * (a - c) / (a - 2.0 * b + c) * (freqs[1] - freqs[0])


def band_t60(x, sample_rate, f_hz, t_lo, t_hi, rel_width=0.04):
    sos = butter(2, [f_hz * (1 - rel_width), f_hz * (1 + rel_width)], "bandpass", fs=sample_rate, output="sos")
    env = np.abs(hilbert(sosfiltfilt(sos, x)))
    t = np.arange(x.size) / sample_rate
    m = (t > t_lo) & (t < t_hi)
    return -60.0 / np.polyfit(t[m], 20.0 * np.log10(env[m] + 1e-300), 1)[0]


# ----------------------------------------------------------------------------- modal_metal physics


@pytest.mark.parametrize("sample_rate", [22050, 44100])
@pytest.mark.parametrize("material", list(MATERIALS))
def test_mode_frequencies_at_preset_ratios(material, sample_rate):
    f0 = 220.0
    x = strike("modal_metal", f0, sample_rate=sample_rate, seconds=0.5, material=material,
               hardness=1.0, damping_hf=0.0)
    freqs, spec = spectrum(x, sample_rate)
    ratios = np.array(MATERIALS[material][0])
    for ratio in ratios[ratios * f0 < 0.45 * sample_rate]:
        gap = np.min(np.abs(ratios[ratios != ratio] / ratio - 1.0))  # nearest other mode
        found = peak_near(freqs, spec, ratio * f0, rel=min(0.02, 0.45 * gap))
        assert found is not None, f"no peak near ratio {ratio}"
        assert found / (ratio * f0) == pytest.approx(1.0, abs=0.01)


def test_modes_above_0_45_fs_are_left_out():
    f, _, _ = modal_modes("plate", 1000.0, 22050)
    assert f.max() < 0.45 * 22050 and f.size == 7  # ratios up to 9.0 of 1 kHz


@pytest.mark.parametrize("stretch", [0.05, 0.2])
def test_stretch_raises_the_ratios(stretch):
    sr, f0 = 44100, 200.0
    x = strike("modal_metal", f0, sample_rate=sr, seconds=0.5, material="bar", stretch=stretch, hardness=1.0)
    freqs, spec = spectrum(x, sr)
    for ratio in MATERIALS["bar"][0][:4]:
        target = f0 * ratio ** (1.0 + stretch)
        assert peak_near(freqs, spec, target, 0.02) / target == pytest.approx(1.0, abs=0.01)


@pytest.mark.parametrize("material,index,damping_hf,decay", [
    ("bar", 0, 0.2, 1.0), ("bar", 1, 0.2, 1.0), ("bar", 1, 1.0, 1.0), ("bar", 2, 0.0, 2.0),
    ("bell", 0, 0.2, 0.3), ("bell", 4, 0.2, 0.3), ("plate", 1, 0.5, 1.0),
])
def test_mode_t60_as_configured(material, index, damping_hf, decay):
    sr, f0 = 22050, 220.0
    freqs, t60s, _ = modal_modes(material, f0, sr, decay=decay, damping_hf=damping_hf)
    f, t60 = freqs[index], t60s[index]
    seconds = min(1.1 * t60, 4.0)
    x = strike("modal_metal", f0, sample_rate=sr, seconds=seconds + 0.1, material=material,
               damping_hf=damping_hf, decay=decay)
    measured = band_t60(x, sr, f, 0.05 * t60 + 0.02, seconds)
    assert measured == pytest.approx(t60, rel=0.2)


def test_damping_hf_shortens_only_upper_modes():
    _, a, _ = modal_modes("bar", 220.0, 44100, damping_hf=0.0)
    _, b, _ = modal_modes("bar", 220.0, 44100, damping_hf=1.0)
    assert b[0] == a[0]
    np.testing.assert_allclose(b[1:] / a[1:], 1.0 / np.array(MATERIALS["bar"][0][1:]), rtol=1e-12)


@pytest.mark.parametrize("name,params,f0,gain", [("modal_metal", dict(material="bar"), 523.25, 1.1),
                                                  ("modal_metal", dict(material="anvil"), 196.0, 1.1),
                                                  ("timpani", {}, 196.0, 1.0)])
def test_hardness_raises_centroid(name, params, f0, gain, spectral_centroid):
    """Centroid of the strike (first 100 ms, onset at full weight) rises with mallet hardness."""
    sr = 44100
    c = [spectral_centroid(strike(name, f0, sample_rate=sr, seconds=0.1, hardness=h, **params), sr,
                           window="fade_out") for h in (0.0, 0.5, 1.0)]
    assert c[0] * gain < c[1] and c[1] * gain < c[2]
    assert c[2] > 1.15 * c[0]  # the timpani's modes all lie below 3 f0: only the soft end dulls them


def test_strike_pulse_has_unit_area_and_lowpass_spectrum():
    sr = 44100
    x = strike_pulse(2e-3, sr, area=0.7)
    assert x.sum() == pytest.approx(0.7, rel=1e-12) and x.min() > 0.0
    spec = np.abs(np.fft.rfft(x, 8192))
    freqs = np.fft.rfftfreq(8192, 1 / sr)
    assert spec[0] == pytest.approx(0.7) and spec[freqs > 1000.0].max() < 0.05


def test_bell_strike_note_and_nominal():
    """Note = prime = strike note: nominal, superquint, octave nominal at 2:3:4 of it; nominal loudest."""
    sr, f0 = 44100, 261.63
    x = strike("modal_metal", f0, sample_rate=sr, seconds=0.3, material="bell")
    freqs, spec = spectrum(x, sr)
    for ratio in (1.0, 2.0, 3.0, 4.0):
        assert peak_near(freqs, spec, ratio * f0, 0.04) / (ratio * f0) == pytest.approx(1.0, abs=0.01)
    nominal = spec[np.abs(freqs - 2.0 * f0) < 0.01 * f0].max()
    assert nominal == spec[freqs > 0.3 * f0].max()


# ----------------------------------------------------------------------------- timpani physics


@pytest.mark.parametrize("f0", [87.31, 130.81, 196.0])
def test_timpani_principal_mode_at_note_pitch(sample_rate, f0):
    x = strike("timpani", f0, sample_rate=sample_rate, seconds=1.5)[int(0.5 * sample_rate):]
    freqs, spec = spectrum(x, sample_rate)
    principal = peak_near(freqs, spec, f0, 0.05)
    assert abs(1200.0 * math.log2(principal / f0)) < 3.0
    for _, ratio, _, _ in TIMPANI_MODES[1:4]:  # (2,1) 1.50, (3,1) 1.98, (4,1) 2.44
        assert peak_near(freqs, spec, ratio * f0, 0.04) / (ratio * f0) == pytest.approx(1.0, abs=0.01)


def bend_cents_measured(x, sample_rate, f0):
    """Instantaneous-frequency drop (cents) of the (1,1) band between 30-70 ms and 300-400 ms."""
    sos = butter(4, [f0 * 0.92, f0 * 1.08], "bandpass", fs=sample_rate, output="sos")
    phase = np.unwrap(np.angle(hilbert(sosfiltfilt(sos, x))))
    inst = np.diff(phase) * sample_rate / (2 * np.pi)
    t = (np.arange(inst.size) + 0.5) / sample_rate
    early, late = (t > 0.03) & (t < 0.07), (t > 0.3) & (t < 0.4)
    model = lambda w, bend: np.mean(1200 * np.log2(1 + (2 ** (bend / 1200) - 1) * np.exp(-t[w] / Timpani.BEND_TIME_S)))
    return 1200.0 * math.log2(inst[early].mean() / inst[late].mean()), lambda b: model(early, b) - model(late, b)


@pytest.mark.parametrize("bend", [0.0, 20.0, 60.0])
def test_timpani_strike_bend(bend):
    sr, f0 = 44100, 147.0
    x = strike("timpani", f0, sample_rate=sr, seconds=0.6, bend_cents=bend)
    measured, model = bend_cents_measured(x, sr, f0)
    expected = model(bend)
    if bend == 0.0:
        assert abs(measured) < 3.0  # the measurement's floor (the (0,1) thump leaks into the band)
    else:
        assert expected > 0.55 * bend  # the windows see most of the bend
        assert measured == pytest.approx(expected, rel=0.2)


def test_roll_rings_the_same_drum():
    sr, f0 = 22050, 110.0
    inst = make("timpani", sr)
    hits = 12
    period = int(0.06 * sr)
    for i in range(hits):
        inst.note_on(i, midi(f0), 0.3)
        inst.note_off(i)
        inst.process(period)
        assert int(inst._active.sum()) == 1
    roll = inst.process(int(0.1 * sr))
    one = strike("timpani", f0, sample_rate=sr, seconds=hits * 0.06 + 0.1, velocity=0.3)[-int(0.1 * sr):]
    assert np.sqrt(np.mean(roll[0] ** 2)) > 3.0 * np.sqrt(np.mean(one ** 2))
    inst.note_on(99, midi(f0 * 1.5), 0.3)  # another pitch: another drum
    inst.process(10)
    assert int(inst._active.sum()) == 2


# ----------------------------------------------------------------------------- kernel


def slow_modal(inst, n):
    """Per voice, per mode: the complex recursion z = p z + x in python complex arithmetic."""
    out = np.zeros((2, n))
    for s in np.flatnonzero(inst._active):
        p, st = inst._prm[s], inst._st[s]
        t0, et0 = st[M.S_T], st[M.S_ET]
        y = np.zeros(n)
        for k in range(int(p[M.P_NMODES])):
            w, r, amp, mend = inst._modes[s, k]
            z = complex(inst._mst[s, k, 0], inst._mst[s, k, 1])
            pole = complex(inst._mst[s, k, 2], inst._mst[s, k, 3])
            for i in range(n):
                t = t0 + i
                if t >= mend:
                    break
                since = t - p[M.P_TB]
                if 0 <= since <= p[M.P_BENDDUR] + M.BEND_TICK and since % M.BEND_TICK == 0:
                    delta = p[M.P_BEND] * math.exp(-since * p[M.P_BENDK]) if since < p[M.P_BENDDUR] else 0.0
                    pole = r * cmath.exp(1j * w * (1.0 + delta))
                e = et0 + i
                z = pole * z + (inst._exc[s, int(e)] if e < p[M.P_EXCLEN] else 0.0)
                y[i] += amp * z.imag
        ch, chd = st[M.S_CH], st[M.S_CHD]  # fade: ch ramps 1 -> 0 by chd per sample, smoothstepped
        for i in range(n):
            a = 3 * ch ** 2 - 2 * ch ** 3
            out[0, i] += p[M.P_LEVEL_L] * a * y[i]
            out[1, i] += p[M.P_LEVEL_R] * a * y[i]
            if t0 + i + 1 >= p[M.P_END] and chd == 0.0:
                chd = p[M.P_ENDD]
            ch = max(ch - chd, 0.0)
            if ch == 0.0:
                break
    return out


@pytest.mark.parametrize("name,params", [("timpani", dict(bend_cents=80.0)),
                                         ("modal_metal", dict(material="hammer", decay=0.1)),
                                         ("modal_metal", dict(material="anvil"))])
def test_kernel_matches_slow_python_reference(name, params):
    sr = 22050
    inst = make(name, sr, **params)
    inst.note_on(1, 50.0, 0.9)
    inst.note_on(2, 62.3, 0.5)
    inst.process(300)
    inst.note_on(3, 50.0, 0.7)  # a re-strike of the first voice while it rings
    ref = slow_modal(inst, 4000)
    fast = np.concatenate([inst.process(1000), inst.process(3000)], axis=1)
    assert np.abs(ref).max() > 0.01
    np.testing.assert_allclose(fast, ref, rtol=1e-9, atol=1e-13)


# ----------------------------------------------------------------------------- contract

CASES = [("modal_metal", dict(material="bell")), ("modal_metal", dict(material="anvil", decay=0.3)),
         ("modal_metal", dict(material="hammer")), ("timpani", dict(bend_cents=50.0))]
IDS = ["bell", "anvil", "hammer", "timpani"]


def busy_events(sr):
    """Strikes, re-strikes of a ringing pitch, more pitches than voices, then silence, then more."""
    ev, nid = [], 0
    for i, p in enumerate([48, 55, 60, 48, 64, 67, 71, 55, 74]):
        ev.append((int(0.01 * sr) + int(0.03 * sr) * i + 3 * i, "on", nid, p + 0.2, 0.5 + 0.05 * i))
        ev.append((int(0.02 * sr) + int(0.03 * sr) * i, "off", nid))
        nid += 1
    for i, p in enumerate([50, 50, 57]):
        ev.append((int(3.0 * sr) + int(0.05 * sr) * i, "on", nid, p, 0.8))
        nid += 1
    return ev


@pytest.mark.parametrize("name,params", CASES, ids=IDS)
def test_block_size_invariance_and_silence_skipping(name, params, render_events):
    sr = 22050
    n = int(3.3 * sr)
    kw = dict(decay=0.1, **{k: v for k, v in params.items() if k != "decay"})
    ref = render_events(make(name, sr, voices=3, **kw), n, busy_events(sr))
    split = render_events(make(name, sr, voices=3, **kw), n, busy_events(sr), splits=SPLITS)
    skipped = render_events(make(name, sr, voices=3, **kw), n, busy_events(sr), splits=[700, 33], skip_silent=True)
    assert np.abs(ref).max() > 0.05
    assert np.all(ref[:, int(2.8 * sr):int(2.99 * sr)] == 0.0)  # decayed to exact silence before 3 s
    np.testing.assert_allclose(split, ref, rtol=0, atol=1e-12)
    np.testing.assert_allclose(skipped, ref, rtol=0, atol=1e-12)


@pytest.mark.parametrize("name,params", CASES, ids=IDS)
def test_deterministic_and_reset_equals_fresh(name, params, render_events):
    sr = 22050
    n = int(0.8 * sr)
    a = render_events(make(name, sr, voices=3, **params), n, busy_events(sr))
    assert np.array_equal(a, render_events(make(name, sr, voices=3, **params), n, busy_events(sr)))
    inst = make(name, sr, voices=3, **params)
    render_events(inst, n // 2, busy_events(sr)[:5])
    inst.reset()
    assert inst.is_silent
    np.testing.assert_allclose(render_events(inst, n, busy_events(sr)), a, rtol=0, atol=1e-12)


@pytest.mark.parametrize("name", ["modal_metal", "timpani"])
def test_registered_silent_without_notes_and_note_off_ignored(name):
    cls = REGISTRY[name]
    assert cls.FAMILY == "percussion" and cls.DEFAULT_VOICES == {"modal_metal": 16, "timpani": 4}[name]
    inst = make(name)
    y = inst.process(2000)
    assert inst.is_silent and y.shape == (2, 2000) and y.dtype == np.float64 and np.all(y == 0.0)
    inst.note_on(1, 60.0, 1.0)
    a = inst.process(500)
    inst.note_off(1)
    inst.note_off(12345)
    other = make(name)
    other.note_on(1, 60.0, 1.0)
    np.testing.assert_array_equal(np.concatenate([a, inst.process(500)], axis=1), other.process(1000))


@pytest.mark.parametrize("name,params", CASES, ids=IDS)
def test_strike_becomes_exactly_silent_in_bounded_time(name, params):
    sr = 22050
    inst = make(name, sr, **params)
    inst.note_on(1, 60.0, 1.0)
    longest = (max(MATERIALS[params["material"]][2]) if name == "modal_metal" else 3.0) * params.get("decay", 1.0)
    bound = longest * math.sqrt(261.63 / 261.63) * M.VOICE_END_DB / 60.0 + M.END_FADE_MS * 1e-3 + 0.01
    y = inst.process(int(bound * sr))
    assert inst.is_silent and np.all(y[:, -5:] == 0.0)


@pytest.mark.parametrize("corner", ["low", "high"])
@pytest.mark.parametrize("name", ["modal_metal", "timpani"])
def test_finite_and_bounded_at_parameter_extremes(name, corner):
    cls = REGISTRY[name]
    numeric = {p.name: (p.low if corner == "low" else p.high) for p in cls.PARAMS if not p.choices}
    for material in (MATERIALS if name == "modal_metal" else [None]):
        params = dict(numeric, **({"material": material} if material else {}))
        inst = make(name, 22050, **params)
        for i, p in enumerate([0, 21, 45, 69, 93, 108, 127]):
            inst.note_on(i, p, 1.0)
        y = inst.process(8000)
        assert np.all(np.isfinite(y)) and np.abs(y).max() < 2.0


@pytest.mark.parametrize("name,params", CASES, ids=IDS)
def test_levels_single_strike_and_chord(name, params):
    sr = 44100
    single = np.abs(strike(name, 261.63, sample_rate=sr, seconds=0.5, **params)).max()
    inst = make(name, sr, **params)
    for i, p in enumerate([60, 64, 67, 72]):
        inst.note_on(i, p, 1.0)
    chord = np.abs(inst.process(sr // 2)).max()
    assert 0.25 <= single <= 0.6
    assert chord < 0.9


@pytest.mark.parametrize("name", ["modal_metal", "timpani"])
def test_velocity_scales_level(name):
    sr = 22050
    loud = strike(name, 200.0, sample_rate=sr, seconds=0.3, velocity=1.0, hardness=0.0)
    soft = strike(name, 200.0, sample_rate=sr, seconds=0.3, velocity=0.5, hardness=0.0)
    ratio = np.sqrt(np.mean(soft ** 2) / np.mean(loud ** 2))
    assert 0.2 < ratio < 0.5  # force area ~ velocity^1.2 (0.44), and a longer (duller) contact


@pytest.mark.parametrize("name", ["modal_metal", "timpani"])
def test_steals_and_soft_strikes_are_click_free(name, render_events, click_ratio):
    sr = 44100
    rng = np.random.default_rng(3)
    events = [(int(i * 0.05 * sr), "on", i, float(rng.integers(40, 64)), float(rng.uniform(0.5, 1.0)))
              for i in range(30)]
    y = render_events(make(name, sr, voices=2, hardness=0.0), int(1.6 * sr), events)
    assert np.abs(y).max() > 0.05
    for ch in y:
        assert click_ratio(ch, sr) < CLICK_LIMIT
    cut = y[0].copy()
    cut[int(0.8 * sr) + int(np.argmax(np.abs(cut[int(0.8 * sr):int(0.82 * sr)]))):] = 0.0
    assert click_ratio(cut, sr) > 20.0  # the detector sees a hard cut of this sound

"""noise_texture physics, the jit helpers against slow references, and the contract of the
texture instruments (every noise_texture texture and both riser directions)."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.signal import find_peaks
from scipy.stats import kurtosis

from symphony.dsp.filters import StateVariableFilter
from symphony.instruments import REGISTRY
from symphony.instruments import noise
from symphony.instruments import risers
from symphony.instruments.noise import NoiseTexture, TEXTURES
from tests.instruments.conftest import check_block_size_invariance, check_deterministic_and_reset, chord_then_release

assert risers.Riser.NAME == "riser"  # importing the module registers it

SPLITS = [1, 64, 65, 512, 8193]
CLICK_LIMIT = 8.0

#: (instrument, params) of every configuration under the contract.
CONFIGS = {
    **{t: ("noise_texture", dict(texture=t, density=0.8, resonance=0.6)) for t in TEXTURES},
    "riser_up": ("riser", dict(sweep_ms=300.0, tone=0.5)),
    "riser_down": ("riser", dict(sweep_ms=300.0, tone=0.5, direction="down", sweep_semitones=-24.0)),
}


def make(name, sample_rate=22050, voices=None, seed=0, **params):
    return REGISTRY[name](sample_rate, params=params, rng=np.random.default_rng(seed), voices=voices)


def make_config(key, sample_rate=22050, voices=None, seed=0, **extra):
    name, params = CONFIGS[key]
    if name == "noise_texture":
        params = dict(params, attack_ms=40.0, release_ms=150.0)
    return make(name, sample_rate, voices, seed, **dict(params, **extra))


def busy_events(sample_rate):
    """A chord, released; silence; 7 overlapping notes on 4 voices (steals); a cancelled steal."""
    s = sample_rate
    ev = []
    nid = 0
    for i, p in enumerate([50, 53, 57, 62]):
        ev.append((int(0.01 * s) + 7 * i, "on", nid, p, 0.9))
        ev.append((int(0.35 * s), "off", nid))
        nid += 1
    for i, p in enumerate([60, 62, 64, 65, 67, 69, 71]):
        ev.append((int(1.2 * s) + int(0.031 * s) * i, "on", nid, p + 0.3, 0.5 + 0.07 * i))
        ev.append((int(1.2 * s) + int(0.031 * s) * i + int(0.2 * s), "off", nid))
        nid += 1
    ev.append((int(1.6 * s), "on", 100, 48, 1.0))
    for k in range(101, 105):
        ev.append((int(1.6 * s) + k - 98, "on", k, 40 + k - 100, 1.0))
    ev.append((int(1.6 * s) + 9, "off", 104))
    for k in range(100, 104):
        ev.append((int(1.8 * s), "off", k))
    return ev


# --------------------------------------------------------------------------- contract


@pytest.mark.parametrize("key", CONFIGS)
def test_block_size_invariance_and_skipping_silence(key):
    sr = 22050
    check_block_size_invariance(lambda: make_config(key, sr, voices=4), int(2.2 * sr), busy_events(sr),
                                min_peak=0.02, silent_gap=slice(int(0.8 * sr), int(1.19 * sr)))


@pytest.mark.parametrize("key", CONFIGS)
def test_deterministic_seeded_and_reset_equals_fresh(key, render_events):
    sr = 22050
    n = int(2.2 * sr)
    events = busy_events(sr)
    a = check_deterministic_and_reset(lambda: make_config(key, sr, voices=4), n, events)
    c = render_events(make_config(key, sr, voices=4, seed=1), n, events)
    assert np.sqrt(np.mean((a - c) ** 2)) > 0.3 * np.sqrt(np.mean(a ** 2))  # another seed, other noise


@pytest.mark.parametrize("key", CONFIGS)
def test_silence_without_notes_and_after_release(key):
    inst = make_config(key, 22050)
    assert inst.is_silent and np.all(inst.process(3000) == 0.0)
    inst.note_on(1, 60, 1.0)
    inst.process(8000)
    inst.note_off(1)
    tail = inst.process(int(0.32 * 22050))  # longest release: the riser's 300 ms
    assert inst.is_silent
    assert np.all(tail[:, -10:] == 0.0)
    assert np.all(inst.process(1000) == 0.0)


@pytest.mark.parametrize("key", CONFIGS)
@pytest.mark.parametrize("corner", ["low", "high"])
def test_finite_at_parameter_extremes(key, corner):
    name, params = CONFIGS[key]
    cls = REGISTRY[name]
    values = {p.name: (p.low if corner == "low" else p.high) for p in cls.PARAMS if not p.choices}
    values.update({k: v for k, v in params.items() if isinstance(v, str)})
    y = chord_then_release(cls(22050, params=values, rng=np.random.default_rng(0)))
    assert np.all(np.isfinite(y))
    assert np.abs(y).max() < 4.0


@pytest.mark.parametrize("texture", TEXTURES)
def test_levels_single_note_and_chord(texture):
    sr = 44100
    inst = make("noise_texture", sr, texture=texture, attack_ms=10.0)
    inst.note_on(0, 60, 1.0)
    single = np.abs(inst.process(2 * sr)).max()
    inst = make("noise_texture", sr, texture=texture, attack_ms=10.0)
    for i, p in enumerate([60, 64, 67, 72]):
        inst.note_on(i, p, 1.0)
    chord = np.abs(inst.process(2 * sr)).max()
    assert 0.2 <= single <= 0.7
    assert chord < 0.95


@pytest.mark.parametrize("key", CONFIGS)
def test_velocity_scales_the_same_noise_linearly(key):
    ys = []
    for vel in (1.0, 0.5):
        inst = make_config(key, 22050)
        inst.note_on(0, 57, vel)
        ys.append(inst.process(11025))
    np.testing.assert_allclose(ys[1], 0.5 * ys[0], rtol=1e-9, atol=1e-15)


@pytest.mark.parametrize("key, density", [("steam", 0.0), ("wind", 0.8), ("rumble", 0.0),
                                          ("rumble", 0.8), ("riser_up", None), ("riser_down", None)])
def test_rapid_notes_and_steals_are_click_free(key, density, render_events, click_ratio):
    """Zero attack/release, 40 ms notes overlapping on 2 voices (arcs crackle by design and
    steam's valve puffs are 6 ms bursts: not tested here)."""
    sr = 44100
    extra = dict(attack_ms=0.0, release_ms=0.0, density=density) if density is not None else {}
    rng = np.random.default_rng(7)
    events = []
    for i in range(30):
        start = int(i * 0.04 * sr)
        events.append((start, "on", i, float(rng.integers(36, 60)), float(rng.uniform(0.5, 1.0))))
        events.append((start + int(0.09 * sr), "off", i))
    inst = make_config(key, sr, voices=2, **extra)
    y = render_events(inst, int(1.5 * sr), events)
    assert np.abs(y).max() > 0.01
    for ch in y:
        assert click_ratio(ch, sr) < CLICK_LIMIT


def test_click_detector_flags_a_hard_gated_rumble(click_ratio):
    """The rapid-note test has teeth: the same low texture cut by a hard gate is flagged."""
    sr = 44100
    y = render("rumble", sr, 1.0, pitch=40.0, density=0.0)[0]
    gated = y.copy()
    gated[sr // 2:] = 0.0
    assert click_ratio(y, sr) < CLICK_LIMIT
    assert click_ratio(gated, sr) > 20.0


@pytest.mark.parametrize("texture", ["steam", "arcs"])
def test_zero_attack_and_release_still_ramp(texture):
    """Broadband noise hides steps from the click detector, so check the ramps directly:
    the 2 ms minimum attack and 10 ms minimum release of the amplitude envelope."""
    sr = 44100
    inst = make("noise_texture", sr, texture=texture, attack_ms=0.0, release_ms=0.0, density=1.0)
    inst.note_on(0, 72.0, 1.0)
    head = inst.process(sr // 2)
    inst.note_off(0)
    tail = inst.process(sr // 50)
    ms = sr // 1000
    assert np.abs(head[:, : ms // 4]).max() < 0.3 * np.abs(head[:, 10 * ms:]).max()
    assert np.abs(tail[:, 5 * ms: 10 * ms]).max() < 0.3 * np.abs(head[:, -20 * ms:]).max()
    assert np.all(tail[:, 11 * ms:] == 0.0)


def test_attack_ramps_from_silence(sample_rate):
    inst = make("noise_texture", sample_rate, texture="wind", attack_ms=1000.0)
    inst.note_on(0, 60, 1.0)
    y = inst.process(int(2.0 * sample_rate))
    frame = sample_rate // 20
    rms = np.sqrt(np.mean(y[0, : 40 * frame].reshape(40, frame) ** 2, axis=1))
    steady = rms[25:].mean()
    assert rms[0] < 0.1 * steady  # first 50 ms of a 1 s attack
    assert 0.4 * steady < rms[10] < steady  # half way up


# --------------------------------------------------------------------------- physics


def render(texture, sample_rate=22050, seconds=3.0, pitch=60.0, seed=0, **params):
    inst = make("noise_texture", sample_rate, seed=seed, texture=texture, attack_ms=10.0, **params)
    inst.note_on(0, pitch, 1.0)
    return inst.process(int(seconds * sample_rate))[:, int(0.1 * sample_rate):]


def frame_centroids(x, sample_rate, frame_s=0.1):
    frame = int(frame_s * sample_rate)
    m = x.size // frame
    spec = np.abs(np.fft.rfft(x[: m * frame].reshape(m, frame) * np.hanning(frame), axis=1)) ** 2
    freqs = np.fft.rfftfreq(frame, 1.0 / sample_rate)
    return spec @ freqs / spec.sum(axis=1)


def test_steam_is_a_high_hiss(sample_rate, spectral_centroid):
    y = render("steam", sample_rate, pitch=72.0)
    assert spectral_centroid(y[0], sample_rate) > 2000.0
    # and the level surges: 100 ms RMS varies by more than noise estimation alone (~3 %)
    frame = sample_rate // 10
    rms = np.sqrt(np.mean(y[0, : 25 * frame].reshape(25, frame) ** 2, axis=1))
    assert rms.std() / rms.mean() > 0.1


def test_arcs_are_impulsive_and_wind_is_not():
    arcs, wind = render("arcs")[0], render("wind")[0]
    crest = [np.abs(x).max() / x.std() for x in (arcs, wind)]
    # excess kurtosis: 0 for Gaussian noise, a little more for gusty (amplitude-modulated) wind
    assert kurtosis(wind) < 4.0
    assert kurtosis(arcs) > 10.0 and kurtosis(arcs) > 5.0 * kurtosis(wind)
    assert crest[0] > 2.5 * crest[1]


def test_wind_centre_wanders_but_steam_stays():
    octs = {t: np.log2(frame_centroids(render(t, seconds=8.0)[0], 22050)).std() for t in ("wind", "steam")}
    assert octs["wind"] > 0.2  # the band-pass centre walks (+-1.2 octave)
    assert octs["wind"] > 4.0 * octs["steam"]


@pytest.mark.parametrize("texture, low, high", [("wind", 3.0, 5.0), ("arcs", 1.8, 4.5),
                                                ("steam", 1.8, 4.5)])
def test_centre_follows_the_pitch(texture, low, high, spectral_centroid):
    """Two octaves up: the centroid rises ~4x (wind), partly where filters hit Nyquist."""
    c = [np.mean([spectral_centroid(render(texture, 44100, 2.0, pitch, seed)[0], 44100)
                  for seed in (0, 1)]) for pitch in (48.0, 72.0)]
    assert low < c[1] / c[0] < high


def count_crackles(y, sample_rate):
    x = np.abs(y[0])
    peaks, _ = find_peaks(x, height=0.05 * x.max(), distance=int(0.002 * sample_rate))
    return peaks.size / (y.shape[1] / sample_rate)


def test_density_sets_the_crackle_rate():
    sr = 44100
    rate = {d: count_crackles(render("arcs", sr, 4.0, 72.0, density=d, resonance=0.0), sr)
            for d in (0.2, 0.8)}
    # Poisson rates 43 / s and 161 / s (times the strike clusters), above a 5 % threshold
    assert 15.0 < rate[0.2] < 80.0
    assert rate[0.8] > 2.5 * rate[0.2]


def test_rumble_is_low_and_thumps():
    sr = 22050
    y = render("rumble", sr, 4.0, pitch=36.0, density=0.8)[0]
    spec = np.abs(np.fft.rfft(y)) ** 2
    freqs = np.fft.rfftfreq(y.size, 1.0 / sr)
    assert spec[freqs < 200.0].sum() > 0.9 * spec.sum()
    rms = np.sqrt(np.mean(y[: 38 * 2205].reshape(38, 2205) ** 2, axis=1))
    assert rms.max() > 2.0 * np.median(rms)  # thumps stand out of the floor


@pytest.mark.parametrize("width, low, high", [(0.0, 0.999, 1.0), (0.5, 0.45, 0.75), (1.0, -0.1, 0.1)])
def test_width_decorrelates_the_channels(width, low, high):
    y = render("steam", width=width, density=0.0)
    r = np.corrcoef(y)[0, 1]  # (1 - w^2) / (1 + w^2): 1, 0.6, 0
    assert low <= r <= high


def test_declared_interface():
    cls = REGISTRY["noise_texture"]
    assert cls is NoiseTexture and cls.FAMILY == "texture" and cls.DEFAULT_VOICES == 6
    assert cls.DOC and cls.DEMO
    spec = {p.name: p for p in cls.PARAMS}
    assert spec["texture"].choices == ("steam", "wind", "arcs", "rumble")
    assert (spec["attack_ms"].default, spec["attack_ms"].high) == (800.0, 20000.0)
    assert (spec["release_ms"].default, spec["release_ms"].high) == (1500.0, 20000.0)
    assert {"density", "color", "width", "resonance"} <= set(spec)


# --------------------------------------------------------------------------- jit helpers


def xorshift_reference(state, count):
    """Slow xorshift64* in Python integers (Vigna 2016): uniforms in [0, 1)."""
    mask = (1 << 64) - 1
    out = []
    for _ in range(count):
        state ^= state >> 12
        state ^= (state << 25) & mask
        state ^= state >> 27
        out.append((((state * 0x2545F4914F6CDD1D) & mask) >> 11) / 2.0 ** 53)
    return out


def test_uniform_matches_the_reference_stream():
    assert noise.splitmix64(0) == 0xE220A8397B1DCDAF  # first SplitMix64 output of seed 0
    seed = noise.splitmix64(12345)
    x = np.uint64(seed)
    got = []
    for _ in range(500):
        x, u = noise.uniform(x)
        x = np.uint64(x)  # the dispatcher returns a Python int
        got.append(u)
    np.testing.assert_allclose(got, xorshift_reference(seed, 500), rtol=0, atol=0)
    assert 0.45 < np.mean(got) < 0.55


@pytest.mark.parametrize("cutoff_hz, q", [(300.0, 0.7), (2500.0, 5.0), (9000.0, 1.3)])
def test_svf_tick_matches_the_dsp_filter(sample_rate, cutoff_hz, q):
    x = np.random.default_rng(1).uniform(-1, 1, 600)
    a1, a2, a3, k = noise.svf_coefs(cutoff_hz, q, float(sample_rate))
    st = np.zeros(2)
    band = np.empty(600)
    low = np.empty(600)
    for i in range(600):
        band[i], low[i] = noise.svf_tick(x[i], st, 0, a1, a2, a3)
    for mode, ours in (("lowpass", low), ("bandpass", k * band)):
        ref = StateVariableFilter(sample_rate, channels=1, mode=mode, cutoff_hz=min(cutoff_hz, 0.49 * sample_rate), q=q)
        np.testing.assert_allclose(ours, ref.process(x[None])[0], rtol=1e-9, atol=1e-12)


JIT_HELPERS = ("uniform", "wait_samples", "svf_coefs", "svf_tick", "smooth_random", "poly_blep_saw",
               "_trigger", "_event_env", "_one_pole")


@pytest.mark.parametrize("texture", TEXTURES)
def test_texture_kernel_equals_its_python_execution(texture, monkeypatch):
    """The compiled kernel against the same code run entirely by the Python interpreter
    (numpy uint64 wrap-around, Python floats), on a few hundred samples of two voices."""
    inst = make("noise_texture", 22050, texture=texture, density=1.0, attack_ms=1.0)
    inst.note_on(0, 60, 1.0)
    inst.note_on(1, 67, 0.7)
    inst.process(3000)
    env = np.random.default_rng(2).uniform(0, 1, (inst.voices, 300))
    args = [np.array([0, 1], dtype=np.int64), env]
    state = (inst._prm, inst._st, inst._rng_state, inst._glob)
    fast, slow = np.zeros((2, 300)), np.zeros((2, 300))
    copies = [tuple(a.copy() for a in state) for _ in range(2)]
    noise.texture_kernel(inst._kind, *args, *copies[0], fast)  # compiled with the jit helpers
    for name in JIT_HELPERS:  # then the interpreter runs everything, helpers included
        monkeypatch.setattr(noise, name, getattr(noise, name).py_func)
    with np.errstate(over="ignore"):
        noise.texture_kernel.py_func(inst._kind, *args, *copies[1], slow)
    np.testing.assert_allclose(fast, slow, rtol=1e-9, atol=1e-12)
    assert np.array_equal(copies[0][2], copies[1][2])  # the random streams advanced alike
    assert np.abs(fast).max() > 0.0

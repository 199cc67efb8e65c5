"""Noise textures of the machine city: steam hiss, wind, electric arcs, machine-hall rumble.

:class:`NoiseTexture` (``noise_texture``) plays sustained noise textures on the shared
:class:`~symphony.instruments.poly.PolyInstrument` engine. The note's pitch sets the
texture's centre / filter frequency (key tracking), the velocity its level, and an ADSR
with slow attack and release shapes it.

Models
------
- Filters: trapezoidal (TPT) state-variable filter in A. Simper's solved form, "Linear
  Trapezoidal Integrated SVF", Cytomic (2013) (the same filter as
  :class:`symphony.dsp.filters.StateVariableFilter`, inlined here per sample).
- Pink noise: P. Kellet's "economy" 3-pole filter (music-dsp archive, "Filter to make
  pink noise from white", 1999), about -3 dB/oct from 100 Hz up at 44.1 kHz; brown noise:
  a leaky integrator (-6 dB/oct above its corner).
- Random events (valve puffs, arc crackles, strikes, zaps, floor thumps) are Poisson
  processes: exponential inter-arrival times ``-ln(1 - u) / rate`` (Knuth, TAOCP vol. 2,
  3.4.1). Event envelopes are differences of two exponentials (attack and decay time
  constants), which start at exact zero with a finite slope (no clicks).
- Slow random modulation (surges, the wind's wandering centre, gusts): a random target
  drawn every ~``period`` (jittered) followed by two cascaded one-poles (smooth, C1).

Randomness is frame-exact: each voice owns an xorshift64* generator (G. Marsaglia,
"Xorshift RNGs", J. Stat. Soft. 8(14), 2003; S. Vigna, "An experimental exploration of
Marsaglia's xorshift generators, scrambled", 2016) seeded with SplitMix64 of
``seed + note counter`` at the note start, where ``seed`` is drawn once from the injected
``rng`` in ``__init__``. The voice's stream advances one step per rendered sample of that
voice only, so the output does not depend on the block split, and skipping ``process``
while the instrument is silent is exact (every note start reseeds and clears its slot).
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit

from symphony.dsp.base import DENORMAL_FLOOR, midi_to_hz
from symphony.dsp.envelopes import AdsrEnvelope
from symphony.instruments import register
from symphony.instruments.poly import MIN_ATTACK_MS, MIN_RELEASE_MS, PolyInstrument
from symphony.params import Param

__all__ = ["NoiseTexture", "TEXTURES", "splitmix64"]

TEXTURES = ("steam", "wind", "arcs", "rumble")
STEAM, WIND, ARCS, RUMBLE = range(4)

#: Filter coefficients of moving filters are recomputed every this many frames of voice time.
CONTROL = 32

_XMUL = np.uint64(0x2545F4914F6CDD1D)
_U11, _U12, _U25, _U27 = np.uint64(11), np.uint64(12), np.uint64(25), np.uint64(27)
_INV53 = 1.0 / 9007199254740992.0  # 2 ** -53
_TWO_PI = 2.0 * math.pi


def splitmix64(value: int) -> int:
    """SplitMix64 output for ``value`` (Steele, Lea & Flood 2014), never 0: seeds a voice stream."""
    z = (value + 0x9E3779B97F4A7C15) & 0xFFFFFFFFFFFFFFFF
    z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & 0xFFFFFFFFFFFFFFFF
    z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & 0xFFFFFFFFFFFFFFFF
    return (z ^ (z >> 31)) or 1


# --------------------------------------------------------------------------- jit helpers


@njit(cache=True, inline="always")
def uniform(x):  # pragma: no cover - jit
    """xorshift64* step: ``(new_state, u)`` with ``u`` uniform in [0, 1) (53 bits)."""
    x ^= x >> _U12
    x ^= x << _U25
    x ^= x >> _U27
    return x, float((x * _XMUL) >> _U11) * _INV53


@njit(cache=True, inline="always")
def wait_samples(x, rate):  # pragma: no cover - jit
    """Exponential inter-arrival time in samples for ``rate`` events per sample."""
    x, u = uniform(x)
    return x, 1.0 + (-math.log(1.0 - u) / rate)


@njit(cache=True, inline="always")
def svf_coefs(cutoff_hz, q, sample_rate):  # pragma: no cover - jit
    """Simper's TPT SVF coefficients ``(a1, a2, a3, k)``; cutoff clamped to [10, 0.49 fs]."""
    fc = min(max(cutoff_hz, 10.0), 0.49 * sample_rate)
    g = math.tan(math.pi * fc / sample_rate)
    k = 1.0 / q
    a1 = 1.0 / (1.0 + g * (g + k))
    a2 = g * a1
    return a1, a2, g * a2, k


@njit(cache=True, inline="always")
def svf_tick(x, st, j, a1, a2, a3):  # pragma: no cover - jit
    """One TPT SVF sample; state ``st[j], st[j+1]``. Returns ``(band, low)`` integrator outputs."""
    s1 = st[j]
    s2 = st[j + 1]
    v3 = x - s2
    v1 = a1 * s1 + a2 * v3
    v2 = s2 + a2 * s1 + a3 * v3
    s1 = 2.0 * v1 - s1
    s2 = 2.0 * v2 - s2
    st[j] = s1 if abs(s1) >= DENORMAL_FLOOR else 0.0
    st[j + 1] = s2 if abs(s2) >= DENORMAL_FLOOR else 0.0
    return v1, v2


@njit(cache=True, inline="always")
def smooth_random(x, st, j, period, coef):  # pragma: no cover - jit
    """Smooth random curve in [0, 1]: a jittered sample-and-hold target, two one-poles.

    State ``st[j:j+4] = [target, y1, y2, countdown]``; a new target is drawn every
    ``period * (0.5 .. 1.5)`` samples.
    """
    st[j + 3] -= 1.0
    if st[j + 3] <= 0.0:
        x, u = uniform(x)
        st[j] = u
        x, u = uniform(x)
        st[j + 3] += period * (0.5 + u)
    st[j + 1] += coef * (st[j] - st[j + 1])
    st[j + 2] += coef * (st[j + 1] - st[j + 2])
    return x, st[j + 2]


@njit(cache=True, inline="always")
def poly_blep_saw(phase, dt):  # pragma: no cover - jit
    """Saw in [-1, 1) at ``phase`` (cycles) with the 2-sample polyBLEP correction.

    V. Valimaki & A. Huovilainen, "Antialiasing oscillators in subtractive synthesis",
    IEEE Signal Processing Magazine 24(2), 2007.
    """
    y = 2.0 * phase - 1.0
    if phase < dt:
        t = phase / dt
        y -= t + t - t * t - 1.0
    elif phase > 1.0 - dt:
        t = (phase - 1.0) / dt
        y -= t * t + t + t + 1.0
    return y


# --------------------------------------------------------------------------- texture kernel

# per-voice parameters (prm columns). P_B1..P_BK: steam = one-pole G in P_B1; arcs = the
# buzz band-pass's SVF coefficients; rumble = the thump pitch-drop decay in P_B1.
P_CENTRE, P_GAIN, P_A1, P_A2, P_A3, P_K, P_AUX_HZ, P_B1, P_B2, P_B3, P_BK = range(11)
N_PRM = 11

# per-voice state (st columns)
S_T = 0             # frames since the note start
S_FA = 1            # filter A, left (2) and right (2)
S_FB = 5            # filter B, left (2) and right (2)
S_FC = 9            # filter C, mono (2)
S_PINK = 11         # pink / brown noise states, 3 per channel
S_SM1 = 17          # smooth random 1 (4)
S_SM2 = 21          # smooth random 2 (4)
S_SM3 = 25          # smooth random 3 (4)
S_NEXT1 = 29        # countdowns to the next event of kind 1..3
S_NEXT2 = 30
S_NEXT3 = 31
S_E1 = 32           # event envelope 1: decay part, attack part, decay coef, attack coef
S_E2 = 36
S_E3 = 40
S_PH = 44           # oscillator phase
S_PF = 45           # oscillator frequency (Hz) / pitch drop state
S_CA = 46           # moving-filter coefficients a1, a2, a3, k
N_ST = 50


@njit(cache=True, inline="always")
def _trigger(st, j, amp, attack_samples, decay_samples):  # pragma: no cover - jit
    """Start an event envelope ``amp (exp(-t/decay) - exp(-t/attack))`` (adds to a running one)."""
    st[j] += amp
    st[j + 1] += amp
    st[j + 2] = math.exp(-1.0 / max(decay_samples, 1.0))
    st[j + 3] = math.exp(-1.0 / max(attack_samples, 1.0))


@njit(cache=True, inline="always")
def _event_env(st, j):  # pragma: no cover - jit
    """Advance an event envelope one sample; returns its level (0 when idle)."""
    d = st[j]
    a = st[j + 1]
    if d == 0.0 and a == 0.0:
        return 0.0
    y = d - a
    d *= st[j + 2]
    a *= st[j + 3]
    st[j] = d if d >= 1e-5 else 0.0
    st[j + 1] = a if a >= 1e-5 else 0.0
    return y


@njit(cache=True, inline="always")
def _one_pole(x, st, j, big_g):  # pragma: no cover - jit
    """TPT one-pole low-pass, ``big_g = g / (1 + g)``; state ``st[j]``."""
    w = (x - st[j]) * big_g
    y = w + st[j]
    s = y + w
    st[j] = s if abs(s) >= DENORMAL_FLOOR else 0.0
    return y


@njit(cache=True)
def texture_kernel(kind, slots, env, prm, st, rng, glob, out):  # pragma: no cover - jit
    """Add every active slot's texture times its envelope into ``out`` (2, n).

    ``glob = [sample_rate, density, width, resonance, color]``. One sample loop per slot
    with the voice state in ``st[slot]`` and its xorshift64* state in ``rng[slot]``.
    """
    n = out.shape[1]
    sr = glob[0]
    density = glob[1]
    width = glob[2]
    res = glob[3]
    ms = sr * 1e-3
    mid_g = 1.0 / math.sqrt(1.0 + width * width)
    side_g = width * mid_g
    for s in slots:
        x = rng[s]
        v = st[s]
        p = prm[s]
        gain = p[P_GAIN]
        a1, a2, a3, k = p[P_A1], p[P_A2], p[P_A3], p[P_K]
        b1, b2, b3, bk = p[P_B1], p[P_B2], p[P_B3], p[P_BK]
        t = int(v[S_T])
        for i in range(n):
            x, u = uniform(x)
            mid = 2.0 * u - 1.0
            x, u = uniform(x)
            side = 2.0 * u - 1.0
            wl = mid_g * mid + side_g * side
            wr = mid_g * mid - side_g * side
            yl = 0.0
            yr = 0.0
            if kind == STEAM:
                x, surge = smooth_random(x, v, S_SM1, 350.0 * ms, 1.0 / (60.0 * ms))
                if v[S_NEXT1] <= 0.0:  # a valve puff
                    x, u = uniform(x)
                    amp = 0.6 + 1.0 * u
                    x, u = uniform(x)
                    _trigger(v, S_E1, amp, 6.0 * ms, (40.0 + 200.0 * u) * ms)
                    x, w = wait_samples(x, (0.15 + 4.0 * density) / sr)
                    v[S_NEXT1] += w
                v[S_NEXT1] -= 1.0
                g = 0.35 + 0.65 * surge + _event_env(v, S_E1)
                # x - lowpass = high-pass + band-pass: hiss above the centre with a resonant
                # edge, then a TPT one-pole low-pass at 4x the centre (Zavalishin ch. 3)
                bp, lp = svf_tick(wl, v, S_FA, a1, a2, a3)
                yl = g * _one_pole(wl - lp, v, S_FB, b1)
                bp, lp = svf_tick(wr, v, S_FA + 2, a1, a2, a3)
                yr = g * _one_pole(wr - lp, v, S_FB + 1, b1)
            elif kind == WIND:
                x, walk = smooth_random(x, v, S_SM1, 900.0 * ms, 1.0 / (150.0 * ms))
                x, gust = smooth_random(x, v, S_SM2, (2500.0 - 1900.0 * density) * ms,
                                        1.0 / ((400.0 - 250.0 * density) * ms))
                gust = gust * gust
                if t % CONTROL == 0:
                    c = p[P_CENTRE] * 2.0 ** (2.4 * (walk - 0.5) + 0.6 * gust)
                    v[S_CA], v[S_CA + 1], v[S_CA + 2], v[S_CA + 3] = svf_coefs(c, p[P_AUX_HZ], sr)
                # Kellet's economy pink filter, per channel
                v[S_PINK] = 0.99765 * v[S_PINK] + wl * 0.0990460
                v[S_PINK + 1] = 0.96300 * v[S_PINK + 1] + wl * 0.2965164
                v[S_PINK + 2] = 0.57000 * v[S_PINK + 2] + wl * 1.0526913
                pl = v[S_PINK] + v[S_PINK + 1] + v[S_PINK + 2] + wl * 0.1848
                v[S_PINK + 3] = 0.99765 * v[S_PINK + 3] + wr * 0.0990460
                v[S_PINK + 4] = 0.96300 * v[S_PINK + 4] + wr * 0.2965164
                v[S_PINK + 5] = 0.57000 * v[S_PINK + 5] + wr * 1.0526913
                pr = v[S_PINK + 3] + v[S_PINK + 4] + v[S_PINK + 5] + wr * 0.1848
                g = (0.2 + 0.8 * gust) * v[S_CA + 3]  # k * band = constant-peak band-pass
                bp, lp = svf_tick(pl, v, S_FA, v[S_CA], v[S_CA + 1], v[S_CA + 2])
                yl = g * bp
                bp, lp = svf_tick(pr, v, S_FA + 2, v[S_CA], v[S_CA + 1], v[S_CA + 2])
                yr = g * bp
            elif kind == ARCS:
                strike = _event_env(v, S_E1)
                el = 0.0
                er = 0.0
                if v[S_NEXT1] <= 0.0:  # a crackle impulse, panned at random
                    x, u = uniform(x)
                    amp = u * u * u
                    x, u = uniform(x)
                    if u < 0.5:
                        amp = -amp
                    x, u = uniform(x)
                    pan = width * (2.0 * u - 1.0)
                    el = amp * math.sqrt(0.5 * (1.0 - pan))
                    er = amp * math.sqrt(0.5 * (1.0 + pan))
                    busy = 1.0 + 4.0 * min(strike, 1.0)  # crackle clusters while an arc burns
                    x, w = wait_samples(x, (4.0 + 196.0 * density) * busy / sr)
                    v[S_NEXT1] += w
                v[S_NEXT1] -= 1.0
                if v[S_NEXT2] <= 0.0:  # an arc strikes: mains buzz burst (50 or 100 Hz)
                    x, u = uniform(x)
                    _trigger(v, S_E1, 0.5 + 0.5 * u, 4.0 * ms, (60.0 + 300.0 * u) * ms)
                    x, u = uniform(x)
                    v[S_PF] = 50.0 if u < 0.5 else 100.0
                    x, w = wait_samples(x, (0.2 + 1.8 * density) / sr)
                    v[S_NEXT2] += w
                v[S_NEXT2] -= 1.0
                if v[S_NEXT3] <= 0.0:  # a longer zap
                    x, u = uniform(x)
                    _trigger(v, S_E2, 0.6 + 0.4 * u, 1.5 * ms, (40.0 + 160.0 * u) * ms)
                    x, w = wait_samples(x, (0.08 + 0.6 * density) / sr)
                    v[S_NEXT3] += w
                v[S_NEXT3] -= 1.0
                zap = _event_env(v, S_E2)
                bp, lp = svf_tick(el, v, S_FA, a1, a2, a3)
                yl = 0.35 * el + 4.0 * k * bp
                bp, lp = svf_tick(er, v, S_FA + 2, a1, a2, a3)
                yr = 0.35 * er + 4.0 * k * bp
                if strike != 0.0:
                    dt = v[S_PF] / sr
                    ph = v[S_PH]
                    buzz = poly_blep_saw(ph, dt) + 0.5 * poly_blep_saw((ph + 0.5) % 1.0, dt) ** 3
                    ph += dt
                    v[S_PH] = ph - 1.0 if ph >= 1.0 else ph
                    bp, lp = svf_tick(buzz, v, S_FB, b1, b2, b3)
                    hum = 0.3 * strike * (bk * bp + 0.3 * lp)
                    yl += hum
                    yr += hum
                x, z = smooth_random(x, v, S_SM3, 12.0 * ms, 1.0 / (3.0 * ms))
                if zap != 0.0:
                    if t % 8 == 0:
                        c = p[P_CENTRE] * 0.5 * 2.0 ** (4.0 * (z - 0.5))
                        v[S_CA], v[S_CA + 1], v[S_CA + 2], v[S_CA + 3] = svf_coefs(c, 3.0 + 6.0 * res, sr)
                    bp, lp = svf_tick(mid, v, S_FC, v[S_CA], v[S_CA + 1], v[S_CA + 2])
                    zz = 0.5 * zap * v[S_CA + 3] * bp
                    yl += zz
                    yr += zz
            else:  # RUMBLE
                x, surge = smooth_random(x, v, S_SM1, 600.0 * ms, 1.0 / (150.0 * ms))
                # brown noise: leaky integrators (corner ~ 15 Hz)
                leak = p[P_AUX_HZ]
                v[S_PINK] = leak * v[S_PINK] + wl
                v[S_PINK + 3] = leak * v[S_PINK + 3] + wr
                bp, lp = svf_tick(v[S_PINK], v, S_FA, a1, a2, a3)
                g = (0.55 + 0.45 * surge) * (1.0 - leak) * 6.0
                yl = g * lp
                bp, lp = svf_tick(v[S_PINK + 3], v, S_FA + 2, a1, a2, a3)
                yr = g * lp
                if v[S_NEXT1] <= 0.0:  # a sub thump of the machine floor
                    if v[S_E1] == 0.0 and v[S_E1 + 1] == 0.0:
                        v[S_PH] = 0.0  # restart the phase only from silence (no step)
                    x, u = uniform(x)
                    _trigger(v, S_E1, 0.5 + 0.5 * u, 8.0 * ms, (120.0 + 200.0 * u) * ms)
                    v[S_PF] = 1.2  # pitch drop: starts 2.2x the fundamental
                    x, w = wait_samples(x, (0.2 + 4.0 * density) / sr)
                    v[S_NEXT1] += w
                v[S_NEXT1] -= 1.0
                th = _event_env(v, S_E1)
                if th != 0.0:
                    f = p[P_CENTRE] * 0.5 * (1.0 + v[S_PF])
                    v[S_PF] *= p[P_B1]
                    ph = v[S_PH] + f / sr
                    v[S_PH] = ph - math.floor(ph)
                    thump = 0.8 * th * math.sin(_TWO_PI * ph)
                    yl += thump
                    yr += thump
            e = env[s, i] * gain
            out[0, i] += e * yl
            out[1, i] += e * yr
            t += 1
        v[S_T] = t
        rng[s] = x


# --------------------------------------------------------------------------- the instrument

#: Output scale per texture: a full-velocity note peaks near 0.3-0.6 (measured, seed 0).
_LEVEL = {STEAM: 0.1, WIND: 0.85, ARCS: 1.1, RUMBLE: 0.22}


@register("noise_texture")
class NoiseTexture(PolyInstrument):
    """Sustained noise textures (steam, wind, arcs, rumble), key-tracked filters, slow ADSR.

    - ``steam``: white noise high-passed above the centre ``8 f0 2^(3 (color - 0.5))``
      (``x - lowpass``: hiss with a resonant edge) and low-passed (one-pole) at 4x the
      centre; slow random surges (~0.35 s) and Poisson valve puffs (``0.15 + 4 density``
      per second; 6 ms attack, 40-240 ms decay).
    - ``wind``: pink noise through a resonant band-pass (q ``1.5 + 12 resonance``) whose
      centre ``2 f0 2^(2 (color - 0.5))`` wanders +-1.2 octave (smooth random walk, new
      target every ~0.9 s) and rises up to 0.6 octave with the gusts (``gust^2``, a new
      gust target every ``2.5 - 1.9 density`` s).
    - ``arcs``: Poisson crackle impulses (``4 + 196 density`` per second, up to 5x denser
      while an arc burns) with cubed-uniform amplitudes and random pan through a bright
      resonant band-pass (centre ``16 f0 2^(3 (color - 0.5))``, q ``2 + 20 resonance``);
      arc strikes (``0.2 + 1.8 density``/s) add a 50 or 100 Hz saw buzz through a
      band-pass at ``2 f0``; zaps (``0.08 + 0.6 density``/s) sweep a band-passed noise
      at random over +-2 octaves around half the crackle centre.
    - ``rumble``: brown noise low-passed at ``2 f0 2^(3 (color - 0.5))``, slow surges and
      sub thumps at the fundamental (``0.2 + 4 density``/s, pitch dropping from 2.2x).

    ``width`` mixes a side noise into the two channels (inter-channel correlation
    ``(1 - w^2) / (1 + w^2)``: 1 at 0, 0 at 1). Velocity scales the level linearly.

    Examples
    --------
    >>> inst = NoiseTexture(22050, params={"texture": "arcs"}, rng=np.random.default_rng(0))
    >>> inst.note_on(1, 72.0, 1.0); inst.process(512).shape
    (2, 512)
    """

    FAMILY = "texture"
    DEFAULT_VOICES = 6
    #: Steal fade, ms: longer than the engine's 4 ms, since a linear fade shorter than a
    #: period of the rumble's 30-100 Hz content is heard as a click.
    STEAL_MS = 12.0
    DOC = "Noise textures: steam hiss with valve puffs, wind, electric arcs, machine-hall rumble"
    DEMO = "c5:1 g4:1"
    PARAMS = (
        Param("texture", "steam", choices=TEXTURES, doc="steam | wind | arcs | rumble"),
        Param("density", 0.4, 0.0, 1.0, doc="rate of puffs / crackles / strikes / gusts / thumps"),
        Param("color", 0.5, 0.0, 1.0, doc="filter brightness (centre = key-tracked x 2^(3 (color-0.5)))"),
        Param("width", 0.6, 0.0, 1.0, doc="stereo decorrelation, 0 = mono, 1 = uncorrelated"),
        Param("attack_ms", 800.0, 0.0, 20000.0, doc="amplitude attack, ms (at least 2 ms is used)"),
        Param("release_ms", 1500.0, 0.0, 20000.0, doc="amplitude release, ms (at least 10 ms is used)"),
        Param("resonance", 0.3, 0.0, 1.0, doc="filter resonance (q)"),
    )

    def _build(self) -> None:
        p = self.params
        sr = self.sample_rate
        self._kind = TEXTURES.index(str(p["texture"]))
        self._amp_env = AdsrEnvelope(sr, voices=self.voices,
                                     attack_ms=max(float(p["attack_ms"]), MIN_ATTACK_MS),
                                     decay_ms=10.0, sustain=1.0,
                                     release_ms=max(float(p["release_ms"]), MIN_RELEASE_MS))
        self._envs = [self._amp_env]
        self._seed = int(self.rng.integers(1, 2 ** 62))
        self._glob = np.array([float(sr), float(p["density"]), float(p["width"]),
                               float(p["resonance"]), float(p["color"])])

    def _reset_dsp(self) -> None:
        v = self.voices
        self._prm = np.zeros((v, N_PRM))
        self._st = np.zeros((v, N_ST))
        self._rng_state = np.ones(v, dtype=np.uint64)
        self._notes = 0

    def _start_voice(self, slot: int, pitch: float, velocity: float) -> None:
        p = self.params
        sr = float(self.sample_rate)
        top = 0.45 * sr
        f0 = float(midi_to_hz(pitch))
        tilt = 2.0 ** (3.0 * (float(p["color"]) - 0.5))
        res = float(p["resonance"])
        kind = self._kind
        prm = self._prm[slot]
        prm[:] = 0.0
        if kind == STEAM:
            centre, q = min(max(8.0 * f0 * tilt, 300.0), top), 0.6 + 4.0 * res
            g = math.tan(math.pi * min(4.0 * centre, 0.49 * sr) / sr)
            prm[P_B1] = g / (1.0 + g)  # the one-pole low-pass at 4x the centre
        elif kind == WIND:
            centre, q = min(max(2.0 * f0 * 2.0 ** (2.0 * (float(p["color"]) - 0.5)), 40.0), 0.4 * sr), 0.0
            prm[P_AUX_HZ] = 1.5 + 12.0 * res  # the wandering band-pass's q
        elif kind == ARCS:
            centre, q = min(max(16.0 * f0 * tilt, 500.0), top), 2.0 + 20.0 * res
            prm[P_B1], prm[P_B2], prm[P_B3], prm[P_BK] = _coefs(min(max(2.0 * f0, 150.0), top), 3.0, sr)
        else:
            centre, q = min(max(2.0 * f0 * tilt, 25.0), top), 0.7 + 3.0 * res
            prm[P_AUX_HZ] = math.exp(-_TWO_PI * 15.0 / sr)  # brown-noise leak (15 Hz corner)
            prm[P_B1] = math.exp(-1.0 / (0.04 * sr))  # thump pitch-drop decay (40 ms)
            centre_thump = min(max(f0, 25.0), 160.0)
        prm[P_CENTRE] = centre if kind != RUMBLE else centre_thump
        if q > 0.0:
            prm[P_A1], prm[P_A2], prm[P_A3], prm[P_K] = _coefs(centre, q, sr)
        prm[P_GAIN] = _LEVEL[kind] * velocity
        st = self._st[slot]
        st[:] = 0.0
        for j in (S_SM1, S_SM2, S_SM3):
            st[j] = st[j + 1] = st[j + 2] = 0.5 if j != S_SM3 else 0.0
        self._notes += 1
        self._rng_state[slot] = np.uint64(splitmix64(self._seed + self._notes))

    def _render(self, n: int, active: np.ndarray, envs: list[np.ndarray]) -> np.ndarray:
        out = np.zeros((2, n))
        if active.size:
            texture_kernel(self._kind, active.astype(np.int64), envs[0], self._prm, self._st,
                           self._rng_state, self._glob, out)
        return out


def _coefs(cutoff_hz: float, q: float, sample_rate: float) -> tuple[float, float, float, float]:
    """Python twin of :func:`svf_coefs` (Simper's a1, a2, a3 and k = 1/q)."""
    fc = min(max(cutoff_hz, 10.0), 0.49 * sample_rate)
    g = math.tan(math.pi * fc / sample_rate)
    k = 1.0 / q
    a1 = 1.0 / (1.0 + g * (g + k))
    return a1, g * a1, g * g * a1, k

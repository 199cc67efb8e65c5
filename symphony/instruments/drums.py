"""An analog-style drum machine (TR-808/909 flavour): nine one-shot voices addressed by name.

Design
------
Every hit occupies one slot of a small bank. One numba kernel, :func:`_drum_kernel`,
renders all active slots into a mono bus in a single call: per slot it runs one tight
sample loop of that voice family (:func:`_kick`, :func:`_tonal` for snare/rim/toms,
:func:`_clap`, :func:`_hat`) with the state in locals, then applies the ``drive``
saturator. We do not chain the
generic ``symphony.dsp`` processors here because a drum hit is a handful of tiny
fixed-coefficient recursions (an exponential-sweep sine, two state-variable filters,
three exponential envelopes): building per-voice-type processor banks and temporaries
per block would cost more than the synthesis itself, and one kernel keeps the per-call
overhead to a single dispatch. Each slot owns its own xorshift64* noise generator
seeded (splitmix64) from one seed drawn from the injected ``rng`` at construction, so
noise is deterministic, independent of block splits, and ``reset()`` reproduces it.

Envelopes are recursions ``e <- e * d`` (``d = exp(-1 / (tau * sample_rate))``) used
through ``max(e - EPS, 0) / (1 - EPS)``: the same exponential shape, but reaching *exact*
zero at ``tau * ln(1 / EPS)`` (-60 dB, 6.9 time constants) without a step, after which
the slot becomes idle. Every hit starts with a raised-cosine ramp of ``ATTACK_MS`` from
exact zero, so onsets have neither a step nor a slope corner. A new hit chokes earlier
hits of the same voice (and a closed hat chokes open hats) with a 4 ms exponential fade,
like hardware; beyond ``voices`` sounding hits the oldest is faded the same way.

Pitch convention: ``pitch`` 60 is the nominal tuning, ``pitch - 60`` semitones retune
the hit (the score's step patterns send 60). Without a voice name, a General-MIDI drum
key selects the voice at nominal tuning (36 = kick), as a MIDI file would.
"""

from __future__ import annotations

import math
from types import MappingProxyType
from typing import ClassVar, Mapping

import numba
import numpy as np

from symphony.errors import ParameterError
from symphony.instruments import register
from symphony.instruments.base import Instrument
from symphony.params import Param

DRUM_VOICES = ("kick", "snare", "clap", "closed_hat", "open_hat", "rim", "tom_low", "tom_mid", "tom_high")
KICK, SNARE, CLAP, CLOSED_HAT, OPEN_HAT, RIM, TOM_LOW, TOM_MID, TOM_HIGH = range(9)
_KIND = {name: i for i, name in enumerate(DRUM_VOICES)}

#: General-MIDI drum keys: ``note_on(..., voice=None)`` with one of these plays that voice.
GM_KEYS = {"kick": 36, "rim": 37, "snare": 38, "clap": 39, "closed_hat": 42, "tom_low": 45,
           "open_hat": 46, "tom_mid": 47, "tom_high": 50}
_GM_VOICE = {key: name for name, key in GM_KEYS.items()}

#: Envelope floor: envelopes are offset by EPS so they reach exact zero (at -60 dB).
EPS = 1e-3
ATTACK_MS = 1.0
CHOKE_MS = 4.0

#: TR-808 cymbal/hat square-oscillator frequencies in Hz (the six 'metallic' oscillators).
HAT_FREQS_HZ = (205.3, 304.4, 369.6, 522.7, 540.0, 800.0)

# parameter columns of the per-slot table
(P_GAIN, P_NATT, P_F1, P_F2, P_SWEEP, P_DP, P_DA, P_DN, P_DC, P_TONE, P_TONE2, P_NOISE, P_CLICK,
 P_A1, P_A2, P_A3, P_AK, P_B1, P_B2, P_B3, P_BK, P_H0) = range(22)
P_BURST = P_H0 + 6          # clap burst period (samples)
P_BRATE = P_BURST + 1       # clap burst decay rate (1 / samples)
P_SHAPE = P_BRATE + 1       # kick waveshaper drive k
P_SHAPEN = P_SHAPE + 1      # 1 / soft_clip(k): unit peak after shaping
N_PRM = P_SHAPEN + 1

# state columns
(S_T, S_AE, S_NE, S_PE, S_CE, S_PH1, S_PH2, S_HP0) = range(8)
S_FA1 = S_HP0 + 6
S_FA2, S_FB1, S_FB2, S_CH, S_CHD = S_FA1 + 1, S_FA1 + 2, S_FA1 + 3, S_FA1 + 4, S_FA1 + 5
N_ST = S_CHD + 1

_U12, _U25, _U27, _U11 = np.uint64(12), np.uint64(25), np.uint64(27), np.uint64(11)
_XMUL = np.uint64(0x2545F4914F6CDD1D)
_TWO_PI = 2.0 * math.pi


def svf_coefficients(freq_hz: float, q: float, sample_rate: float) -> tuple[float, float, float, float]:
    """TPT state-variable filter coefficients ``(a1, a2, a3, k)``.

    Simper, "Linear trapezoidal integrated SVF" (Cytomic, 2013): ``g = tan(pi f / fs)``,
    ``k = 1/q``, ``a1 = 1/(1 + g(g + k))``, ``a2 = g a1``, ``a3 = g a2``.

    Examples
    --------
    >>> [round(c, 4) for c in svf_coefficients(1000.0, 0.7071, 48000)][3]
    1.4142
    """
    g = math.tan(math.pi * min(freq_hz, 0.45 * sample_rate) / sample_rate)
    k = 1.0 / q
    a1 = 1.0 / (1.0 + g * (g + k))
    return a1, g * a1, g * g * a1, k


@numba.njit(cache=True, inline="always")
def _white(x):  # pragma: no cover - jit
    """xorshift64* step (Vigna 2016): ``(new_state, uniform sample in [-1, 1))``."""
    x ^= x >> _U12
    x ^= x << _U25
    x ^= x >> _U27
    return x, ((x * _XMUL) >> _U11) * (2.0 / 9007199254740992.0) - 1.0


@numba.njit(cache=True, inline="always")
def _eff(e):  # pragma: no cover - jit
    return (e - EPS) * (1.0 / (1.0 - EPS)) if e > EPS else 0.0


@numba.njit(cache=True, inline="always")
def _sin2pi(phase):  # pragma: no cover - jit
    """``sin(2 pi phase)`` for phase in [0, 1): fold to [-pi/2, pi/2], Taylor to z^13 (|err| < 1e-9).

    About 4x faster than ``math.sin`` in the kernel's inner loop.
    """
    x = phase - 1.0 if phase > 0.5 else phase
    if x > 0.25:
        x = 0.5 - x
    elif x < -0.25:
        x = -0.5 - x
    z = _TWO_PI * x
    z2 = z * z
    return z * (1.0 + z2 * (-1.0 / 6.0 + z2 * (1.0 / 120.0 + z2 * (-1.0 / 5040.0 + z2 * (
        1.0 / 362880.0 + z2 * (-1.0 / 39916800.0 + z2 * (1.0 / 6227020800.0)))))))


@numba.njit(cache=True, inline="always")
def _soft_clip(u):  # pragma: no cover - jit
    """Pade-style tanh approximation ``u (27 + u^2) / (27 + 9 u^2)``, clamped to +-1 beyond |u| = 3."""
    if u >= 3.0:
        return 1.0
    if u <= -3.0:
        return -1.0
    u2 = u * u
    return u * (27.0 + u2) / (27.0 + 9.0 * u2)


@numba.njit(cache=True, inline="always")
def _blep(t, dt):  # pragma: no cover - jit
    """Two-sample polynomial band-limited step residual (Valimaki & Huovilainen 2007)."""
    if t < dt:
        t = t / dt
        return t + t - t * t - 1.0
    if t > 1.0 - dt:
        t = (t - 1.0) / dt
        return t * t + t + t + 1.0
    return 0.0


@numba.njit(cache=True, inline="always")
def _ramp(t, natt):  # pragma: no cover - jit
    """Raised-cosine onset ramp ``sin^2(pi t / (2 natt))``: no step, no slope corner."""
    if t >= natt:
        return 1.0
    r = _sin2pi(t * 0.25 / natt)
    return r * r


@numba.njit(cache=True, inline="always")
def _svf(x, c1, c2, a1, a2, a3):  # pragma: no cover - jit
    """One TPT SVF step (Simper 2013): returns ``(band-pass v1, low-pass v2, c1, c2)``."""
    v3 = x - c2
    v1 = a1 * c1 + a2 * v3
    v2 = c2 + a2 * c1 + a3 * v3
    return v1, v2, 2.0 * v1 - c1, 2.0 * v2 - c2


@numba.njit(cache=True)
def _kick(p, st, x, g, out):  # pragma: no cover - jit
    """Exponential-sweep sine (soft-clipped) + band-passed noise click. Returns (rng, done)."""
    t, ae, pe, ce, ph = st[S_T], st[S_AE], st[S_PE], st[S_CE], st[S_PH1]
    fa1, fa2, ch, chd = st[S_FA1], st[S_FA2], st[S_CH], st[S_CHD]
    natt, f1, sweep, dp, da, dc = p[P_NATT], p[P_F1], p[P_SWEEP], p[P_DP], p[P_DA], p[P_DC]
    a1, a2, a3, shape, shapen = p[P_A1], p[P_A2], p[P_A3], p[P_SHAPE], p[P_SHAPEN]
    tone_l, click_l = p[P_TONE] * g, p[P_CLICK] * g
    done = False
    for i in range(out.shape[0]):
        y = tone_l * _eff(ae) * _soft_clip(shape * _sin2pi(ph)) * shapen
        if ce > EPS:
            x, w = _white(x)
            v1, v2, fa1, fa2 = _svf(w, fa1, fa2, a1, a2, a3)
            y += click_l * _eff(ce) * v1
            ce *= dc
        out[i] += _ramp(t, natt) * _eff(ch) * y
        ph += f1 * (1.0 + sweep * pe)
        if ph >= 1.0:  # f1 (1 + sweep) < 1: at most one wrap per sample
            ph -= 1.0
        pe *= dp
        ae *= da
        ch *= chd
        t += 1.0
        if (ae <= EPS and ce <= EPS) or ch <= EPS:
            done = True
            break
    st[S_T], st[S_AE], st[S_PE], st[S_CE], st[S_PH1] = t, ae, pe, ce, ph
    st[S_FA1], st[S_FA2], st[S_CH] = fa1, fa2, ch
    return x, done


@numba.njit(cache=True)
def _tonal(p, st, x, g, out):  # pragma: no cover - jit
    """Snare, rim, toms: two swept sines + band-passed, high-passed noise. Returns (rng, done)."""
    t, ae, ne, pe, ce = st[S_T], st[S_AE], st[S_NE], st[S_PE], st[S_CE]
    ph1, ph2, ch, chd = st[S_PH1], st[S_PH2], st[S_CH], st[S_CHD]
    fa1, fa2, fb1, fb2 = st[S_FA1], st[S_FA2], st[S_FB1], st[S_FB2]
    natt, f1, f2, sweep = p[P_NATT], p[P_F1], p[P_F2], p[P_SWEEP]
    dp, da, dn, dc = p[P_DP], p[P_DA], p[P_DN], p[P_DC]
    a1, a2, a3, b1, b2, b3, bk = p[P_A1], p[P_A2], p[P_A3], p[P_B1], p[P_B2], p[P_B3], p[P_BK]
    tone_l, tone2_l, noise_l, click_l = p[P_TONE] * g, p[P_TONE2] * g, p[P_NOISE] * g, p[P_CLICK] * g
    done = False
    for i in range(out.shape[0]):
        y = 0.0
        if ae > EPS:
            tone = tone_l * _sin2pi(ph1)
            if tone2_l != 0.0:
                tone += tone2_l * _sin2pi(ph2)
            y = _eff(ae) * tone
            scale = 1.0 + sweep * pe
            ph1 += f1 * scale
            if ph1 >= 1.0:
                ph1 -= 1.0
            ph2 += f2 * scale
            if ph2 >= 1.0:
                ph2 -= 1.0
            pe *= dp
            ae *= da
        if ne > EPS or ce > EPS:
            x, w = _white(x)
            v1, v2, fa1, fa2 = _svf(w, fa1, fa2, a1, a2, a3)
            u1, u2, fb1, fb2 = _svf(v1, fb1, fb2, b1, b2, b3)
            y += noise_l * _eff(ne) * (v1 - bk * u1 - u2) + click_l * _eff(ce) * v1
            ne *= dn
            ce *= dc
        out[i] += _ramp(t, natt) * _eff(ch) * y
        ch *= chd
        t += 1.0
        if (ae <= EPS and ne <= EPS and ce <= EPS) or ch <= EPS:
            done = True
            break
    st[S_T], st[S_AE], st[S_NE], st[S_PE], st[S_CE] = t, ae, ne, pe, ce
    st[S_PH1], st[S_PH2], st[S_CH] = ph1, ph2, ch
    st[S_FA1], st[S_FA2], st[S_FB1], st[S_FB2] = fa1, fa2, fb1, fb2
    return x, done


@numba.njit(cache=True)
def _clap(p, st, x, g, out):  # pragma: no cover - jit
    """Three noise bursts ``burst`` samples apart, then a decaying tail, band-passed. Returns (rng, done)."""
    t, ne, fa1, fa2, ch, chd = st[S_T], st[S_NE], st[S_FA1], st[S_FA2], st[S_CH], st[S_CHD]
    natt, dn, a1, a2, a3 = p[P_NATT], p[P_DN], p[P_A1], p[P_A2], p[P_A3]
    burst, brate, noise_l = p[P_BURST], p[P_BRATE], p[P_NOISE] * g
    done = False
    for i in range(out.shape[0]):
        x, w = _white(x)
        v1, v2, fa1, fa2 = _svf(w, fa1, fa2, a1, a2, a3)
        if t < 3.0 * burst:
            tb = t - burst * math.floor(t / burst)
            env = (tb / natt if tb < natt else 1.0) * math.exp(-tb * brate)
        else:  # the tail starts on the 4th burst
            tb = t - 3.0 * burst
            env = (tb / natt if tb < natt else 1.0) * _eff(ne)
            ne *= dn
        out[i] += _ramp(t, natt) * _eff(ch) * noise_l * env * v1
        ch *= chd
        t += 1.0
        if (t >= 3.0 * burst and ne <= EPS) or ch <= EPS:
            done = True
            break
    st[S_T], st[S_NE], st[S_FA1], st[S_FA2], st[S_CH] = t, ne, fa1, fa2, ch
    return x, done


@numba.njit(cache=True)
def _hat(p, st, x, g, out):  # pragma: no cover - jit
    """Six band-limited squares (808 ratios) + noise, band-pass then high-pass. Returns (rng, done)."""
    t, ae, ch, chd = st[S_T], st[S_AE], st[S_CH], st[S_CHD]
    fa1, fa2, fb1, fb2 = st[S_FA1], st[S_FA2], st[S_FB1], st[S_FB2]
    natt, da = p[P_NATT], p[P_DA]
    a1, a2, a3, b1, b2, b3, bk = p[P_A1], p[P_A2], p[P_A3], p[P_B1], p[P_B2], p[P_B3], p[P_BK]
    sq_l, noise_l = p[P_TONE] / 6.0, p[P_NOISE]
    ph = st[S_HP0:S_HP0 + 6].copy()
    dt = p[P_H0:P_H0 + 6].copy()
    done = False
    for i in range(out.shape[0]):
        x, w = _white(x)
        sq = 0.0
        for j in range(6):
            q = ph[j]
            half = q + 0.5 if q < 0.5 else q - 0.5
            sq += (1.0 if q < 0.5 else -1.0) + _blep(q, dt[j]) - _blep(half, dt[j])
            q += dt[j]
            ph[j] = q - 1.0 if q >= 1.0 else q
        v1, v2, fa1, fa2 = _svf(sq_l * sq + noise_l * w, fa1, fa2, a1, a2, a3)
        u1, u2, fb1, fb2 = _svf(v1, fb1, fb2, b1, b2, b3)
        out[i] += _ramp(t, natt) * _eff(ch) * g * _eff(ae) * (v1 - bk * u1 - u2)
        ae *= da
        ch *= chd
        t += 1.0
        if ae <= EPS or ch <= EPS:
            done = True
            break
    st[S_T], st[S_AE], st[S_CH] = t, ae, ch
    st[S_FA1], st[S_FA2], st[S_FB1], st[S_FB2] = fa1, fa2, fb1, fb2
    st[S_HP0:S_HP0 + 6] = ph
    return x, done


@numba.njit(cache=True)
def _drum_kernel(kind, active, prm, st, rng, drive_g, out):  # pragma: no cover - jit
    """Add every active slot's next ``len(out)`` samples to ``out``, then saturate.

    ``kind`` (slots,) int64 voice codes, ``active`` (slots,) bool (cleared when a hit
    has decayed to exact zero), ``prm`` (slots, N_PRM) per-hit constants, ``st``
    (slots, N_ST) state, ``rng`` (slots,) uint64 xorshift64* states, ``drive_g`` the
    saturator gain (0 = linear), ``out`` (n,) float64 zero-initialised by the caller.
    One tight sample loop per voice family keeps each loop's state in registers.
    """
    n = out.shape[0]
    for s in range(kind.shape[0]):
        if not active[s]:
            continue
        kd = kind[s]
        g = prm[s, P_GAIN]
        if kd == KICK:
            x, done = _kick(prm[s], st[s], rng[s], g, out)
        elif kd == CLAP:
            x, done = _clap(prm[s], st[s], rng[s], g, out)
        elif kd == CLOSED_HAT or kd == OPEN_HAT:
            x, done = _hat(prm[s], st[s], rng[s], g, out)
        else:
            x, done = _tonal(prm[s], st[s], rng[s], g, out)
        rng[s] = x
        if done:
            active[s] = False
    if drive_g > 1e-9:
        inv = 1.0 / drive_g
        for i in range(n):
            out[i] = math.tanh(drive_g * out[i]) * inv


def _splitmix64(value: int) -> int:
    """SplitMix64 output for ``value`` (Steele, Lea & Flood 2014): seeds per-hit noise."""
    z = (value + 0x9E3779B97F4A7C15) & 0xFFFFFFFFFFFFFFFF
    z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & 0xFFFFFFFFFFFFFFFF
    z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & 0xFFFFFFFFFFFFFFFF
    return (z ^ (z >> 31)) or 1


@register("drum_machine")
class DrumMachine(Instrument):
    """Analog-style drum machine: kick, snare, clap, hats, rim and toms, synthesized per hit.

    ``note_on(note_id, pitch, velocity, voice="kick")`` fires a one-shot hit; ``note_off``
    is ignored. Velocity (0..1) is the accent: level and a little brightness/punch.
    ``pitch`` 60 is nominal tuning; other pitches retune the hit by ``pitch - 60``
    semitones. ``voice=None`` maps a GM drum key to its voice at nominal tuning.

    Examples
    --------
    >>> dm = DrumMachine(44100)
    >>> dm.note_on(1, 60.0, 1.0, voice="kick")
    >>> dm.process(4410).shape
    (2, 4410)
    """

    FAMILY: ClassVar[str] = "drums"
    DOC: ClassVar[str] = "TR-808/909-style drum machine: kick, snare, clap, hats, rim, toms"
    DRUM_VOICES: ClassVar[tuple[str, ...]] = DRUM_VOICES
    DEFAULT_VOICES: ClassVar[int] = 16
    DEMO: ClassVar[str] = "c4:4 c4 c4 c4"
    DEMO_PATTERN: ClassVar[Mapping[str, str]] = MappingProxyType({
        "kick": "X.....x...x..x..", "snare": "....X.......X..o", "clap": "............x...",
        "closed_hat": "x.x.x.x.x.x.x...", "open_hat": "..............x.", "rim": "...x......x.....",
        "tom_high": "................", "tom_mid": "................", "tom_low": "...............o"})
    PARAMS: ClassVar[tuple[Param, ...]] = (
        Param("tune_semitones", 0.0, -24.0, 24.0, doc="retune every voice (semitones)"),
        Param("decay", 1.0, 0.1, 4.0, doc="multiplies all amplitude decay times"),
        Param("drive", 0.2, 0.0, 1.0, doc="soft tanh saturation of the mix"),
        Param("click", 0.5, 0.0, 1.0, doc="level of the kick's beater click"),
        Param("snappy", 0.5, 0.0, 1.0, doc="level of the snare's noise wires"),
    )

    def __init__(self, sample_rate: int, *, params: Mapping[str, float | str] | None = None,
                 rng: np.random.Generator | None = None, voices: int | None = None) -> None:
        super().__init__(sample_rate, params=params, rng=rng, voices=voices)
        self._slots = self.voices + len(DRUM_VOICES) + 8  # room for hits fading out
        self._seed = int(self.rng.integers(1, 2 ** 63))
        sr = float(self.sample_rate)
        self._natt = max(1.0, ATTACK_MS * 1e-3 * sr)
        self._choke_d = math.exp(-1.0 / (CHOKE_MS * 1e-3 * sr))
        self.reset()

    # ------------------------------------------------------------------ lifecycle
    def reset(self) -> None:
        """Silence every slot and rewind the per-hit noise seeds (equals a fresh instance)."""
        s = self._slots
        self._kind = np.zeros(s, dtype=np.int64)
        self._active = np.zeros(s, dtype=np.bool_)
        self._prm = np.zeros((s, N_PRM))
        self._st = np.zeros((s, N_ST))
        self._rng_state = np.ones(s, dtype=np.uint64)
        self._order = np.zeros(s, dtype=np.int64)
        self._hits = 0

    @property
    def is_silent(self) -> bool:
        return not bool(self._active.any())

    # ------------------------------------------------------------------ events
    def note_on(self, note_id: int, pitch: float, velocity: float, voice: str | None = None) -> None:
        """Fire a hit of ``voice`` (a name of ``DRUM_VOICES``) at the next processed frame.

        Raises
        ------
        ParameterError
            On an unknown voice name, or ``voice=None`` with a pitch that is no GM drum key.
        """
        if voice is None:
            key = int(round(pitch))
            if key not in _GM_VOICE:
                raise ParameterError(f"drum_machine needs a voice name ({', '.join(DRUM_VOICES)}) "
                                     f"or a General-MIDI drum key, got pitch {pitch!r}")
            voice, pitch = _GM_VOICE[key], 60.0
        if voice not in _KIND:
            raise ParameterError(f"unknown drum voice {voice!r}; known: {', '.join(DRUM_VOICES)}")
        kind = _KIND[voice]
        vel = min(max(float(velocity), 0.0), 1.0)
        self._choke_for(kind)
        slot = self._free_slot()
        self._hits += 1
        self._kind[slot] = kind
        self._order[slot] = self._hits
        self._prm[slot] = self._hit_params(kind, float(pitch), vel)
        st = self._st[slot]
        st[:] = 0.0
        st[S_AE] = st[S_NE] = st[S_PE] = st[S_CE] = st[S_CH] = 1.0
        st[S_CHD] = 1.0
        self._rng_state[slot] = np.uint64(_splitmix64(self._seed + self._hits))
        self._active[slot] = True

    def note_off(self, note_id: int) -> None:
        """Drum hits are one-shots: ``note_off`` is ignored."""

    def _choke_for(self, kind: int) -> None:
        """Fade earlier hits of the same voice; a closed hat also chokes open hats."""
        victims = self._active & ((self._kind == kind) | ((kind == CLOSED_HAT) & (self._kind == OPEN_HAT)))
        self._st[victims, S_CHD] = self._choke_d
        live = self._active & (self._st[:, S_CHD] == 1.0)
        if live.sum() >= self.voices:  # polyphony exceeded: fade the oldest hit
            idx = np.flatnonzero(live)
            self._st[idx[np.argmin(self._order[idx])], S_CHD] = self._choke_d

    def _free_slot(self) -> int:
        idle = np.flatnonzero(~self._active)
        if idle.size:
            return int(idle[0])
        # every slot busy (extreme bursts): reuse the quietest fading / oldest hit
        return int(np.argmin(np.where(self._st[:, S_CHD] < 1.0, self._st[:, S_CH], 2.0 + self._order)))

    def _hit_params(self, kind: int, pitch: float, vel: float) -> np.ndarray:
        """Per-hit constants (frequencies as cycles per sample, envelope multipliers)."""
        sr = float(self.sample_rate)
        decay = float(self.params["decay"])
        ratio = 2.0 ** ((float(self.params["tune_semitones"]) + pitch - 60.0) / 12.0)
        p = np.zeros(N_PRM)

        def mult(tau_s: float, scaled: bool = True) -> float:
            return math.exp(-1.0 / (max(tau_s * (decay if scaled else 1.0), 1e-5) * sr))

        def filt(col: int, freq_hz: float, q: float) -> None:
            p[col:col + 4] = svf_coefficients(min(freq_hz, 0.45 * sr), q, sr)

        bright = 0.75 + 0.5 * vel
        p[P_GAIN] = vel * (1.6 - 0.6 * vel)  # 0 -> 0, 0.5 -> 0.65, 1 -> 1 (accent curve)
        p[P_NATT] = self._natt
        p[P_SHAPE], p[P_SHAPEN] = 1.0, 1.0 / _soft_clip.py_func(1.0)
        p[P_DP] = p[P_DA] = p[P_DN] = p[P_DC] = 0.0
        p[P_BURST] = 1.0
        if kind == KICK:
            p[P_F1] = 50.0 * ratio / sr
            p[P_SWEEP] = 2.0                      # 150 Hz -> 50 Hz
            p[P_DP] = mult(0.035, scaled=False)
            p[P_DA] = mult(0.30)
            p[P_DC] = mult(0.0012)
            p[P_TONE] = 0.72
            p[P_CLICK] = 1.6 * float(self.params["click"]) * (0.3 + vel)
            p[P_SHAPE] = 1.0 + 1.2 * vel          # punch: gentle waveshaping with accent
            p[P_SHAPEN] = 1.0 / _soft_clip.py_func(p[P_SHAPE])
            filt(P_A1, 3200.0, 0.8)
        elif kind == SNARE:
            p[P_F1], p[P_F2] = 185.0 * ratio / sr, 330.0 * ratio / sr
            p[P_SWEEP] = 0.25
            p[P_DP] = mult(0.012, scaled=False)
            p[P_DA] = mult(0.055)
            p[P_DN] = mult(0.11)
            p[P_TONE], p[P_TONE2] = 0.3, 0.18
            p[P_NOISE] = 0.85 * (0.3 + 1.4 * float(self.params["snappy"])) * bright
            filt(P_A1, 3500.0 * ratio * (0.9 + 0.2 * vel), 0.7)
            filt(P_B1, 1100.0 * ratio, 0.7)
        elif kind == CLAP:
            p[P_NOISE] = 1.2 * bright
            p[P_BURST] = round(0.0105 * sr)
            p[P_BRATE] = 1.0 / (0.0032 * sr)
            p[P_DN] = mult(0.12)
            filt(P_A1, 1250.0 * ratio, 1.6)
        elif kind in (CLOSED_HAT, OPEN_HAT):
            for j, f in enumerate(HAT_FREQS_HZ):
                p[P_H0 + j] = min(f * ratio / sr, 0.45)
            p[P_DA] = mult(0.035 if kind == CLOSED_HAT else 0.28)
            p[P_TONE], p[P_NOISE] = 1.0, 0.35 * bright
            p[P_GAIN] *= 1.5
            filt(P_A1, min(10000.0 * ratio, 0.42 * sr), 1.1)
            filt(P_B1, min(7000.0 * ratio, 0.32 * sr), 0.7)
        elif kind == RIM:
            p[P_F1], p[P_F2] = 1700.0 * ratio / sr, 480.0 * ratio / sr
            p[P_DA] = mult(0.009)
            p[P_DC] = mult(0.0008)
            p[P_TONE], p[P_TONE2] = 0.4, 0.3
            p[P_CLICK] = 1.2 * bright
            p[P_DN] = 0.0
            filt(P_A1, 5000.0 * ratio, 1.0)
            filt(P_B1, 200.0, 0.7)
        else:  # toms
            base_hz, tau_s = {TOM_LOW: (90.0, 0.22), TOM_MID: (130.0, 0.18), TOM_HIGH: (190.0, 0.15)}[kind]
            p[P_F1] = base_hz * ratio / sr
            p[P_SWEEP] = 0.35
            p[P_DP] = mult(0.06, scaled=False)
            p[P_DA] = mult(tau_s)
            p[P_DN] = mult(0.02)
            p[P_TONE] = 0.7
            p[P_NOISE] = 0.35 * bright
            filt(P_A1, 3.0 * base_hz * ratio, 1.0)
            filt(P_B1, base_hz * ratio, 0.7)
        # keep every swept sine below 0.45 * sample_rate (extreme retuning): one phase wrap per sample
        top = 0.45 / (1.0 + p[P_SWEEP])
        p[P_F1], p[P_F2] = min(p[P_F1], top), min(p[P_F2], top)
        return p

    # ------------------------------------------------------------------ audio
    def process(self, n: int) -> np.ndarray:
        """Render the next ``n`` frames; returns stereo ``(2, n)`` float64 (L = R)."""
        n = int(n)
        out = np.zeros((2, n))
        if n and self._active.any():
            mono = out[0]
            _drum_kernel(self._kind, self._active, self._prm, self._st, self._rng_state,
                         4.0 * float(self.params["drive"]), mono)
            out[1] = mono
        return out

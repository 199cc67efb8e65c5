"""Struck metal by modal synthesis: a bank of decaying resonators per voice (anvil, bell, bar...).

Model
-----
Modal synthesis (Adrien, "The missing link: modal synthesis", in *Representations of Musical
Signals*, MIT Press 1991; J. O. Smith, *Physical Audio Signal Processing*, "Modal
Representation"): a struck object is a sum of independent modes, each a two-pole resonator
``z[n] = p z[n-1] + x[n]`` with ``p = r e^{jw}`` (a decaying complex exponential; the output is
``Im z``), ``r = 10^(-3 / (T60 fs))``. All modes of a voice are driven by the same strike
force ``x``: a Hann-shaped pulse of the mallet contact time (Hertzian contact: a harder mallet
or a harder hit touches for a shorter time, so ``hardness`` is the excitation brightness; the
pulse spectrum weights the modes). The strike point varies from hit to hit: each mode gets a
seeded random sign and a +-10% weight (the mode shape's value at the strike point). One numba
kernel runs each voice's modes sample by sample, modes in the inner loop (independent
recursions pipeline); a mode is dropped once 100 dB down, a voice fades out (smoothstep, 60 ms)
once its longest mode is 80 dB down. The kernel is shared with :mod:`~symphony.instruments.timpani`.

Mode tables (ratios to the note frequency) are data, :data:`MATERIALS`:

- ``bell``: the church-bell partials (hum 0.5, prime 1, tierce 1.2, quint 1.5, nominal 2,
  then 2.5, 2.67, superquint 3, octave nominal 4; Rossing, *The Science of Sound*, ch. 13,
  and Fletcher & Rossing, *The Physics of Musical Instruments*, ch. 21). The note is the
  *strike note*: the virtual pitch of nominal, superquint and octave nominal (2:3:4), which
  a well-tuned bell's prime (ratio 1) matches;
- ``bar``: the ideal free-free bar, 1, 2.756, 5.404, 8.933, 13.34 (Euler-Bernoulli beam;
  Fletcher & Rossing ch. 2);
- ``plate``: a simply supported square plate, ``f_mn`` proportional to ``m^2 + n^2``
  (Leissa, *Vibration of Plates*, NASA SP-160, 1969), ratios ``(m^2 + n^2) / 2``;
- ``anvil`` and ``hammer``: designed (not measured) inharmonic tables: a dense ringing
  anvil with fast-decaying highs, a short metallic clank.

``stretch`` raises every ratio to the power ``1 + stretch`` (stiffness-like inharmonicity);
``damping_hf`` shortens upper modes (``T60 / (1 + damping_hf (ratio - 1))``); ``decay``
multiplies every T60. T60s also shrink gently with pitch (``sqrt(261.6 Hz / f0)``, clamped to
[0.35, 2.5]): small objects ring shorter. ``note_off`` is ignored (struck objects ring on).
Striking a pitch that still sounds (not yet fading) re-excites the *same* resonators, so
rolls and repeated hits sum as on the real object. Beyond ``voices`` ringing objects the
oldest fades out over ``STEAL_MS`` (smoothstep: no slope step, no click).
"""

from __future__ import annotations

import math
from typing import ClassVar, Mapping

import numba
import numpy as np

from symphony.instruments import register
from symphony.instruments.base import Instrument
from symphony.instruments.poly import equal_power_pan
from symphony.params import Param

#: Control period of the pitch bend (samples): mode coefficients are recomputed on this grid.
BEND_TICK = 16
#: A mode is dropped (state zeroed) this many dB below its strike amplitude.
MODE_FLOOR_DB = 100.0
#: A voice fades out (END_FADE_MS) once its longest mode is this many dB down.
VOICE_END_DB = 80.0
END_FADE_MS = 60.0
STEAL_MS = 6.0
#: Two strikes closer than this (cents) hit the same resonators.
RESTRIKE_CENTS = 1.0
MAX_MODES = 16
#: Voice output level at velocity 1 (before the mode-amplitude normalization).
LEVEL = 0.2

#: material -> (ratios, relative amplitudes, T60 at decay=1 for a middle-C object, seconds)
MATERIALS: dict[str, tuple[tuple[float, ...], tuple[float, ...], tuple[float, ...]]] = {
    "bell": ((0.5, 1.0, 1.2, 1.5, 2.0, 2.5, 2.67, 3.0, 4.0, 5.33),
             (0.45, 0.55, 0.6, 0.3, 1.0, 0.4, 0.3, 0.45, 0.3, 0.15),
             (12.0, 7.0, 6.0, 3.5, 5.0, 3.0, 2.6, 2.2, 1.6, 1.0)),
    "bar": ((1.0, 2.756, 5.404, 8.933, 13.34),
            (1.0, 0.45, 0.28, 0.16, 0.08),
            (3.0, 1.5, 0.8, 0.5, 0.3)),
    "plate": ((1.0, 2.5, 4.0, 5.0, 6.5, 8.5, 9.0, 10.0, 12.5, 13.0, 14.5, 16.0, 17.0),
              (1.0, 0.8, 0.5, 0.6, 0.5, 0.4, 0.25, 0.35, 0.3, 0.25, 0.2, 0.12, 0.15),
              (3.0, 2.4, 2.0, 1.9, 1.6, 1.4, 1.3, 1.25, 1.1, 1.05, 1.0, 0.9, 0.85)),
    "anvil": ((1.0, 1.58, 2.37, 2.91, 3.62, 4.18, 4.93, 5.71, 6.44, 7.23, 8.02, 8.87, 9.65, 10.91, 12.2, 13.7),
              (0.6, 1.0, 0.8, 0.9, 0.7, 0.8, 0.6, 0.6, 0.5, 0.5, 0.4, 0.4, 0.35, 0.3, 0.25, 0.2),
              (2.5, 2.0, 1.6, 1.4, 1.1, 0.9, 0.7, 0.6, 0.5, 0.4, 0.35, 0.3, 0.25, 0.2, 0.18, 0.15)),
    "hammer": ((1.0, 2.31, 3.97, 5.12, 6.88, 8.45),
               (1.0, 0.8, 0.7, 0.5, 0.4, 0.3),
               (0.35, 0.22, 0.15, 0.12, 0.09, 0.07)),
}

#: Level trim per material (similar peak levels: a single full-velocity strike ~0.3-0.45).
MATERIAL_GAIN = {"bell": 1.0, "bar": 1.0, "plate": 1.1, "anvil": 1.0, "hammer": 1.3}

# per-slot constants
P_LEVEL_L, P_LEVEL_R, P_EXCLEN, P_NMODES, P_BEND, P_TB, P_BENDK, P_BENDDUR, P_END, P_ENDD = range(10)
N_PRM = 10
# per-slot state
S_T, S_ET, S_CH, S_CHD = range(4)
N_ST = 4
# per-mode constants (w rad/sample, r radius, amplitude, end age) and state (re, im, cr, ci)
M_W, M_R, M_AMP, M_END = range(4)


@numba.njit(cache=True, fastmath={"reassoc", "contract"})
def _bank(re, im, cr, ci, amp, lim, nal, start, stop, exc, e0, exclen, tmp):  # pragma: no cover - jit
    """Run modes ``[0, nal)`` over samples ``[start, stop)`` with fixed poles; returns the modes alive.

    ``z_k <- (cr_k + j ci_k) z_k + x`` with the strike force ``x = exc[e0 + i]`` (0 past
    ``exclen``); ``tmp[i] += sum_k amp_k Im z_k``. Modes are sorted by falling end sample ``lim``
    (relative to the block), so the alive modes are a prefix; a mode reaching its end is
    zeroed and leaves. Samples outer, modes inner: the modes' recursions are independent,
    so they pipeline and vectorize (``reassoc`` only reorders the sum over modes).
    """
    for i in range(start, stop):
        while nal > 0 and lim[nal - 1] <= i:
            re[nal - 1] = 0.0
            im[nal - 1] = 0.0
            nal -= 1
        if nal == 0:
            break
        e = e0 + i
        x = exc[int(e)] if e < exclen else 0.0
        acc = 0.0
        for k in range(nal):
            a = re[k]
            b = im[k]
            nb = ci[k] * a + cr[k] * b
            re[k] = cr[k] * a - ci[k] * b + x
            im[k] = nb
            acc += amp[k] * nb
        tmp[i] += acc
    return nal


@numba.njit(cache=True)
def _modal_kernel(active, prm, st, modes, mst, exc, tmp, scratch, out):  # pragma: no cover - jit
    """Add every active voice's resonator bank (next ``n`` samples) to ``out`` (2, n).

    ``modes`` (slots, M, 4) ``[w, r, amp, end_age]`` sorted by falling ``end_age``; ``mst``
    (slots, M, 4) state ``[re, im, cr, ci]`` with ``cr + j ci = r e^{j w (1 + bend)}``;
    ``exc`` (slots, E) the strike force read from position ``S_ET``; ``tmp`` (n,) and
    ``scratch`` (6, M) work space. The bend ``bend(t) = P_BEND exp(-(t - P_TB) P_BENDK)``
    (exactly 0 after ``P_BENDDUR``) sets the poles at ages ``P_TB + k BEND_TICK``.
    Each mode obeys ``z[t] = (cr + j ci) z[t-1] + x[t]``, output ``amp Im z[t]``, until its end.
    """
    n = out.shape[1]
    re, im, cr, ci, amp, lim = scratch[0], scratch[1], scratch[2], scratch[3], scratch[4], scratch[5]
    for s in range(active.shape[0]):
        if not active[s]:
            continue
        p = prm[s]
        t0, et0 = st[s, S_T], st[s, S_ET]
        exclen, nm = p[P_EXCLEN], int(p[P_NMODES])
        bend0, tb, bendk, benddur = p[P_BEND], p[P_TB], p[P_BENDK], p[P_BENDDUR]
        for i in range(n):
            tmp[i] = 0.0
        for k in range(nm):
            re[k], im[k], cr[k], ci[k] = mst[s, k, 0], mst[s, k, 1], mst[s, k, 2], mst[s, k, 3]
            amp[k], lim[k] = modes[s, k, M_AMP], modes[s, k, M_END] - t0
        nal = nm
        i = 0
        while i < n and nal > 0:
            since = t0 + i - tb
            stop = n
            if 0.0 <= since <= benddur + BEND_TICK:
                phase = int(since) % BEND_TICK
                if phase == 0:
                    delta = bend0 * math.exp(-since * bendk) if since < benddur else 0.0
                    for k in range(nal):
                        w, r = modes[s, k, M_W] * (1.0 + delta), modes[s, k, M_R]
                        cr[k] = r * math.cos(w)
                        ci[k] = r * math.sin(w)
                stop = min(n, i + BEND_TICK - phase)
            nal = _bank(re, im, cr, ci, amp, lim, nal, i, stop, exc[s], et0, exclen, tmp)
            i = stop
        for k in range(nm):
            if k >= nal:  # ended (possibly inside this block)
                re[k] = 0.0
                im[k] = 0.0
            mst[s, k, 0], mst[s, k, 1], mst[s, k, 2], mst[s, k, 3] = re[k], im[k], cr[k], ci[k]
        lev_l, lev_r, end, endd = p[P_LEVEL_L], p[P_LEVEL_R], p[P_END], p[P_ENDD]
        ch, chd, t = st[s, S_CH], st[s, S_CHD], t0
        for i in range(n):
            a = ch * ch * (3.0 - 2.0 * ch)  # smoothstep fade: no slope step at either end
            out[0, i] += lev_l * a * tmp[i]
            out[1, i] += lev_r * a * tmp[i]
            t += 1.0
            if t >= end and chd == 0.0:
                chd = endd
            if chd > 0.0:
                ch -= chd
                if ch <= 0.0:
                    ch = 0.0
                    active[s] = False
                    break
        st[s, S_T], st[s, S_ET], st[s, S_CH], st[s, S_CHD] = t0 + n, et0 + n, ch, chd


def strike_pulse(contact_s: float, sample_rate: int, area: float = 1.0) -> np.ndarray:
    """Mallet force: a Hann pulse lasting ``contact_s`` with sum ``area`` (|X(f)| ~ area below 1/contact)."""
    m = max(1, int(round(contact_s * sample_rate)))
    x = np.sin(np.pi * (np.arange(m) + 1.0) / (m + 1.0)) ** 2
    return x * (area / x.sum())


def modal_modes(material: str, f0_hz: float, sample_rate: int, *, decay: float = 1.0,
                stretch: float = 0.0, damping_hf: float = 0.2) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Mode frequencies (Hz), T60s (s) and amplitudes of ``material`` struck at ``f0_hz``.

    Modes at or above 0.45 ``sample_rate`` are left out (no aliasing).

    Examples
    --------
    >>> f, t60, a = modal_modes("bar", 100.0, 44100)
    >>> f.round(1)
    array([ 100. ,  275.6,  540.4,  893.3, 1334. ])
    """
    ratios, amps, t60s = (np.asarray(v, dtype=np.float64) for v in MATERIALS[material])
    ratios = ratios ** (1.0 + stretch)
    size = min(max(math.sqrt(261.63 / f0_hz), 0.35), 2.5)
    t60 = t60s * decay * size / (1.0 + damping_hf * np.maximum(ratios - 1.0, 0.0))
    freqs = f0_hz * ratios
    keep = freqs < 0.45 * sample_rate
    return freqs[keep], t60[keep], amps[keep]


class ModalInstrument(Instrument):
    """Shared engine: per-voice resonator banks, strike pulses, re-strikes, fades, the kernel.

    Subclasses implement :meth:`_design` -> ``(freqs_hz, t60_s, amps, contact_s, bend)``.
    """

    def __init__(self, sample_rate: int, *, params: Mapping[str, float | str] | None = None,
                 rng: np.random.Generator | None = None, voices: int | None = None) -> None:
        super().__init__(sample_rate, params=params, rng=rng, voices=voices)
        sr = self.sample_rate
        self._slots = self.voices + 4
        self._exc_cap = int(0.03 * sr) + 4
        self._seed = int(self.rng.integers(0, 2 ** 63))
        self._endd = self._fade(END_FADE_MS)
        self._steal = self._fade(STEAL_MS)
        self.reset()

    def _fade(self, fade_ms: float) -> float:
        """Per-sample step of a fade lasting ``fade_ms`` (the fade ramp runs 1 -> 0, smoothstepped)."""
        return 1.0 / max(fade_ms * 1e-3 * self.sample_rate, 1.0)

    def _design(self, f0_hz: float, vel: float) -> tuple[np.ndarray, np.ndarray, np.ndarray, float, float]:
        raise NotImplementedError  # pragma: no cover - interface

    #: Time constant of the pitch bend, s (subclasses with a bend set it).
    BEND_TIME_S: ClassVar[float] = 0.1

    def reset(self) -> None:
        """Silence every voice (equals a fresh instance)."""
        s = self._slots
        self._active = np.zeros(s, dtype=np.bool_)
        self._prm = np.zeros((s, N_PRM))
        self._st = np.zeros((s, N_ST))
        self._modes = np.zeros((s, MAX_MODES, 4))
        self._mst = np.zeros((s, MAX_MODES, 4))
        self._exc = np.zeros((s, self._exc_cap))
        self._f0 = np.zeros(s)
        self._order = np.zeros(s, dtype=np.int64)
        self._hits = 0
        self._tmp = np.zeros(0)
        self._scratch = np.zeros((6, MAX_MODES))

    @property
    def is_silent(self) -> bool:
        return not bool(self._active.any())

    def note_off(self, note_id: int) -> None:
        """Struck objects ring on: ``note_off`` is ignored."""

    def note_on(self, note_id: int, pitch: float, velocity: float, voice: str | None = None) -> None:
        """Strike at ``pitch`` (fractional MIDI); re-strikes a still-ringing voice of that pitch."""
        sr = self.sample_rate
        vel = min(max(float(velocity), 0.0), 1.0)
        f0 = min(max(440.0 * 2.0 ** ((float(pitch) - 69.0) / 12.0), 10.0), 0.4 * sr)
        freqs, t60, amps, contact_s, bend = self._design(f0, vel)
        order = np.argsort(-t60, kind="stable")[:MAX_MODES]  # longest first: alive modes are a prefix
        freqs, t60, amps = freqs[order], t60[order], amps[order]
        force = strike_pulse(contact_s, sr, area=vel ** 1.2)
        live = self._active & (self._st[:, S_CHD] == 0.0)
        same = np.flatnonzero(live & (np.abs(1200.0 * np.log2(np.maximum(self._f0, 1e-9) / f0)) < RESTRIKE_CENTS))
        self._hits += 1
        if same.size:
            self._restrike(int(same[0]), force, t60, bend)
            return
        if live.sum() >= self.voices:  # polyphony: fade the oldest ringing voice
            idx = np.flatnonzero(live)
            self._st[idx[np.argmin(self._order[idx])], S_CHD] = self._steal
        idle = np.flatnonzero(~self._active)
        slot = int(idle[0]) if idle.size else int(np.argmin(self._st[:, S_CH]))
        self._order[slot] = self._hits
        self._f0[slot] = f0
        nm = freqs.size
        w = 2.0 * np.pi * freqs / sr
        r = 10.0 ** (-3.0 / (t60 * sr))
        m = self._modes[slot]
        m[:] = 0.0
        m[:nm, M_W], m[:nm, M_R] = w, r
        # the strike point differs from hit to hit: each mode shape's value there gives the
        # mode's sign and a +-10% weight (seeded per hit; also decorrelates simultaneous strikes)
        hit_rng = np.random.default_rng((self._seed, self._hits))
        signs = np.where(hit_rng.random(nm) < 0.5, -1.0, 1.0)
        weights = 1.0 + 0.2 * (hit_rng.random(nm) - 0.5)
        m[:nm, M_AMP] = signs * weights * amps / max(math.sqrt(float(np.sum(amps ** 2))), 1e-12)
        m[:nm, M_END] = t60 * (MODE_FLOOR_DB / 60.0) * sr
        ms = self._mst[slot]
        ms[:] = 0.0
        ms[:nm, 2], ms[:nm, 3] = r * np.cos(w), r * np.sin(w)
        pos = 0.6 * (2.0 * ((self._hits * 0.618034) % 1.0) - 1.0) if self.SPREAD else 0.0
        pan = equal_power_pan(pos) * math.sqrt(2.0)
        p = self._prm[slot]
        p[:] = 0.0
        level = self._level()
        p[P_LEVEL_L], p[P_LEVEL_R] = level * pan[0], level * pan[1]
        p[P_NMODES] = nm
        p[P_END] = float(t60.max(initial=0.01)) * (VOICE_END_DB / 60.0) * sr
        p[P_ENDD] = self._endd
        self._set_bend(p, bend, 0.0)
        st = self._st[slot]
        st[:] = 0.0
        st[S_CH], st[S_CHD] = 1.0, 0.0
        self._exc[slot] = 0.0
        self._exc[slot, :force.size] = force
        p[P_EXCLEN] = force.size
        self._active[slot] = True

    #: Spread successive voices across the stereo field (golden-ratio positions).
    SPREAD: ClassVar[bool] = True
    #: Output level of a voice at velocity 1 (before the mode-amplitude normalization).
    VOICE_LEVEL: ClassVar[float] = LEVEL

    def _level(self) -> float:
        """Voice output level at velocity 1."""
        return self.VOICE_LEVEL

    def _set_bend(self, p: np.ndarray, bend: float, start: float) -> None:
        """Bend (relative frequency offset) ``bend`` decaying from age ``start``."""
        p[P_BEND], p[P_TB] = bend, start
        if bend > 0.0:
            p[P_BENDK] = 1.0 / (self.BEND_TIME_S * self.sample_rate)
            # until the offset is below 1e-7 (0.0002 cents): then exactly 0
            dur = math.log(bend / 1e-7) * self.BEND_TIME_S * self.sample_rate
            p[P_BENDDUR] = BEND_TICK * math.ceil(dur / BEND_TICK)
        else:
            p[P_BENDK], p[P_BENDDUR] = 0.0, -2.0 * BEND_TICK  # never ticks

    def _restrike(self, slot: int, force: np.ndarray, t60: np.ndarray, bend: float) -> None:
        """Add a new strike to a sounding voice: the remaining force plus the new pulse."""
        sr = self.sample_rate
        st, p = self._st[slot], self._prm[slot]
        age, et, exclen = st[S_T], int(st[S_ET]), int(p[P_EXCLEN])
        rest = self._exc[slot, et:exclen].copy() if et < exclen else np.zeros(0)
        size = max(rest.size, force.size)
        new = np.zeros(size)
        new[:rest.size] += rest
        new[:force.size] += force
        self._exc[slot] = 0.0
        self._exc[slot, :size] = new
        p[P_EXCLEN] = size
        st[S_ET] = 0.0
        nm = int(p[P_NMODES])
        ends = age + t60[:nm] * (MODE_FLOOR_DB / 60.0) * sr
        self._modes[slot, :nm, M_END] = np.maximum(self._modes[slot, :nm, M_END], ends)
        p[P_END] = max(p[P_END], age + float(t60.max(initial=0.01)) * (VOICE_END_DB / 60.0) * sr)
        if bend > 0.0:
            since = age - p[P_TB]
            now = p[P_BEND] * math.exp(-since * p[P_BENDK]) if 0.0 <= since < p[P_BENDDUR] else 0.0
            self._set_bend(p, min(now + bend, 2.0 * bend), age)

    def process(self, n: int) -> np.ndarray:
        """Render the next ``n`` frames; returns stereo ``(2, n)`` float64."""
        n = int(n)
        out = np.zeros((2, n))
        if n and self._active.any():
            if self._tmp.size < n:
                self._tmp = np.zeros(n)
            _modal_kernel(self._active, self._prm, self._st, self._modes, self._mst, self._exc,
                          self._tmp, self._scratch, out)
        return out


@register("modal_metal")
class ModalMetal(ModalInstrument):
    """Struck metal by modal synthesis: bell, bar, plate, anvil, hammer mode tables.

    Examples
    --------
    >>> m = ModalMetal(44100, params={"material": "bell"})
    >>> m.note_on(1, 60.0, 1.0)
    >>> m.process(441).shape
    (2, 441)
    """

    FAMILY: ClassVar[str] = "percussion"
    DOC: ClassVar[str] = "modal synthesis of struck metal: bell, bar, plate, anvil, hammer"
    DEFAULT_VOICES: ClassVar[int] = 16
    DEMO: ClassVar[str] = "c5:4 g4:4 e5:2 <c4 g4>:2 c5:1"
    PARAMS: ClassVar[tuple[Param, ...]] = (
        Param("material", "bell", choices=tuple(MATERIALS), doc="mode table: bell, bar, plate, anvil, hammer"),
        Param("decay", 1.0, 0.1, 4.0, doc="multiplies every mode's T60"),
        Param("hardness", 0.6, 0.0, 1.0, doc="mallet hardness: shorter contact, brighter strike"),
        Param("stretch", 0.0, 0.0, 0.2, doc="inharmonicity: ratios ** (1 + stretch)"),
        Param("damping_hf", 0.2, 0.0, 1.0, doc="upper modes decay faster: T60 / (1 + d (ratio - 1))"),
    )

    def _design(self, f0_hz: float, vel: float) -> tuple[np.ndarray, np.ndarray, np.ndarray, float, float]:
        freqs, t60, amps = modal_modes(str(self.params["material"]), f0_hz, self.sample_rate,
                                       decay=float(self.params["decay"]), stretch=float(self.params["stretch"]),
                                       damping_hf=float(self.params["damping_hf"]))
        return freqs, t60, amps, contact_time_s(float(self.params["hardness"]), vel), 0.0

    def _level(self) -> float:
        return LEVEL * MATERIAL_GAIN[str(self.params["material"])]


def contact_time_s(hardness: float, vel: float, soft_s: float = 3e-3, hard_s: float = 1e-4) -> float:
    """Mallet contact time: ``soft_s`` at hardness 0 to ``hard_s`` at 1 (geometric), shorter for harder hits.

    Examples
    --------
    >>> round(contact_time_s(1.0, 1.0) * 1e3, 3)
    0.1
    """
    return soft_s * (hard_s / soft_s) ** hardness * (1.3 - 0.3 * vel)

"""A plucked string: the extended Karplus-Strong algorithm (harp, machine guitar, clav).

Model
-----
Karplus & Strong, "Digital synthesis of plucked-string and drum timbres" (CMJ 7(2), 1983),
extended by Jaffe & Smith, "Extensions of the Karplus-Strong plucked-string algorithm"
(CMJ 7(2), 1983); see also J. O. Smith, *Physical Audio Signal Processing* (PASP), "Extended
Karplus-Strong Algorithm". Per voice, a loop of total delay ``N = sample_rate / f0``:

    v[n] = e[n] + g * (b u[n] + (1 - 2b) u[n-1] + b u[n-2]),   u = A(z) z^-D v

- ``z^-D``: an integer delay line (power-of-two ring buffer);
- ``A(z) = (c + z^-1) / (1 + c z^-1)``: first-order allpass for the fractional part (Jaffe &
  Smith sec. "tuning"). Its coefficient is solved *exactly* at the fundamental
  (``c = sin(w (1 - d) / 2) / sin(w (1 + d) / 2)`` gives phase delay ``d`` at ``w``, with ``d``
  in [0.5, 1.5)), so the pitch is exact, not only at low frequencies;
- the loss filter: a symmetric three-tap FIR (PASP "loop filter": linear phase, delay exactly
  one sample at every frequency, so it never detunes), gain ``1 - 2b (1 - cos w)`` falling
  with frequency (``b`` in [0, 1/4]: brightness), times ``g`` chosen so the loop gain at the
  fundamental is ``10^(-3 / (f0 T60))``: the fundamental falls 60 dB in ``decay_s``;
- the excitation ``e``: one period of seeded noise (random phases) whose harmonic levels follow
  a one-pole low-pass set by ``brightness`` and by the velocity (the Jaffe-Smith *dynamic
  level* low-pass: soft plucks are darker), faded at both ends (0.5 ms), through the
  *pick-position comb* ``1 - z^-(beta N)`` (fractional, linear
  interpolation), which removes the harmonics at multiples of ``1 / beta`` as a pluck at
  ``beta`` of the string length does.

``note_off`` damps the string: the loop gain and brightness glide (2 ms) to a finger-damped
loss (T60 = ``release_ms``), and an output fade reaches exact zero after ``release_ms``.
A string left ringing fades out once its fundamental is ~96 dB down (1.6 ``decay_s``).
The ``body`` sets the flavour: ``harp`` (bright, long, no body), ``guitar`` (shorter, two
body resonances near the air and top-plate modes, ~100 and ~200 Hz; Fletcher & Rossing,
*The Physics of Musical Instruments*, ch. 9), ``clav`` (short, bright, a nasal 1.2 kHz
resonance). One numba kernel renders all voices, then the body (stereo RBJ band-passes).
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

#: Output fades are offset by EPS so they reach exact zero at -60 dB.
EPS = 1e-3
#: Ring buffer length: holds a period down to sample_rate / 4000 Hz (12 Hz at 48 kHz).
DELAY_CAPACITY = 4096
#: Loop gain / brightness glide at note_off, ms.
DAMP_GLIDE_MS = 2.0
#: Fade of a string left ringing (after 1.6 decay_s) and of a stolen voice, ms (T60).
END_FADE_MS = 60.0
STEAL_MS = 6.0
#: Each voice (not only the loudest) fades when its fundamental is this many T60s down.
END_AFTER_T60 = 1.6

#: body -> (decay multiplier, brightness offset, ((freq_hz, q, gain), ...) resonances, dry gain,
#: output gain)
BODIES: dict[str, tuple[float, float, tuple[tuple[float, float, float], ...], float, float]] = {
    "harp": (1.0, 0.1, (), 1.0, 1.0),
    "guitar": (0.45, -0.05, ((102.0, 6.0, 1.6), (204.0, 9.0, 1.1)), 0.8, 1.2),
    "clav": (0.18, 0.25, ((1200.0, 1.4, 0.9),), 0.7, 1.15),
}
#: Voice level at velocity 1 for a unit-RMS pluck (a single note peaks ~0.35-0.45).
LEVEL = 0.11

# per-slot constants
P_D, P_C, P_LEVEL_L, P_LEVEL_R, P_EXCLEN, P_END, P_GK, P_ENDD = range(8)
N_PRM = 8
# per-slot state
S_W, S_D1, S_U1, S_UM1, S_UM2, S_G, S_B, S_GT, S_BT, S_CH, S_CHD, S_T = range(12)
N_ST = 12


@numba.njit(cache=True)
def _pluck_kernel(active, prm, st, buf, exc, body, bst, dry, out):  # pragma: no cover - jit
    """Add every active string's next ``n`` samples to ``out`` (2, n), then apply the body.

    ``active`` (slots,) bool (cleared when a fade reaches zero), ``prm`` (slots, N_PRM),
    ``st`` (slots, N_ST), ``buf`` (slots, DELAY_CAPACITY) ring buffers, ``exc`` (slots, E)
    excitations, ``body`` (resonances, 5) rows ``[b0, b2, a1, a2, gain]`` of RBJ band-passes
    (b1 = 0), ``bst`` (2, resonances, 2) their TDF-II states, ``dry`` the direct-path gain.
    """
    n = out.shape[1]
    mask = buf.shape[1] - 1
    for s in range(active.shape[0]):
        if not active[s]:
            continue
        p = prm[s]
        d = int(p[P_D])
        c, lev_l, lev_r, exclen = p[P_C], p[P_LEVEL_L], p[P_LEVEL_R], p[P_EXCLEN]
        end, gk, endd = p[P_END], p[P_GK], p[P_ENDD]
        w = int(st[s, S_W])
        d1, u1, um1, um2 = st[s, S_D1], st[s, S_U1], st[s, S_UM1], st[s, S_UM2]
        g, b, gt, bt = st[s, S_G], st[s, S_B], st[s, S_GT], st[s, S_BT]
        ch, chd, t = st[s, S_CH], st[s, S_CHD], st[s, S_T]
        row = buf[s]
        for i in range(n):
            x = row[(w - d) & mask]
            u = c * x + d1 - c * u1            # fractional-delay allpass (Jaffe & Smith)
            d1 = x
            u1 = u
            v = g * (b * u + (1.0 - 2.0 * b) * um1 + b * um2)  # linear-phase loss FIR
            um2 = um1
            um1 = u
            if t < exclen:
                v += exc[s, int(t)]
            row[w & mask] = v
            w = (w + 1) & mask
            amp = (ch - EPS) * (1.0 / (1.0 - EPS)) if ch > EPS else 0.0
            out[0, i] += lev_l * amp * v
            out[1, i] += lev_r * amp * v
            g += (gt - g) * gk
            b += (bt - b) * gk
            ch *= chd
            t += 1.0
            if t >= end and chd == 1.0:
                chd = endd
            if chd < 1.0 and ch <= EPS:
                active[s] = False
                break
        st[s, S_W] = w
        st[s, S_D1], st[s, S_U1], st[s, S_UM1], st[s, S_UM2] = d1, u1, um1, um2
        st[s, S_G], st[s, S_B], st[s, S_GT], st[s, S_BT] = g, b, gt, bt
        st[s, S_CH], st[s, S_CHD], st[s, S_T] = ch, chd, t
    nres = body.shape[0]
    if nres == 0:
        return
    for k in range(2):
        for i in range(n):
            x = out[k, i]
            y = dry * x
            for r in range(nres):
                s1, s2 = bst[k, r, 0], bst[k, r, 1]
                yr = body[r, 0] * x + s1
                s1 = -body[r, 2] * yr + s2
                s2 = body[r, 1] * x - body[r, 3] * yr
                if x == 0.0 and abs(s1) + abs(s2) < 1e-11:
                    s1 = 0.0  # snap a dead tail to exact zero (per sample: split-invariant)
                    s2 = 0.0
                bst[k, r, 0], bst[k, r, 1] = s1, s2
                y += body[r, 4] * yr
            out[k, i] = y


def allpass_coefficient(delay: float, w: float) -> float:
    """First-order allpass coefficient with phase delay exactly ``delay`` samples at ``w`` rad/sample.

    ``arg A(e^jw) = -w + 2 atan2(c sin w, 1 + c cos w)``; solving ``-arg / w = delay`` gives
    ``c = sin(w (1 - delay) / 2) / sin(w (1 + delay) / 2)`` (-> ``(1 - d) / (1 + d)``, the
    Thiran/Jaffe-Smith value, as ``w -> 0``).

    Examples
    --------
    >>> round(allpass_coefficient(0.5, 1e-6), 6)
    0.333333
    """
    return math.sin(0.5 * w * (1.0 - delay)) / math.sin(0.5 * w * (1.0 + delay))


def loop_design(f0_hz: float, sample_rate: int, decay_s: float, loss_b: float) -> tuple[int, float, float, float]:
    """Loop constants ``(D, c, g, b)`` for fundamental ``f0_hz`` and T60 ``decay_s`` of it.

    Total loop delay ``N = sample_rate / f0 = D + d + 1`` (integer line, allpass ``d`` in
    [0.5, 1.5), loss FIR 1). ``b`` is limited so that the FIR alone never loses more than the
    T60 asks (then ``g <= 1``: the DC loop gain never exceeds 1).
    """
    n_loop = sample_rate / f0_hz
    w = 2.0 * math.pi * f0_hz / sample_rate
    d_int = int(math.floor(n_loop - 1.5))
    frac = n_loop - 1.0 - d_int
    c = allpass_coefficient(frac, w)
    target = 10.0 ** (-3.0 / (f0_hz * decay_s))          # loop gain per period at f0
    shelf = 2.0 * (1.0 - math.cos(w))
    b = min(loss_b, (1.0 - target) / shelf if shelf > 0 else loss_b, 0.25)
    g = target / (1.0 - b * shelf)
    return d_int, c, min(g, 1.0), b


@register("pluck")
class Pluck(Instrument):
    """Plucked string (extended Karplus-Strong): exact pitch, fundamental T60 = ``decay_s``.

    ``note_on`` plucks a free string; ``note_off`` damps it (silent ``release_ms`` later).
    ``brightness`` opens the pluck filter and lightens the loop loss; ``pick_position``
    (fraction of the string) notches harmonics at multiples of its inverse.

    Examples
    --------
    >>> p = Pluck(44100)
    >>> p.note_on(1, 57.0, 1.0)
    >>> p.process(441).shape
    (2, 441)
    """

    FAMILY: ClassVar[str] = "plucked"
    DOC: ClassVar[str] = "Karplus-Strong plucked string: harp, machine guitar, clav"
    DEFAULT_VOICES: ClassVar[int] = 12
    DEMO: ClassVar[str] = "<c3 g3 e4>:2 d4:8 e4:8 g4:4 c5:4 <a2 e3 c4>:1"
    PARAMS: ClassVar[tuple[Param, ...]] = (
        Param("body", "harp", choices=tuple(BODIES), doc="harp (long, bright), guitar (body resonances), clav (short)"),
        Param("decay_s", 4.0, 0.1, 20.0, doc="T60 of the fundamental (s), scaled by the body"),
        Param("brightness", 0.6, 0.0, 1.0, doc="pluck filter and loop loss: 0 dark, 1 bright"),
        Param("pick_position", 0.13, 0.02, 0.5, doc="pluck point / string length (notches k/pick)"),
        Param("release_ms", 150.0, 5.0, 2000.0, doc="damping after note_off until silence (ms)"),
    )

    def __init__(self, sample_rate: int, *, params: Mapping[str, float | str] | None = None,
                 rng: np.random.Generator | None = None, voices: int | None = None) -> None:
        super().__init__(sample_rate, params=params, rng=rng, voices=voices)
        sr = float(self.sample_rate)
        self._slots = 2 * self.voices + 2  # room for damped strings still fading
        self._seed = int(self.rng.integers(0, 2 ** 63))
        decay_mult, bright_offset, resonances, self._dry, self._gain = BODIES[str(self.params["body"])]
        self._decay = float(self.params["decay_s"]) * decay_mult
        self._bright = min(max(float(self.params["brightness"]) + bright_offset, 0.0), 1.0)
        self._body = np.zeros((len(resonances), 5))
        for r, (f, q, gain) in enumerate(resonances):  # RBJ cookbook BPF, 0 dB peak gain
            w = 2.0 * math.pi * f / sr
            alpha = math.sin(w) / (2.0 * q)
            a0 = 1.0 + alpha
            self._body[r] = [alpha / a0, -alpha / a0, -2.0 * math.cos(w) / a0, (1.0 - alpha) / a0, gain]
        self._gk = 1.0 - math.exp(-1.0 / (DAMP_GLIDE_MS * 1e-3 * sr))
        self._exc_cap = DELAY_CAPACITY + DELAY_CAPACITY // 2 + 4
        self.reset()

    def _fade(self, t60_ms: float) -> float:
        """Per-sample multiplier falling 60 dB (to EPS) in ``t60_ms``."""
        return math.exp(math.log(EPS) / max(t60_ms * 1e-3 * self.sample_rate, 1.0))

    # ------------------------------------------------------------------ lifecycle
    def reset(self) -> None:
        """Silence every string and rewind the pluck noise (equals a fresh instance)."""
        s = self._slots
        self._active = np.zeros(s, dtype=np.bool_)
        self._prm = np.zeros((s, N_PRM))
        self._st = np.zeros((s, N_ST))
        self._buf = np.zeros((s, DELAY_CAPACITY))
        self._exc = np.zeros((s, self._exc_cap))
        self._bst = np.zeros((2, self._body.shape[0], 2))
        self._note_of = np.full(s, -1, dtype=np.int64)
        self._order = np.zeros(s, dtype=np.int64)
        self._freq = np.ones(s)
        self._plucks = 0

    @property
    def is_silent(self) -> bool:
        return not bool(self._active.any()) and not bool(self._bst.any())

    # ------------------------------------------------------------------ events
    def note_on(self, note_id: int, pitch: float, velocity: float, voice: str | None = None) -> None:
        """Pluck a string at ``pitch`` (fractional MIDI) with ``velocity`` in [0, 1]."""
        sr = self.sample_rate
        vel = min(max(float(velocity), 0.0), 1.0)
        f0 = min(max(440.0 * 2.0 ** ((float(pitch) - 69.0) / 12.0), sr / 4000.0), sr / 5.0)
        self._limit_polyphony()
        slot = self._free_slot()
        self._plucks += 1
        self._note_of[slot] = note_id
        self._order[slot] = self._plucks
        self._freq[slot] = f0
        loss_b = 0.25 * (1.0 - self._bright) ** 1.5
        d_int, c, g, b = loop_design(f0, sr, self._decay, loss_b)
        exc = self._excitation(f0, vel)
        pan = equal_power_pan(0.5 * min(max((float(pitch) - 60.0) / 36.0, -1.0), 1.0))
        level = LEVEL * self._gain * vel ** 0.8
        p = self._prm[slot]
        p[P_D], p[P_C] = d_int, c
        p[P_LEVEL_L], p[P_LEVEL_R] = level * pan[0] * math.sqrt(2.0), level * pan[1] * math.sqrt(2.0)
        p[P_EXCLEN] = exc.size
        p[P_END] = END_AFTER_T60 * self._decay * sr
        p[P_GK] = self._gk
        p[P_ENDD] = self._fade(END_FADE_MS)
        st = self._st[slot]
        st[:] = 0.0
        st[S_G] = st[S_GT] = g
        st[S_B] = st[S_BT] = b
        st[S_CH], st[S_CHD] = 1.0, 1.0
        self._buf[slot] = 0.0
        self._exc[slot, :exc.size] = exc
        self._active[slot] = True

    def note_off(self, note_id: int) -> None:
        """Damp the string playing ``note_id`` (unknown ids are ignored)."""
        hits = np.flatnonzero((self._note_of == note_id) & self._active)
        self._note_of[self._note_of == note_id] = -1
        if not hits.size:
            return
        slot = int(hits[0])
        release_ms = float(self.params["release_ms"])
        st = self._st[slot]
        if st[S_CHD] < 1.0:
            return  # already fading (stolen or ended)
        f0 = self._freq[slot]
        _, _, g, b = loop_design(f0, self.sample_rate, release_ms * 1e-3, 0.25)
        st[S_GT], st[S_BT] = g, b
        st[S_CHD] = self._fade(release_ms)

    def _limit_polyphony(self) -> None:
        """Fade the oldest undamped string when ``voices`` strings already ring undamped."""
        live = self._active & (self._st[:, S_CHD] == 1.0)
        if live.sum() >= self.voices:
            idx = np.flatnonzero(live)
            self._st[idx[np.argmin(self._order[idx])], S_CHD] = self._fade(STEAL_MS)

    def _free_slot(self) -> int:
        idle = np.flatnonzero(~self._active)
        if idle.size:
            return int(idle[0])
        return int(np.argmin(self._st[:, S_CH]))  # every slot fading: reuse the quietest

    def _excitation(self, f0: float, vel: float) -> np.ndarray:
        """One period of seeded noise with a low-pass magnitude, edge-faded, through the pick comb; RMS 1."""
        sr = self.sample_rate
        rng = np.random.default_rng((self._seed, self._plucks))
        n_loop = sr / f0
        period = max(4, int(round(n_loop)))
        # Noise with random phases and a one-pole low-pass magnitude |H| = 1 / sqrt(1 + (f/fc)^2)
        # (the brightness and velocity "dynamic level" low-pass of Jaffe & Smith): every harmonic
        # gets the filter's level, so no harmonic (e.g. the fundamental) is lost to a bad draw.
        cutoff = 250.0 * 64.0 ** self._bright * 2.0 ** (-2.5 * (1.0 - vel))
        k = np.arange(period // 2 + 1)
        mag = 1.0 / np.sqrt(1.0 + (k * (sr / period) / cutoff) ** 2)
        mag[0] = 0.0  # no DC: the loop would hold it for the whole note
        if period % 2 == 0:
            mag[-1] = 0.0
        y = np.fft.irfft(mag * np.exp(2j * np.pi * rng.random(k.size)), period)
        m_fade = max(1, min(period // 8, int(0.0005 * sr)))  # no step at the onset
        fade = np.sin(0.5 * np.pi * (np.arange(m_fade) + 0.5) / m_fade) ** 2
        y[:m_fade] *= fade
        y[-m_fade:] *= fade[::-1]
        # pick-position comb 1 - z^-(beta N), fractional delay by linear interpolation
        delay = float(self.params["pick_position"]) * n_loop
        m = int(math.floor(delay))
        f = delay - m
        e = np.zeros(period + m + 1)
        e[:period] += y
        e[m:m + period] -= (1.0 - f) * y
        e[m + 1:m + 1 + period] -= f * y
        # unit RMS (over the pluck): loudness independent of the noise draw's peak
        return e / max(math.sqrt(float(np.mean(e * e))), 1e-12)

    # ------------------------------------------------------------------ audio
    def process(self, n: int) -> np.ndarray:
        """Render the next ``n`` frames; returns stereo ``(2, n)`` float64."""
        n = int(n)
        out = np.zeros((2, n))
        if n and not self.is_silent:
            _pluck_kernel(self._active, self._prm, self._st, self._buf, self._exc, self._body,
                          self._bst, self._dry, out)
        return out

"""Risers and falls for transitions: swept resonant noise plus a gliding supersaw.

:class:`Riser` (``riser``): from its note start, a voice sweeps over ``sweep_ms``

- noise through a resonant band-pass (TPT SVF, A. Simper, "Linear Trapezoidal Integrated
  SVF", Cytomic 2013) whose centre moves exponentially from ``start_hz`` to ``end_hz``;
  the band-passed noise is scaled by ``sqrt(q * 1 kHz / fc)`` so its power does not
  change with the centre (white noise through a band of width ``fc / q`` has power
  proportional to ``fc / q``): the amplitude curve alone sets the loudness ramp;
- a 3-saw supersaw (polyBLEP, Valimaki & Huovilainen 2007; +-7 cents, spread in stereo)
  gliding exponentially from the note pitch to ``pitch + sweep_semitones``;
- an amplitude ramp ``s ** curve``, ``s`` the sweep position in [0, 1].

Filter coefficients are updated, and the amplitude ramp and saw frequency interpolated
linearly, every 16 frames of voice time (exact functions of the frame count since the
note start, hence split invariant).

``direction = "down"`` plays the same trajectories backwards in time (a fall is a
reversed riser): the band-pass moves from ``end_hz`` to ``start_hz``, the saws from
``pitch + sweep_semitones`` to the pitch, and the amplitude falls as ``(1 - s) ** curve``.
After ``sweep_ms`` everything holds its final value until ``note_off``, which starts a
300 ms release. Noise comes from per-voice xorshift64* streams reseeded at each note start
(see :mod:`symphony.instruments.noise`), so the output is block-split invariant.
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit

from symphony.dsp.base import midi_to_hz
from symphony.dsp.envelopes import AdsrEnvelope
from symphony.instruments import register
from symphony.instruments.noise import poly_blep_saw, splitmix64, svf_coefs, svf_tick, uniform
from symphony.instruments.poly import PolyInstrument, equal_power_pan
from symphony.params import Param

__all__ = ["Riser"]

#: Band-pass coefficients are recomputed every this many frames of voice time.
CONTROL = 16
#: Attack and release of the voice envelope, ms (the sweep's amplitude curve does the rest).
ATTACK_MS = 5.0
RELEASE_MS = 300.0
#: Supersaw detune ratios (+-7 cents), start phases and pan positions.
SAW_RATIO = 2.0 ** (np.array([0.0, -7.0, 7.0]) / 1200.0)
SAW_PHASE = np.array([0.0, 0.37, 0.71])
SAW_PAN = np.array([0.0, -0.6, 0.6])

# per-voice parameters
P_F0, P_GAIN, P_N, P_START, P_LOGR, P_SEMI, P_DOWN = range(7)
N_PRM = 7
# per-voice state: t, filter L (2), filter R (2), saw phases (3), a1, a2, a3, noise scale,
# then amplitude and saw frequency at the last control point and their per-frame slopes
S_T, S_FL, S_FR, S_PH, S_CA, S_AMP, S_DAMP, S_F, S_DF = 0, 1, 3, 5, 8, 12, 13, 14, 15
N_ST = 16


@njit(cache=True, inline="always")
def _position(t, inv_n, down):  # pragma: no cover - jit
    """Sweep position in [0, 1] at voice frame ``t`` along the 'up' trajectory."""
    pos = min(t * inv_n, 1.0)
    return 1.0 - pos if down else pos


@njit(cache=True, inline="always")
def _ramp(pos, curve):  # pragma: no cover - jit
    return math.exp(curve * math.log(pos)) if pos > 0.0 else 0.0


@njit(cache=True)
def riser_kernel(slots, env, prm, st, rng, glob, pan, out):  # pragma: no cover - jit
    """Add every active slot's sweep times its envelope into ``out`` (2, n).

    ``glob = [sample_rate, q, tone, curve]``; ``pan`` (2, 3) gains of the saws.
    """
    n = out.shape[1]
    sr = glob[0]
    q = glob[1]
    tone = glob[2]
    curve = glob[3]
    noise_mix = 1.0 - tone
    saw_mix = 0.45 * tone
    for s in slots:
        x = rng[s]
        v = st[s]
        p = prm[s]
        t = int(v[S_T])
        inv_n = 1.0 / p[P_N]
        down = p[P_DOWN] != 0.0
        for i in range(n):
            c = t % CONTROL
            if c == 0:
                # control point: filter coefficients; amplitude and saw frequency are
                # interpolated linearly to the next control point (a function of t only)
                pos = _position(t, inv_n, down)
                pos1 = _position(t + CONTROL, inv_n, down)
                fc = p[P_START] * math.exp(p[P_LOGR] * pos)
                a1, a2, a3, k = svf_coefs(fc, q, sr)
                v[S_CA], v[S_CA + 1], v[S_CA + 2] = a1, a2, a3
                # constant-peak band-pass (k * band) with power made independent of fc
                v[S_CA + 3] = k * math.sqrt(q * 1000.0 / min(max(fc, 10.0), 0.49 * sr)) * 1.5
                v[S_AMP] = _ramp(pos, curve)
                v[S_DAMP] = (_ramp(pos1, curve) - v[S_AMP]) / CONTROL
                v[S_F] = p[P_F0] * math.exp(p[P_SEMI] * pos) / sr
                v[S_DF] = (p[P_F0] * math.exp(p[P_SEMI] * pos1) / sr - v[S_F]) / CONTROL
            amp = v[S_AMP] + c * v[S_DAMP]
            x, u = uniform(x)
            bl, lp = svf_tick(2.0 * u - 1.0, v, S_FL, v[S_CA], v[S_CA + 1], v[S_CA + 2])
            x, u = uniform(x)
            br, lp = svf_tick(2.0 * u - 1.0, v, S_FR, v[S_CA], v[S_CA + 1], v[S_CA + 2])
            yl = noise_mix * v[S_CA + 3] * bl
            yr = noise_mix * v[S_CA + 3] * br
            if saw_mix != 0.0:
                f = v[S_F] + c * v[S_DF]  # cycles per sample
                for j in range(3):
                    dt = min(f * glob[4 + j], 0.45)
                    ph = v[S_PH + j]
                    y = saw_mix * poly_blep_saw(ph, dt)
                    yl += pan[0, j] * y
                    yr += pan[1, j] * y
                    ph += dt
                    v[S_PH + j] = ph - 1.0 if ph >= 1.0 else ph
            e = env[s, i] * p[P_GAIN] * amp
            out[0, i] += e * yl
            out[1, i] += e * yr
            t += 1
        v[S_T] = t
        rng[s] = x


@register("riser")
class Riser(PolyInstrument):
    """Transition riser / fall: resonant noise sweep ``start_hz -> end_hz`` + supersaw glide, ramped.

    The sweep runs ``sweep_ms`` from the note start (exponential in frequency, i.e.
    linear in octaves per second); the amplitude follows ``s ** curve`` (``up``) or
    ``(1 - s) ** curve`` (``down``, the time-reversed riser); ``tone`` cross-fades the
    noise (0) and the supersaw (1). Velocity scales the level linearly.

    Examples
    --------
    >>> r = Riser(22050, params={"sweep_ms": 500.0}, rng=np.random.default_rng(0))
    >>> r.note_on(1, 60.0, 1.0); r.process(256).shape
    (2, 256)
    """

    FAMILY = "texture"
    DEFAULT_VOICES = 4
    DOC = "Risers and falls: swept resonant noise + gliding supersaw with an amplitude ramp"
    DEMO = "c4:1"
    PARAMS = (
        Param("direction", "up", choices=("up", "down"), doc="up = rise, down = the reversed sweep"),
        Param("sweep_ms", 4000.0, 50.0, 30000.0, doc="length of the sweep from the note start, ms"),
        Param("start_hz", 200.0, 20.0, 20000.0, doc="noise band-pass centre at the sweep start (up)"),
        Param("end_hz", 8000.0, 20.0, 20000.0, doc="noise band-pass centre at the sweep end (up)"),
        Param("sweep_semitones", 12.0, -48.0, 48.0, doc="pitch glide of the supersaw from the note pitch"),
        Param("tone", 0.3, 0.0, 1.0, doc="0 = noise only, 1 = supersaw only"),
        Param("resonance", 0.4, 0.0, 1.0, doc="band-pass resonance (q 0.7 .. 12.7)"),
        Param("curve", 2.0, 0.2, 5.0, doc="exponent of the amplitude ramp"),
    )

    #: Output scale: a full-velocity note peaks near 0.5 at the loud end of the sweep.
    LEVEL = 0.6

    def _build(self) -> None:
        p = self.params
        sr = float(self.sample_rate)
        self._amp_env = AdsrEnvelope(self.sample_rate, voices=self.voices, attack_ms=ATTACK_MS,
                                     decay_ms=10.0, sustain=1.0, release_ms=RELEASE_MS)
        self._envs = [self._amp_env]
        self._seed = int(self.rng.integers(1, 2 ** 62))
        q = 0.7 + 12.0 * float(p["resonance"])
        self._glob = np.concatenate([[sr, q, float(p["tone"]), float(p["curve"])], SAW_RATIO])
        self._pan = np.ascontiguousarray(equal_power_pan(SAW_PAN) / math.sqrt(3.0) * math.sqrt(2.0))

    def _reset_dsp(self) -> None:
        self._prm = np.zeros((self.voices, N_PRM))
        self._st = np.zeros((self.voices, N_ST))
        self._rng_state = np.ones(self.voices, dtype=np.uint64)
        self._notes = 0

    def _start_voice(self, slot: int, pitch: float, velocity: float) -> None:
        p = self.params
        prm = self._prm[slot]
        prm[P_F0] = float(midi_to_hz(pitch))
        prm[P_GAIN] = self.LEVEL * velocity
        prm[P_N] = max(float(p["sweep_ms"]) * 1e-3 * self.sample_rate, 1.0)
        prm[P_START] = float(p["start_hz"])
        prm[P_LOGR] = math.log(float(p["end_hz"]) / float(p["start_hz"]))
        prm[P_SEMI] = float(p["sweep_semitones"]) * math.log(2.0) / 12.0
        prm[P_DOWN] = 1.0 if p["direction"] == "down" else 0.0
        st = self._st[slot]
        st[:] = 0.0
        st[S_PH:S_PH + 3] = SAW_PHASE
        self._notes += 1
        self._rng_state[slot] = np.uint64(splitmix64(self._seed + self._notes))

    def _render(self, n: int, active: np.ndarray, envs: list[np.ndarray]) -> np.ndarray:
        out = np.zeros((2, n))
        if active.size:
            riser_kernel(active.astype(np.int64), envs[0], self._prm, self._st, self._rng_state,
                         self._glob, self._pan, out)
        return out

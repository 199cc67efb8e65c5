"""Machine string ensemble (Solina / ARP String Ensemble style) on the shared poly engine.

:class:`StringEnsemble` is the "string section": per note a stack of detuned saws spread
in stereo, a pitch-tracking low-pass and an ensemble chorus (:class:`EnsembleChorus`).

Voice stealing: the stolen slot gets ``fast_release`` (:attr:`PolyInstrument.STEAL_MS`,
linear); the new note starts in that slot once the fade has reached exactly zero, at a
frame fixed by the ``note_on`` frame alone, so the result does not depend on how the span
is split into ``process`` calls (``process`` splits itself internally at those frames).

Block-size invariance with silence skipping: while :attr:`PolyInstrument.is_silent`,
``process`` returns zeros without touching any processor (and callers may skip it). That
is exact because (1) idle envelopes do not change, (2) every note start resets its slot's
oscillator phases and filter state, and (3) the only free-running clock, the chorus LFO,
counts frames from the ``note_on`` that ended the last silence.
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit

from symphony.dsp.base import midi_to_hz
from symphony.dsp.envelopes import AdsrEnvelope
from symphony.dsp.filters import MAX_CUTOFF_RATIO, MAX_Q, MIN_CUTOFF_HZ, MIN_Q, svf_gains, svf_step, tan_prewarp
from symphony.dsp.oscillators import BandlimitedOscillator
from symphony.instruments import register
from symphony.instruments.poly import (MIN_ATTACK_MS, MIN_RELEASE_MS, PolyInstrument,
                                       equal_power_pan, stack_rows)
from symphony.params import Param

__all__ = ["StringEnsemble", "EnsembleChorus"]

# --------------------------------------------------------------------------- chorus

#: Ensemble chorus taps (per channel): centre delay ms, slow sweep depth ms, slow rate Hz.
#: Two LFO speeds as in the Solina / Eminent ensemble circuits (a slow ~0.6 Hz sweep
#: plus a faster ~6 Hz shimmer); three taps with phases a third of a cycle apart.
_CHORUS_BASE_MS = np.array([6.0, 8.5, 11.0])
_CHORUS_DEPTH_MS = np.array([1.6, 2.0, 1.8])
_CHORUS_RATE_HZ = np.array([0.53, 0.71, 0.89])
_CHORUS_FAST_DEPTH_MS = 0.12
_CHORUS_FAST_RATE_HZ = 5.9
#: The LFOs are evaluated every this many frames of the instrument's frame clock and
#: interpolated linearly: cheap, and a function of that clock only (block splits give the
#: same samples).
_CHORUS_CONTROL = 32


@njit(cache=True)
def _chorus_delays(t, base, depth, rate, phase, fast_depth, fast_rate, inv_sr, out):  # pragma: no cover
    """Delay in samples of every (channel, tap) at absolute frame ``t``."""
    for c in range(phase.shape[0]):
        for k in range(phase.shape[1]):
            slow = math.sin(2.0 * math.pi * (rate[k] * t * inv_sr + phase[c, k]))
            fast = math.sin(2.0 * math.pi * (fast_rate * t * inv_sr + phase[c, k] * 2.0))
            out[c, k] = base[k] + depth[k] * slow + fast_depth * fast


@njit(cache=True, error_model="numpy")
def _chorus_kernel(x, out, buf, state, frame0, base, depth, rate, phase, fast_depth, fast_rate,
                   inv_sr, dry, wet, d0, d1):  # pragma: no cover - jit
    """Multi-tap modulated delay, linear interpolation; ``state = [write_pos, zero_run]``.

    Per channel ``y = dry * x + wet * mean_k x(t - d_k(t))`` with ``d_k`` from
    :func:`_chorus_delays` (Dattorro, "Effect Design part 2: Delay-line modulation and
    chorus", JAES 45(10), 1997). Writes before reading, so delays >= 1 sample are exact.
    """
    n = x.shape[1]
    n_ch, taps = phase.shape
    mask = buf.shape[1] - 1
    p = state[0]
    zero_run = state[1]
    ctl = _CHORUS_CONTROL
    inv_taps = 1.0 / taps
    i = 0
    while i < n:  # one run per control segment (no division per sample)
        t = frame0 + i
        s = t // ctl
        r0 = t - s * ctl
        run = min(ctl - r0, n - i)
        if i > 0:  # the next segment starts where this one ended: reuse its end delays
            for c in range(n_ch):
                for k in range(taps):
                    d0[c, k] = d1[c, k]
        else:
            _chorus_delays(float(s * ctl), base, depth, rate, phase, fast_depth, fast_rate, inv_sr, d0)
        _chorus_delays(float((s + 1) * ctl), base, depth, rate, phase, fast_depth, fast_rate, inv_sr, d1)
        for j in range(run):
            fr_t = (r0 + j) / ctl
            xl = x[0, i + j]
            xr = x[1, i + j]
            if xl == 0.0 and xr == 0.0:
                zero_run += 1
            else:
                zero_run = 0
            buf[0, p] = xl
            buf[1, p] = xr
            for c in range(n_ch):
                acc = 0.0
                for k in range(taps):
                    d = d0[c, k] + fr_t * (d1[c, k] - d0[c, k])
                    di = int(d)
                    fr = d - di
                    a = buf[c, (p - di) & mask]
                    b = buf[c, (p - di - 1) & mask]
                    acc += a + fr * (b - a)
                out[c, i + j] = dry * x[c, i + j] + wet * acc * inv_taps
            p = (p + 1) & mask
        i += run
    state[0] = p
    state[1] = zero_run


class EnsembleChorus:
    """Stereo ensemble chorus: 3 taps per channel swept by a slow and a fast sine LFO.

    The LFOs are functions of the frame counter passed to :meth:`process` (evaluated every
    32 frames of that counter, linear in between), so the output depends only on the
    input and the counter, never on the block split. ``amount`` 0 = dry,
    1 = half dry plus the full wet sum.

    Parameters
    ----------
    sample_rate : int
    amount : float in [0, 1]
    """

    def __init__(self, sample_rate: int, *, amount: float) -> None:
        self.sample_rate = int(sample_rate)
        self.amount = float(amount)
        fs = self.sample_rate
        self._base = _CHORUS_BASE_MS * 1e-3 * fs
        self._depth = _CHORUS_DEPTH_MS * 1e-3 * fs
        self._rate = _CHORUS_RATE_HZ.copy()
        # right channel taps a sixth of a cycle after the left ones: decorrelates L/R
        self._phase = np.array([[0.0, 1 / 3, 2 / 3], [1 / 6, 0.5, 5 / 6]])
        self._fast_depth = _CHORUS_FAST_DEPTH_MS * 1e-3 * fs
        max_delay = float(np.max(self._base + self._depth)) + self._fast_depth + 2.0
        self._size = 1 << int(math.ceil(math.log2(max_delay + 4)))
        self._dry = 1.0 - 0.5 * self.amount
        self._wet = 0.9 * self.amount
        self.reset()

    def reset(self) -> None:
        """Empty delay lines."""
        self._buf = np.zeros((2, self._size))
        self._state = np.array([0, self._size], dtype=np.int64)  # write pos, zero run
        self._d0 = np.zeros((2, 3))
        self._d1 = np.zeros((2, 3))

    @property
    def quiet(self) -> bool:
        """True when the delay lines hold only zeros (zero in -> zero out)."""
        return bool(self._state[1] >= self._size)

    def process(self, x: np.ndarray, frame0: int) -> np.ndarray:
        """Chorus a (2, n) block whose first sample is absolute frame ``frame0``."""
        x = np.ascontiguousarray(x, dtype=np.float64)
        out = np.empty_like(x)
        if x.shape[1]:
            _chorus_kernel(x, out, self._buf, self._state, int(frame0), self._base, self._depth,
                           self._rate, self._phase, self._fast_depth, _CHORUS_FAST_RATE_HZ,
                           1.0 / self.sample_rate, self._dry, self._wet, self._d0, self._d1)
        return out


# --------------------------------------------------------------------------- the ensemble

#: Resonance of the section's low-pass (q of the state-variable filter).
_SVF_Q = 0.75


@njit(cache=True)
def _ensemble_voices_kernel(saws, active, pan, pulses, pulse_gain, cutoff, sample_rate, s1, s2, env,
                            gain, out):  # pragma: no cover - jit
    """Pan, filter and sum the active voices into ``out`` (2, n) (overwritten).

    Per active slot ``v`` and channel ``ch``: ``x = sum_m pan[v & 1, ch, m] saws[3 v + m]``
    (plus ``pulse_gain * pulses[v]`` when ``pulse_gain`` is non-zero), then the TPT
    state-variable low-pass (:func:`symphony.dsp.filters.svf_step`, cutoff ``cutoff[v]``,
    q 0.75, states ``s1[v, ch]``, ``s2[v, ch]``), then ``out[ch] += y * env[v] * gain[v]``:
    the arithmetic of ``pan_stack_kernel`` + ``StateVariableFilter`` + the voice sum, in one
    pass without temporaries or a Python call per voice.
    """
    stack = pan.shape[2]
    n = out.shape[1]
    w = math.pi / sample_rate
    lo = MIN_CUTOFF_HZ
    hi = MAX_CUTOFF_RATIO * sample_rate
    k = 1.0 / min(max(_SVF_Q, MIN_Q), MAX_Q)
    for i in range(n):
        out[0, i] = 0.0
        out[1, i] = 0.0
    for j in range(active.shape[0]):
        v = active[j]
        p = pan[v & 1]
        g = tan_prewarp(w * min(max(cutoff[v], lo), hi))
        a1, a2, a3 = svf_gains(g, k)
        l1, l2, r1, r2 = s1[v, 0], s2[v, 0], s1[v, 1], s2[v, 1]
        gv = gain[v]
        for i in range(n):
            left = 0.0
            right = 0.0
            for m in range(stack):
                x = saws[v * stack + m, i]
                left += p[0, m] * x
                right += p[1, m] * x
            if pulse_gain != 0.0:
                left = left + pulse_gain * pulses[v, i]
                right = right + pulse_gain * pulses[v, i]
            _, yl, l1, l2 = svf_step(left, a1, a2, a3, l1, l2)
            _, yr, r1, r2 = svf_step(right, a1, a2, a3, r1, r2)
            amp = env[v, i] * gv
            out[0, i] += yl * amp
            out[1, i] += yr * amp
        s1[v, 0], s2[v, 0], s1[v, 1], s2[v, 1] = l1, l2, r1, r2



#: Stack of the ensemble: detune in units of ``detune_cents``, static start phase (cycles),
#: pan position. Odd slots mirror the pan so neighbouring notes spread the other way.
_ENS_DETUNE = np.array([-1.0, 0.0, 1.0])
_ENS_PHASE = np.array([0.0, 0.37, 0.71])
_ENS_PAN = np.array([-0.7, 0.0, 0.7])


@register("string_ensemble")
class StringEnsemble(PolyInstrument):
    """Machine string section: 3 detuned band-limited saws per note, SVF low-pass, ensemble chorus.

    Per note: saws at ``-detune, 0, +detune`` cents with fixed different start phases,
    each panned elsewhere (equal-power), an optional pulse an octave below, a 12 dB/oct
    state-variable low-pass whose cutoff follows brightness, velocity and (by the square
    root) the pitch, and an ADSR with slow attack and long release. The summed stereo
    signal goes through a 3-tap ensemble chorus.
    """

    FAMILY = "strings"
    DEFAULT_VOICES = 16
    DOC = "Solina-style string ensemble: detuned saw stacks, soft low-pass, ensemble chorus"
    DEMO = "<d3 f3 a3>:2 <c3 e3 g3>:2 <a2 c3 e3 a3>:1"
    PARAMS = (
        Param("attack_ms", 350.0, 0.0, 10000.0, doc="amplitude attack, ms (at least 2 ms is used)"),
        Param("release_ms", 900.0, 0.0, 20000.0, doc="amplitude release, ms (at least 10 ms is used)"),
        Param("brightness", 0.5, 0.0, 1.0, doc="low-pass cutoff, 0 = dark, 1 = open"),
        Param("detune_cents", 12.0, 0.0, 50.0, doc="spread of the 3-saw stack, +- cents"),
        Param("chorus", 0.6, 0.0, 1.0, doc="ensemble chorus amount"),
        Param("pulse_mix", 0.0, 0.0, 1.0, doc="level of a pulse one octave below (viola/cello)"),
    )

    #: Output scale: one full-velocity note peaks near 0.4.
    LEVEL = 0.28
    STACK = 3

    def _build(self) -> None:
        p = self.params
        sr = self.sample_rate
        v = self.voices
        self._amp_env = AdsrEnvelope(sr, voices=v, attack_ms=max(p["attack_ms"], MIN_ATTACK_MS),
                                     decay_ms=100.0, sustain=1.0,
                                     release_ms=max(p["release_ms"], MIN_RELEASE_MS))
        self._envs = [self._amp_env]
        self._osc = BandlimitedOscillator(sr, voices=v * self.STACK, waveform="saw")
        self._pulse_mix = float(p["pulse_mix"])
        self._pulse = (BandlimitedOscillator(sr, voices=v, waveform="pulse")
                       if self._pulse_mix > 0.0 else None)
        self._chorus = EnsembleChorus(sr, amount=p["chorus"]) if p["chorus"] > 0.0 else None
        pan = np.stack([equal_power_pan(_ENS_PAN), equal_power_pan(-_ENS_PAN)])  # (2 parities, 2, 3)
        # unison gain: 3 uncorrelated saws add in power
        self._pan = pan / math.sqrt(self.STACK)
        self._ratio = 2.0 ** (_ENS_DETUNE * p["detune_cents"] / 1200.0)
        self._level = self.LEVEL

    def _reset_dsp(self) -> None:
        self._osc.reset()
        if self._pulse is not None:
            self._pulse.reset()
        self._svf_s1 = np.zeros((self.voices, 2))  # low-pass integrator states per slot, channel
        self._svf_s2 = np.zeros((self.voices, 2))
        if self._chorus is not None:
            self._chorus.reset()
        self._row_freq = np.full(self.voices * self.STACK, 100.0)
        self._pulse_freq = np.full(self.voices, 50.0)
        self._cutoff = np.full(self.voices, 1000.0)
        self._gain = np.zeros(self.voices)

    def _start_voice(self, slot: int, pitch: float, velocity: float) -> None:
        nyq = 0.5 * self.sample_rate
        f0 = min(float(midi_to_hz(pitch)), 0.45 * nyq)
        rows = slice(slot * self.STACK, (slot + 1) * self.STACK)
        self._row_freq[rows] = f0 * self._ratio
        for k in range(self.STACK):
            # golden-ratio offset per slot: chord members do not start in phase
            self._osc.reset_phase(slot * self.STACK + k, (_ENS_PHASE[k] + 0.618034 * slot) % 1.0)
        if self._pulse is not None:
            self._pulse_freq[slot] = 0.5 * f0
            self._pulse.reset_phase(slot, 0.5)
        # brightness -> cutoff: 250 Hz .. 32 kHz over 7 octaves at middle C, tracking the
        # pitch by half (sqrt); velocity opens it by up to +0.1 (0.7 octave)
        b = self.params["brightness"] + 0.1 * (velocity - 1.0)
        cutoff = 250.0 * 2.0 ** (7.0 * b) * math.sqrt(f0 / 261.63)
        self._cutoff[slot] = min(max(cutoff, 40.0), 0.45 * self.sample_rate)
        self._svf_s1[slot] = 0.0
        self._svf_s2[slot] = 0.0
        self._gain[slot] = self._level * velocity

    def _render(self, n: int, active: np.ndarray, envs: list[np.ndarray]) -> np.ndarray:
        out = np.zeros((2, n))
        if active.size:
            slots = active.astype(np.int64)
            saws = self._osc.process(np.broadcast_to(self._row_freq[:, None], (self._row_freq.size, n)),
                                     active=stack_rows(active, self.voices, self.STACK))
            pulses = saws[:0]
            if self._pulse is not None:
                pulses = self._pulse.process(
                    np.broadcast_to(self._pulse_freq[:, None], (self.voices, n)), pulse_width=0.3,
                    active=stack_rows(active, self.voices, 1))
            _ensemble_voices_kernel(saws, slots, self._pan, pulses,
                                    self._pulse_mix * 0.7071 if self._pulse is not None else 0.0,
                                    self._cutoff, float(self.sample_rate), self._svf_s1, self._svf_s2,
                                    envs[0], self._gain, out)
        if self._chorus is not None:
            out = self._chorus.process(out, self._frame)
        return out

    def _tail_quiet(self) -> bool:
        return self._chorus is None or self._chorus.quiet

"""Polysynth lead and synth brass section (the machine orchestra's solo line and its horns).

Both run on :class:`~symphony.instruments.poly.PolyInstrument`: vectorized envelopes,
one filter per voice slot (cleared at each note start), click-free stealing and exact
silence detection. Each renders its whole voice bank in one fused numba kernel per block
(:func:`_lead_kernel`, :func:`_brass_kernel`): oscillators, per-sample filter
coefficients and filters without numpy temporaries, the filters of all voices advanced
together in SIMD loops. Each kernel is tested against the same chain built from the
:mod:`symphony.dsp` processors (``tests/instruments/test_lead.py``).
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit

from symphony.dsp.base import midi_to_hz
from symphony.dsp.envelopes import AdsrEnvelope
from symphony.dsp.filters import (LadderFilter, exp2_simd, ladder_bank_step, ladder_gains_simd,
                                  svf_gains_simd, svf_step)
from symphony.dsp.oscillators import BandlimitedOscillator, wavetable_voice
from symphony.instruments import register
from symphony.instruments.poly import (MIN_ATTACK_MS, MIN_RELEASE_MS, PolyInstrument, equal_power_pan,
                                       vibrato_kernel)
from symphony.params import Param

__all__ = ["PolyLead", "BrassSection", "vibrato_ratio"]


def vibrato_ratio(frames_since_onset: np.ndarray, sample_rate: int, *, depth_cents: float,
                  rate_hz: float, delay_ms: float, fade_ms: float) -> np.ndarray:
    """Frequency ratio of a delayed, faded-in sine vibrato, ``2 ** (cents(t) / 1200)``.

    ``cents(t) = depth * clip((t - delay) / fade, 0, 1) * sin(2 pi rate (t - delay))``,
    ``t`` counted from the note start, so the vibrato starts at zero crossing and depends
    only on the note's own time (block-size invariant, no carried state).

    Examples
    --------
    >>> vibrato_ratio(np.array([0.0, 1.0]), 48000, depth_cents=10, rate_hz=5, delay_ms=10, fade_ms=10)
    array([1., 1.])
    """
    t = (frames_since_onset - delay_ms * 1e-3 * sample_rate) / sample_rate
    fade = np.clip(t / max(fade_ms * 1e-3, 1e-9), 0.0, 1.0)
    return 2.0 ** (depth_cents / 1200.0 * fade * np.sin(2.0 * np.pi * rate_hz * np.maximum(t, 0.0)))


def _active_vibrato(inst: PolyInstrument, active: np.ndarray, n: int, *, depth_cents: float,
                    rate_hz: float, delay_ms: float, fade_ms: float) -> np.ndarray | None:
    """(len(active), n) vibrato ratios of the active slots, or None while all are pre-delay."""
    t = inst._frames_since_onset(active).astype(np.float64)
    if depth_cents <= 0.0 or t.max() + n <= delay_ms * 1e-3 * inst.sample_rate:
        return None
    out = np.empty((active.size, n))
    vibrato_kernel(t, n, float(inst.sample_rate), float(depth_cents), float(rate_hz), float(delay_ms),
                   float(fade_ms), out)
    return out


# --------------------------------------------------------------------------- lead


@register("poly_lead")
class PolyLead(PolyInstrument):
    """Two-oscillator polysynth: 24 dB/oct resonant ladder low-pass swept by its own ADSR.

    Per note: oscillator 1 (``waveform``) and oscillator 2 (``osc2_waveform``, detuned
    ``+detune_cents``) -> ladder low-pass at ``cutoff_hz`` (tracking the pitch by
    ``key_track``) opened by up to ``5 * env_mod`` octaves by the filter ADSR (scaled by
    velocity) -> amplitude ADSR (scaled by velocity). Optional delayed sine vibrato.
    """

    FAMILY = "lead"
    DEFAULT_VOICES = 8
    DOC = "Two-oscillator polysynth lead: resonant 4-pole ladder, filter envelope, delayed vibrato"
    DEMO = "d5:8 f5 a5 c6:4. a5:8 g5:2"
    PARAMS = (
        Param("attack_ms", 8.0, 0.0, 10000.0, doc="amplitude attack, ms (at least 2 ms is used)"),
        Param("decay_ms", 250.0, 0.0, 10000.0, doc="amplitude and filter decay, ms"),
        Param("sustain", 0.7, 0.0, 1.0, doc="amplitude sustain level"),
        Param("release_ms", 300.0, 0.0, 20000.0, doc="amplitude release, ms (at least 10 ms is used)"),
        Param("cutoff_hz", 1800.0, 20.0, 20000.0, doc="ladder cutoff at middle C with the envelope closed"),
        Param("resonance", 0.3, 0.0, 1.2, doc="ladder resonance, 1 = self-oscillation"),
        Param("env_mod", 0.5, 0.0, 1.0, doc="filter envelope depth, 1 = +5 octaves"),
        Param("detune_cents", 7.0, 0.0, 50.0, doc="oscillator 2 detune, cents"),
        Param("waveform", "saw", choices=("saw", "square", "pulse"), doc="oscillator 1 waveform"),
        Param("osc2_waveform", "same", choices=("same", "saw", "square", "pulse", "triangle", "sine"),
              doc="oscillator 2 waveform (same = as oscillator 1)"),
        Param("osc2_level", 0.8, 0.0, 1.0, doc="oscillator 2 level"),
        Param("pulse_width", 0.35, 0.05, 0.95, doc="duty cycle of the pulse waveform"),
        Param("key_track", 0.5, 0.0, 1.0, doc="cutoff follows pitch (1 = fully)"),
        Param("drive", 0.2, 0.0, 1.0, doc="level into the ladder's tanh stage: 0 = clean, 1 = saturated"),
        Param("filter_attack_ms", 3.0, 0.0, 10000.0, doc="filter envelope attack, ms"),
        Param("filter_sustain", 0.3, 0.0, 1.0, doc="filter envelope sustain level"),
        Param("vibrato_cents", 0.0, 0.0, 100.0, doc="vibrato depth, cents"),
        Param("vibrato_hz", 5.5, 0.1, 12.0, doc="vibrato rate, Hz"),
        Param("vibrato_delay_ms", 350.0, 0.0, 5000.0, doc="vibrato delay; it then fades in over 300 ms"),
    )

    #: Output scale: one full-velocity note with default settings peaks near 0.33.
    LEVEL = 0.66
    VIBRATO_FADE_MS = 300.0

    def _build(self) -> None:
        p = self.params
        sr, v = self.sample_rate, self.voices
        self._amp_env = AdsrEnvelope(sr, voices=v, attack_ms=max(p["attack_ms"], MIN_ATTACK_MS),
                                     decay_ms=p["decay_ms"], sustain=p["sustain"],
                                     release_ms=max(p["release_ms"], MIN_RELEASE_MS))
        self._filter_env = AdsrEnvelope(sr, voices=v, attack_ms=p["filter_attack_ms"],
                                        decay_ms=p["decay_ms"], sustain=p["filter_sustain"],
                                        release_ms=max(p["release_ms"], MIN_RELEASE_MS))
        self._envs = [self._amp_env, self._filter_env]
        w2 = p["waveform"] if p["osc2_waveform"] == "same" else p["osc2_waveform"]
        self._osc1 = BandlimitedOscillator(sr, voices=v, waveform=p["waveform"])
        self._osc2 = BandlimitedOscillator(sr, voices=v, waveform=w2)
        self._pw1 = np.array([p["pulse_width"] if p["waveform"] == "pulse" else 0.5])
        self._pw2 = np.array([p["pulse_width"] if w2 == "pulse" else 0.5])
        # one ladder per voice, as one bank: the kernel runs the sounding voices together
        self._ladder = LadderFilter(sr, channels=v, cutoff_hz=1000.0, resonance=p["resonance"])
        self._resonance = min(max(float(p["resonance"]), 0.0), 1.2)
        self._ratio2 = 2.0 ** (p["detune_cents"] / 1200.0)
        self._mix2 = p["osc2_level"]
        # input gain into the ladder's tanh: 0.05 (clean, peaks near -26 dBFS) .. 2 (saturating)
        self._drive_gain = 0.05 * 40.0 ** p["drive"] / (1.0 + self._mix2)
        # the ladder's passband gain is 1 / (1 + 4 resonance): give back half of it (in dB)
        comp = math.sqrt(1.0 + 4.0 * p["resonance"])
        self._level = self.LEVEL * comp / (1.0 + self._mix2) / self._drive_gain
        self._env_octaves = 5.0 * p["env_mod"]
        self._hi = 0.45 * sr

    def _reset_dsp(self) -> None:
        self._osc1.reset()
        self._osc2.reset()
        self._ladder.reset()
        self._f0 = np.full(self.voices, 100.0)
        self._base_cutoff = np.full(self.voices, 1000.0)
        self._env_depth = np.zeros(self.voices)
        self._gain = np.zeros(self.voices)

    def _start_voice(self, slot: int, pitch: float, velocity: float) -> None:
        p = self.params
        f0 = min(float(midi_to_hz(pitch)), 0.45 * 0.5 * self.sample_rate)
        self._f0[slot] = f0
        # start phases differ per slot (golden-ratio sequence) so chord onsets do not
        # line up their waveform peaks
        self._osc1.reset_phase(slot, (0.618034 * slot) % 1.0)
        self._osc2.reset_phase(slot, (0.618034 * slot + 0.25) % 1.0)
        self._ladder.reset_rows([slot])
        self._base_cutoff[slot] = p["cutoff_hz"] * (f0 / 261.63) ** p["key_track"]
        self._env_depth[slot] = self._env_octaves * (0.4 + 0.6 * velocity)
        self._gain[slot] = self._level * velocity

    def _render(self, n: int, active: np.ndarray, envs: list[np.ndarray]) -> np.ndarray:
        out = np.zeros((2, n))
        if not active.size:
            return out
        p = self.params
        vib = _active_vibrato(self, active, n, depth_cents=p["vibrato_cents"], rate_hz=p["vibrato_hz"],
                              delay_ms=p["vibrato_delay_ms"], fade_ms=self.VIBRATO_FADE_MS)
        amp, fenv = envs
        o1, o2 = self._osc1, self._osc2
        # the same table family (saw, square and pulse all read the saw tables): read one
        # copy, so the two oscillators share their cache lines
        bank2 = o1._bank if o2._table == o1._table else o2._bank
        _lead_kernel(active, self._f0, _NO_VIBRATO if vib is None else vib, self._ratio2, self._mix2,
                     self._drive_gain, o1._bank, o1._t_offset, o1._pulse, self._pw1, o1._phase, o1._band,
                     o1._table_index, o1._table_weight, bank2, o2._t_offset, o2._pulse, self._pw2,
                     o2._phase, o2._band, o2._table_index, o2._table_weight, 1.0 / self.sample_rate,
                     amp, fenv, self._base_cutoff, self._env_depth, self._gain, self._hi,
                     math.pi / self.sample_rate, 4.0 * self._resonance, self._ladder._state, out[0])
        out[0] *= math.sqrt(0.5)
        out[1] = out[0]
        return out


#: Samples per pass of the fused voice kernels: their scratch rows stay in the L1/L2 cache.
_CHUNK = 128


@njit(cache=True, inline="always")
def _constant(row):  # pragma: no cover - jit
    """True if every element of the 1-D ``row`` equals its first."""
    for i in range(1, row.shape[0]):
        if row[i] != row[0]:
            return False
    return True


#: Placeholder for "no vibrato" in the fused kernels (a (0, 0) array: ratio 1).
_NO_VIBRATO = np.ones((0, 0))
#: Pulse width argument for plain saws (ignored by the oscillator, but typed as an array).
_PW_HALF = np.array([0.5])


@njit(cache=True, error_model="numpy")
def _lead_kernel(active, f0, vib, ratio2, mix2, drive_gain,
                 bank1, t_offset1, pulse1, pw1, phase1, band1, index1, weight1,
                 bank2, t_offset2, pulse2, pw2, phase2, band2, index2, weight2,
                 inv_sample_rate, amp, fenv, base_cutoff, env_depth, gain, hi_hz, w, k,
                 ladder_state, out):  # pragma: no cover - jit
    """The whole :class:`PolyLead` voice bank for one block, summed into mono ``out`` (n,).

    Per active slot ``v``: two wavetable oscillators (:func:`wavetable_voice`; oscillator 2
    at ``ratio2`` times the frequency, level ``mix2``) times ``drive_gain`` -> ZDF ladder
    whose cutoff ``clip(base_cutoff 2^(env_depth fenv), 20, hi_hz)`` moves every sample
    (prewarped gain ``tan(w fc)``) -> times ``amp * gain``. The arithmetic of
    :class:`BandlimitedOscillator` and :class:`LadderFilter` on (voices, n) arrays (the
    cutoff path within a few ulp), without their temporaries and Python calls.

    Per chunk of :data:`_CHUNK` samples: pass 1 runs voice after voice (the oscillators);
    the cutoff coefficients are computed per sample while the filter envelope moves (a
    loop over time that compiles to SIMD instructions: :func:`exp2_simd`,
    :func:`ladder_gains_simd`) and reused while it holds; pass 2 runs sample after
    sample across the voices: the ladders (:func:`ladder_bank_step`), four voices per
    SIMD instruction.
    ``vib``: (len(active), n) frequency ratios, or a (0, 0) array for none.
    """
    na = active.shape[0]
    n = out.shape[0]
    has_vib = vib.shape[1] > 0
    chunk = _CHUNK
    scratch = np.empty((chunk, 5, na))  # per sample: driven input, h, G, inv, output gain
    held = np.empty((4, na))  # per voice: the last filter envelope value and its h, G, inv
    held[0] = math.nan
    st = np.empty((2, 4, na))  # ladder states, alternating between st[0] and st[1]
    for j in range(na):
        for q in range(4):
            st[0, q, j] = ladder_state[active[j], q]
    y = np.empty(na)
    y1 = np.empty(chunk)
    y2 = np.empty(chunk)
    f1 = np.empty(chunk)
    f2 = np.empty(chunk)
    ch = np.empty(chunk)
    cg = np.empty(chunk)
    ci = np.empty(chunk)
    for c0 in range(0, n, chunk):
        m = min(chunk, n - c0)
        # pass 1, voice after voice: oscillators, cutoff coefficients, gains
        for j in range(na):
            v = active[j]
            if has_vib:
                for i in range(m):
                    f1[i] = f0[v] * vib[j, c0 + i]
                    f2[i] = f1[i] * ratio2
                fr1 = f1[:m]
                fr2 = f2[:m]
            else:
                f1[0] = f0[v]
                f2[0] = f0[v] * ratio2
                fr1 = f1[:1]
                fr2 = f2[:1]
            wavetable_voice(bank1, t_offset1, pulse1, pw1, fr1, inv_sample_rate, v, phase1, band1, index1,
                            weight1, y1[:m])
            wavetable_voice(bank2, t_offset2, pulse2, pw2, fr2, inv_sample_rate, v, phase2, band2, index2,
                            weight2, y2[:m])
            env = fenv[v, c0:c0 + m]
            if env[0] == held[0, j] and _constant(env):  # held filter envelope: same coefficients
                for i in range(m):
                    ch[i] = held[1, j]
                    cg[i] = held[2, j]
                    ci[i] = held[3, j]
            else:  # moving: every sample (a loop over time that compiles to SIMD instructions)
                base = base_cutoff[v]
                depth = env_depth[v]
                for i in range(m):
                    fc = min(max(base * exp2_simd(depth * env[i]), 20.0), hi_hz)
                    ch[i], cg[i], ci[i] = ladder_gains_simd(w * fc, k)
                held[0, j] = env[m - 1]
                held[1, j] = ch[m - 1]
                held[2, j] = cg[m - 1]
                held[3, j] = ci[m - 1]
            gv = gain[v]
            for i in range(m):
                scratch[i, 0, j] = (y1[i] + mix2 * y2[i]) * drive_gain
                scratch[i, 1, j] = ch[i]
                scratch[i, 2, j] = cg[i]
                scratch[i, 3, j] = ci[i]
                scratch[i, 4, j] = amp[v, c0 + i] * gv
        # pass 2, sample after sample across the voices (SIMD): the ladders
        for i in range(m):
            p = (c0 + i) & 1
            ladder_bank_step(scratch[i, 0], k, scratch[i, 1], scratch[i, 2], scratch[i, 3], st[p], st[1 - p], y)
            acc = 0.0
            for j in range(na):
                acc += y[j] * scratch[i, 4, j]
            out[c0 + i] = acc
    p = n & 1
    for j in range(na):
        for q in range(4):
            ladder_state[active[j], q] = st[p, q, j]


# --------------------------------------------------------------------------- brass

#: Brass stack: detune in units of ``detune_cents``, start phases, pan positions.
_BRASS_DETUNE = np.array([-1.0, -0.35, 0.35, 1.0])
_BRASS_PHASE = np.array([0.0, 0.27, 0.55, 0.81])
_BRASS_PAN = np.array([-0.5, 0.2, -0.2, 0.5])


@register("brass_section")
class BrassSection(PolyInstrument):
    """Synth brass: 4 detuned saws per note whose low-pass opens slower than the amplitude rises.

    The "swell": a filter ADSR with attack ``swell_ms`` sweeps the 12 dB/oct
    state-variable low-pass from just above the fundamental up to a brightness- and
    velocity-dependent cutoff (the brass "blat" as the bell opens), then decays to 70 %
    of that sweep. A sine vibrato (``vibrato_cents`` at 5.2 Hz) fades in after 250 ms.
    """

    FAMILY = "brass"
    DEFAULT_VOICES = 12
    DOC = "Synth brass section: 4-saw stacks, swelling filter envelope, fading-in vibrato"
    DEMO = "<c4 e4 g4>:4. <c4 f4 a4>:8 <d4 g4 b4>:2"
    PARAMS = (
        Param("attack_ms", 60.0, 0.0, 5000.0, doc="amplitude attack, ms (at least 2 ms is used)"),
        Param("release_ms", 250.0, 0.0, 10000.0, doc="amplitude and filter release, ms (at least 10 ms)"),
        Param("brightness", 0.6, 0.0, 1.0, doc="open filter cutoff, 0 = muted, 1 = blaring"),
        Param("swell_ms", 180.0, 0.0, 5000.0, doc="filter envelope attack (the swell), ms"),
        Param("detune_cents", 6.0, 0.0, 50.0, doc="spread of the 4-saw stack, +- cents"),
        Param("vibrato_cents", 7.0, 0.0, 50.0, doc="depth of the fading-in vibrato, cents"),
    )

    #: Output scale: one full-velocity note peaks near 0.3, a 4-note chord below 0.9.
    LEVEL = 0.35
    STACK = 4
    VIBRATO_HZ = 5.2
    VIBRATO_DELAY_MS = 250.0
    VIBRATO_FADE_MS = 800.0
    FILTER_Q = 0.9

    def _build(self) -> None:
        p = self.params
        sr, v = self.sample_rate, self.voices
        release = max(p["release_ms"], MIN_RELEASE_MS)
        self._amp_env = AdsrEnvelope(sr, voices=v, attack_ms=max(p["attack_ms"], MIN_ATTACK_MS),
                                     decay_ms=300.0, sustain=0.85, release_ms=release)
        self._swell_env = AdsrEnvelope(sr, voices=v, attack_ms=p["swell_ms"], decay_ms=500.0,
                                       sustain=0.7, release_ms=release)
        self._envs = [self._amp_env, self._swell_env]
        self._osc = BandlimitedOscillator(sr, voices=v * self.STACK, waveform="saw")
        # damping k = 1/q of the 12 dB/oct state-variable low-pass (q = 0.9, a slight peak)
        self._svf_k = 1.0 / self.FILTER_Q
        pan = np.stack([equal_power_pan(_BRASS_PAN), equal_power_pan(-_BRASS_PAN)])
        self._pan = pan / math.sqrt(self.STACK)
        self._ratio = 2.0 ** (_BRASS_DETUNE * p["detune_cents"] / 1200.0)
        self._level = self.LEVEL
        self._hi = 0.45 * sr

    def _reset_dsp(self) -> None:
        self._osc.reset()
        # TPT SVF integrator states: [ic1, ic2] x [left, right] x slot
        self._svf_state = np.zeros((2, 2, self.voices))
        self._row_freq = np.full(self.voices * self.STACK, 100.0)
        self._closed = np.full(self.voices, 100.0)
        self._open_octaves = np.ones(self.voices)
        self._gain = np.zeros(self.voices)

    def _start_voice(self, slot: int, pitch: float, velocity: float) -> None:
        f0 = min(float(midi_to_hz(pitch)), 0.45 * 0.5 * self.sample_rate)
        rows = slice(slot * self.STACK, (slot + 1) * self.STACK)
        self._row_freq[rows] = f0 * self._ratio
        for k in range(self.STACK):
            self._osc.reset_phase(slot * self.STACK + k, (_BRASS_PHASE[k] + 0.618034 * slot) % 1.0)
        self._svf_state[:, :, slot] = 0.0
        # closed: just above the fundamental; open: 300 Hz .. 27 kHz over 6.5 octaves at
        # middle C (sqrt pitch tracking), velocity opens up to +0.15 brightness (1 octave)
        closed = max(1.2 * f0, 60.0)
        b = self.params["brightness"] + 0.15 * (velocity - 1.0)
        open_hz = min(300.0 * 2.0 ** (6.5 * b) * math.sqrt(f0 / 261.63), self._hi)
        self._closed[slot] = closed
        self._open_octaves[slot] = max(math.log2(open_hz / closed), 1.0)
        self._gain[slot] = self._level * velocity

    def _render(self, n: int, active: np.ndarray, envs: list[np.ndarray]) -> np.ndarray:
        out = np.zeros((2, n))
        if not active.size:
            return out
        vib = _active_vibrato(self, active, n, depth_cents=self.params["vibrato_cents"],
                              rate_hz=self.VIBRATO_HZ, delay_ms=self.VIBRATO_DELAY_MS,
                              fade_ms=self.VIBRATO_FADE_MS)
        amp, swell = envs
        o = self._osc
        _brass_kernel(active, self._row_freq, _NO_VIBRATO if vib is None else vib, o._bank, o._t_offset,
                      o._phase, o._band, o._table_index, o._table_weight, 1.0 / self.sample_rate, self._pan,
                      amp, swell, self._closed, self._open_octaves, self._gain, self._hi,
                      math.pi / self.sample_rate, self._svf_k, self._svf_state, out)
        return out


@njit(cache=True, error_model="numpy")
def _brass_kernel(active, row_freq, vib, bank, t_offset, phase, band, index, weight, inv_sample_rate, pan,
                  amp, swell, closed, open_octaves, gain, hi_hz, w, k, svf_state, out):  # pragma: no cover - jit
    """The whole :class:`BrassSection` voice bank for one block, added into stereo ``out`` (2, n).

    Per active slot ``v``: ``stack`` saws (oscillator rows ``v * stack + m`` at
    ``row_freq`` times the vibrato ratio) panned by ``pan[v & 1]`` (as
    :func:`pan_stack_kernel`) -> TPT state-variable low-pass on left and right with the
    cutoff ``clip(closed 2^(open_octaves swell), 20, hi_hz)`` moving every sample ->
    times ``amp * gain``. The arithmetic of :class:`BandlimitedOscillator` and
    :class:`StateVariableFilter` (the coefficients within a few ulp, by
    :func:`svf_gains_simd`), without temporaries and Python calls.

    Per chunk of :data:`_CHUNK` samples: pass 1 runs voice after voice (oscillators, pan,
    and the filter coefficients: per sample in a SIMD loop over time while the swell moves,
    reused while it holds); pass 2 runs the filters sample after sample across the voices
    (SIMD).
    ``vib``: (len(active), n) frequency ratios, or a (0, 0) array for none.
    """
    na = active.shape[0]
    n = out.shape[1]
    stack = pan.shape[2]
    has_vib = vib.shape[1] > 0
    chunk = _CHUNK
    scratch = np.empty((chunk, 6, na))  # per sample: left, right, a1, a2, a3, output gain
    held = np.empty((4, na))  # per voice: the last swell value and its a1, a2, a3
    held[0] = math.nan
    st = np.empty((2, 2, na))  # [ic1, ic2] x [left, right]
    for j in range(na):
        v = active[j]
        for q in range(2):
            for c in range(2):
                st[q, c, j] = svf_state[q, c, v]
    yl = np.empty(na)
    yr = np.empty(na)
    rows = np.empty((stack, chunk))
    fr = np.empty(chunk)
    c1 = np.empty(chunk)
    c2 = np.empty(chunk)
    c3 = np.empty(chunk)
    for c0 in range(0, n, chunk):
        m = min(chunk, n - c0)
        # pass 1, voice after voice: the saw stack, panned; filter coefficients; gains
        for j in range(na):
            v = active[j]
            for q in range(stack):
                r = v * stack + q
                if has_vib:
                    for i in range(m):
                        fr[i] = row_freq[r] * vib[j, c0 + i]
                    f = fr[:m]
                else:
                    fr[0] = row_freq[r]
                    f = fr[:1]
                wavetable_voice(bank, t_offset, False, _PW_HALF, f, inv_sample_rate, r, phase, band, index,
                                weight, rows[q, :m])
            env = swell[v, c0:c0 + m]
            if env[0] == held[0, j] and _constant(env):  # held swell: same coefficients
                for i in range(m):
                    c1[i] = held[1, j]
                    c2[i] = held[2, j]
                    c3[i] = held[3, j]
            else:  # moving: every sample (a loop over time that compiles to SIMD instructions)
                lo_hz = closed[v]
                octaves = open_octaves[v]
                for i in range(m):
                    fc = min(max(lo_hz * exp2_simd(octaves * env[i]), 20.0), hi_hz)
                    c1[i], c2[i], c3[i] = svf_gains_simd(w * fc, k)
                held[0, j] = env[m - 1]
                held[1, j] = c1[m - 1]
                held[2, j] = c2[m - 1]
                held[3, j] = c3[m - 1]
            p = pan[v & 1]
            gv = gain[v]
            for i in range(m):
                left = 0.0
                right = 0.0
                for q in range(stack):
                    x = rows[q, i]
                    left += p[0, q] * x
                    right += p[1, q] * x
                scratch[i, 0, j] = left
                scratch[i, 1, j] = right
                scratch[i, 2, j] = c1[i]
                scratch[i, 3, j] = c2[i]
                scratch[i, 4, j] = c3[i]
                scratch[i, 5, j] = amp[v, c0 + i] * gv
        # pass 2, sample after sample across the voices (SIMD): the filters
        for i in range(m):
            xl = scratch[i, 0]
            xr = scratch[i, 1]
            b1 = scratch[i, 2]
            b2 = scratch[i, 3]
            b3 = scratch[i, 4]
            for j in range(na):
                _, yl[j], st[0, 0, j], st[1, 0, j] = svf_step(xl[j], b1[j], b2[j], b3[j], st[0, 0, j], st[1, 0, j])
                _, yr[j], st[0, 1, j], st[1, 1, j] = svf_step(xr[j], b1[j], b2[j], b3[j], st[0, 1, j], st[1, 1, j])
            left = 0.0
            right = 0.0
            for j in range(na):
                g = scratch[i, 5, j]
                left += yl[j] * g
                right += yr[j] * g
            out[0, c0 + i] = left
            out[1, c0 + i] = right
    for j in range(na):
        v = active[j]
        for q in range(2):
            for c in range(2):
                svf_state[q, c, v] = st[q, c, j]

"""Polysynth lead and synth brass section (the machine orchestra's solo line and its horns).

Both run on :class:`~symphony.instruments.ensemble.PolyInstrument`: vectorized envelopes
and oscillators over all voice rows, one filter per voice slot (cleared at each note
start), click-free stealing and exact silence detection.
"""

from __future__ import annotations

import math

import numpy as np

from symphony.dsp.base import midi_to_hz
from symphony.dsp.envelopes import AdsrEnvelope
from symphony.dsp.filters import LadderFilter, StateVariableFilter
from symphony.dsp.oscillators import BandlimitedOscillator
from symphony.instruments import register
from symphony.instruments.poly import (MIN_ATTACK_MS, MIN_RELEASE_MS, PolyInstrument, equal_power_pan,
                                       pan_stack_kernel, stack_rows, vibrato_kernel)
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


def _cutoff_arg(row: np.ndarray) -> float | np.ndarray:
    """A constant cutoff row as a float (the filter then computes its coefficients once)."""
    return float(row[0]) if row.min() == row.max() else row[None, :]


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
        self._pw1 = p["pulse_width"] if p["waveform"] == "pulse" else 0.5
        self._pw2 = p["pulse_width"] if w2 == "pulse" else 0.5
        # one ladder per voice, as one bank: the kernel runs the sounding voices together
        self._ladder = LadderFilter(sr, channels=v, cutoff_hz=1000.0, resonance=p["resonance"])
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
        if vib is None:
            freq = np.empty((self.voices, n))
            freq[:] = self._f0[:, None]
        else:
            ratio = np.ones((self.voices, n))
            ratio[active] = vib
            freq = self._f0[:, None] * ratio
        rows = stack_rows(active, self.voices, 1)
        x = self._osc1.process(freq, pulse_width=self._pw1, active=rows)
        freq *= self._ratio2
        x += self._mix2 * self._osc2.process(freq, pulse_width=self._pw2, active=rows)
        x *= self._drive_gain
        amp, fenv = envs
        # cutoff in octaves above the key-tracked base, per active slot and sample
        cut = self._base_cutoff[active, None] * np.exp2(self._env_depth[active, None] * fenv[active])
        np.clip(cut, 20.0, self._hi, out=cut)
        if (cut == cut[:, :1]).all():  # every sounding voice holds its cutoff: hoisted coefficients
            cut = cut[:, :1]
        y = self._ladder.process(x[active], cutoff_hz=cut, rows=active)
        mono = np.einsum("vn,vn->n", y, amp[active] * self._gain[active, None])
        out[0] = mono * math.sqrt(0.5)
        out[1] = out[0]
        return out


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
        self._filters = [StateVariableFilter(sr, channels=2, cutoff_hz=1000.0, q=0.9) for _ in range(v)]
        pan = np.stack([equal_power_pan(_BRASS_PAN), equal_power_pan(-_BRASS_PAN)])
        self._pan = pan / math.sqrt(self.STACK)
        self._ratio = 2.0 ** (_BRASS_DETUNE * p["detune_cents"] / 1200.0)
        self._level = self.LEVEL
        self._hi = 0.45 * sr

    def _reset_dsp(self) -> None:
        self._osc.reset()
        for f in self._filters:
            f.reset()
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
        self._filters[slot].reset()
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
        stack = self.STACK
        vib = _active_vibrato(self, active, n, depth_cents=self.params["vibrato_cents"],
                              rate_hz=self.VIBRATO_HZ, delay_ms=self.VIBRATO_DELAY_MS,
                              fade_ms=self.VIBRATO_FADE_MS)
        if vib is None:
            freq = np.broadcast_to(self._row_freq[:, None], (self._row_freq.size, n))
        else:
            ratio = np.ones((self.voices, n))
            ratio[active] = vib
            freq = (self._row_freq.reshape(self.voices, stack, 1) * ratio[:, None, :]).reshape(-1, n)
        saws = self._osc.process(freq, active=stack_rows(active, self.voices, stack))
        lr = np.empty((active.size, 2, n))
        pan_stack_kernel(saws, active, self._pan, lr)
        amp, swell = envs
        cut = self._closed[active, None] * np.exp2(self._open_octaves[active, None] * swell[active])
        np.clip(cut, 20.0, self._hi, out=cut)
        for j, slot in enumerate(active):
            lr[j] = self._filters[slot].process(lr[j], cutoff_hz=_cutoff_arg(cut[j]))
        g = amp[active] * self._gain[active, None]
        out[0] = np.einsum("vn,vn->n", lr[:, 0], g)
        out[1] = np.einsum("vn,vn->n", lr[:, 1], g)
        return out

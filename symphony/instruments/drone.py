"""Sub drone: the orchestra's pedal tone, a sine floor that breathes, beats and (gently) buzzes.

Per note, the classic sub-oscillator organ/synth pedal recipe (e.g. H. Bode's and R. Moog's
sub-octave drones; see also M. Russ, "Sound Synthesis and Sampling", 3rd ed., ch. 5 on
additive "sub" layers):

    x = (sin(2 pi f0 t) + b sin(2 pi (f0 + beat_hz) t)) / (1 + b)
        + 0.5 harmonics * LP_{6 f0}(saw(2 f0 t))                      (an octave up, band-limited)
    y = sat(g x) / sat(g),  sat(u) = u / sqrt(1 + u^2),  g = 3 drive  (soft saturation; y = x at 0)
    out = level * velocity * adsr(t) * (1 - depth (1 - cos(2 pi breathe_hz t)) / 2)

The second sine ``beat_hz`` above the first beats with it: the amplitude swings between
``(1 - b)/(1 + b)`` and 1 at ``beat_hz`` (b = 0.35; off at ``beat_hz = 0``). The saw an
octave up goes through a 6 dB/oct one-pole low-pass (Zavalishin's TPT form, via
the same as :class:`~symphony.dsp.filters.OnePole`) at ``6 f0``, so it adds mainly the 2nd and 4th
harmonics: the partials a small speaker can play when it cannot play ``f0``. The
saturation (the algebraic sigmoid: odd and tanh-like, but cheaper; normalized so that
``x = 1`` stays 1) adds odd harmonics to the same end. The breathing LFO is clocked in frames
from the note's own start (no free-running state), so it is block-size invariant and
starts each note at full level.

Ramps: a pure low sine shows any corner in its envelope, so the drone uses longer minimum
ramps than the other polysynths (:data:`MIN_ATTACK_MS`, :data:`MIN_RELEASE_MS`,
``STEAL_MS``).
"""

from __future__ import annotations

import math

import numba
import numpy as np

from symphony.dsp.base import DENORMAL_FLOOR, midi_to_hz
from symphony.dsp.envelopes import AdsrEnvelope
from symphony.dsp.oscillators import BandlimitedOscillator
from symphony.instruments import register
from symphony.instruments.fm import SINE_TABLE, _table_sin
from symphony.instruments.poly import PolyInstrument, stack_rows
from symphony.params import Param

__all__ = ["SubDrone", "MIN_ATTACK_MS", "MIN_RELEASE_MS", "drone_kernel"]

#: Shortest attack / release used by the drone, ms (a low sine needs gentle corners).
MIN_ATTACK_MS = 30.0
MIN_RELEASE_MS = 60.0
#: Level of the beating second sine relative to the first.
BEAT_LEVEL = 0.35
#: Level of the octave-up saw at ``harmonics = 1`` (before its low-pass).
SAW_LEVEL = 0.5
#: Low-pass cutoff of the octave-up saw, in multiples of the fundamental.
SAW_CUTOFF_RATIO = 6.0


@numba.njit(cache=True)
def drone_kernel(active, saw, env, inc, phase, lp_coef, lp_state, saw_level, beat_level, drive_gain,
                 drive_norm, gain, onset_frames, breathe_rate, breathe_depth, table, out):  # pragma: no cover - jit
    """Sum the ``active`` drone voices into ``out`` (n,): sines, filtered saw, saturation, envelope, breath.

    Per voice ``v`` and sample ``k`` (phases in cycles, advanced after each sample):

        x = (sin(2 pi p1) + beat_level sin(2 pi p2)) / (1 + beat_level) + saw_level lp
        lp: TPT one-pole of saw[v, k] (Zavalishin 2020, fig. 3.31; lp_coef = g / (1 + g))
        x = sat(drive_gain x) drive_norm, sat(u) = u / sqrt(1 + u^2)   (if drive_gain > 0)
        out[k] += x env[v, k] gain[v] (1 - breathe_depth (1 - cos(2 pi breathe_rate t)) / 2)

    with ``t = onset_frames[a] + k`` the frames since the note start and ``breathe_rate`` in
    cycles per frame. Sines and cosine come from ``table`` (see
    :data:`symphony.instruments.fm.SINE_TABLE`, error < 3e-7).

    Parameters
    ----------
    active : int64 (m,); saw, env : (voices, n); inc : (voices, 2) increments of the two sines
    phase : (voices, 2) carried phases; lp_coef, lp_state, gain : (voices,)
    onset_frames : int64 (m,) frames since each active voice's note start at sample 0
    """
    n = out.shape[0]
    norm = 1.0 / (1.0 + beat_level)
    for a in range(active.shape[0]):
        v = active[a]
        p1, p2 = phase[v, 0], phase[v, 1]
        d1, d2 = inc[v, 0], inc[v, 1]
        s = lp_state[v]
        gg = lp_coef[v]
        t0 = onset_frames[a]
        for k in range(n):
            x = _table_sin(table, p1)
            if beat_level > 0.0:
                x = (x + beat_level * _table_sin(table, p2)) * norm
            if saw_level > 0.0:
                u = (saw[v, k] - s) * gg
                lp = u + s
                s = lp + u
                if abs(s) < DENORMAL_FLOOR:
                    s = 0.0
                x += saw_level * lp
            if drive_gain > 0.0:
                u = drive_gain * x
                x = u / math.sqrt(1.0 + u * u) * drive_norm
            amp = env[v, k] * gain[v]
            if breathe_depth > 0.0:
                amp *= 1.0 - 0.5 * breathe_depth * (1.0 - _table_sin(table, breathe_rate * (t0 + k) + 0.25))
            out[k] += x * amp
            p1 += d1
            if p1 >= 1.0:
                p1 -= 1.0
            p2 += d2
            if p2 >= 1.0:
                p2 -= 1.0
        phase[v, 0], phase[v, 1] = p1, p2
        lp_state[v] = s


@register("sub_drone")
class SubDrone(PolyInstrument):
    """Sine pedal tone: beating at ``beat_hz``, breathing at ``breathe_hz``, 2nd harmonic from ``harmonics``.

    Amplitude: an exponential ADSR (sustain 1) times velocity times the breathing gain
    ``1 - breathe_depth (1 - cos(2 pi breathe_hz t)) / 2`` (t from the note start, so
    the level dips to ``1 - breathe_depth`` every ``1 / breathe_hz`` seconds). See the
    module docstring for the oscillator model.
    """

    FAMILY = "drone"
    DEFAULT_VOICES = 4
    DOC = "Sub/pedal drone: sine + filtered octave saw, slow breathing, beating, soft saturation"
    DEMO = "c2:1~ c2:1 <f1 c2>:1~ <f1 c2>:1"
    PARAMS = (
        Param("attack_ms", 3000.0, 0.0, 30000.0, doc="attack, ms (at least 30 ms is used)"),
        Param("release_ms", 4000.0, 0.0, 30000.0, doc="release, ms (at least 60 ms is used)"),
        Param("harmonics", 0.2, 0.0, 1.0, doc="level of the low-passed saw an octave up"),
        Param("breathe_hz", 0.08, 0.0, 2.0, doc="rate of the breathing amplitude LFO, Hz"),
        Param("breathe_depth", 0.25, 0.0, 1.0, doc="breathing depth: level dips to 1 - depth"),
        Param("beat_hz", 0.3, 0.0, 5.0, doc="offset of the beating second sine, Hz (0 = off)"),
        Param("drive", 0.1, 0.0, 1.0, doc="soft saturation for harmonics on small speakers"),
    )

    #: Output scale: one full-velocity note peaks near 0.22 per channel; low sines add up
    #: almost coherently, so a 4-note chord still stays below 0.9.
    LEVEL = 0.31
    STEAL_MS = 30.0

    def _build(self) -> None:
        p = self.params
        sr, v = self.sample_rate, self.voices
        self._amp_env = AdsrEnvelope(sr, voices=v, attack_ms=max(p["attack_ms"], MIN_ATTACK_MS),
                                     decay_ms=0.0, sustain=1.0,
                                     release_ms=max(p["release_ms"], MIN_RELEASE_MS))
        self._envs = [self._amp_env]
        self._beat_level = BEAT_LEVEL if p["beat_hz"] > 0.0 else 0.0
        self._saw_level = SAW_LEVEL * p["harmonics"]
        self._saw = BandlimitedOscillator(sr, voices=v, waveform="saw") if self._saw_level else None
        self._drive_gain = 3.0 * p["drive"]
        g = self._drive_gain
        self._drive_norm = math.sqrt(1.0 + g * g) / g if g > 0.0 else 1.0  # sat(g x) / sat(g)
        self._breathe_depth = p["breathe_depth"] if p["breathe_hz"] > 0.0 else 0.0
        self._breathe_rate = p["breathe_hz"] / sr
        self._hi = 0.45 * sr
        self._zeros = np.zeros((v, 0))

    def _reset_dsp(self) -> None:
        if self._saw is not None:
            self._saw.reset()
        self._phase = np.zeros((self.voices, 2))
        self._inc = np.zeros((self.voices, 2))
        self._lp_coef = np.zeros(self.voices)
        self._lp_state = np.zeros(self.voices)
        self._gain = np.zeros(self.voices)
        self._saw_freq = np.zeros((self.voices, 1))

    def _start_voice(self, slot: int, pitch: float, velocity: float) -> None:
        sr = self.sample_rate
        f0 = min(float(midi_to_hz(pitch)), 0.2 * sr)
        self._inc[slot] = (f0 / sr, (f0 + self.params["beat_hz"]) / sr)
        # golden-ratio start phase per slot: chord members do not start with aligned peaks
        # (the attack starts at 0, so any phase is click-free); the two sines start in phase
        self._phase[slot] = (0.618034 * slot) % 1.0
        self._saw_freq[slot] = 2.0 * f0
        if self._saw is not None:
            self._saw.reset_phase(slot, 0.0)
        g = math.tan(math.pi * min(SAW_CUTOFF_RATIO * f0, self._hi) / sr)  # TPT prewarp
        self._lp_coef[slot] = g / (1.0 + g)
        self._lp_state[slot] = 0.0
        self._gain[slot] = self.LEVEL * velocity

    def _render(self, n: int, active: np.ndarray, envs: list[np.ndarray]) -> np.ndarray:
        out = np.zeros((2, n))
        if not active.size:
            return out
        if self._saw is not None:
            freq = np.broadcast_to(self._saw_freq, (self.voices, n))
            saw = self._saw.process(freq, active=stack_rows(active, self.voices, 1))
        else:
            saw = self._zeros
        mono = out[0]
        drone_kernel(active.astype(np.int64), saw, envs[0], self._inc, self._phase, self._lp_coef,
                     self._lp_state, self._saw_level, self._beat_level, self._drive_gain, self._drive_norm,
                     self._gain, self._frames_since_onset(active).astype(np.int64), self._breathe_rate,
                     self._breathe_depth, SINE_TABLE, mono)
        mono *= math.sqrt(0.5)
        out[1] = mono
        return out

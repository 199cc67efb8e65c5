"""A TB-303-style acid bass: one band-limited saw/square, slide, 4-pole ladder, accent.

Signal path (all ``symphony.dsp`` processors, one voice):

    Glide (pitch in semitones) -> BandlimitedOscillator (+ square sub an octave down)
    -> LadderFilter (cutoff = cutoff_hz * 2**(ENV_OCTAVES_MAX * filter envelope))
    -> amplitude envelope -> mono to stereo.

Monophonic with last-note priority: a note that starts while another is held slides
(``glide_ms``) without retriggering either envelope (the 303 "slide"); a note that starts
after the previous one was released retriggers both envelopes from their current level
(no click) and jumps to its pitch. Releasing the sounding note falls back to the most
recent note still held (and slides to it); releasing any other note changes nothing.

Accent (velocity > ``ACCENT_VELOCITY``): more filter-envelope depth, a shorter filter
decay and a louder note, all scaled by the ``accent`` parameter.

Silence: once the note is released and the amplitude envelope has arrived at exact zero,
the instrument reports ``is_silent`` and puts every processor back to its rest state, so
skipping ``process`` calls while silent (as the Conductor does) gives the same audio.
"""

from __future__ import annotations

from typing import ClassVar, Mapping

import numpy as np

from symphony.dsp.envelopes import AdsrEnvelope, Glide
from symphony.dsp.filters import LadderFilter
from symphony.dsp.oscillators import BandlimitedOscillator
from symphony.instruments import register
from symphony.instruments.base import Instrument
from symphony.params import Param

#: Velocities above this are accented (the 303's accent step).
ACCENT_VELOCITY = 0.8
#: Filter-envelope depth in octaves at env_mod 1 (unaccented); accent adds up to ACCENT_OCTAVES.
ENV_OCTAVES = 4.0
ACCENT_OCTAVES = 2.0
ENV_OCTAVES_MAX = ENV_OCTAVES + ACCENT_OCTAVES
AMP_ATTACK_MS = 3.0
AMP_RELEASE_MS = 40.0  # two cycles even at 50 Hz: shorter releases click on low notes
FILTER_ATTACK_MS = 1.0
#: AdsrEnvelope's exponential decay passes -60 dB at its decay time; the sweep's
#: ``decay_ms`` is its -20 dB (10 %) time, so the envelope segment is 3x longer.
DECAY_SCALE = 3.0
#: Output gain: a full-velocity note peaks around 0.5-0.8.
OUTPUT_GAIN = 0.7
#: Input drive of the ladder's tanh stage.
LADDER_DRIVE = 1.4


@register("acid_bass")
class AcidBass(Instrument):
    """TB-303-style monophonic bass: saw/square through a resonant 24 dB/oct ladder with slide.

    Cutoff follows ``cutoff_hz * 2**(octaves * envelope)``; the envelope peaks at
    ``4 * env_mod`` octaves (+ ``2 * accent`` on accented notes) 1 ms after a retrigger
    and falls to 10 % of that in ``decay_ms`` (accent shortens it by up to 60 %).
    ``voices`` is accepted for interface symmetry; the instrument is monophonic.

    Examples
    --------
    >>> bass = AcidBass(44100)
    >>> bass.note_on(1, 45.0, 0.7); bass.process(441).shape
    (2, 441)
    """

    FAMILY: ClassVar[str] = "bass"
    DOC: ClassVar[str] = "TB-303-style acid bass: saw/square, resonant ladder, filter envelope, slide, accent"
    DEFAULT_VOICES: ClassVar[int] = 1
    DEMO: ClassVar[str] = "a1:16 a1 a2 a1 c2 a1 d#2 a1 g1 a1 a2 a1 e2 d2 c2 a1"
    PARAMS: ClassVar[tuple[Param, ...]] = (
        Param("cutoff_hz", 400.0, 20.0, 20000.0, doc="ladder cutoff without envelope (Hz)"),
        Param("resonance", 0.6, 0.0, 1.2, doc="ladder resonance, 1 = self-oscillation"),
        Param("env_mod", 0.6, 0.0, 1.0, doc=f"filter envelope depth (1 = {ENV_OCTAVES:g} octaves)"),
        Param("decay_ms", 300.0, 10.0, 5000.0, doc="filter sweep falls to 10 % of its depth (ms)"),
        Param("glide_ms", 60.0, 0.0, 2000.0, doc="slide time between overlapping notes (ms)"),
        Param("accent", 0.5, 0.0, 1.0, doc="accent amount for velocity > 0.8: depth, snap, level"),
        Param("waveform", "saw", doc="oscillator waveform", choices=("saw", "square")),
        Param("sub_level", 0.0, 0.0, 1.0, doc="square sub-oscillator one octave down"),
    )

    def __init__(self, sample_rate: int, *, params: Mapping[str, float | str] | None = None,
                 rng: np.random.Generator | None = None, voices: int | None = None) -> None:
        super().__init__(sample_rate, params=params, rng=rng, voices=voices)
        sr = self.sample_rate
        p = self.params
        self._osc = BandlimitedOscillator(sr, voices=1, waveform=str(p["waveform"]))
        # the sub's wavetable bank is only built when it is heard
        self._sub = BandlimitedOscillator(sr, voices=1, waveform="square") if float(p["sub_level"]) > 0 else None
        self._glide = Glide(sr, voices=1, time_ms=float(p["glide_ms"]), mode="exponential")
        self._amp = AdsrEnvelope(sr, voices=1, attack_ms=AMP_ATTACK_MS, decay_ms=0.0, sustain=1.0,
                                 release_ms=AMP_RELEASE_MS, curve="exponential")
        decay = DECAY_SCALE * float(p["decay_ms"])
        self._fenv = AdsrEnvelope(sr, voices=1, attack_ms=FILTER_ATTACK_MS, decay_ms=decay,
                                  sustain=0.0, release_ms=decay, curve="exponential")
        self._ladder = LadderFilter(sr, channels=1, cutoff_hz=min(float(p["cutoff_hz"]), 0.45 * sr),
                                    resonance=float(p["resonance"]), drive=LADDER_DRIVE)
        # gain compensation for the ladder's passband loss 1 / (1 + 4 k) (partial: keeps the peak sane)
        self._makeup = OUTPUT_GAIN * (1.0 + 4.0 * float(p["resonance"])) ** 0.5
        self.reset()

    # ------------------------------------------------------------------ lifecycle
    def reset(self) -> None:
        """Back to a fresh state: silent, no held notes."""
        self._held: list[tuple[int, float, float]] = []  # (note_id, pitch, velocity), oldest first
        self._gate = False
        self._silent = True
        self._rest()

    def _rest(self) -> None:
        for proc in (self._osc, self._sub, self._glide, self._amp, self._fenv, self._ladder):
            if proc is not None:
                proc.reset()

    @property
    def is_silent(self) -> bool:
        return self._silent

    # ------------------------------------------------------------------ events
    def note_on(self, note_id: int, pitch: float, velocity: float, voice: str | None = None) -> None:
        """Play ``pitch`` (MIDI); slides if another note is held, else retriggers."""
        vel = min(max(float(velocity), 0.0), 1.0)
        legato = bool(self._held)
        self._held = [h for h in self._held if h[0] != note_id]
        self._held.append((note_id, float(pitch), vel))
        if legato:
            self._glide.set_target(0, float(pitch))
        else:
            self._trigger(float(pitch), vel)

    def note_off(self, note_id: int) -> None:
        """Release ``note_id``; only the sounding note's release changes the sound."""
        if not self._held:
            return
        current = self._held[-1][0]
        self._held = [h for h in self._held if h[0] != note_id]
        if note_id != current:
            return
        if self._held:  # last-note priority: slide back to the newest note still held
            self._glide.set_target(0, self._held[-1][1])
        else:
            self._gate = False
            self._amp.gate_off(0)
            self._fenv.gate_off(0)

    def _trigger(self, pitch: float, vel: float) -> None:
        p = self.params
        accent = float(p["accent"]) if vel > ACCENT_VELOCITY else 0.0
        self._glide.set_target(0, pitch, jump=True)
        level = (0.55 + 0.25 * vel) * (1.0 + 0.25 * accent)
        self._amp.gate_on(0, level)
        depth = (ENV_OCTAVES * float(p["env_mod"]) + ACCENT_OCTAVES * accent) / ENV_OCTAVES_MAX
        decay = DECAY_SCALE * float(p["decay_ms"]) * (1.0 - 0.6 * accent)
        self._fenv.set(decay_ms=decay, release_ms=decay)
        if depth > 0.0:
            self._fenv.gate_on(0, depth)
        self._gate = True
        self._silent = False

    # ------------------------------------------------------------------ audio
    def process(self, n: int) -> np.ndarray:
        """Render the next ``n`` frames; returns stereo ``(2, n)`` float64 (L = R)."""
        n = int(n)
        out = np.zeros((2, n))
        if self._silent or n == 0:
            return out
        pitch = self._glide.process(n)
        freq = 440.0 * np.exp2((pitch - 69.0) / 12.0)
        x = self._osc.process(freq)
        sub_level = float(self.params["sub_level"])
        if self._sub is not None:
            x += sub_level * self._sub.process(0.5 * freq)
            x *= 1.0 / (1.0 + 0.5 * sub_level)
        cutoff = float(self.params["cutoff_hz"]) * np.exp2(ENV_OCTAVES_MAX * self._fenv.process(n))
        y = self._ladder.process(x, cutoff_hz=cutoff)
        amp = self._amp.process(n)
        np.multiply(y[0], amp[0], out=out[0])
        out[0] *= self._makeup
        out[1] = out[0]
        if not self._gate and bool(self._amp.idle[0]) and self._amp.level[0] == 0.0:
            self._silent = True
            self._rest()
        return out

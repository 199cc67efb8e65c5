"""The polyphonic voice engine shared by the machine's polysynths.

:class:`PolyInstrument` gives a subclass a :class:`~symphony.instruments.base.VoiceAllocator`,
vectorized envelopes and oscillators over all voice rows, one small filter per voice slot
(so a note start clears exactly its own filter), click-free voice stealing and exact
silence detection.

Voice stealing: the stolen slot gets ``fast_release`` (:attr:`PolyInstrument.STEAL_MS`,
linear); the new note starts in that slot once the fade has reached exactly zero, at a
frame fixed by the ``note_on`` frame alone, so the result does not depend on how the span
is split into ``process`` calls (``process`` splits itself internally at those frames).

Block-size invariance with silence skipping: while :attr:`PolyInstrument.is_silent`,
``process`` returns zeros without touching any processor (and callers may skip it). That
is exact because (1) idle envelopes do not change, (2) every note start resets its slot's
oscillator phases and filter state, and (3) a free-running clock (e.g. a chorus LFO) must
count frames from the ``note_on`` that ended the last silence.
"""

from __future__ import annotations

import math
from typing import Mapping

import numpy as np
from numba import njit

from symphony.dsp.envelopes import AdsrEnvelope
from symphony.instruments.base import Instrument, VoiceAllocator

#: Shortest amplitude attack / release actually used, ms: a 0 ms setting would be a step.
MIN_ATTACK_MS = 2.0
MIN_RELEASE_MS = 10.0


def stack_rows(active: np.ndarray, voices: int, stack: int) -> np.ndarray:
    """Boolean row mask of the oscillator rows of the ``active`` slots (``stack`` rows per slot).

    Idle rows are skipped by the oscillator (output 0, phase kept); every note start resets
    its rows' phases, so skipping them does not change what is heard.
    """
    mask = np.zeros((voices, stack), dtype=bool)
    mask[active] = True
    return mask.reshape(-1)


def equal_power_pan(position: np.ndarray | float) -> np.ndarray:
    """Left/right gains of the sine/cosine (-3 dB centre) pan law; ``position`` in [-1, 1].

    Returns
    -------
    ndarray, shape (2,) + shape(position): ``[cos(pi (p+1)/4), sin(pi (p+1)/4)]``.

    Examples
    --------
    >>> equal_power_pan(0.0).round(4)
    array([0.7071, 0.7071])
    """
    theta = 0.25 * np.pi * (np.asarray(position, dtype=np.float64) + 1.0)
    return np.stack([np.cos(theta), np.sin(theta)])


# --------------------------------------------------------------------------- the engine


class PolyInstrument(Instrument):
    """Polyphonic voice engine: allocation, stealing with a fade, sub-block event timing, silence.

    Subclasses set ``_envs`` (list of :class:`AdsrEnvelope`; the first is the amplitude
    envelope that decides whether a slot sounds) in :meth:`_build` and implement
    :meth:`_start_voice` (reset the slot's oscillator rows / filter, compute per-note
    constants) and :meth:`_render` (sum the active slots into a stereo block).
    """

    #: Fade of a stolen voice, ms (linear-in-time fast release of every envelope).
    STEAL_MS = 4.0

    def __init__(self, sample_rate: int, *, params: Mapping[str, float | str] | None = None,
                 rng: np.random.Generator | None = None, voices: int | None = None) -> None:
        super().__init__(sample_rate, params=params, rng=rng, voices=voices)
        self._envs: list[AdsrEnvelope] = []
        # the new note waits this long after a steal: the fade plus a 1 ms margin
        self._steal_frames = int(math.ceil((self.STEAL_MS + 1.0) * 1e-3 * self.sample_rate))
        self._allocator = VoiceAllocator(self.voices)
        self._build()
        self.reset()

    # --- hooks ------------------------------------------------------------------
    def _build(self) -> None:  # pragma: no cover - interface
        """Create processors (parameters are fixed for the instance's life)."""
        raise NotImplementedError

    def _reset_dsp(self) -> None:  # pragma: no cover - interface
        """Clear every processor's state."""
        raise NotImplementedError

    def _start_voice(self, slot: int, pitch: float, velocity: float) -> None:  # pragma: no cover
        """Prepare ``slot`` for a new note (called before the envelopes are gated on)."""
        raise NotImplementedError

    def _render(self, n: int, active: np.ndarray, envs: list[np.ndarray]) -> np.ndarray:  # pragma: no cover
        """Stereo (2, n) sum of the ``active`` slots; ``envs`` = each envelope's (voices, n)."""
        raise NotImplementedError

    def _tail_quiet(self) -> bool:
        """True when post-voice processing (e.g. a chorus) holds no sound."""
        return True

    # --- the interface ----------------------------------------------------------
    def reset(self) -> None:
        """Fresh state: all voices idle, every processor cleared, frame counter at 0."""
        self._allocator.reset()
        self._frame = 0
        self._countdown = np.zeros(self.voices, dtype=np.int64)  # frames until a pending start
        self._waiting = False  # == self._countdown.any(), kept as a Python bool (asked per block)
        self._pending: list[tuple[float, float] | None] = [None] * self.voices
        self._onset = np.zeros(self.voices, dtype=np.int64)  # absolute start frame per slot
        for env in self._envs:
            env.reset()
        self._reset_dsp()

    def note_on(self, note_id: int, pitch: float, velocity: float, voice: str | None = None) -> None:
        """Start a note now (at the start of the next ``process``); steals the oldest if full."""
        if self.is_silent:
            # Restart the frame clock: frame-locked state (the chorus LFOs, vibrato onsets)
            # then depends only on time since the sound began, not on how long a silent
            # span lasted or whether the caller skipped ``process`` during it.
            self._frame = 0
        amp = self._envs[0]
        idle = amp.idle & (self._countdown == 0)
        slot, stolen = self._allocator.allocate(note_id, idle)
        velocity = float(min(max(velocity, 0.0), 1.0))
        if not stolen:
            self._start(slot, float(pitch), velocity)
            return
        if self._countdown[slot] == 0:  # sounding: fade it out first
            for env in self._envs:
                env.fast_release(slot, release_ms=self.STEAL_MS)
            self._countdown[slot] = self._steal_frames
            self._waiting = True
        self._pending[slot] = (float(pitch), velocity)

    def note_off(self, note_id: int) -> None:
        """Release a note (no effect if it was stolen meanwhile)."""
        slot = self._allocator.release(note_id)
        if slot is None:
            return
        if self._countdown[slot] > 0:  # released before its delayed start: never sounds
            self._pending[slot] = None
            return
        for env in self._envs:
            env.gate_off(slot)

    def process(self, n: int) -> np.ndarray:
        """Render ``n`` frames of stereo audio, shape (2, n), float64."""
        n = int(n)
        if not self._waiting:  # the common case: no delayed start, one chunk
            if self.is_silent:
                self._frame += n
                return np.zeros((2, n))
            out = np.empty((2, n))
            self._render_sounding(out, n)
            self._frame += n
            return out
        out = np.zeros((2, n))
        pos = 0
        while pos < n:
            waiting = self._countdown > 0
            m = n - pos
            any_waiting = bool(waiting.any())
            if any_waiting:
                m = min(m, int(self._countdown[waiting].min()))
            self._render_chunk(out[:, pos:pos + m], m)
            pos += m
            self._frame += m
            if any_waiting:
                self._countdown[waiting] -= m
                self._waiting = bool(self._countdown.any())
                for slot in np.flatnonzero(waiting & (self._countdown == 0)):
                    note = self._pending[slot]
                    self._pending[slot] = None
                    if note is not None:
                        self._start(int(slot), *note)
        return out

    @property
    def is_silent(self) -> bool:
        """True when every envelope is idle, no start is pending and the tail has died out."""
        if self._waiting:
            return False
        for env in self._envs:
            if not env.idle.all():
                return False
        return self._tail_quiet()

    # --- internals --------------------------------------------------------------
    def _start(self, slot: int, pitch: float, velocity: float) -> None:
        self._onset[slot] = self._frame
        self._start_voice(slot, pitch, velocity)
        for env in self._envs:
            env.gate_on(slot, velocity=1.0)

    def _render_chunk(self, out: np.ndarray, n: int) -> None:
        if self.is_silent:
            # Nothing sounds and nothing would change: skipping equals processing (idle
            # envelopes stay idle, per-voice state is cleared at the next note start).
            return
        self._render_sounding(out, n)

    def _render_sounding(self, out: np.ndarray, n: int) -> None:
        """Render ``n`` frames into ``out`` (2, n), every element written; not silent."""
        active = np.flatnonzero(~self._envs[0].idle)
        envs = [env.process(n) for env in self._envs]
        out[:] = self._render(n, active, envs)

    def _frames_since_onset(self, slots: np.ndarray) -> np.ndarray:
        """(len(slots),) int: frames since each slot's note start, at the next sample."""
        return self._frame - self._onset[slots]


@njit(cache=True)
def vibrato_kernel(onset_frames, n, sample_rate, depth_cents, rate_hz, delay_ms, fade_ms, out):  # pragma: no cover - jit
    """Fill ``out`` (slots, n) with ``2 ** (cents(t) / 1200)`` of a delayed, faded-in vibrato.

    ``cents(t) = depth * clip((t - delay) / fade, 0, 1) * sin(2 pi rate max(t - delay, 0))``
    with ``t`` in seconds from each slot's note start (``onset_frames[j] + k`` frames), so
    it depends only on the note's own time. Same formula as
    :func:`symphony.instruments.lead.vibrato_ratio`, fused (no temporaries).
    """
    delay = delay_ms * 1e-3 * sample_rate
    inv_fade = 1.0 / max(fade_ms * 1e-3, 1e-9)
    scale = depth_cents / 1200.0
    w = 2.0 * math.pi * rate_hz
    inv_sr = 1.0 / sample_rate
    for j in range(onset_frames.shape[0]):
        t0 = onset_frames[j] - delay
        # before the delay has passed the ratio is exactly 2 ** 0 = 1: no sin, no pow
        k0 = min(max(int(math.ceil(-t0)), 0), n)
        for k in range(k0):
            out[j, k] = 1.0
        for k in range(k0, n):
            t = (t0 + k) * inv_sr
            fade = min(max(t * inv_fade, 0.0), 1.0)
            out[j, k] = 2.0 ** (scale * fade * math.sin(w * max(t, 0.0)))


@njit(cache=True)
def pan_stack_kernel(rows, active, pan, out):  # pragma: no cover - jit
    """Mix each active slot's ``stack`` oscillator rows into stereo.

    ``rows`` (voices * stack, n); ``active`` slot indices; ``pan`` (2, 2, stack): the left and
    right gains of every stack member, chosen by the slot's parity (alternate voices mirror
    the spread); ``out`` (len(active), 2, n).
    """
    stack = pan.shape[2]
    n = rows.shape[1]
    for j in range(active.shape[0]):
        slot = active[j]
        p = pan[slot & 1]
        for k in range(n):
            left = 0.0
            right = 0.0
            for m in range(stack):
                x = rows[slot * stack + m, k]
                left += p[0, m] * x
                right += p[1, m] * x
            out[j, 0, k] = left
            out[j, 1, k] = right

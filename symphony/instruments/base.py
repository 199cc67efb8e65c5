"""The instrument interface and a voice allocator shared by polyphonic instruments.

An instrument renders *all its voices at once* as a ``(voices, n)`` array and returns a
stereo ``(2, n)`` float64 block. It is driven by the Orchestra, which splits blocks at
event boundaries, so events take effect exactly at the start of the next ``process``:

    inst.note_on(note_id, pitch, velocity, voice=None)   # pitch: fractional MIDI
    inst.note_off(note_id)
    block = inst.process(n)                             # (2, n) float64

Rules: no file IO, no globals, randomness only from the injected ``rng``, output
independent of how a span is split into ``process`` calls, note starts and ends free of
clicks (ramps, never jumps), and voice stealing fades the stolen voice out.
"""

from __future__ import annotations

from typing import ClassVar, Mapping

import numpy as np

from symphony.errors import ParameterError
from symphony.params import Param, Spec


class Instrument:
    """Base class of machine instruments.

    Parameters
    ----------
    sample_rate : int > 0
    params : mapping of str -> float or str
        Values already validated against ``PARAMS``; missing names take their default.
    rng : numpy.random.Generator
        The only source of randomness.
    voices : int >= 1
        Polyphony (maximum simultaneous notes).
    """

    NAME: ClassVar[str] = ""
    FAMILY: ClassVar[str] = ""
    DOC: ClassVar[str] = ""
    PARAMS: ClassVar[tuple[Param, ...]] = ()
    DRUM_VOICES: ClassVar[tuple[str, ...]] = ()
    DEFAULT_VOICES: ClassVar[int] = 16
    #: A short phrase in the score note language, used by ``symphony audition`` and docs.
    DEMO: ClassVar[str] = "c4:4 e4 g4 c5:2"
    #: For drum instruments: a one-bar 4/4 step pattern per drum voice (16 steps), played
    #: by ``symphony audition`` instead of ``DEMO``.
    DEMO_PATTERN: ClassVar[Mapping[str, str] | None] = None

    def __init__(self, sample_rate: int, *, params: Mapping[str, float | str] | None = None,
                 rng: np.random.Generator | None = None, voices: int | None = None) -> None:
        self.sample_rate = int(sample_rate)
        given = dict(params or {})
        try:
            self.params: dict[str, float | str] = {p.name: p.check(given.pop(p.name, p.default))
                                                   for p in self.PARAMS}
        except ValueError as exc:  # Param.check says which parameter and what is allowed
            raise ParameterError(f"{self.NAME}: {exc}") from None
        if given:
            raise ParameterError(f"unknown parameter(s) for {self.NAME}: {', '.join(sorted(given))}")
        self.rng = rng if rng is not None else np.random.default_rng(0)
        self.voices = int(voices or self.DEFAULT_VOICES)

    @classmethod
    def spec(cls) -> Spec:
        """The validator's view of this instrument."""
        return Spec(cls.NAME, cls.PARAMS, cls.DRUM_VOICES, cls.DOC)

    # --- the interface -------------------------------------------------------------
    def note_on(self, note_id: int, pitch: float, velocity: float, voice: str | None = None) -> None:
        raise NotImplementedError

    def note_off(self, note_id: int) -> None:
        raise NotImplementedError

    def process(self, n: int) -> np.ndarray:
        raise NotImplementedError

    def reset(self) -> None:
        raise NotImplementedError

    @property
    def is_silent(self) -> bool:
        """True when no voice sounds, so ``process`` would return zeros (lets callers skip)."""
        return False


class VoiceAllocator:
    """Maps note ids to voice slots; steals the oldest voice when all are busy.

    The allocator only does bookkeeping; the instrument fades a stolen voice (a short
    release) before reusing its slot, so stealing never clicks.
    """

    def __init__(self, voices: int) -> None:
        self.voices = int(voices)
        self.reset()

    def reset(self) -> None:
        self._note_of_slot = np.full(self.voices, -1, dtype=np.int64)
        self._age = np.zeros(self.voices, dtype=np.int64)  # larger = started later
        self._clock = 0
        self._released = np.ones(self.voices, dtype=bool)

    def allocate(self, note_id: int, idle: np.ndarray) -> tuple[int, bool]:
        """Return ``(slot, stolen)`` for a new note. ``idle`` marks silent slots."""
        self._clock += 1
        candidates = np.flatnonzero(idle)
        stolen = False
        if candidates.size:
            slot = int(candidates[np.argmin(self._age[candidates])])
        else:
            released = np.flatnonzero(self._released)
            pool = released if released.size else np.arange(self.voices)
            slot = int(pool[np.argmin(self._age[pool])])
            stolen = True
        self._note_of_slot[slot] = note_id
        self._age[slot] = self._clock
        self._released[slot] = False
        return slot, stolen

    def release(self, note_id: int) -> int | None:
        """The slot playing ``note_id`` (marked released), or None if it was stolen."""
        hits = np.flatnonzero(self._note_of_slot == note_id)
        if not hits.size:
            return None
        slot = int(hits[0])
        self._released[slot] = True
        self._note_of_slot[slot] = -1
        return slot

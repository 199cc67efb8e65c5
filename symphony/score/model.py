"""The validated, immutable score model.

Everything here is plain frozen data. Times are exact: beats are quarter notes held as
``fractions.Fraction``; bars are 1-based. ``symphony.score.load.load_score`` is the only
producer; the Conductor is the main consumer. Generative blocks are *realized* during
loading (with generators seeded from the chapter seed), so ``Score.notes`` is the complete
list of what will be played.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from fractions import Fraction
from types import MappingProxyType
from typing import Mapping

#: Dynamic marks and their level in dB relative to ``ff`` (an expression gain).
DYNAMIC_LEVELS_DB: Mapping[str, float] = MappingProxyType({
    "ppp": -30.0, "pp": -24.0, "p": -18.0, "mp": -12.0,
    "mf": -8.0, "f": -4.0, "ff": 0.0, "fff": 3.0,
})


@dataclass(frozen=True)
class Position:
    """Where something was written: file path and 1-based line/column (0 = unknown)."""

    path: str
    line: int = 0
    column: int = 0

    def __str__(self) -> str:
        return f"{self.path}:{self.line}:{self.column}" if self.line else self.path


@dataclass(frozen=True)
class MeterChange:
    """A time signature that holds from ``bar`` (1-based) on. ``start_beat`` is absolute."""

    bar: int
    numerator: int
    denominator: int
    start_beat: Fraction
    position: Position

    @property
    def beats_per_bar(self) -> Fraction:
        """Length of one bar in quarter-note beats (7/8 -> 7/2)."""
        return Fraction(4 * self.numerator, self.denominator)


@dataclass(frozen=True)
class TempoChange:
    """A tempo event. From ``start_beat`` the tempo moves to ``bpm`` (quarter notes/min).

    ``ramp_beats == 0`` is an immediate change; otherwise the tempo moves linearly *in
    beats* from the tempo in force at ``start_beat`` to ``bpm`` over ``ramp_beats``
    beats, and holds ``bpm`` after that.

    ``at_seconds`` is set only by the cue solver (:mod:`symphony.score.cues`) on the
    change at a pinned bar: the exact time the change sounds. The tempo map uses it instead
    of its own (float) sum when the two agree within a microsecond, so a pinned bar lands
    on exactly the sample of its timecode; a score whose tempi were altered afterwards
    (a live tempo nudge) simply falls back to the sum.
    """

    bar: int
    start_beat: Fraction
    bpm: float
    ramp_beats: Fraction
    position: Position
    at_seconds: Fraction | None = None


@dataclass(frozen=True)
class Cue:
    """A cue point: the start of ``bar`` (at ``beat``) lands on the film time ``film_seconds``.

    ``seconds`` is the same instant in the render (film time minus the offset of bar 1).
    The solver scales the tempo of the stretch from the previous cue (or bar 1),
    ``from_beat``, to this cue by ``scale`` (1.0 = as written); the solved tempo stays
    within ``min_bpm``..``max_bpm`` and, when set, within ``max_change_percent`` of the
    written tempo.
    """

    name: str
    bar: int
    beat: Fraction  # 1-based, in the meter's unit
    start_beat: Fraction
    film_seconds: Fraction
    seconds: Fraction
    min_bpm: float
    max_bpm: float
    max_change_percent: float | None
    position: Position
    from_beat: Fraction = Fraction(0)
    scale: float = 1.0


@dataclass(frozen=True)
class Picture:
    """The film the chapter is scored to: frame rate and the film time of bar 1."""

    fps: int = 24
    offset_seconds: Fraction = Fraction(0)


@dataclass(frozen=True)
class Section:
    """A named section of the orchestra: one instrument instance, its mixer strip.

    ``params`` holds the instrument parameters as written (validated against the
    instrument's ``PARAMS``); ``sends`` maps bus name -> linear send level in [0, 1].
    """

    name: str
    instrument: str
    params: Mapping[str, float | str]
    gain_db: float
    pan: float  # -1 (left) .. +1 (right)
    sends: Mapping[str, float]
    voices: int  # polyphony of the instrument instance
    position: Position
    #: Optional bus compressor on the section: threshold_db, ratio, attack_ms, release_ms,
    #: knee_db, makeup_db, and ``sidechain`` = the name of the section that keys it (ducking).
    compressor: Mapping[str, float | str] | None = None


@dataclass(frozen=True)
class Bus:
    """An effect bus (a return): sections send into it; its output joins the master."""

    name: str
    effect: str  # e.g. "reverb", "delay"
    params: Mapping[str, float | str]
    gain_db: float
    position: Position


@dataclass(frozen=True)
class Master:
    """Master chain settings. ``lufs`` None = no loudness normalization by default."""

    gain_db: float = 0.0
    ceiling_dbtp: float = -1.0
    lufs: float | None = None


@dataclass(frozen=True)
class Note:
    """One note event, fully realized.

    ``pitch`` is a (fractional) MIDI number, detune and transposition applied.
    ``voice`` names a drum-machine voice (``"kick"``) for step patterns, else None.
    ``offset_ms`` is the timing spread of a unison member (added to the onset).
    """

    section: str
    start_beat: Fraction
    duration_beats: Fraction
    pitch: float
    velocity: float  # 0..1, accents included
    voice: str | None
    offset_ms: float
    passage: str
    position: Position


@dataclass(frozen=True)
class DynamicPoint:
    """Expression level of ``section`` at ``beat``.

    ``level_db`` comes from a mark (see ``DYNAMIC_LEVELS_DB``). When ``ramp`` is true the
    level moves linearly in dB from here to the next point of the same section
    (crescendo/decrescendo); otherwise it holds until the next point.
    """

    section: str
    beat: Fraction
    level_db: float
    ramp: bool
    position: Position


@dataclass(frozen=True)
class Passage:
    """A placed passage: where it starts and ends, who plays it (in unison)."""

    name: str
    bar: int
    start_beat: Fraction
    end_beat: Fraction
    sections: tuple[str, ...]
    position: Position
    #: Reverb space (e.g. ``"catacomb"``) every reverb bus moves to from this passage on:
    #: the listener is placed in the passage's scene. None = unchanged.
    space: str | None = None


@dataclass(frozen=True)
class Score:
    """A validated chapter score. Immutable; build it with ``load_score``."""

    path: str
    title: str
    number: int
    seed: int
    sample_rate: int
    key: str
    meters: tuple[MeterChange, ...]
    tempos: tuple[TempoChange, ...]
    sections: tuple[Section, ...]
    buses: tuple[Bus, ...]
    master: Master
    passages: tuple[Passage, ...]
    notes: tuple[Note, ...]  # sorted by (start_beat, section)
    dynamics: tuple[DynamicPoint, ...]  # sorted by (section, beat)
    n_bars: int  # the chapter ends at the start of bar n_bars + 1
    end_beat: Fraction
    tail_seconds: float  # silence rendered after end_beat for releases and reverb
    source_sha256: str  # hash of the score file's bytes
    description: str = ""
    extra: Mapping[str, object] = field(default_factory=lambda: MappingProxyType({}))
    #: Cue points (scoring to picture). When there are cues, ``tempos`` is the *solved*
    #: tempo map (every pinned bar on its timecode) and ``written_tempos`` the tempi as
    #: written; without cues both are the same.
    cues: tuple[Cue, ...] = ()
    picture: Picture = Picture()
    written_tempos: tuple[TempoChange, ...] = ()
    #: Other files the music is read from (``[passage.midi]`` files), as the score names
    #: them resolved against its folder, in passage order: manifests hash them and
    #: ``play --watch`` reloads when they change.
    input_files: tuple[str, ...] = ()

    def section(self, name: str) -> Section:
        """The section called ``name`` (KeyError if absent)."""
        for s in self.sections:
            if s.name == name:
                return s
        raise KeyError(name)

    def meter_at_bar(self, bar: int) -> MeterChange:
        """The meter in force at ``bar``."""
        current = self.meters[0]
        for m in self.meters:
            if m.bar <= bar:
                current = m
        return current

    def bar_to_beat(self, bar: int | Fraction) -> Fraction:
        """Absolute beat at the start of ``bar`` (1-based; fractional bars allowed)."""
        bar = Fraction(bar)
        m = self.meters[0]
        for nxt in self.meters[1:]:
            if nxt.bar > bar:
                break
            m = nxt
        return m.start_beat + (bar - m.bar) * m.beats_per_bar

    def beat_to_bar(self, beat: Fraction | float) -> tuple[int, Fraction]:
        """``(bar, beat_in_bar)``, both 1-based, for an absolute beat position.

        ``beat_in_bar`` counts in the meter's own unit (eighths in 7/8).
        """
        beat = Fraction(beat)
        m = self.meters[0]
        for nxt in self.meters[1:]:
            if nxt.start_beat > beat:
                break
            m = nxt
        into = beat - m.start_beat
        whole, rest = divmod(into, m.beats_per_bar)
        unit = Fraction(4, m.denominator)
        return m.bar + int(whole), 1 + rest / unit

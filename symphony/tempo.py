"""Tempo map: exact beats <-> seconds <-> frames, ramps integrated in closed form.

A tempo ramp is linear *in beats*: ``bpm(b) = v0 + s (b - b0)`` with
``s = (v1 - v0) / L`` over ``L`` beats. Time is the integral of ``60 / bpm``:

    t(b) = t0 + 60 / s * ln(bpm(b) / v0)          (s != 0)
    t(b) = t0 + 60 (b - b0) / v0                  (s == 0)

and the inverse ``b(t) = b0 + v0 / s * (exp(s (t - t0) / 60) - 1)``. Constant segments
are computed with ``Fraction`` arithmetic, so an event on a constant-tempo grid lands on
exactly the sample a hand calculation gives: ``frame = round(t * sample_rate)`` (round
half to even). A change pinned by a cue point carries its exact time (``at_seconds``),
which restarts the exact arithmetic there (see :mod:`symphony.score.cues`).
"""

from __future__ import annotations

import bisect
import math
from dataclasses import dataclass
from fractions import Fraction
from typing import Iterable

from symphony.score.model import TempoChange


#: An anchored tempo change (``TempoChange.at_seconds``) is used only when it agrees with
#: the integrated time this closely; otherwise (tempi changed after solving) it is ignored.
ANCHOR_TOLERANCE_SECONDS = 1e-6


@dataclass(frozen=True)
class TempoSegment:
    """From ``start_beat`` on, the tempo moves linearly from ``bpm_start`` to ``bpm_end``
    over ``length_beats`` (None = holds forever), starting at ``start_seconds``."""

    start_beat: Fraction
    length_beats: Fraction | None
    bpm_start: float
    bpm_end: float
    start_seconds: Fraction | float

    @property
    def end_beat(self) -> Fraction | None:
        return None if self.length_beats is None else self.start_beat + self.length_beats

    @property
    def slope(self) -> float:
        """d(bpm)/d(beat); 0 for a constant segment."""
        if self.length_beats is None or self.bpm_start == self.bpm_end:
            return 0.0
        return (self.bpm_end - self.bpm_start) / float(self.length_beats)

    def seconds_at(self, beat: Fraction) -> Fraction | float:
        """Seconds at ``beat`` (which must lie in this segment)."""
        db = beat - self.start_beat
        s = self.slope
        if s == 0.0:
            return self.start_seconds + Fraction(60) * db / Fraction(self.bpm_start)
        return float(self.start_seconds) + 60.0 / s * math.log(self.bpm_at(beat) / self.bpm_start)

    def bpm_at(self, beat: Fraction) -> float:
        return self.bpm_start + self.slope * float(beat - self.start_beat)

    def beat_at(self, seconds: float) -> float:
        """Inverse of :meth:`seconds_at` (float precision)."""
        dt = seconds - float(self.start_seconds)
        s = self.slope
        if s == 0.0:
            return float(self.start_beat) + dt * self.bpm_start / 60.0
        return float(self.start_beat) + self.bpm_start / s * math.expm1(s * dt / 60.0)


class TempoMap:
    """Piecewise tempo function built from a score's tempo changes.

    Parameters
    ----------
    changes : iterable of TempoChange
        Sorted by ``start_beat``; the first starts at beat 0.
    sample_rate : int > 0

    Examples
    --------
    >>> from symphony.score.model import TempoChange, Position
    >>> tm = TempoMap([TempoChange(1, Fraction(0), 120.0, Fraction(0), Position("x"))], 48000)
    >>> tm.frame_at(Fraction(4))   # 4 beats at 120 bpm = 2 s
    96000
    """

    def __init__(self, changes: Iterable[TempoChange], sample_rate: int) -> None:
        self.sample_rate = int(sample_rate)
        changes = sorted(changes, key=lambda c: c.start_beat)
        if not changes or changes[0].start_beat != 0:
            raise ValueError("the tempo map must start at beat 0")
        segments: list[TempoSegment] = []
        bpm_now = float(changes[0].bpm)
        seconds: Fraction | float = Fraction(0)
        self.anchor_drift_seconds = 0.0  # largest |sum - at_seconds| of the anchors used
        for i, change in enumerate(changes):
            if segments:
                seconds = segments[-1].seconds_at(change.start_beat)
                bpm_now = segments[-1].bpm_at(change.start_beat)
                segments[-1] = _cut(segments[-1], change.start_beat)
                anchor = getattr(change, "at_seconds", None)
                if anchor is not None and abs(float(seconds) - float(anchor)) <= ANCHOR_TOLERANCE_SECONDS:
                    # a pinned bar (cue solver): its exact time replaces the float sum
                    self.anchor_drift_seconds = max(self.anchor_drift_seconds,
                                                    abs(float(seconds) - float(anchor)))
                    seconds = Fraction(anchor)
            next_beat = changes[i + 1].start_beat if i + 1 < len(changes) else None
            if change.ramp_beats > 0 and bpm_now != change.bpm:
                ramp_end = change.start_beat + change.ramp_beats
                segments.append(TempoSegment(change.start_beat, change.ramp_beats, bpm_now,
                                             float(change.bpm), seconds))
                if next_beat is None or next_beat > ramp_end:
                    seconds = segments[-1].seconds_at(ramp_end)
                    segments.append(TempoSegment(ramp_end, None, float(change.bpm),
                                                 float(change.bpm), seconds))
            else:
                segments.append(TempoSegment(change.start_beat, None, float(change.bpm),
                                             float(change.bpm), seconds))
        self.segments: tuple[TempoSegment, ...] = tuple(segments)
        self._starts = [seg.start_beat for seg in self.segments]
        self._start_seconds = [float(seg.start_seconds) for seg in self.segments]
        self._frames: dict[Fraction, int] = {}  # beat -> frame; the map never changes

    def _segment_for_beat(self, beat: Fraction) -> TempoSegment:
        return self.segments[max(0, bisect.bisect_right(self._starts, beat) - 1)]

    def seconds_at(self, beat: Fraction | int) -> Fraction | float:
        """Exact (Fraction) on constant segments, float inside ramps."""
        beat = Fraction(beat)
        return self._segment_for_beat(beat).seconds_at(beat)

    def frame_at(self, beat: Fraction | int) -> int:
        """The sample on which ``beat`` falls: ``round(seconds * sample_rate)``."""
        frame = self._frames.get(beat)
        if frame is None:
            t = self.seconds_at(beat) * self.sample_rate
            frame = round(t) if isinstance(t, Fraction) else int(round(t))
            self._frames[beat] = frame
        return frame

    def bpm_at(self, beat: Fraction | int) -> float:
        beat = Fraction(beat)
        return self._segment_for_beat(beat).bpm_at(beat)

    def beat_at_seconds(self, seconds: float) -> float:
        """The (float) beat sounding at ``seconds``."""
        seg = self.segments[max(0, bisect.bisect_right(self._start_seconds, seconds) - 1)]
        return seg.beat_at(seconds)

    def beat_at_frame(self, frame: int) -> float:
        return self.beat_at_seconds(frame / self.sample_rate)


def _cut(segment: TempoSegment, at_beat: Fraction) -> TempoSegment:
    """``segment`` shortened to end at ``at_beat`` (a ramp keeps its slope)."""
    length = at_beat - segment.start_beat
    if segment.length_beats is not None and length >= segment.length_beats:
        return segment
    if segment.slope == 0.0:
        return TempoSegment(segment.start_beat, length, segment.bpm_start, segment.bpm_start,
                            segment.start_seconds)
    return TempoSegment(segment.start_beat, length, segment.bpm_start,
                        segment.bpm_at(at_beat), segment.start_seconds)

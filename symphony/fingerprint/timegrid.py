"""Seconds -> ``mm:ss.s`` and, when the score is known, ``bar:beat`` labels for reports."""

from __future__ import annotations

from fractions import Fraction
from types import SimpleNamespace
from typing import Any

from symphony.errors import ParameterError
from symphony.score.model import MeterChange, Position, Score, TempoChange
from symphony.tempo import TempoMap


def format_time(seconds: float) -> str:
    """``mm:ss.s`` (``m:ss.s`` under ten minutes).

    Examples
    --------
    >>> format_time(83.25)
    '1:23.2'
    """
    seconds = max(float(seconds), 0.0)
    minutes, rest = divmod(round(seconds, 1), 60.0)
    return f"{int(minutes)}:{rest:04.1f}"


def score_timing(score: Score) -> dict[str, Any]:
    """What a fingerprint stores to label times with bars: tempo changes and meters."""
    return {
        "tempos": [{"start_beat": str(t.start_beat), "bpm": float(t.bpm), "ramp_beats": str(t.ramp_beats),
                    "bar": t.bar} for t in score.tempos],
        "meters": [{"bar": m.bar, "numerator": m.numerator, "denominator": m.denominator,
                    "start_beat": str(m.start_beat)} for m in score.meters],
    }


class TimeGrid:
    """Labels positions in a piece: ``1:02.3`` and ``bar 17 beat 2.5`` when a score is known.

    Parameters
    ----------
    timing : dict or None
        ``score_timing(score)`` (as stored in a fingerprint's ``score``); None = times only.
    start_seconds : float
        Score time of the audio's first sample (excerpts rendered from a later bar).
    segments : list of [file_start_s, score_start_s, seconds], optional
        For audio made of several windows of the score (golden fingerprints of long scores).

    When a score is known, labels show *score* time; otherwise the file's time.
    """

    def __init__(self, timing: dict[str, Any] | None = None, *, start_seconds: float = 0.0,
                 segments: list | None = None) -> None:
        self.start_seconds = float(start_seconds)
        self.segments = [tuple(float(v) for v in seg) for seg in segments] if segments else []
        self._tempo_map = None
        self._meters: tuple[MeterChange, ...] = ()
        if not timing:
            return
        try:
            where = Position("<fingerprint>")
            tempos = [TempoChange(int(t.get("bar", 1)), Fraction(t["start_beat"]), float(t["bpm"]),
                                  Fraction(t["ramp_beats"]), where) for t in timing["tempos"]]
            self._meters = tuple(MeterChange(int(m["bar"]), int(m["numerator"]), int(m["denominator"]),
                                             Fraction(m["start_beat"]), where) for m in timing["meters"])
            self._tempo_map = TempoMap(tempos, 48000)
        except (KeyError, TypeError, ValueError, ZeroDivisionError) as exc:
            raise ParameterError(f"fingerprint holds a malformed tempo map: {exc}") from None

    @classmethod
    def from_score(cls, score: Score, *, start_seconds: float = 0.0) -> "TimeGrid":
        return cls(score_timing(score), start_seconds=start_seconds)

    @property
    def has_bars(self) -> bool:
        return self._tempo_map is not None and bool(self._meters)

    def score_seconds(self, seconds: float) -> float:
        """Score time of file time ``seconds`` (through the segments, or the start offset)."""
        seconds = float(seconds)
        if not self.segments:
            return self.start_seconds + seconds
        seg = self.segments[0]
        for candidate in self.segments:
            if candidate[0] <= seconds:
                seg = candidate
        return seg[1] + min(max(seconds - seg[0], 0.0), seg[2])

    def bar_beat(self, seconds: float) -> tuple[int, float] | None:
        """``(bar, beat_in_bar)`` (1-based, beat in the meter's unit) at file time ``seconds``."""
        if not self.has_bars:
            return None
        beat = self._tempo_map.beat_at_seconds(self.score_seconds(seconds))
        # Score.beat_to_bar reads only ``meters``: reuse it rather than repeat the meter walk.
        holder = SimpleNamespace(meters=self._meters)
        bar, in_bar = Score.beat_to_bar(holder, Fraction(beat).limit_denominator(960))
        return bar, float(in_bar)

    def _time(self, seconds: float) -> str:
        return format_time(self.score_seconds(seconds) if self.has_bars else seconds)

    def label(self, seconds: float) -> str:
        """``0:12.3`` or ``0:12.3 (bar 5 beat 1.0)`` (score time when the score is known)."""
        text = self._time(seconds)
        bb = self.bar_beat(seconds)
        return f"{text} (bar {bb[0]} beat {bb[1]:.1f})" if bb else text

    def span(self, start: float, end: float) -> str:
        """``0:12.3-0:13.0`` with bars when known: ``(bar 5 beat 1.0 - bar 5 beat 3.0)``."""
        text = f"{self._time(start)}-{self._time(end)}"
        a, b = self.bar_beat(start), self.bar_beat(end)
        if a and b:
            text += f" (bar {a[0]} beat {a[1]:.1f} - bar {b[0]} beat {b[1]:.1f})"
        return text

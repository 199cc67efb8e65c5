"""The cue sheet: where every pinned bar and every tempo change falls, in film time.

Cue points are read and solved into the tempo map while the score loads
(:mod:`symphony.score.cues`, which also holds the timecode functions re-exported here);
this module reports the result at a sample rate. ``symphony cues score.toml`` prints it.

Each pinned cue is checked against the tempo map the Conductor plays: ``error_samples`` is
the pinned bar's frame minus ``round(seconds * sample_rate)`` (0 by construction; the
solver's floating-point sum agrees with the exact time to about 1e-12 s, see
``drift_samples``).
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from fractions import Fraction

from symphony.score.cues import FPS_CHOICES, format_timecode, parse_timecode, solve_cues
from symphony.score.model import Score
from symphony.tempo import TempoMap

__all__ = ["CueSheetRow", "cue_sheet", "cue_sheet_json", "format_cue_sheet", "format_timecode",
           "parse_timecode", "solve_cues", "FPS_CHOICES"]


@dataclass(frozen=True)
class CueSheetRow:
    """One line of the cue sheet: a pinned cue or a tempo change of the solved map.

    ``seconds`` is render time (bar 1 = 0), ``timecode`` film time. For a tempo change
    ``bpm`` is the tempo it moves to (over ``ramp_beats``); for a cue, the tempo from the
    pinned bar on. ``scale`` is the factor the cue applied to the written tempo of its
    stretch (bars ``from_bar``.. the cue), ``error_samples`` how far the pinned bar's frame
    lies from its time.
    """

    kind: str  # "cue" or "tempo"
    name: str
    bar: int
    beat: Fraction  # 1-based, in the meter's unit
    start_beat: Fraction
    seconds: float
    timecode: str
    bpm: float
    ramp_beats: Fraction = Fraction(0)
    scale: float | None = None
    from_bar: int | None = None
    error_samples: int | None = None
    drift_samples: float | None = None
    written_bpm: float | None = None  # tempo changes: the bpm as written (before the solve)


def cue_sheet(score: Score, sample_rate: int | None = None) -> tuple[CueSheetRow, ...]:
    """Every cue and tempo change of ``score``, sorted by position (tempo before cue).

    Parameters
    ----------
    score : Score
    sample_rate : int, optional
        The rate at which pinned bars are checked; defaults to the score's.

    Returns
    -------
    tuple of CueSheetRow

    Examples
    --------
    >>> from symphony.catalog import load
    >>> rows = cue_sheet(load("scores/example-03-picture.toml"))
    >>> [r.error_samples for r in rows if r.kind == "cue"]
    [0, 0]
    """
    sr = int(sample_rate or score.sample_rate)
    tm = TempoMap(score.tempos, sr)
    loose = TempoMap([dataclasses.replace(t, at_seconds=None) for t in score.tempos], sr)
    written = TempoMap(score.written_tempos or score.tempos, sr)
    fps, offset = score.picture.fps, score.picture.offset_seconds
    rows = []
    for t in score.tempos:
        seconds = tm.seconds_at(t.start_beat)
        bar, beat = score.beat_to_bar(t.start_beat)
        rows.append(CueSheetRow("tempo", "ramp" if t.ramp_beats else "tempo", bar, beat, t.start_beat,
                                float(seconds), format_timecode(Fraction(seconds) + offset, fps), float(t.bpm),
                                t.ramp_beats, written_bpm=written.bpm_at(t.start_beat + t.ramp_beats)))
    for cue in score.cues:
        frame = tm.frame_at(cue.start_beat)
        target = round(cue.seconds * sr)
        drift = (float(loose.seconds_at(cue.start_beat)) - float(cue.seconds)) * sr
        rows.append(CueSheetRow("cue", cue.name, cue.bar, cue.beat, cue.start_beat, float(cue.seconds),
                                format_timecode(cue.film_seconds, fps), tm.bpm_at(cue.start_beat),
                                scale=cue.scale, from_bar=score.beat_to_bar(cue.from_beat)[0],
                                error_samples=frame - target, drift_samples=drift))
    rows.sort(key=lambda r: (r.start_beat, r.kind == "cue"))
    return tuple(rows)


def format_cue_sheet(score: Score, rows: tuple[CueSheetRow, ...], sample_rate: int | None = None) -> str:
    """The cue sheet as an aligned text table (what ``symphony cues`` prints)."""
    sr = int(sample_rate or score.sample_rate)
    pic = score.picture
    lines = [f"{score.number:02d}  {score.title}",
             f"{pic.fps} fps, bar 1 at {format_timecode(pic.offset_seconds, pic.fps)}, "
             f"{len(score.cues)} cue{'s' if len(score.cues) != 1 else ''}, checked at {sr} Hz",
             f"{'':5} {'bar':>4} {'beat':>5}  {'timecode':<11} {'seconds':>9} {'bpm':>8}  what"]
    for r in rows:
        beat = f"{float(r.beat):g}"
        if r.kind == "tempo":
            what = f"ramp over {float(r.ramp_beats):g} beats to {r.bpm:.2f} bpm" if r.ramp_beats else "tempo"
            if abs(r.written_bpm - r.bpm) > 0.005:
                what += f" (written {r.written_bpm:.2f})"
        else:
            span = f"bar {r.from_bar}" if r.from_bar is not None and r.from_bar >= r.bar - 1 else \
                f"bars {r.from_bar}-{r.bar - 1 if float(r.beat) == 1 else r.bar}"
            what = (f"'{r.name}': {span} x{r.scale:.4f} ({(r.scale - 1) * 100:+.2f}%), "
                    f"error {r.error_samples} samples")
        lines.append(f"{r.kind:<5} {r.bar:>4} {beat:>5}  {r.timecode:<11} {r.seconds:>9.3f} {r.bpm:>8.2f}  {what}")
    return "\n".join(lines)


def cue_sheet_json(score: Score, rows: tuple[CueSheetRow, ...], sample_rate: int | None = None) -> dict:
    """The cue sheet as JSON-ready data (``symphony cues --json``)."""
    pic = score.picture
    out = []
    for r in rows:
        item = {"kind": r.kind, "name": r.name, "bar": r.bar, "beat": float(r.beat),
                "start_beat": str(r.start_beat), "timecode": r.timecode, "seconds": r.seconds, "bpm": r.bpm}
        if r.kind == "tempo":
            item.update(ramp_beats=str(r.ramp_beats), written_bpm=r.written_bpm)
        else:
            item.update(scale=r.scale, from_bar=r.from_bar, error_samples=r.error_samples,
                        drift_samples=r.drift_samples)
        out.append(item)
    return {"score": score.path, "title": score.title, "fps": pic.fps,
            "offset": format_timecode(pic.offset_seconds, pic.fps), "offset_seconds": float(pic.offset_seconds),
            "sample_rate": int(sample_rate or score.sample_rate), "rows": out}

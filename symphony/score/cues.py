"""Scoring to picture: cue points, film timecodes, and the tempo solve that lands them.

A cue pins the start of a bar (optionally a beat) to a film time, written as a timecode
``"hh:mm:ss:ff"`` (non-drop frames at ``[cues] fps``, 24 by default) or in seconds
(``at = 754.2``). ``[cues] offset`` is the film time of bar 1, so every cue time is
*film* time and the render starts at the offset.

The solve (:func:`solve_cues`) happens once, while the score loads, and its result is an
ordinary tuple of :class:`~symphony.score.model.TempoChange` in ``Score.tempos``: the
Conductor, the live player, the fingerprints and the MIDI export all read the solved map
without knowing about cues.

The method: the **stretch** of a cue runs from the previous cue (or bar 1) to the pinned
bar. Every tempo of that stretch, constant or ramped, is multiplied by one factor ``k``.
Time is the integral of ``60 / bpm`` over beats (see :mod:`symphony.tempo`), so scaling
every tempo by ``k`` scales the stretch's duration by exactly ``1 / k`` -- also inside
linear ramps, whose duration ``60 L ln(v1/v0) / (v1 - v0)`` is homogeneous of degree -1
in ``(v0, v1)``. Hence ``k = written duration / wanted duration`` in closed form, and the
composer's tempo shape (accelerandi, sudden changes, their ratios) is kept; one factor is
also the smallest possible largest deviation from the written tempi over the stretch.
After the last cue the written tempo resumes. A ramp that starts at a pinned bar starts
from the tempo actually playing there (ramps are continuous), so its duration depends on
``k`` non-linearly; that one case is solved by bisection on the monotone duration.

The bars land *exactly*: the change the solver puts at each pinned bar carries the cue's
exact time (``TempoChange.at_seconds``), which :class:`symphony.tempo.TempoMap` uses in
place of its floating-point sum (they agree to ~1e-12 s), so the pinned bar's frame is
``round(seconds * sample_rate)`` at every sample rate.

This module lives in ``symphony.score`` because the loader runs it; it imports nothing
but the score model and the errors.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, replace
from fractions import Fraction
from typing import Sequence

from symphony.errors import ScoreError, ScoreProblem
from symphony.score.model import Cue, MeterChange, Picture, Position, TempoChange

#: Film frame rates a timecode may use (non-drop frame).
FPS_CHOICES = (24, 25, 30)
CUES_KEYS = ("fps", "offset", "min_bpm", "max_bpm", "max_change_percent")
CUE_KEYS = ("name", "bar", "beat", "timecode", "at", "min_bpm", "max_bpm", "max_change_percent")
#: Tempo limits when the score sets none: the range ``[[tempo]] bpm`` accepts.
DEFAULT_MIN_BPM, DEFAULT_MAX_BPM = 20.0, 400.0
MAX_FILM_SECONDS = 100 * 3600
_TIMECODE = re.compile(r"\s*(\d{2}):(\d{2}):(\d{2}):(\d{2})\s*")
_TOLERANCE = 1e-9  # relative slack when comparing a solved tempo with its limits


# ---------------------------------------------------------------------------- timecodes
def parse_timecode(text: str, fps: int = 24) -> Fraction:
    """Film time in seconds (exact) of a non-drop timecode ``"hh:mm:ss:ff"``.

    Parameters
    ----------
    text : str
        ``hh:mm:ss:ff``, two digits each; minutes and seconds 00..59, frames 00..fps-1.
    fps : {24, 25, 30}

    Returns
    -------
    Fraction
        ``hh*3600 + mm*60 + ss + ff/fps``.

    Raises
    ------
    ValueError
        With a message naming the bad field.

    Examples
    --------
    >>> parse_timecode("00:12:34:05")
    Fraction(18101, 24)
    >>> float(parse_timecode("00:00:01:12", 25))
    1.48
    """
    if fps not in FPS_CHOICES:
        raise ValueError(f"fps must be one of {', '.join(map(str, FPS_CHOICES))}, got {fps!r}")
    m = _TIMECODE.fullmatch(text) if isinstance(text, str) else None
    if m is None:
        raise ValueError(f"bad timecode {text!r}: expected \"hh:mm:ss:ff\"")
    hours, minutes, seconds, frames = (int(g) for g in m.groups())
    if minutes > 59:
        raise ValueError(f"bad timecode {text!r}: minutes must be 00..59, got {minutes:02d}")
    if seconds > 59:
        raise ValueError(f"bad timecode {text!r}: seconds must be 00..59, got {seconds:02d}")
    if frames >= fps:
        raise ValueError(f"bad timecode {text!r}: frame {frames:02d} does not exist at {fps} fps "
                         f"(frames run 00..{fps - 1:02d})")
    return Fraction(hours * 3600 + minutes * 60 + seconds) + Fraction(frames, fps)


def format_timecode(seconds: Fraction | float, fps: int = 24) -> str:
    """``"hh:mm:ss:ff"`` of the frame showing at film time ``seconds`` (frames floored).

    Examples
    --------
    >>> format_timecode(Fraction(18101, 24))
    '00:12:34:05'
    >>> format_timecode(-1.0)
    '-00:00:01:00'
    """
    value = Fraction(seconds) if not isinstance(seconds, float) else Fraction(repr(seconds))
    sign = "-" if value < 0 else ""
    frames_total = math.floor(abs(value) * fps + Fraction(1, 10**9))  # float inputs: 1e-9 frame slack
    frames = frames_total % fps
    whole = frames_total // fps
    return f"{sign}{whole // 3600:02d}:{whole // 60 % 60:02d}:{whole % 60:02d}:{frames:02d}"


# ---------------------------------------------------------------------------- reading
def read_cues(c, doc: dict, meters) -> tuple[Picture, list[Cue]]:
    """``[cues]`` and ``[[cue]]`` -> (Picture, cues in written order), reporting through ``c``.

    ``c`` is the validator's :class:`~symphony.score.checker.Checker`, ``meters`` its
    ``MeterMap``. Tempo limits are resolved per cue (its own keys, else ``[cues]``, else
    20..400 bpm).
    """
    table = c.get(doc, "cues", (), "table", default={})
    if table is None:  # wrong type, reported
        table = {}
    kp = ("cues",)
    c.allow(table, kp, CUES_KEYS, "[cues]")
    fps = c.get(table, "fps", kp, "int", default=24)
    if fps not in FPS_CHOICES:
        c.error(kp + ("fps",), f"fps must be one of {', '.join(map(str, FPS_CHOICES))}, got {table.get('fps')!r}",
                "film runs at 24 fps; 25 (PAL video) and 30 (non-drop NTSC) are accepted")
        fps = 24
    offset = _film_time(c, table, "offset", kp, fps, "[cues] offset")
    offset = Fraction(0) if offset is None else offset
    defaults = _limits(c, table, kp, DEFAULT_MIN_BPM, DEFAULT_MAX_BPM, None) or (DEFAULT_MIN_BPM, DEFAULT_MAX_BPM,
                                                                                 None)
    raw = c.get(doc, "cue", (), "array", default=[])
    cues: list[Cue] = []
    for i, entry in enumerate(raw or []):
        ck = ("cue", i)
        if not isinstance(entry, dict):
            c.error(ck, "each [[cue]] must be a table",
                    'write [[cue]] / name = "the cut" / bar = 33 / timecode = "00:12:34:05"')
            continue
        c.allow(entry, ck, CUE_KEYS, "[[cue]]")
        bar = c.get(entry, "bar", ck, "int", required=True, low=1, high=10_001)
        beat = c.get(entry, "beat", ck, "number", default=1.0, low=1.0, high=33.0)
        name = c.get(entry, "name", ck, "str", default=None)
        label = name if name else (f"bar {bar}" if bar is not None else f"#{i + 1}")
        has_tc, has_at = "timecode" in entry, "at" in entry
        if has_tc == has_at:
            c.error(ck, f"cue '{label}' needs exactly one of timecode or at",
                    'write timecode = "hh:mm:ss:ff" (film time) or at = <seconds> (film time)')
            continue
        key = "timecode" if has_tc else "at"
        film = _film_time(c, entry, key, ck, fps, f"cue '{label}'")
        limits = _limits(c, entry, ck, *defaults)
        if bar is None or beat is None or film is None or limits is None:
            continue
        start = meters.position(c, ck, bar, beat)
        if start is None:
            continue
        position = c.position(ck + (key,))
        if start == 0:
            c.error(ck + ("bar",), f"cue '{label}' pins bar 1 beat 1, which always sounds at [cues] offset",
                    f"set [cues] offset = \"{format_timecode(film, fps)}\" instead of this cue")
            continue
        if film <= offset:
            c.error(ck + (key,), f"cue '{label}' at {format_timecode(film, fps)} is not after bar 1, "
                    f"which starts at the offset {format_timecode(offset, fps)}",
                    "a pinned bar after bar 1 needs a later film time; check the timecode or [cues] offset")
            continue
        if cues and start <= cues[-1].start_beat:
            c.error(ck + ("bar",), f"cue '{label}' at bar {bar} is not after cue '{cues[-1].name}' at bar "
                    f"{cues[-1].bar}: [[cue]] entries must be sorted by bar (and beat), one per position",
                    "reorder the [[cue]] entries")
            continue
        if cues and film <= cues[-1].film_seconds:
            c.error(ck + (key,), f"cue '{label}' at bar {bar} is at {format_timecode(film, fps)}, not after cue "
                    f"'{cues[-1].name}' at bar {cues[-1].bar} ({format_timecode(cues[-1].film_seconds, fps)})",
                    "later bars need later film times: check both timecodes")
            continue
        cues.append(Cue(label, bar, Fraction(beat).limit_denominator(64), start, film, film - offset,
                        limits[0], limits[1], limits[2], position))
    return Picture(fps, offset), cues


def _film_time(c, table: dict, key: str, kp: tuple, fps: int, what: str) -> Fraction | None:
    """A film time written as a timecode string or a number of seconds (exact decimal)."""
    if key not in table:
        return None
    value = table[key]
    if key == "timecode" and not isinstance(value, str):
        c.get(table, key, kp, "str", example='"00:12:34:05"')  # reports the type, with an example
        return None
    if key == "at" or not isinstance(value, str):
        seconds = c.get(table, key, kp, "number", low=0.0, high=float(MAX_FILM_SECONDS), unit=" s")
        if seconds is None:
            return None
        return Fraction(repr(seconds))  # 754.2 -> 3771/5, the decimal the composer wrote
    try:
        return parse_timecode(value, fps)
    except ValueError as exc:
        c.error(kp + (key,), f"{exc} in {what}",
                f"write \"hh:mm:ss:ff\" at {fps} fps (e.g. \"00:12:34:05\"), or seconds as a number")
        return None


def _limits(c, table: dict, kp: tuple, low: float, high: float, percent: float | None):
    """(min_bpm, max_bpm, max_change_percent) of ``table``, defaulting to the given ones."""
    lo = c.get(table, "min_bpm", kp, "number", default=low, low=DEFAULT_MIN_BPM, high=DEFAULT_MAX_BPM)
    hi = c.get(table, "max_bpm", kp, "number", default=high, low=DEFAULT_MIN_BPM, high=DEFAULT_MAX_BPM)
    pct = c.get(table, "max_change_percent", kp, "number", default=percent, low=0.0, high=100.0, unit=" %")
    if lo is None or hi is None:
        return None
    if lo >= hi:
        c.error(kp + ("min_bpm",), f"min_bpm must be below max_bpm, got {lo:g} >= {hi:g}",
                "the solved tempo must have room: e.g. min_bpm = 60, max_bpm = 140")
        return None
    return float(lo), float(hi), (None if pct is None else float(pct))


def check_cues_in_chapter(cues: Sequence[Cue], end_beat: Fraction, n_bars: int) -> None:
    """A cue past the chapter's end (the start of bar ``n_bars + 1``) is an error: it would
    bend the tempo of the real music toward a bar that is never played."""
    problems = [cue for cue in cues if cue.start_beat > end_beat]
    if problems:
        raise ScoreError.collect([
            ScoreProblem(cue.position.path, cue.position.line, cue.position.column,
                         f"cue '{cue.name}' pins bar {cue.bar}, past the end of the chapter (it ends at the "
                         f"start of bar {n_bars + 1})", f"raise chapter.bars to at least {cue.bar}, or pin a bar "
                         f"up to {n_bars + 1}") for cue in problems])


# ---------------------------------------------------------------------------- solving
@dataclass(frozen=True)
class _Piece:
    """The written tempo over ``[start, start + length)``: linear in beats from v0 to v1."""

    start: Fraction
    length: Fraction | None  # None: holds forever
    v0: float
    v1: float

    @property
    def end(self) -> Fraction | None:
        return None if self.length is None else self.start + self.length

    def value_at(self, beat: Fraction) -> float:
        if self.v0 == self.v1 or self.length is None:
            return self.v0
        return self.v0 + (self.v1 - self.v0) * float((beat - self.start) / self.length)

    def split(self, beat: Fraction) -> tuple["_Piece", "_Piece"]:
        mid = self.value_at(beat)
        rest = None if self.length is None else self.end - beat
        return (_Piece(self.start, beat - self.start, self.v0, mid), _Piece(beat, rest, mid, self.v1))


def _written_pieces(tempos: Sequence[TempoChange]) -> list[_Piece]:
    """The written tempo function as pieces (the semantics of ``TempoChange``)."""
    pieces: list[_Piece] = []
    changes = sorted(tempos, key=lambda t: t.start_beat)
    bpm_now = float(changes[0].bpm)
    for i, ch in enumerate(changes):
        if pieces:
            last = pieces[-1]
            bpm_now = last.value_at(ch.start_beat) if last.end is None or ch.start_beat < last.end else last.v1
            if last.end is None or ch.start_beat < last.end:
                pieces[-1] = last.split(ch.start_beat)[0]
        nxt = changes[i + 1].start_beat if i + 1 < len(changes) else None
        if ch.ramp_beats > 0 and bpm_now != float(ch.bpm):
            pieces.append(_Piece(ch.start_beat, ch.ramp_beats, bpm_now, float(ch.bpm)))
            end = ch.start_beat + ch.ramp_beats
            if nxt is None or nxt > end:
                pieces.append(_Piece(end, None, float(ch.bpm), float(ch.bpm)))
        else:
            pieces.append(_Piece(ch.start_beat, None, float(ch.bpm), float(ch.bpm)))
    return [p for p in pieces if p.length is None or p.length > 0]


def piece_seconds(length_beats: Fraction, bpm_start: float, bpm_end: float) -> float:
    """Duration of ``length_beats`` beats whose tempo moves linearly (in beats) between two bpm.

    ``60 L / v`` when constant, else ``60 L ln(v1/v0) / (v1 - v0)`` (the integral of
    ``60 / bpm(b)``; :mod:`symphony.tempo`), evaluated stably near ``v1 = v0``.

    Examples
    --------
    >>> piece_seconds(Fraction(4), 120.0, 120.0)
    2.0
    """
    x = bpm_end / bpm_start - 1.0
    base = 60.0 * float(length_beats) / bpm_start
    if abs(x) < 1e-12:
        return base
    return base * math.log1p(x) / x


def solve_cues(tempos: Sequence[TempoChange], cues: Sequence[Cue], meters: Sequence[MeterChange],
               fps: int = 24) -> tuple[tuple[TempoChange, ...], tuple[Cue, ...]]:
    """The tempo map that lands every cue's bar on its time, and the cues with their factors.

    Parameters
    ----------
    tempos : sequence of TempoChange
        As written (validated: sorted, the first at beat 0).
    cues : sequence of Cue
        Sorted by ``start_beat`` with increasing ``seconds`` (``read_cues`` checks this).
    meters : sequence of MeterChange
        To number bars in the changes the solver inserts and in messages.
    fps : int
        Frame rate of the timecodes in messages.

    Returns
    -------
    (tempos, cues)
        Ordinary tempo changes (the change at each pinned bar carries ``at_seconds``) and
        the cues with ``from_beat`` and ``scale`` filled in.

    Raises
    ------
    ScoreError
        At the first cue whose solved tempo leaves its limits: the needed tempo, the
        limits, and the film times the limits allow.
    """
    if not cues:
        return tuple(tempos), tuple(cues)
    pins = [cue.start_beat for cue in cues]
    pieces = []
    for piece in _written_pieces(tempos):
        for pin in pins:
            if piece.start < pin and (piece.end is None or pin < piece.end):
                head, piece = piece.split(pin)
                pieces.append(head)
        pieces.append(piece)
    # solved start/end tempo of every piece, stretch by stretch
    solved: list[tuple[float, float]] = []
    out_cues: list[Cue] = []
    previous_seconds, k = Fraction(0), 1.0
    index = 0
    for j, cue in enumerate(cues):
        from_beat = Fraction(0) if j == 0 else cues[j - 1].start_beat
        stretch = []
        while index < len(pieces) and pieces[index].start < cue.start_beat:
            stretch.append(pieces[index])
            index += 1
        fixed = solved[-1][1] if (j > 0 and stretch[0].v0 != stretch[0].v1) else None
        wanted = float(cue.seconds - previous_seconds)
        k = _solve_factor(stretch, fixed, wanted)
        _check_limits(cue, stretch, fixed, k, previous_seconds, _span(meters, from_beat, cue), fps)
        for n, piece in enumerate(stretch):
            start = fixed if (n == 0 and fixed is not None) else k * piece.v0
            solved.append((start, k * piece.v1))
        out_cues.append(replace(cue, from_beat=from_beat, scale=k))
        previous_seconds = cue.seconds
    for n, piece in enumerate(pieces[index:]):  # after the last cue: the written tempo resumes
        ramp_at_pin = n == 0 and piece.v0 != piece.v1
        solved.append((solved[-1][1] if ramp_at_pin else piece.v0, piece.v1))
    return _as_changes(tempos, pieces, solved, cues, meters), tuple(out_cues)


def _stretch_seconds(stretch: Sequence[_Piece], fixed: float | None, k: float) -> float:
    total = 0.0
    for n, piece in enumerate(stretch):
        start = fixed if (n == 0 and fixed is not None) else k * piece.v0
        total += piece_seconds(piece.length, start, k * piece.v1)
    return total


def _solve_factor(stretch: Sequence[_Piece], fixed: float | None, wanted: float) -> float:
    """``k`` with ``duration(k) == wanted``: closed form, or bisection when a ramp starts
    from a fixed tempo (the duration is then still strictly decreasing in ``k``)."""
    if fixed is None:
        return _stretch_seconds(stretch, None, 1.0) / wanted
    lo, hi = math.log(1e-6), math.log(1e6)
    for _ in range(200):
        mid = 0.5 * (lo + hi)
        if _stretch_seconds(stretch, fixed, math.exp(mid)) > wanted:
            lo = mid
        else:
            hi = mid
        if hi - lo < 1e-15:
            break
    return math.exp(0.5 * (lo + hi))


def _check_limits(cue: Cue, stretch: Sequence[_Piece], fixed: float | None, k: float,
                  previous_seconds: Fraction, span: str, fps: int) -> None:
    written = [v for n, p in enumerate(stretch) for v in ((p.v1,) if n == 0 and fixed is not None else (p.v0, p.v1))]
    w_lo, w_hi = min(written), max(written)
    lo, hi = k * w_lo, k * w_hi
    pct = cue.max_change_percent
    change = (k - 1.0) * 100.0
    too_fast = hi > cue.max_bpm * (1 + _TOLERANCE) or (pct is not None and change > pct + _TOLERANCE)
    too_slow = lo < cue.min_bpm * (1 - _TOLERANCE) or (pct is not None and -change > pct + _TOLERANCE)
    if not (too_fast or too_slow):
        return
    needed = f"{lo:.2f} bpm" if abs(hi - lo) < 0.005 else f"{lo:.2f}..{hi:.2f} bpm"
    limits = f"{cue.min_bpm:g}..{cue.max_bpm:g} bpm"
    if pct is not None:
        limits += f" and at most {pct:g}% from the written tempo"
    message = (f"cue '{cue.name}' cannot land bar {cue.bar} on {format_timecode(cue.film_seconds, fps)}: "
               f"{span} would need {needed} "
               f"({change:+.2f}% on the written tempo), outside the limits {limits}")
    # the film times the limits allow: the fastest and the slowest allowed factor
    k_max = min(cue.max_bpm / w_hi, 1.0 + pct / 100.0 if pct is not None else math.inf)
    k_min = max(cue.min_bpm / w_lo, 1.0 - pct / 100.0 if pct is not None else 0.0)
    film_start = cue.film_seconds - cue.seconds + previous_seconds
    hints = []
    if k_min <= k_max and k_min > 0:
        earliest = float(film_start) + _stretch_seconds(stretch, fixed, k_max)
        latest = float(film_start) + _stretch_seconds(stretch, fixed, k_min)
        first, last = math.ceil(earliest * fps - 1e-9), math.floor(latest * fps + 1e-9)  # whole frames
        hints.append(f"the limits allow bar {cue.bar} between {format_timecode(Fraction(first, fps), fps)} "
                     f"and {format_timecode(Fraction(last, fps), fps)} (film time)" if first <= last else
                     f"the limits allow bar {cue.bar} only at {earliest:.4f}..{latest:.4f} s (film time), "
                     f"which holds no frame boundary at {fps} fps: pin it by seconds (at = ...)")
    else:
        hints.append("the written tempi of the stretch alone span more than the limits allow")
    if too_fast:
        hints.append(f"or raise max_bpm to {math.ceil(hi):d}" if hi > cue.max_bpm * (1 + _TOLERANCE)
                     else f"or raise max_change_percent to {math.ceil(change * 10) / 10:g}")
    else:
        hints.append(f"or lower min_bpm to {math.floor(lo):d}" if lo < cue.min_bpm * (1 - _TOLERANCE)
                     else f"or raise max_change_percent to {math.ceil(-change * 10) / 10:g}")
    hints.append("or pin an earlier bar too, so the change spreads over more music")
    pos = cue.position
    raise ScoreError(pos.path, pos.line, pos.column, message, ", ".join(hints))


def _span(meters: Sequence[MeterChange], from_beat: Fraction, cue: Cue) -> str:
    """``"bars 17-32"``: the bars a cue's stretch touches."""
    first = _bar_of(meters, from_beat)
    last = cue.bar - 1 if cue.beat == 1 else cue.bar
    return f"bar {first}" if last <= first else f"bars {first}-{last}"


def _bar_of(meters: Sequence[MeterChange], beat: Fraction) -> int:
    m = meters[0]
    for nxt in meters[1:]:
        if nxt.start_beat > beat:
            break
        m = nxt
    return m.bar + int((beat - m.start_beat) // m.beats_per_bar)


def _as_changes(tempos: Sequence[TempoChange], pieces: Sequence[_Piece], solved: Sequence[tuple[float, float]],
                cues: Sequence[Cue], meters: Sequence[MeterChange]) -> tuple[TempoChange, ...]:
    """Solved pieces -> TempoChange, one per written change or pinned bar (ramps continuous)."""
    written = {t.start_beat: t for t in tempos}
    pinned = {cue.start_beat: cue for cue in cues}
    out: list[TempoChange] = []
    current = None
    for piece, (start, end) in zip(pieces, solved):
        cue = pinned.get(piece.start)
        src = written.get(piece.start)
        bar = cue.bar if cue else (src.bar if src else _bar_of(meters, piece.start))
        position = cue.position if cue else (src.position if src else Position(""))
        at = cue.seconds if cue else None
        if piece.v0 != piece.v1:  # a ramp: from the tempo in force (== start) to `end`
            out.append(TempoChange(bar, piece.start, end, piece.length, position, at))
        elif cue is not None or current is None or start != current:
            out.append(TempoChange(bar, piece.start, start, Fraction(0), position, at))
        current = end
    return tuple(out)

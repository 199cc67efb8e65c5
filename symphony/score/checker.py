"""The validator's tools: a problem-collecting :class:`Checker` with typed getters, the bar
map of a score's meters, limits and key names.

Every check appends a :class:`~symphony.errors.ScoreProblem` (with the line:column from
:class:`~symphony.score.positions.PositionMap`) and carries on with a sensible default, so
one run reports every defect.
"""

from __future__ import annotations

import difflib
import math
from fractions import Fraction
from typing import Any, Iterable

from symphony.errors import ScoreProblem
from symphony.score.model import MeterChange, Position
from symphony.score.positions import PositionMap

SAMPLE_RATES = (22050, 44100, 48000, 88200, 96000)
MAX_BARS = 10_000
MAX_REPEAT = 1000
MAX_VOICES = 64
MAX_NOTES_PER_PASSAGE = 100_000
MAX_NOTES = 1_000_000
MAX_PLAYERS = 16
TOP_KEYS = ("chapter", "tempo", "meter", "master", "bus", "section", "passage")
CHAPTER_KEYS = ("title", "number", "seed", "sample_rate", "key", "bars", "tail_seconds", "description")
PASSAGE_KEYS = ("name", "bar", "bars", "repeat", "players", "sections", "notes", "pattern", "generate",
                "dynamics", "legato", "step", "swing", "tune", "velocity", "space", "midi")
PLAYER_KEYS = ("section", "transpose", "detune_cents", "spread_ms", "velocity")
SECTION_KEYS = ("instrument", "gain_db", "pan", "voices", "sends", "params", "compressor")
_TYPES = {"int": (int,), "number": (int, float), "str": (str,), "bool": (bool,), "table": (dict,),
          "array": (list,)}
_TYPE_NAMES = {"int": "an integer", "number": "a number", "str": "a string", "bool": "true or false",
               "table": "a table", "array": "an array"}


def suggest(name: str, known: Iterable[str]) -> str:
    """``did you mean 'x'? known: a, b, c`` (difflib) or just the known names."""
    known = sorted(known)
    close = difflib.get_close_matches(name, known, n=1, cutoff=0.6)
    listed = ", ".join(known) if known else "(none)"
    if close:
        return f"did you mean '{close[0]}'? known: {listed}"
    return f"known: {listed}"


class Checker:
    """Collects problems; typed getters that report wrong types and ranges with positions."""

    def __init__(self, path: str, positions: PositionMap) -> None:
        self.path = path
        self.positions = positions
        self.problems: list[ScoreProblem] = []

    def error(self, keypath: tuple, message: str, hint: str = "", column: int = -1) -> None:
        """Record a problem at ``keypath`` (or at character ``column`` of its string value)."""
        if column >= 0:
            line, col = self.positions.char(keypath, column)
        else:
            line, col = self.positions.find(keypath)
        self.problems.append(ScoreProblem(self.path, line, col, message, hint))

    def position(self, keypath: tuple, column: int = -1) -> Position:
        if column >= 0:
            line, col = self.positions.char(keypath, column)
        else:
            line, col = self.positions.find(keypath)
        return Position(self.path, line, col)

    def allow(self, table: dict, keypath: tuple, allowed: Iterable[str], what: str = "") -> None:
        """Report every key of ``table`` not in ``allowed`` with a did-you-mean hint."""
        allowed = tuple(allowed)
        where = what or (f"[{'.'.join(str(k) for k in keypath)}]" if keypath else "the top level")
        for k in table:
            if k not in allowed:
                self.error(keypath + (k,), f"unknown key '{k}' in {where}", suggest(k, allowed))

    def get(self, table: dict, key: str, keypath: tuple, kind: str, *, required: bool = False,
            default: Any = None, low: float | None = None, high: float | None = None,
            choices: Iterable[str] | None = None, unit: str = "", example: str = "") -> Any:
        """Typed value of ``table[key]``; on a problem, record it and return ``default``."""
        if key not in table:
            if required:
                self.error(keypath, f"missing required key '{key}' in "
                           f"[{'.'.join(str(k) for k in keypath)}]" if keypath else f"missing '{key}'",
                           f"add {key} = ...")
            return default
        value = table[key]
        kp = keypath + (key,)
        types = _TYPES[kind]
        if isinstance(value, bool) and kind != "bool" or not isinstance(value, types):
            hint = f"e.g. {key} = {example or _example(kind, low, high)}"
            if kind in ("int", "number") and isinstance(value, str):
                hint = "numbers are written without quotes, " + hint
            self.error(kp, f"{key} must be {_TYPE_NAMES[kind]}, got {value!r}", hint)
            return default
        if kind == "number":
            value = float(value)
            if not math.isfinite(value):  # TOML's nan/inf: NaN would pass every range check
                self.error(kp, f"{key} must be a finite number, got {value!r}",
                           f"write a number, e.g. {key} = {example or _example(kind, low, high)}")
                return default
        if low is not None and value < low or high is not None and value > high:
            self.error(kp, f"{key} must be in {low:g}..{high:g}{unit}, got {value!r}",
                       f"use a value between {low:g} and {high:g}")
            return default
        if choices is not None and value not in tuple(choices):
            self.error(kp, f"{key} must be one of {', '.join(choices)}, got {value!r}", suggest(value, choices))
            return default
        return value

    def check_voice(self, voice: str, voices: tuple[str, ...], keypath: tuple) -> bool:
        if not voices:
            self.error(keypath, f"drum voice '{voice}' used, but the section's instrument has no drum voices",
                       "step patterns and voice = ... need a drum instrument such as drum_machine")
            return False
        if voice not in voices:
            self.error(keypath, f"unknown drum voice '{voice}'", suggest(voice, voices))
            return False
        return True


def _example(kind: str, low: float | None, high: float | None) -> str:
    if kind in ("int", "number"):
        if low is not None:
            return f"{low:g}" if kind == "number" else str(int(low))
        return "1"
    return {"str": '"..."', "bool": "true", "table": "{ ... }", "array": "[ ... ]"}[kind]


# ---------------------------------------------------------------------------- meters
class MeterMap:
    """Bars <-> beats for a tuple of MeterChange (the same arithmetic as ``Score``)."""

    def __init__(self, meters: tuple[MeterChange, ...]) -> None:
        self.meters = meters

    def at_bar(self, bar: int | Fraction) -> MeterChange:
        m = self.meters[0]
        for nxt in self.meters[1:]:
            if nxt.bar > bar:
                break
            m = nxt
        return m

    def bar_to_beat(self, bar: int | Fraction) -> Fraction:
        m = self.at_bar(bar)
        return m.start_beat + (Fraction(bar) - m.bar) * m.beats_per_bar

    def position(self, c: "Checker", keypath: tuple, bar: int, beat: float) -> Fraction | None:
        """Absolute beat of ``bar``/``beat`` (beat 1 = the downbeat, in the bar's beat unit);
        records an error at ``keypath + ("beat",)`` and returns None past the bar's end."""
        m = self.at_bar(bar)
        into = (Fraction(beat).limit_denominator(64) - 1) * Fraction(4, m.denominator)
        if into >= m.beats_per_bar:
            c.error(keypath + ("beat",), f"beat {beat:g} is past the end of bar {bar} ({m.numerator}/{m.denominator})",
                    f"beats in this bar run 1..{m.numerator}")
            return None
        return self.bar_to_beat(bar) + into

    def bar_length(self, bar: int) -> tuple[Fraction, str]:
        """(length in beats, "n/d") of ``bar``."""
        m = self.at_bar(bar)
        return m.beats_per_bar, f"{m.numerator}/{m.denominator}"

    def bar_at(self, beat: Fraction) -> tuple[int, Fraction, Fraction, str]:
        """(bar number, bar start beat, bar length, "n/d") of the bar holding ``beat``."""
        m = self.meters[0]
        for nxt in self.meters[1:]:
            if nxt.start_beat > beat:
                break
            m = nxt
        whole = (beat - m.start_beat) // m.beats_per_bar
        return (m.bar + int(whole), m.start_beat + whole * m.beats_per_bar, m.beats_per_bar,
                f"{m.numerator}/{m.denominator}")

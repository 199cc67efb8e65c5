"""Parsed TOML document -> validated :class:`~symphony.score.model.Score`.

Every check appends a :class:`~symphony.errors.ScoreProblem` (with the line:column from
:class:`~symphony.score.positions.PositionMap`) to one list and carries on with a sensible
default, so one run reports every defect; :func:`build_score` raises them together.
"""

from __future__ import annotations

import difflib
import re
import zlib
from fractions import Fraction
from types import MappingProxyType
from typing import Any, Iterable

import numpy as np

from symphony.errors import ScoreError, ScoreProblem
from symphony.params import Catalog, Spec
from symphony.score import generate as gen
from symphony.score.model import (DYNAMIC_LEVELS_DB, Bus, DynamicPoint, Master, MeterChange, Note,
                                  Passage, Position, Score, Section, TempoChange)
from symphony.score.notes import NoteSyntaxError, parse_notes, realize_notes
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
                "dynamics", "legato", "step", "swing", "velocity")
PLAYER_KEYS = ("section", "transpose", "detune_cents", "spread_ms", "velocity")
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


def _meters(c: Checker, doc: dict) -> tuple[MeterChange, ...]:
    raw = c.get(doc, "meter", (), "array", default=[])
    found: list[tuple[int, int, int, Position]] = []
    for i, m in enumerate(raw or []):
        kp = ("meter", i)
        if not isinstance(m, dict):
            c.error(kp, "each [[meter]] must be a table", "write [[meter]] / bar = 1 / signature = \"4/4\"")
            continue
        c.allow(m, kp, ("bar", "signature"), "[[meter]]")
        bar = c.get(m, "bar", kp, "int", required=True, low=1, high=MAX_BARS)
        sig = c.get(m, "signature", kp, "str", required=True)
        if bar is None or sig is None:
            continue
        mm = re.fullmatch(r"\s*(\d{1,2})\s*/\s*(\d{1,2})\s*", sig)
        if mm is None or not 1 <= int(mm.group(1)) <= 32 or int(mm.group(2)) not in (1, 2, 4, 8, 16, 32):
            c.error(kp + ("signature",), f"bad meter signature {sig!r}",
                    "write n/d with n in 1..32 and d in 1, 2, 4, 8, 16, 32, e.g. \"7/8\"")
            continue
        found.append((bar, int(mm.group(1)), int(mm.group(2)), c.position(kp)))
    if raw and found and sorted(found, key=lambda f: f[0]) != found:
        c.error(("meter",), "[[meter]] entries must be sorted by bar", "reorder them by bar")
    found.sort(key=lambda f: f[0])
    if not found:
        found = [(1, 4, 4, Position(c.path))]
    elif found[0][0] != 1:
        c.error(("meter", 0, "bar"), f"the first meter must be at bar 1, got bar {found[0][0]}",
                "add a [[meter]] with bar = 1 (the default is 4/4)")
        found.insert(0, (1, 4, 4, Position(c.path)))
    meters: list[MeterChange] = []
    for bar, n, d, pos in found:
        if meters and bar == meters[-1].bar:
            c.error(("meter",), f"two meters at bar {bar}", "keep one")
            continue
        start = Fraction(0) if not meters else meters[-1].start_beat + (bar - meters[-1].bar) * meters[-1].beats_per_bar
        meters.append(MeterChange(bar, n, d, start, pos))
    return tuple(meters)


def _tempos(c: Checker, doc: dict, mm: MeterMap) -> tuple[TempoChange, ...]:
    raw = c.get(doc, "tempo", (), "array", default=[])
    out: list[TempoChange] = []
    for i, t in enumerate(raw or []):
        kp = ("tempo", i)
        if not isinstance(t, dict):
            c.error(kp, "each [[tempo]] must be a table", "write [[tempo]] / bar = 1 / bpm = 120")
            continue
        c.allow(t, kp, ("bar", "beat", "bpm", "ramp_bars"), "[[tempo]]")
        bar = c.get(t, "bar", kp, "int", required=True, low=1, high=MAX_BARS)
        beat = c.get(t, "beat", kp, "number", default=1.0, low=1.0, high=33.0)
        bpm = c.get(t, "bpm", kp, "number", required=True, example="120")
        ramp = c.get(t, "ramp_bars", kp, "number", default=0.0, low=0.0, high=float(MAX_BARS))
        if bpm is not None and bpm <= 0:
            c.error(kp + ("bpm",), f"bpm must be > 0, got {t['bpm']!r}", "tempos run 20..400 quarter notes per minute")
            bpm = None
        elif bpm is not None and not 20 <= bpm <= 400:
            c.error(kp + ("bpm",), f"bpm must be in 20..400, got {t['bpm']!r}", "use a tempo between 20 and 400")
            bpm = None
        if bar is None or bpm is None or beat is None or ramp is None:
            continue
        m = mm.at_bar(bar)
        unit = Fraction(4, m.denominator)
        offset = (Fraction(beat).limit_denominator(64) - 1) * unit
        if offset >= m.beats_per_bar:
            c.error(kp + ("beat",), f"beat {beat:g} is past the end of bar {bar} ({m.numerator}/{m.denominator})",
                    f"beats in this bar run 1..{m.numerator}")
            continue
        start = mm.bar_to_beat(bar) + offset
        ramp_f = Fraction(ramp).limit_denominator(64)
        ramp_beats = mm.bar_to_beat(bar + ramp_f) - mm.bar_to_beat(bar)
        if out and start <= out[-1].start_beat:
            c.error(kp + ("bar",), "[[tempo]] entries must be sorted by bar (and beat), one per position",
                    "reorder them")
            continue
        if out and out[-1].start_beat + out[-1].ramp_beats > start:
            c.error(kp + ("bar",), f"tempo change at bar {bar} starts inside the previous ramp",
                    "shorten ramp_bars of the previous [[tempo]]")
        out.append(TempoChange(bar, start, float(bpm), ramp_beats, c.position(kp)))
    if not raw:
        return (TempoChange(1, Fraction(0), 120.0, Fraction(0), Position(c.path)),)
    if out and out[0].start_beat != 0:
        c.error(("tempo", 0, "bar"), f"the first tempo must be at bar 1 beat 1, got bar {out[0].bar}",
                "add a [[tempo]] with bar = 1 so the opening has a tempo")
    if not out:
        out.append(TempoChange(1, Fraction(0), 120.0, Fraction(0), Position(c.path)))
    return tuple(out)


def _params(c: Checker, table: dict, kp: tuple, spec: Spec, skip: tuple[str, ...], what: str) -> dict:
    names = [p.name for p in spec.params]
    out: dict[str, float | str] = {}
    for k, v in table.items():
        if k in skip:
            continue
        p = spec.param(k)
        if p is None:
            c.error(kp + (k,), f"unknown parameter '{k}' for {what} '{spec.name}'", suggest(k, names))
            continue
        try:
            out[k] = p.check(v)
        except ValueError as e:
            hint = (f"{k} takes one of {', '.join(p.choices)}" if p.choices
                    else f"{k} is in [{p.low:g}, {p.high:g}] (default {p.default})")
            c.error(kp + (k,), f"{e} (in {what} '{spec.name}')", hint)
    return out


def _buses(c: Checker, doc: dict, catalog: Catalog) -> tuple[Bus, ...]:
    raw = c.get(doc, "bus", (), "table", default={})
    out = []
    for name, b in (raw or {}).items():
        kp = ("bus", name)
        if not isinstance(b, dict):
            c.error(kp, f"bus '{name}' must be a table", "write [bus.<name>] / effect = \"reverb\"")
            continue
        effect = c.get(b, "effect", kp, "str", required=True)
        gain = c.get(b, "gain_db", kp, "number", default=0.0, low=-60.0, high=12.0, unit=" dB")
        params: dict = {}
        if effect is not None:
            spec = catalog.effects.get(effect)
            if spec is None:
                c.error(kp + ("effect",), f"unknown effect '{effect}' in bus '{name}'", suggest(effect, catalog.effects))
            else:
                params = _params(c, b, kp, spec, ("effect", "gain_db"), "effect")
        out.append(Bus(name, effect or "", MappingProxyType(params), gain if gain is not None else 0.0,
                       c.position(kp)))
    return tuple(out)


def _sections(c: Checker, doc: dict, catalog: Catalog, buses: tuple[Bus, ...]) -> tuple[Section, ...]:
    raw = c.get(doc, "section", (), "table", default={})
    bus_names = [b.name for b in buses]
    out = []
    for name, s in (raw or {}).items():
        kp = ("section", name)
        if not isinstance(s, dict):
            c.error(kp, f"section '{name}' must be a table", "write [section.<name>] / instrument = ...")
            continue
        c.allow(s, kp, ("instrument", "gain_db", "pan", "voices", "sends", "params"))
        inst = c.get(s, "instrument", kp, "str", required=True)
        gain = c.get(s, "gain_db", kp, "number", default=0.0, low=-60.0, high=12.0, unit=" dB")
        pan = c.get(s, "pan", kp, "number", default=0.0, low=-1.0, high=1.0)
        voices = c.get(s, "voices", kp, "int", default=16, low=1, high=MAX_VOICES)
        sends = c.get(s, "sends", kp, "table", default={})
        params_raw = c.get(s, "params", kp, "table", default={})
        spec = None
        if inst is not None:
            spec = catalog.instruments.get(inst)
            if spec is None:
                c.error(kp + ("instrument",), f"unknown instrument '{inst}' in section '{name}'",
                        suggest(inst, catalog.instruments))
        params = _params(c, params_raw or {}, kp + ("params",), spec, (), "instrument") if spec else {}
        send_levels = {}
        for bus, level in (sends or {}).items():
            if bus not in bus_names:
                c.error(kp + ("sends", bus), f"unknown bus '{bus}' in sends of section '{name}'",
                        suggest(bus, bus_names))
                continue
            v = c.get(sends, bus, kp + ("sends",), "number", low=0.0, high=1.0)
            if v is not None:
                send_levels[bus] = v
        out.append(Section(name, inst or "", MappingProxyType(params), gain if gain is not None else 0.0,
                           pan if pan is not None else 0.0, MappingProxyType(send_levels),
                           voices if voices is not None else 16, c.position(kp)))
    return tuple(out)


# ---------------------------------------------------------------------------- passages
def _players(c: Checker, p: dict, kp: tuple, sections: dict[str, Section]) -> list[dict]:
    has_players, has_sections = "players" in p, "sections" in p
    if has_players and has_sections:
        c.error(kp + ("sections",), "give players or sections, not both",
                "sections = [\"a\", \"b\"] is shorthand for players = [{ section = \"a\" }, ...]")
        return []
    if not has_players and not has_sections:
        c.error(kp, "passage has no players", "add sections = [\"strings\"] or players = [{ section = \"strings\" }]")
        return []
    out = []
    if has_sections:
        names = c.get(p, "sections", kp, "array")
        raw = [{"section": n} for n in names] if names is not None else []
        key = "sections"
    else:
        raw = c.get(p, "players", kp, "array") or []
        key = "players"
    if not raw:
        c.error(kp + (key,), f"{key} is empty", "name at least one section")
    if len(raw) > MAX_PLAYERS:
        c.error(kp + (key,), f"{len(raw)} players exceed the limit of {MAX_PLAYERS}", "split the passage")
        return []
    for i, pl in enumerate(raw):
        pk = kp + (key, i)
        if not isinstance(pl, dict):
            c.error(pk, f"players[{i}] must be an inline table, got {pl!r}", "e.g. { section = \"strings\" }")
            continue
        if key == "players":
            c.allow(pl, pk, PLAYER_KEYS, "a player")
        name = c.get(pl, "section", pk, "str", required=True) if key == "players" else pl["section"]
        if key == "sections" and not isinstance(name, str):
            c.error(pk, f"sections[{i}] must be a section name, got {name!r}", "e.g. sections = [\"strings\"]")
            continue
        if name is None:
            continue
        if name not in sections:
            c.error(pk if key == "sections" else pk + ("section",),
                    f"unknown section '{name}' in passage '{p.get('name', '?')}'", suggest(name, sections))
            continue
        out.append(dict(
            section=name,
            transpose=c.get(pl, "transpose", pk, "number", default=0.0, low=-48.0, high=48.0),
            detune_cents=c.get(pl, "detune_cents", pk, "number", default=0.0, low=-100.0, high=100.0),
            spread_ms=c.get(pl, "spread_ms", pk, "number", default=0.0, low=0.0, high=200.0),
            velocity=c.get(pl, "velocity", pk, "number", default=1.0, low=0.0, high=2.0)))
    return [o for o in out if None not in o.values()]


def _dynamics(c: Checker, text: str, kp: tuple, bar: int, start: Fraction, end: Fraction, mm: MeterMap,
              sections: list[str]) -> list[DynamicPoint]:
    points: list[tuple[Fraction, float | None, bool, int]] = []
    for m in re.finditer(r"\S+", text):
        tok, col = m.group(0), m.start()
        mt = re.fullmatch(r"(\d+)(?:\.(\d+(?:\.\d+)?))?:(ppp|pp|p|mp|mf|f|ff|fff|<|>)", tok)
        if mt is None:
            c.error(kp, f"bad dynamics mark {tok!r}",
                    "write bar[.beat]:mark pairs, e.g. \"1:p 1:< 5:ff\"; marks ppp pp p mp mf f ff fff, < and >",
                    column=col)
            continue
        rel_bar = int(mt.group(1))
        beat = Fraction(mt.group(2)) if mt.group(2) else Fraction(1)
        if rel_bar < 1 or beat < 1 or rel_bar > MAX_BARS:
            c.error(kp, f"dynamics position {tok.split(':')[0]} must be >= 1", "bars and beats count from 1", column=col)
            continue
        meter = mm.at_bar(bar + rel_bar - 1)
        at = mm.bar_to_beat(bar + rel_bar - 1) + (beat - 1) * Fraction(4, meter.denominator)
        if not start <= at <= end:
            c.error(kp, f"dynamics mark {tok!r} lies outside the passage", "positions are relative to the "
                    "passage start: 1 = its first bar", column=col)
            continue
        mark = mt.group(3)
        if mark in "<>":
            points.append((at, None, True, col))
        else:
            points.append((at, DYNAMIC_LEVELS_DB[mark], False, col))
    points.sort(key=lambda q: q[0])
    merged: list[list] = []  # [beat, level, ramp, col, direction]
    level = None
    for at, lv, is_ramp, col in points:
        if merged and merged[-1][0] == at:
            cur = merged[-1]
        else:
            cur = [at, level, False, col, None]
            merged.append(cur)
        if is_ramp:
            cur[2] = True
            cur[4] = col
        else:
            cur[1] = lv
            level = lv
    out = []
    for i, (at, lv, ramp, col, ramp_col) in enumerate(merged):
        if lv is None:
            c.error(kp, "a crescendo/decrescendo needs a starting mark", "put a mark before it, e.g. \"1:p 1:<\"",
                    column=col)
            continue
        if ramp:
            nxt = next((q for q in merged[i + 1:] if q[1] is not None and q[0] > at), None)
            sign = text[ramp_col + text[ramp_col:].index(":") + 1] if ramp_col is not None else "<"
            if nxt is None:
                c.error(kp, f"'{sign}' has no target mark after it", "end it with a mark, e.g. \"5:ff\"",
                        column=ramp_col)
                ramp = False
        for s in sections:
            out.append(DynamicPoint(s, at, lv, ramp, c.position(kp, col)))
    return out


def _passage_seed(seed: int, index: int, name: str, extra: int) -> np.random.Generator:
    return np.random.default_rng([seed, index, zlib.crc32(name.encode("utf-8")), extra])


def _passages(c: Checker, doc: dict, ctx: dict) -> tuple[list[Passage], list[Note], list[DynamicPoint]]:
    raw = c.get(doc, "passage", (), "array", default=[]) or []
    sections: dict[str, Section] = ctx["sections"]
    mm: MeterMap = ctx["meters"]
    catalog: Catalog = ctx["catalog"]
    passages: list[Passage] = []
    notes: list[Note] = []
    dynamics: list[DynamicPoint] = []
    names: dict[str, int] = {}
    for index, p in enumerate(raw):
        kp = ("passage", index)
        if not isinstance(p, dict):
            c.error(kp, "each [[passage]] must be a table", "write [[passage]] / name = ...")
            continue
        c.allow(p, kp, PASSAGE_KEYS, "[[passage]]")
        name = c.get(p, "name", kp, "str", required=True) or f"#{index + 1}"
        if name in names:
            c.error(kp + ("name",), f"duplicate passage name '{name}'",
                    f"passage names must be unique; the first '{name}' is passage {names[name] + 1}")
        names.setdefault(name, index)
        bar = c.get(p, "bar", kp, "int", required=True, low=1, high=MAX_BARS)
        bars = c.get(p, "bars", kp, "int", low=1, high=MAX_BARS)
        repeat = c.get(p, "repeat", kp, "int", default=1, low=1, high=MAX_REPEAT)
        legato = c.get(p, "legato", kp, "number", default=0.92, low=0.01, high=1.0)
        velocity = c.get(p, "velocity", kp, "number", default=0.8, low=0.0, high=1.0)
        players = _players(c, p, kp, sections)
        kinds = [k for k in ("notes", "pattern", "generate") if k in p]
        if len(kinds) != 1:
            c.error(kp, f"passage '{name}' needs exactly one of notes, pattern or generate"
                    + (f", got {' and '.join(kinds)}" if kinds else ""),
                    "notes = \"...\" for written music, pattern = { kick = \"x...\" } for drums, "
                    "[passage.generate] for generative material")
            continue
        if bar is None or repeat is None or legato is None or velocity is None:
            continue
        if bar + (bars or 0) - 1 > MAX_BARS:
            c.error(kp + ("bars",), f"passage ends after bar {MAX_BARS} (the limit)", "shorten it")
            continue
        start = mm.bar_to_beat(bar)
        kind = kinds[0]
        hits: list[tuple] = []  # (start, duration, pitches, voice, velocity, accent, staccato, tied, last, keypath, column)
        end = None
        if kind == "notes":
            end = _notes_passage(c, p, kp, name, start, bars, repeat, mm, hits)
        else:
            if bars is None:
                c.error(kp, f"passage '{name}' needs bars = N (the length to fill with its {kind})",
                        "e.g. bars = 8")
                continue
            if "repeat" in p:
                c.error(kp + ("repeat",), f"repeat applies to notes passages; use bars for a {kind}",
                        "the pattern or generator fills `bars` bars")
            end = mm.bar_to_beat(bar + bars)
            _block_passage(c, p, kp, kind, name, index, start, end, players, sections, catalog, ctx, mm, hits)
        if end is None:
            continue
        if len(hits) * max(1, len(players)) > MAX_NOTES_PER_PASSAGE:
            c.error(kp, f"passage '{name}' has {len(hits) * max(1, len(players))} notes, more than the limit "
                    f"of {MAX_NOTES_PER_PASSAGE}", "split it or use fewer repeats")
            continue
        if ctx["chapter_bars"] is not None and end > mm.bar_to_beat(ctx["chapter_bars"] + 1):
            c.error(kp + ("bar",), f"passage '{name}' extends past chapter.bars = {ctx['chapter_bars']} "
                    f"(it ends in bar {mm.bar_at(end - Fraction(1, 1024))[0]})",
                    "raise chapter.bars or shorten the passage")
        played = list(dict.fromkeys(pl["section"] for pl in players))
        pos = c.position(kp)
        passages.append(Passage(name, bar, start, end, tuple(played), pos))
        if "dynamics" in p:
            text = c.get(p, "dynamics", kp, "str")
            if text is not None:
                dynamics.extend(_dynamics(c, text, kp + ("dynamics",), bar, start, end, mm, sorted(set(played))))
        spread_rng = _passage_seed(ctx["seed"], index, name, 1)
        for pl in players:
            for (t0, dur, pitches, voice, vel, accent, stacc, tied, last, hkp, col) in hits:
                gate = 0.5 if stacc else legato
                d = dur - last * Fraction(1 - gate).limit_denominator(10_000) if voice is None else dur
                v = min(1.0, (velocity if vel is None else vel) + gen_accent(accent)) * pl["velocity"]
                for pitch in pitches:
                    final = pitch + pl["transpose"] + pl["detune_cents"] / 100.0
                    if voice is None and not 0.0 <= final <= 127.0:
                        c.error(hkp, f"pitch {final:g} (MIDI) out of range 0..127 after transpose", "", column=col)
                        continue
                    offset = float(spread_rng.uniform(-pl["spread_ms"], pl["spread_ms"])) if pl["spread_ms"] else 0.0
                    notes.append(Note(pl["section"], t0, d, float(final), float(min(1.0, v)), voice, offset,
                                      name, c.position(hkp, col)))
        if len(notes) > MAX_NOTES:
            c.error(kp, f"the score holds more than {MAX_NOTES} notes", "split the chapter")
            break
    return passages, notes, dynamics


def gen_accent(level: int) -> float:
    return 0.15 * level


def _notes_passage(c: Checker, p: dict, kp: tuple, name: str, start: Fraction, bars: int | None,
                   repeat: int, mm: MeterMap, hits: list) -> Fraction | None:
    text = c.get(p, "notes", kp, "str")
    nk = kp + ("notes",)
    if text is None:
        return None
    try:
        tokens = parse_notes(text)
    except NoteSyntaxError as e:
        c.error(nk, f"{e.message} in passage '{name}'", e.hint, column=e.offset)
        return None
    if len(tokens) * repeat > 10 * MAX_NOTES_PER_PASSAGE:
        c.error(nk, f"passage '{name}' repeats {len(tokens)} tokens {repeat} times, more than the limit of "
                f"{10 * MAX_NOTES_PER_PASSAGE} tokens", "use fewer repeats")
        return None
    sounding = sum(1 for t in tokens if t.kind == "note")
    if sounding * repeat > MAX_NOTES_PER_PASSAGE:
        c.error(nk, f"passage '{name}' has {sounding * repeat} notes, more than the limit of "
                f"{MAX_NOTES_PER_PASSAGE}", "split it or use fewer repeats")
        return None
    if not any(t.kind in ("note", "rest", "bar_rest") for t in tokens):
        c.error(nk, f"passage '{name}' has no notes", "write at least one note or rest")
        return None
    now = start
    seen: set = set()
    for _ in range(repeat):
        events, problems, end = realize_notes(tokens, now, mm.bar_at, mm.bar_length)
        for pr in problems:
            if (pr.offset, pr.message) not in seen:
                seen.add((pr.offset, pr.message))
                c.error(nk, pr.message.replace("of the passage", f"of passage '{name}'"), pr.hint,
                        column=pr.offset)
        for ev in events:
            hits.append((ev.start, ev.duration, ev.pitches, None, ev.velocity, ev.accent, ev.staccato,
                         ev.tied, ev.last_part, nk, ev.offset))
        if end == now:
            break
        now = end
        if len(hits) > MAX_NOTES_PER_PASSAGE:
            break
    if bars is not None:
        limit = mm.bar_to_beat(mm.bar_at(start)[0] + bars)
        if now > limit:
            c.error(kp + ("bars",), f"the notes of passage '{name}' run past its bars = {bars}",
                    "raise bars or remove notes")
        return limit
    return now


def _block_passage(c: Checker, p: dict, kp: tuple, kind: str, name: str, index: int, start: Fraction,
                   end: Fraction, players: list[dict], sections: dict[str, Section], catalog: Catalog,
                   ctx: dict, mm: MeterMap, hits: list) -> None:
    voices: tuple[str, ...] = ()
    for pl in players:
        spec = catalog.instruments.get(sections[pl["section"]].instrument)
        if spec is not None and spec.drum_voices:
            voices = spec.drum_voices if not voices else tuple(v for v in voices if v in spec.drum_voices)
    bar_length = mm.at_bar(mm.bar_at(start)[0]).beats_per_bar
    if kind == "pattern":
        rows = c.get(p, "pattern", kp, "table")
        swing = c.get(p, "swing", kp, "number", default=0.0, low=0.0, high=0.5)
        if rows is None or swing is None:
            return
        if not voices:
            c.error(kp + ("pattern",), f"pattern in passage '{name}' needs a section with drum voices",
                    "play step patterns with a drum instrument such as drum_machine")
            return
        if not rows:
            c.error(kp + ("pattern",), "pattern is empty", "e.g. pattern = { kick = \"x...x...x...x...\" }")
            return
        table = {k: v for k, v in p.items() if k == "step"}
        block = gen.Block(c, table, kp, start, end, _passage_seed(ctx["seed"], index, name, 0), voices,
                          ctx["key"], bar_length)
        block.t = p  # step is read from the passage itself
        found = gen.realize_pattern(block, rows, swing)
        for h in found:
            hits.append((h.start, h.duration, (h.pitch,), h.voice, h.velocity, 0, False, False, h.duration,
                         kp + ("pattern", h.voice), -1))
        return
    for k in ("step", "swing"):
        if k in p:
            c.error(kp + (k,), f"{k} belongs to step patterns; put it inside [passage.generate]", "")
    g = c.get(p, "generate", kp, "table")
    if g is None:
        return
    gk = kp + ("generate",)
    kind_name = c.get(g, "kind", gk, "str", required=True)
    if kind_name is None:
        return
    if kind_name not in gen.KINDS:
        c.error(gk + ("kind",), f"unknown generate kind '{kind_name}'", suggest(kind_name, gen.KINDS))
        return
    seed = c.get(g, "seed", gk, "int", low=0, high=2**63 - 1)
    rng = np.random.default_rng(seed) if seed is not None else _passage_seed(ctx["seed"], index, name, 0)
    block = gen.Block(c, g, gk, start, end, rng, voices, ctx["key"], bar_length)
    for h in gen.REALIZERS[kind_name](block):
        hits.append((h.start, h.duration, (h.pitch,), h.voice, h.velocity, 0, False, False, h.duration,
                     gk, -1))


# ---------------------------------------------------------------------------- entry
def build_score(doc: dict, catalog: Catalog, positions: PositionMap, path: str, sha256: str) -> Score:
    """Validate a parsed document and build the :class:`Score`.

    Raises
    ------
    ScoreError
        Carrying every problem found, sorted by line.
    """
    c = Checker(path, positions)
    c.allow(doc, (), TOP_KEYS, "the top level")
    chapter = c.get(doc, "chapter", (), "table")
    if chapter is None:
        if "chapter" not in doc:
            c.error((), "missing [chapter] table", "start the score with [chapter] and title = \"...\"")
        chapter = {}
    ck = ("chapter",)
    c.allow(chapter, ck, CHAPTER_KEYS, "[chapter]")
    title = c.get(chapter, "title", ck, "str", required=True)
    if title is not None and not title.strip():
        c.error(ck + ("title",), "title is empty", "give the chapter a title")
    number = c.get(chapter, "number", ck, "int", default=1, low=1, high=99)
    seed = c.get(chapter, "seed", ck, "int", default=0, low=0, high=2**63 - 1)
    sample_rate = c.get(chapter, "sample_rate", ck, "int", default=48000)
    if sample_rate not in SAMPLE_RATES:
        c.error(ck + ("sample_rate",), f"sample_rate must be one of {', '.join(map(str, SAMPLE_RATES))}, "
                f"got {chapter.get('sample_rate')!r}", "48000 is the default")
        sample_rate = 48000
    key_text = c.get(chapter, "key", ck, "str", default="C major")
    try:
        key = gen.parse_key(key_text or "C major")
    except ValueError:
        c.error(ck + ("key",), f"bad key {key_text!r}",
                f"write a tonic and a mode, e.g. \"D minor\"; modes: {', '.join(gen.MODES)}")
        key = (0, "major")
    chapter_bars = c.get(chapter, "bars", ck, "int", low=1, high=MAX_BARS)
    tail = c.get(chapter, "tail_seconds", ck, "number", default=3.0, low=0.0, high=30.0, unit=" s")
    description = c.get(chapter, "description", ck, "str", default="")
    meters = _meters(c, doc)
    mm = MeterMap(meters)
    tempos = _tempos(c, doc, mm)
    master_raw = c.get(doc, "master", (), "table", default={}) or {}
    c.allow(master_raw, ("master",), ("gain_db", "ceiling_dbtp", "lufs"), "[master]")
    master = Master(
        c.get(master_raw, "gain_db", ("master",), "number", default=0.0, low=-60.0, high=12.0, unit=" dB"),
        c.get(master_raw, "ceiling_dbtp", ("master",), "number", default=-1.0, low=-20.0, high=0.0, unit=" dBTP"),
        c.get(master_raw, "lufs", ("master",), "number", default=None, low=-40.0, high=-5.0, unit=" LUFS"))
    buses = _buses(c, doc, catalog)
    sections = _sections(c, doc, catalog, buses)
    ctx = dict(sections={s.name: s for s in sections}, meters=mm, catalog=catalog, seed=seed or 0,
               key=key, chapter_bars=chapter_bars)
    passages, notes, dynamics = _passages(c, doc, ctx)
    if c.problems:
        raise ScoreError.collect(c.problems)
    if chapter_bars is not None:
        n_bars = chapter_bars
    elif passages:
        last = max(p.end_beat for p in passages)
        bar, bar_start, _, _ = mm.bar_at(last)
        n_bars = bar - 1 if bar_start == last else bar
    else:
        n_bars = 1
    notes.sort(key=lambda n: (n.start_beat, n.section, n.pitch))
    dynamics.sort(key=lambda d: (d.section, d.beat))
    return Score(
        path=path, title=title, number=number, seed=seed, sample_rate=sample_rate,
        key=key_text, meters=meters, tempos=tempos, sections=sections, buses=buses, master=master,
        passages=tuple(passages), notes=tuple(notes), dynamics=tuple(dynamics), n_bars=max(1, n_bars),
        end_beat=mm.bar_to_beat(max(1, n_bars) + 1), tail_seconds=float(tail), source_sha256=sha256,
        description=description or "")

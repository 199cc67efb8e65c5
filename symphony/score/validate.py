"""Parsed TOML document -> validated :class:`~symphony.score.model.Score`.

Chapter, tempo map, meters, master, buses and sections are checked here; passages in
:mod:`symphony.score.passages`. All checks report through one
:class:`~symphony.score.checker.Checker`, and :func:`build_score` raises every problem
together.
"""

from __future__ import annotations

import os
import re
from fractions import Fraction
from types import MappingProxyType

from symphony.errors import ScoreError
from symphony.params import Catalog, Param, Spec
from symphony.score import cues as picture
from symphony.score import generate as gen
from symphony.score.checker import (CHAPTER_KEYS, MAX_BARS, MAX_VOICES, SAMPLE_RATES, SECTION_KEYS, TOP_KEYS,
                                    Checker, MeterMap, suggest)
from symphony.score.model import Bus, Master, MeterChange, Position, Score, Section, TempoChange
from symphony.score.passages import build_passages
from symphony.score.positions import PositionMap


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
        start = mm.position(c, kp, bar, beat)
        if start is None:
            continue
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
                    else f"{k} is in [{p.low:g}, {p.high:g}]" + "".join(f" or {x:g}" for x in p.special)
                    + f" (default {p.default})")
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
        c.allow(s, kp, SECTION_KEYS)
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
                           voices if voices is not None else 16, c.position(kp),
                           _compressor(c, s, kp, name, list(raw))))
    return tuple(out)


#: A section's bus compressor (symphony.dsp.dynamics.Compressor); ``sidechain`` names the
#: section whose signal keys it (ducking to the kick).
COMPRESSOR_SPEC = Spec("compressor", (
    Param("threshold_db", -18.0, -60.0, 0.0, doc="level above which gain is reduced"),
    Param("ratio", 4.0, 1.0, 20.0, doc="input dB over threshold per output dB"),
    Param("attack_ms", 10.0, 0.1, 500.0, doc="gain-reduction attack"),
    Param("release_ms", 120.0, 5.0, 5000.0, doc="gain-reduction release"),
    Param("knee_db", 6.0, 0.0, 24.0, doc="soft-knee width"),
    Param("makeup_db", 0.0, 0.0, 24.0, doc="gain after compression"),
))


def _compressor(c: Checker, s: dict, kp: tuple, name: str, section_names: list[str]) -> MappingProxyType | None:
    table = c.get(s, "compressor", kp, "table")
    if table is None:
        return None
    ck = kp + ("compressor",)
    params = _params(c, table, ck, COMPRESSOR_SPEC, ("sidechain",), "compressor")
    if "sidechain" in table:
        source = c.get(table, "sidechain", ck, "str")
        if source is not None:
            if source == name:
                c.error(ck + ("sidechain",), f"section '{name}' cannot key its own compressor",
                        "name another section, e.g. sidechain = \"drums\" to duck under the kick")
            elif source not in section_names:
                c.error(ck + ("sidechain",), f"unknown section '{source}' in compressor sidechain of '{name}'",
                        suggest(source, [n for n in section_names if n != name]))
            else:
                params["sidechain"] = source
    return MappingProxyType(params)


# ---------------------------------------------------------------------------- entry
def build_score(doc: dict, catalog: Catalog, positions: PositionMap, path: str, sha256: str) -> Score:
    """Validate a parsed document and build the :class:`Score`.

    Raises
    ------
    ScoreError
        Carrying every problem found, sorted by line.
    """
    c = Checker(path, positions)
    c.allow(doc, (), TOP_KEYS + ("cues", "cue"), "the top level")
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
    n_problems = len(c.problems)
    meters = _meters(c, doc)
    mm = MeterMap(meters)
    tempos = written_tempos = _tempos(c, doc, mm)
    film, cues = picture.read_cues(c, doc, mm)
    if cues and len(c.problems) == n_problems:  # solve only a clean tempo map and cue list
        try:
            tempos, cues = picture.solve_cues(written_tempos, cues, meters, film.fps)
        except ScoreError as exc:
            c.problems.extend(exc.problems)
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
    passages, notes, dynamics = build_passages(c, doc, ctx)
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
    picture.check_cues_in_chapter(cues, mm.bar_to_beat(max(1, n_bars) + 1), max(1, n_bars))
    notes.sort(key=lambda n: (n.start_beat, n.section, n.pitch))
    dynamics.sort(key=lambda d: (d.section, d.beat))
    return Score(
        path=path, title=title, number=number, seed=seed, sample_rate=sample_rate,
        key=key_text, meters=meters, tempos=tempos, sections=sections, buses=buses, master=master,
        passages=tuple(passages), notes=tuple(notes), dynamics=tuple(dynamics), n_bars=max(1, n_bars),
        end_beat=mm.bar_to_beat(max(1, n_bars) + 1), tail_seconds=float(tail), source_sha256=sha256,
        description=description or "", cues=tuple(cues), picture=film, written_tempos=written_tempos,
        input_files=_input_files(path, doc))


def _input_files(path: str, doc: dict) -> tuple[str, ...]:
    """The MIDI files the passages read (already checked), resolved against the score's folder."""
    found: list[str] = []
    for p in doc.get("passage") or ():
        midi = p.get("midi") if isinstance(p, dict) else None
        file = midi.get("file") if isinstance(midi, dict) else None
        if isinstance(file, str):
            resolved = file if os.path.isabs(file) else os.path.join(os.path.dirname(path), file)
            if resolved not in found:
                found.append(resolved)
    return tuple(found)

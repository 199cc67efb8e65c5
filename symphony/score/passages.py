"""Passages -> realized notes and dynamics: players (unison), note lines, patterns, generators.

Part of the validator: every check reports through the shared
:class:`~symphony.score.checker.Checker` and carries on, so one run reports every defect.
"""

from __future__ import annotations

import re
import zlib
from fractions import Fraction

import numpy as np

from symphony.params import Catalog
from symphony.score import generate as gen
from symphony.score.checker import (MAX_BARS, MAX_NOTES, MAX_NOTES_PER_PASSAGE, MAX_PLAYERS, MAX_REPEAT,
                                    PASSAGE_KEYS, PLAYER_KEYS, Checker, MeterMap, suggest)
from symphony.score.model import DYNAMIC_LEVELS_DB, DynamicPoint, Note, Passage, Section
from symphony.score.notes import NoteSyntaxError, parse_notes, realize_notes


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


def _space(c: Checker, p: dict, kp: tuple, catalog: Catalog) -> str | None:
    """The passage's reverb space, checked against the reverb effect's ``space`` choices."""
    space = c.get(p, "space", kp, "str")
    if space is None:
        return None
    reverb = catalog.effects.get("reverb")
    spaces = reverb.param("space").choices if reverb is not None and reverb.param("space") else ()
    if space not in spaces:
        c.error(kp + ("space",), f"unknown space '{space}'", suggest(space, spaces))
        return None
    return space


def build_passages(c: Checker, doc: dict, ctx: dict) -> tuple[list[Passage], list[Note], list[DynamicPoint]]:
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
        space = _space(c, p, kp, catalog)
        repeat = c.get(p, "repeat", kp, "int", default=1, low=1, high=MAX_REPEAT)
        legato = c.get(p, "legato", kp, "number", default=0.92, low=0.01, high=1.0)
        velocity = c.get(p, "velocity", kp, "number", default=0.8, low=0.0, high=1.0)
        players = _players(c, p, kp, sections)
        kinds = [k for k in ("notes", "pattern", "generate", "midi") if k in p]
        if len(kinds) != 1:
            c.error(kp, f"passage '{name}' needs exactly one of notes, pattern or generate (or midi)"
                    + (f", got {' and '.join(kinds)}" if kinds else ""),
                    "notes = \"...\" for written music, pattern = { kick = \"x...\" } for drums, "
                    "[passage.generate] for generative material, [passage.midi] for a MIDI file's track")
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
            for k in ("step", "swing", "tune"):
                if k in p:
                    c.error(kp + (k,), f"{k} belongs to step patterns, not to a notes passage",
                            "write the rhythm in the notes, or use pattern = { ... } for drums")
            end = _notes_passage(c, p, kp, name, start, bars, repeat, mm, hits)
        elif kind == "midi":
            end = _midi_passage(c, p, kp, name, start, bars, players, sections, catalog, mm, hits)
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
        passages.append(Passage(name, bar, start, end, tuple(played), pos, space))
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
        tunes = c.get(p, "tune", kp, "table", default={})
        found = gen.realize_pattern(block, rows, swing, tunes or {})
        for h in found:
            hits.append((h.start, h.duration, (h.pitch,), h.voice, h.velocity, 0, False, False, h.duration,
                         kp + ("pattern", h.voice), -1))
        return
    for k in ("step", "swing", "tune"):
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


def _midi_passage(c: Checker, p: dict, kp: tuple, name: str, start: Fraction, bars: int | None,
                  players: list[dict], sections: dict[str, Section], catalog: Catalog, mm: MeterMap,
                  hits: list) -> Fraction | None:
    """``[passage.midi]``: notes from a MIDI file's track, read by ``catalog.midi`` (symphony.midi).

    MIDI notes keep their recorded lengths (``legato`` does not shorten them); the passage
    ends at ``bars`` or at the bar line after the selection's end.
    """
    mk = kp + ("midi",)
    for k in ("step", "swing", "tune", "repeat"):
        if k in p:
            c.error(kp + (k,), f"{k} does not apply to a midi passage",
                    "select the bars with from_bar/to_bar in [passage.midi]; quantize = \"1/16\" snaps onsets")
    table = c.get(p, "midi", kp, "table")
    if table is None:
        return None
    if catalog.midi is None:
        c.error(mk, "this catalog has no MIDI reader", "load the score with symphony.catalog.load (or pass "
                "Catalog(midi=symphony.midi.MidiPassageReader()))")
        return None
    voices: tuple[str, ...] = ()
    for pl in players:
        spec = catalog.instruments.get(sections[pl["section"]].instrument)
        if spec is not None and spec.drum_voices:
            voices = spec.drum_voices if not voices else tuple(v for v in voices if v in spec.drum_voices)
    found = catalog.midi(c, table, mk, start=start, drum_voices=voices, name=name)
    if found is None:
        return None
    material, material_end = found
    for h in material:  # last = 0: the gate (legato) leaves recorded lengths alone
        hits.append((h.start, h.duration, (h.pitch,), h.voice, h.velocity, 0, False, False, Fraction(0), mk, -1))
    if bars is not None:
        limit = mm.bar_to_beat(mm.bar_at(start)[0] + bars)
        if material_end > limit:
            c.error(kp + ("bars",), f"the MIDI notes of passage '{name}' run past its bars = {bars}",
                    "raise bars, or end the selection earlier with to_bar in [passage.midi]")
        return limit
    _, bar_start, length, _ = mm.bar_at(material_end)
    return bar_start if bar_start == material_end else bar_start + length

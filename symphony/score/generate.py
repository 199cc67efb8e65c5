"""Generative blocks and drum step patterns -> hits (exact beats), seeded and deterministic.

Each ``realize_*`` function reads its already-typed settings from a table through a
checker (see :class:`symphony.score.validate.Checker`), reports problems there, and
returns a list of :class:`Hit`. Randomness comes only from the ``numpy.random.Generator``
handed in (seeded from the chapter seed and the passage), so the same score always gives
the same notes.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from fractions import Fraction
from typing import Any

import numpy as np

from symphony.score.checker import suggest
from symphony.score.notes import NoteSyntaxError, parse_notes, pitch_to_midi

MAX_STEPS = 100_000
KINDS = ("euclid", "probability", "walk", "markov", "arpeggio")

#: Scale modes: semitone steps from the tonic.
MODES: dict[str, tuple[int, ...]] = {
    "major": (0, 2, 4, 5, 7, 9, 11), "ionian": (0, 2, 4, 5, 7, 9, 11),
    "minor": (0, 2, 3, 5, 7, 8, 10), "aeolian": (0, 2, 3, 5, 7, 8, 10),
    "dorian": (0, 2, 3, 5, 7, 9, 10), "phrygian": (0, 1, 3, 5, 7, 8, 10),
    "lydian": (0, 2, 4, 6, 7, 9, 11), "mixolydian": (0, 2, 4, 5, 7, 9, 10),
    "locrian": (0, 1, 3, 5, 6, 8, 10), "harmonic_minor": (0, 2, 3, 5, 7, 8, 11),
}
_PC = {"c": 0, "d": 2, "e": 4, "f": 5, "g": 7, "a": 9, "b": 11}
_ACC = {"": 0, "#": 1, "b": -1}

#: Chord qualities: intervals above the root in semitones.
QUALITIES: dict[str, tuple[int, ...]] = {
    "": (0, 4, 7), "maj": (0, 4, 7), "m": (0, 3, 7), "min": (0, 3, 7), "dim": (0, 3, 6),
    "aug": (0, 4, 8), "+": (0, 4, 8), "sus2": (0, 2, 7), "sus4": (0, 5, 7), "5": (0, 7),
    "6": (0, 4, 7, 9), "m6": (0, 3, 7, 9), "7": (0, 4, 7, 10), "maj7": (0, 4, 7, 11),
    "m7": (0, 3, 7, 10), "mmaj7": (0, 3, 7, 11), "m7b5": (0, 3, 6, 10), "dim7": (0, 3, 6, 9),
    "7sus4": (0, 5, 7, 10), "add9": (0, 4, 7, 14), "9": (0, 4, 7, 10, 14), "m9": (0, 3, 7, 10, 14), "maj9": (0, 4, 7, 11, 14),
}
_CHORD_RE = re.compile(r"([A-G])(#|b)?([a-z0-9+]*)(?:/([A-G])(#|b)?)?")
CHORD_HINT = ("chord symbols are a root A-G with # or b and a quality "
              f"({', '.join(repr(q) for q in QUALITIES if q)}), optional /bass: 'Dm7', 'Bb', 'F/A'; "
              "or explicit pitches '<d3 f3 a3>'")

#: Step characters of drum patterns -> velocity (None = rest).
STEP_CHARS = {"x": 0.75, "X": 1.0, "o": 0.4, ".": None, "-": None}

#: ``Note.pitch`` of a drum hit: the drum machine reads ``pitch - 60`` as a tuning offset in
#: semitones, so 60 is the voice's nominal tuning.
DRUM_NOMINAL_PITCH = 60.0


@dataclass(frozen=True)
class Hit:
    """One generated note: absolute onset, length, pitch (MIDI) or drum voice, velocity."""

    start: Fraction
    duration: Fraction
    pitch: float
    voice: str | None
    velocity: float
    column: int = -1  # character index in the source string, -1 = the block's key


def parse_step(text: str) -> Fraction:
    """``"1/16"`` -> beats (quarter = 1): 1/4. Dotted ``"1/8."`` and ``"3/16"`` allowed.

    Raises
    ------
    ValueError
        For anything else.

    Examples
    --------
    >>> parse_step("1/16")
    Fraction(1, 4)
    """
    m = re.fullmatch(r"\s*(\d{1,3})/(\d{1,3})(\.?)\s*", text)
    if m is None or int(m.group(1)) == 0 or int(m.group(2)) == 0:
        raise ValueError(f"bad step {text!r}")
    value = Fraction(4 * int(m.group(1)), int(m.group(2)))
    return value * Fraction(3, 2) if m.group(3) else value


def parse_key(text: str) -> tuple[int, str]:
    """``"D minor"`` -> (pitch class 2, "minor"). Raises ValueError."""
    parts = text.strip().split()
    if len(parts) != 2:
        raise ValueError(f"bad key {text!r}")
    tonic, mode = parts[0], parts[1].lower()
    m = re.fullmatch(r"([A-Ga-g])(#|b)?", tonic)
    if m is None:
        raise ValueError(f"bad tonic {tonic!r}")
    if mode not in MODES:
        raise ValueError(f"unknown mode {mode!r}")
    return (_PC[m.group(1).lower()] + _ACC[m.group(2) or ""]) % 12, mode


def scale_pitches(tonic: int, mode: str, low: float, high: float) -> list[int]:
    """All MIDI numbers of the scale in ``[low, high]``."""
    steps = set((tonic + s) % 12 for s in MODES[mode])
    return [p for p in range(int(np.ceil(low)), int(np.floor(high)) + 1) if p % 12 in steps]


def parse_chord(text: str, octave: int = 3) -> tuple[float, ...]:
    """A chord symbol (root in ``octave``) or ``<d3 f3 a3>`` -> MIDI pitches, bass first.

    Examples
    --------
    >>> parse_chord("Dm7")
    (50.0, 53.0, 57.0, 60.0)
    """
    text = text.strip()
    if text.startswith("<") and text.endswith(">"):
        toks = parse_notes(text)
        if len(toks) != 1 or toks[0].kind != "note":
            raise ValueError(f"bad chord {text!r}")
        return toks[0].pitches
    m = _CHORD_RE.fullmatch(text)
    if m is None or m.group(3) not in QUALITIES:
        raise ValueError(f"bad chord symbol {text!r}")
    root = 12 * (octave + 1) + _PC[m.group(1).lower()] + _ACC[m.group(2) or ""]
    pitches = [float(root + i) for i in QUALITIES[m.group(3)]]
    if m.group(4):
        bass_pc = (_PC[m.group(4).lower()] + _ACC[m.group(5) or ""]) % 12
        bass = root - ((root - bass_pc) % 12 or 12) if bass_pc != root % 12 else root
        pitches = [float(bass)] + [p for p in pitches if p % 12 != bass_pc or p == bass]
    return tuple(pitches)


def euclid(pulses: int, steps: int, rotation: int = 0) -> list[bool]:
    """Euclidean rhythm (Bresenham form; Toussaint 2005): ``euclid(3, 8)`` = x..x..x.

    Examples
    --------
    >>> "".join("x" if s else "." for s in euclid(3, 8))
    'x..x..x.'
    """
    if steps <= 0:
        return []
    base = [(i * pulses) % steps < pulses for i in range(steps)]
    r = rotation % steps
    return base[-r:] + base[:-r] if r else base


# ---------------------------------------------------------------------------- realizers
class Block:
    """Context for one generative block or pattern: where it sits and how to report."""

    def __init__(self, checker: Any, table: dict, path: tuple, start: Fraction, end: Fraction,
                 rng: np.random.Generator, drum_voices: tuple[str, ...], key: tuple[int, str] | None,
                 bar_length: Fraction) -> None:
        self.c, self.t, self.path = checker, table, path
        self.start, self.end, self.rng = start, end, rng
        self.drum_voices, self.key, self.bar_length = drum_voices, key, bar_length

    def step(self, default: str) -> Fraction | None:
        raw = self.c.get(self.t, "step", self.path, "str", default=default)
        try:
            step = parse_step(raw)
        except ValueError:
            self.c.error(self.path + ("step",), f"bad step {raw!r}",
                         "write a note value like \"1/16\", \"1/8\", \"1/8.\" or \"1/12\" (triplet eighths)")
            return None
        if (self.end - self.start) / step > MAX_STEPS:
            self.c.error(self.path + ("step",), f"step {raw} over this passage makes more than {MAX_STEPS} steps "
                         "(the limit)", "use a longer step or fewer bars")
            return None
        return step

    def pitch_or_voice(self) -> tuple[float, str | None] | None:
        has_p, has_v = "pitch" in self.t, "voice" in self.t
        if has_p == has_v:
            self.c.error(self.path, "give exactly one of pitch or voice",
                         "pitch = \"d2\" for melodic sections, voice = \"kick\" for drum machines")
            return None
        if has_v:
            v = self.c.get(self.t, "voice", self.path, "str")
            if v is None or not self.c.check_voice(v, self.drum_voices, self.path + ("voice",)):
                return None
            return DRUM_NOMINAL_PITCH, v
        p = self.pitch("pitch", None)
        return None if p is None else (p, None)

    def pitch(self, key: str, default: str | None) -> float | None:
        raw = self.c.get(self.t, key, self.path, "str", default=default, required=default is None)
        if raw is None:
            return None
        try:
            return pitch_to_midi(raw)
        except NoteSyntaxError as e:
            self.c.error(self.path + (key,), f"{e.message} in {key}", e.hint)
            return None

    def velocity(self) -> float:
        return self.c.get(self.t, "velocity", self.path, "number", default=0.75, low=0.0, high=1.0)

    def grid(self, step: Fraction) -> list[Fraction]:
        out, t = [], self.start
        while t < self.end:
            out.append(t)
            t += step
        return out


def realize_euclid(b: Block) -> list[Hit]:
    b.c.allow(b.t, b.path, ("kind", "seed", "pulses", "steps", "rotation", "step", "pitch", "voice",
                            "velocity", "accent_every"))
    steps = b.c.get(b.t, "steps", b.path, "int", required=True, low=1, high=64)
    pulses = b.c.get(b.t, "pulses", b.path, "int", required=True, low=0, high=64)
    rotation = b.c.get(b.t, "rotation", b.path, "int", default=0, low=-64, high=64)
    accent_every = b.c.get(b.t, "accent_every", b.path, "int", default=0, low=0, high=64)
    step, pv, vel = b.step("1/16"), b.pitch_or_voice(), b.velocity()
    if steps is not None and pulses is not None and pulses > steps:
        b.c.error(b.path + ("pulses",), f"pulses must be <= steps ({steps}), got {pulses}",
                  "a euclidean rhythm spreads `pulses` hits over `steps` steps")
        return []
    if steps is None or pulses is None or step is None or pv is None:
        return []
    cycle = euclid(pulses, steps, rotation or 0)
    hits, n = [], 0
    for i, t in enumerate(b.grid(step)):
        if cycle[i % steps]:
            n += 1
            v = 1.0 if accent_every and (n - 1) % accent_every == 0 else vel
            hits.append(Hit(t, step, pv[0], pv[1], v))
    return hits


def realize_probability(b: Block) -> list[Hit]:
    b.c.allow(b.t, b.path, ("kind", "seed", "steps", "step", "pitch", "voice", "velocity"))
    digits = b.c.get(b.t, "steps", b.path, "str", required=True)
    step, pv, vel = b.step("1/16"), b.pitch_or_voice(), b.velocity()
    if digits is None or step is None or pv is None:
        return []
    clean = digits.replace("|", "").replace(" ", "")
    bad = [i for i, ch in enumerate(digits) if ch not in "0123456789| "]
    if bad or not clean:
        b.c.error(b.path + ("steps",), f"probability steps must be digits 0-9, got {digits!r}",
                  "one digit per step: 9 = always, 0 = never, 5 = 5/9 of the time", column=bad[0] if bad else -1)
        return []
    hits = []
    for i, t in enumerate(b.grid(step)):
        p = int(clean[i % len(clean)]) / 9.0
        if b.rng.random() < p:
            hits.append(Hit(t, step, pv[0], pv[1], vel))
    return hits


def _scale(b: Block, default: str = "key") -> tuple[int, str] | None:
    raw = b.c.get(b.t, "scale", b.path, "str", default=default)
    if raw == "key":
        return b.key
    try:
        return parse_key(raw)
    except ValueError:
        b.c.error(b.path + ("scale",), f"bad scale {raw!r}",
                  f"write \"key\" (the chapter key) or a tonic and mode, e.g. \"D dorian\"; modes: {', '.join(MODES)}")
        return None


def realize_walk(b: Block) -> list[Hit]:
    b.c.allow(b.t, b.path, ("kind", "seed", "scale", "start", "low", "high", "max_step", "step",
                            "rest_probability", "velocity"))
    scale = _scale(b)
    start = b.pitch("start", None)
    low, high = b.pitch("low", None), b.pitch("high", None)
    max_step = b.c.get(b.t, "max_step", b.path, "int", default=2, low=1, high=12)
    rest_p = b.c.get(b.t, "rest_probability", b.path, "number", default=0.0, low=0.0, high=1.0)
    step, vel = b.step("1/8"), b.velocity()
    if None in (scale, start, low, high, step):
        return []
    if low >= high:
        b.c.error(b.path + ("low",), "low must be below high", "e.g. low = \"a2\", high = \"d4\"")
        return []
    pool = scale_pitches(scale[0], scale[1], low, high)
    if len(pool) < 2:
        b.c.error(b.path + ("high",), "the range low..high holds fewer than 2 scale notes", "widen the range")
        return []
    index = int(np.argmin([abs(p - start) for p in pool]))
    hits = []
    for n, t in enumerate(b.grid(step)):
        if n:
            index += int(b.rng.integers(-max_step, max_step + 1))
            if index < 0:
                index = -index
            if index >= len(pool):
                index = 2 * (len(pool) - 1) - index
            index = min(max(index, 0), len(pool) - 1)
        rest = rest_p > 0 and b.rng.random() < rest_p
        if not rest:
            hits.append(Hit(t, step, float(pool[index]), None, vel))
    return hits


def _states(b: Block, key: str, octave: int) -> list[tuple[float, ...]] | None:
    raw = b.c.get(b.t, key, b.path, "array", required=True)
    if raw is None:
        return None
    out = []
    for i, item in enumerate(raw):
        if not isinstance(item, str):
            b.c.error(b.path + (key, i), f"{key}[{i}] must be a string, got {item!r}", CHORD_HINT)
            return None
        try:
            try:
                out.append((pitch_to_midi(item),))
            except NoteSyntaxError:
                out.append(parse_chord(item, octave))
        except (ValueError, NoteSyntaxError):
            b.c.error(b.path + (key, i), f"bad state {item!r}: not a pitch or a chord",
                      "a pitch like \"d3\", a chord symbol like \"Dm7\" or \"<d3 f3 a3>\"")
            return None
    return out


def realize_markov(b: Block) -> list[Hit]:
    b.c.allow(b.t, b.path, ("kind", "seed", "states", "transitions", "start", "step", "velocity", "octave"))
    octave = b.c.get(b.t, "octave", b.path, "int", default=3, low=-1, high=8)
    states = _states(b, "states", octave if octave is not None else 3)
    matrix = b.c.get(b.t, "transitions", b.path, "array", required=True)
    first = b.c.get(b.t, "start", b.path, "int", default=0, low=0, high=10_000)
    step, vel = b.step("1/8"), b.velocity()
    if states is None or matrix is None or step is None or first is None:
        return []
    n = len(states)
    if n == 0 or n > 128:
        b.c.error(b.path + ("states",), f"states must list 1..128 entries, got {n}", "")
        return []
    if first >= n:
        b.c.error(b.path + ("start",), f"start must be a state index 0..{n - 1}, got {first}", "")
        return []
    if len(matrix) != n:
        b.c.error(b.path + ("transitions",), f"transitions must be a {n}x{n} matrix, got {len(matrix)} rows",
                  "one row per state; row i holds the probabilities of going from state i to each state")
        return []
    rows = []
    for i, row in enumerate(matrix):
        if (not isinstance(row, list) or len(row) != n
                or any(isinstance(x, bool) or not isinstance(x, (int, float)) for x in row)):
            b.c.error(b.path + ("transitions", i), f"transitions row {i} must hold {n} numbers", "")
            return []
        if any(not (0.0 <= x <= 1.0) for x in row):
            b.c.error(b.path + ("transitions", i), f"transitions row {i} has a probability outside 0..1", "")
            return []
        total = float(sum(row))
        if abs(total - 1.0) > 1e-6:
            b.c.error(b.path + ("transitions", i), f"transitions row {i} sums to {total:g}, not 1",
                      "each row holds probabilities that sum to 1 (within 1e-6)")
            return []
        rows.append(np.asarray(row, dtype=np.float64) / total)
    hits, state = [], first
    for k, t in enumerate(b.grid(step)):
        if k:
            state = int(b.rng.choice(n, p=rows[state]))
        for p in states[state]:
            hits.append(Hit(t, step, p, None, vel))
    return hits


def realize_arpeggio(b: Block) -> list[Hit]:
    b.c.allow(b.t, b.path, ("kind", "seed", "chords", "mode", "step", "octaves", "octave", "velocity"))
    text = b.c.get(b.t, "chords", b.path, "str", required=True)
    mode = b.c.get(b.t, "mode", b.path, "str", default="up", choices=("up", "down", "updown", "random"))
    octaves = b.c.get(b.t, "octaves", b.path, "int", default=1, low=1, high=4)
    octave = b.c.get(b.t, "octave", b.path, "int", default=3, low=-1, high=8)
    step, vel = b.step("1/16"), b.velocity()
    if text is None or step is None or None in (mode, octaves, octave):
        return []
    chords: list[tuple[float, ...]] = []
    for m in re.finditer(r"<[^>]*>|[^\s|<>]+|[<>]", text):
        try:
            chords.append(parse_chord(m.group(0), octave))
        except (ValueError, NoteSyntaxError):
            b.c.error(b.path + ("chords",), f"bad chord {m.group(0)!r} in chords", CHORD_HINT,
                      column=m.start())
            return []
    if not chords:
        b.c.error(b.path + ("chords",), "chords is empty", "e.g. chords = \"Dm7 | Bb | F/A | C\" (one per bar)")
        return []
    hits = []
    bar_start, bar_index = b.start, 0
    while bar_start < b.end:
        bar_end = min(bar_start + b.bar_length, b.end)
        base = sorted(chords[bar_index % len(chords)])
        tones = [p + 12 * o for o in range(octaves) for p in base]
        if mode == "down":
            seq = tones[::-1]
        elif mode == "updown":
            seq = tones + tones[-2:0:-1] if len(tones) > 2 else tones
        else:
            seq = tones
        t, k = bar_start, 0
        while t < bar_end:
            p = seq[int(b.rng.integers(len(seq)))] if mode == "random" else seq[k % len(seq)]
            hits.append(Hit(t, min(step, bar_end - t), p, None, vel))
            t += step
            k += 1
        bar_start, bar_index = bar_end, bar_index + 1
    return hits


REALIZERS = {"euclid": realize_euclid, "probability": realize_probability, "walk": realize_walk,
             "markov": realize_markov, "arpeggio": realize_arpeggio}


#: Per-step drum tuning range, semitones (the drum machine's own ``tune_semitones`` range).
TUNE_RANGE = 24.0


def _pattern_tunes(b: Block, rows: dict, tunes: dict) -> dict[str, tuple[float, ...]]:
    """``tune = { voice = [semitones per hit, cycling] }``: checked against the pattern's rows."""
    out: dict[str, tuple[float, ...]] = {}
    for voice, values in tunes.items():
        tpath = b.path + ("tune", voice)
        if voice not in rows:
            b.c.error(tpath, f"tune for {voice!r}, which has no row in this pattern",
                      suggest(voice, list(rows)) or "tune lists belong to voices that have a pattern row")
            continue
        if isinstance(values, (int, float)) and not isinstance(values, bool):
            values = [values]
        if (not isinstance(values, list) or not values
                or any(isinstance(v, bool) or not isinstance(v, (int, float)) for v in values)):
            b.c.error(tpath, f"tune for {voice!r} must be a number or a non-empty list of numbers "
                      f"(semitones), got {values!r}", f"e.g. tune = {{ {voice} = [0, 3, 5, 7] }}")
            continue
        bad = next((v for v in values if not math.isfinite(v) or abs(v) > TUNE_RANGE), None)
        if bad is not None:
            b.c.error(tpath, f"tune for {voice!r} has {bad!r} semitones, outside "
                      f"-{TUNE_RANGE:g}..{TUNE_RANGE:g}", "retune hits by at most two octaves")
            continue
        out[voice] = tuple(float(v) for v in values)
    return out


def realize_pattern(b: Block, rows: dict, swing: float, tunes: dict | None = None) -> list[Hit]:
    """Drum step pattern: each row is a string of step chars, repeated to fill the block.

    ``tunes`` maps a voice to semitone offsets given to its row's hits in order, cycling
    (per-step tuning of an analog drum machine: ``tune = { tom = [0, 3, 7] }``).
    """
    step = b.step("1/16")
    if step is None:
        return []
    tuning = _pattern_tunes(b, rows, tunes or {})
    per_bar = b.bar_length / step
    if per_bar.denominator != 1:
        b.c.error(b.path + ("step",), f"step {b.t.get('step', '1/16')} does not divide the bar "
                  f"({b.bar_length} beats)", "choose a step that fits the meter")
        return []
    per_bar_n = int(per_bar)
    hits: list[Hit] = []
    for voice, row in rows.items():
        rpath = b.path + ("pattern", voice)
        if not isinstance(row, str):
            b.c.error(rpath, f"pattern row {voice!r} must be a string, got {row!r}",
                      "e.g. kick = \"x...x...x...x...\"")
            continue
        if not b.c.check_voice(voice, b.drum_voices, rpath):
            continue
        bad = next((i for i, ch in enumerate(row) if ch not in STEP_CHARS and ch not in "| "), None)
        if bad is not None:
            b.c.error(rpath, f"bad step character {row[bad]!r} in pattern row {voice!r}",
                      "x = hit, X = accent, o = ghost, . or - = rest, | = bar line", column=bad)
            continue
        groups = row.replace(" ", "").split("|")
        if len(groups) > 1:
            groups = [g for g in groups[:-1]] + ([groups[-1]] if groups[-1] else [])
            wrong = next((g for g in groups if len(g) != per_bar_n), None)
            if wrong is not None:
                b.c.error(rpath, f"a |-group of pattern row {voice!r} has {len(wrong)} steps, expected "
                          f"{per_bar_n} (one bar of {b.t.get('step', '1/16')} steps)",
                          "each group between | must be exactly one bar long")
                continue
        cells = "".join(groups)
        if not cells or len(cells) % per_bar_n:
            b.c.error(rpath, f"pattern row {voice!r} has {len(cells)} steps, not a whole number of bars: "
                      f"expected a multiple of {per_bar_n}",
                      f"one bar holds {per_bar_n} steps of {b.t.get('step', '1/16')}")
            continue
        gate = step
        offsets = tuning.get(voice, (0.0,))
        n_hit = 0
        for i, t in enumerate(b.grid(step)):
            v = STEP_CHARS[cells[i % len(cells)]]
            if v is None:
                continue
            if i % 2 == 1 and swing:
                t = t + Fraction(swing).limit_denominator(1000) * step
            hits.append(Hit(t, gate, DRUM_NOMINAL_PITCH + offsets[n_hit % len(offsets)], voice, v))
            n_hit += 1
    return hits

"""The note language: ``"d4:8 f a d5 | <c5 e5>:4. r:8 3:2{ a4:8 b c5 } |"`` -> tokens -> events.

Two stages, both pure:

1. :func:`parse_notes` turns text into a tuple of :class:`NoteToken` (syntax only: pitches
   resolved to MIDI numbers, written durations in beats, octave/duration/velocity carried
   from the previous token). Syntax errors raise :class:`NoteSyntaxError` with the exact
   character offset in the text.
2. :func:`realize_notes` places tokens in time (exact ``Fraction`` beats, quarter note = 1),
   fills full-bar rests ``R``, joins ties and runs the ``|`` bar checks against a meter map.

:func:`format_notes` writes tokens back as text; ``parse_notes(format_notes(t))`` gives the
same events as ``t``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from fractions import Fraction
from typing import Callable

#: Written durations: ``:N`` -> beats (quarter notes).
DURATIONS = {1: Fraction(4), 2: Fraction(2), 4: Fraction(1), 8: Fraction(1, 2),
             16: Fraction(1, 4), 32: Fraction(1, 8), 64: Fraction(1, 16)}
_DOT_FACTOR = {0: Fraction(1), 1: Fraction(3, 2), 2: Fraction(7, 4)}
_LETTER = {"c": 0, "d": 2, "e": 4, "f": 5, "g": 7, "a": 9, "b": 11}
_ACCIDENTAL = {"": 0, "n": 0, "#": 1, "##": 2, "b": -1, "bb": -2}
_PITCH_RE = re.compile(
    r"(?P<letter>[a-g])(?P<acc>##|#|bb|b|n)?(?P<octave>-1|\d+)?(?P<cents>[+-]\d+(?:\.\d+)?c)?")
_TUPLET_RE = re.compile(r"(\d+):(\d+)")
_DELIMITERS = set("|{}<>")
_SUFFIX_START = set(":@!'~")

#: Limits that keep a hostile string from exhausting memory or the stack.
MAX_TUPLET_DEPTH = 8
MAX_TOKENS = 100_000
DEFAULT_DURATION = Fraction(1)
STACCATO_GATE = 0.5
ACCENT_STEP = 0.15

PITCH_HINT = ("note names are a-g with # or b and an octave -1..9, e.g. 'f#3', 'bb2', "
              "'c4' (middle C); optional cents 'a4+15c'")
DURATION_HINT = "durations are :1 :2 :4 :8 :16 :32 :64 with optional dots (:4.); use 3:2{ ... } for triplets"


class NoteSyntaxError(ValueError):
    """A defect in a note string at character ``offset`` (0-based)."""

    def __init__(self, offset: int, message: str, hint: str = "") -> None:
        super().__init__(message)
        self.offset = offset
        self.message = message
        self.hint = hint


@dataclass(frozen=True)
class NoteToken:
    """One token of a note string.

    ``kind`` is ``"note"`` (one pitch or a chord), ``"rest"``, ``"bar_rest"`` (``R``,
    fills the current bar) or ``"bar"`` (a ``|`` bar check). ``duration`` is the written
    length in beats before tuplet scaling (None for bars and ``R``); ``scale`` is the
    product of the enclosing tuplet ratios (2/3 inside ``3:2{}``), ``tuplets`` the ratio
    stack. ``velocity`` None means "the passage default". ``offset``/``length`` locate the
    token in the text.
    """

    kind: str
    pitches: tuple[float, ...] = ()
    chord: bool = False
    duration: Fraction | None = None
    scale: Fraction = Fraction(1)
    tuplets: tuple[tuple[int, int], ...] = ()
    velocity: float | None = None
    accent: int = 0
    staccato: bool = False
    tie: bool = False
    offset: int = 0
    length: int = 0

    @property
    def beats(self) -> Fraction | None:
        """Sounding length in beats (tuplets applied); None for bars and ``R``."""
        return None if self.duration is None else self.duration * self.scale


@dataclass(frozen=True)
class NoteEvent:
    """A realized note or rest-free chord: onset and length relative to the text's start."""

    start: Fraction
    duration: Fraction
    pitches: tuple[float, ...]
    velocity: float | None
    accent: int
    staccato: bool
    tied: bool  # joined from several tokens by ``~``
    last_part: Fraction  # written length of the last tied part (the gate shortens only it)
    offset: int


@dataclass(frozen=True)
class BarProblem:
    """A realization defect (bar check, tie mismatch) at character ``offset``."""

    offset: int
    message: str
    hint: str = ""


def pitch_to_midi(name: str, previous_octave: int | None = None) -> float:
    """MIDI number of a note name (``c4`` = 60, ``a4+15c`` = 69.15).

    Raises
    ------
    NoteSyntaxError
        If ``name`` is not a note name (offset 0).

    Examples
    --------
    >>> pitch_to_midi("bb3")
    58.0
    """
    midi, _ = _parse_pitch(name, 0, previous_octave)
    return midi


def _parse_pitch(text: str, offset: int, previous_octave: int | None) -> tuple[float, int]:
    m = _PITCH_RE.fullmatch(text)
    if m is None:
        head = re.match(r"[a-g](?:##|#|bb|b|n)?(\d+)", text)
        if head and int(head.group(1)) > 9:
            raise NoteSyntaxError(offset, f"octave {head.group(1)} out of range in {text!r}",
                                  "octaves run from -1 to 9 (c4 = middle C)")
        raise NoteSyntaxError(offset, f"bad note name {text!r}", PITCH_HINT)
    if m.group("octave") is None:
        if previous_octave is None:
            raise NoteSyntaxError(offset, f"note {text!r} needs an octave (first pitch of the line)",
                                  f"write e.g. '{m.group('letter')}{m.group('acc') or ''}4'")
        octave = previous_octave
    else:
        octave = int(m.group("octave"))
        if not -1 <= octave <= 9:
            raise NoteSyntaxError(offset, f"octave {octave} out of range in {text!r}",
                                  "octaves run from -1 to 9 (c4 = middle C)")
    midi = 12 * (octave + 1) + _LETTER[m.group("letter")] + _ACCIDENTAL[m.group("acc") or ""]
    cents = 0.0
    if m.group("cents"):
        cents = float(m.group("cents")[:-1])
        if abs(cents) > 100:
            raise NoteSyntaxError(offset, f"cent offset {m.group('cents')} too large in {text!r}",
                                  "use -100c..+100c; write another note name for bigger steps")
    return midi + cents / 100.0, octave


def _parse_suffix(text: str, offset: int) -> dict:
    """Parse ``:4.``, ``@0.8``/``@100``, ``!``/``!!``, ``'`` and ``~`` in any order."""
    out: dict = {}
    i = 0
    while i < len(text):
        c = text[i]
        at = offset + i
        if c == ":":
            m = re.match(r":(\d*)(\.*)", text[i:])
            digits, dots = m.group(1), m.group(2)
            if "duration" in out:
                raise NoteSyntaxError(at, "duration given twice", DURATION_HINT)
            if not digits or int(digits) not in DURATIONS or len(digits) > 2:
                raise NoteSyntaxError(at, f"bad duration {m.group(0)!r}", DURATION_HINT)
            if len(dots) > 2:
                raise NoteSyntaxError(at, f"too many dots in {m.group(0)!r}", "at most two dots (:4..)")
            out["duration"] = DURATIONS[int(digits)] * _DOT_FACTOR[len(dots)]
            i += len(m.group(0))
        elif c == "@":
            m = re.match(r"@(\d+(?:\.\d*)?|\.\d+)", text[i:])
            if m is None or "velocity" in out:
                raise NoteSyntaxError(at, f"bad velocity {text[i:]!r}",
                                      "write @0.8 (0..1, with a decimal point) or @100 (MIDI 1..127)")
            raw = m.group(1)
            if "." in raw:
                v = float(raw)
                if not 0.0 <= v <= 1.0:
                    raise NoteSyntaxError(at, f"velocity {raw} out of range",
                                          "decimal velocities run 0.0..1.0")
            else:
                iv = int(raw)
                if not 1 <= iv <= 127:
                    raise NoteSyntaxError(at, f"velocity {raw} out of range",
                                          "integer velocities are MIDI 1..127; use @0.5 for fractions")
                v = iv / 127.0
            out["velocity"] = v
            i += len(m.group(0))
        elif c == "!":
            n = 2 if text[i:i + 2] == "!!" else 1
            if "accent" in out or text[i:i + 3] == "!!!":
                raise NoteSyntaxError(at, "too many accents", "use ! or !!")
            out["accent"] = n
            i += n
        elif c == "'":
            if "staccato" in out:
                raise NoteSyntaxError(at, "staccato given twice", "one ' per note")
            out["staccato"] = True
            i += 1
        elif c == "~":
            if "tie" in out:
                raise NoteSyntaxError(at, "tie given twice", "one ~ per note")
            out["tie"] = True
            i += 1
        else:
            raise NoteSyntaxError(at, f"unexpected {c!r} after the note",
                                  "suffixes are :duration @velocity ! ' ~")
    return out


def parse_notes(text: str) -> tuple[NoteToken, ...]:
    """Parse a note string into tokens (syntax only; see the module docstring).

    Parameters
    ----------
    text : str
        Whitespace-separated tokens of the note language.

    Returns
    -------
    tuple of NoteToken

    Raises
    ------
    NoteSyntaxError
        With the 0-based offset of the offending character.

    Examples
    --------
    >>> [t.pitches for t in parse_notes("c4:8 e g")]
    [(60.0,), (64.0,), (67.0,)]
    """
    tokens: list[NoteToken] = []
    stack: list[tuple[int, int, int]] = []  # (n, m, offset of the opening)
    scale = Fraction(1)
    octave: int | None = None
    duration = DEFAULT_DURATION
    velocity: float | None = None
    n = len(text)
    i = 0
    while i < n:
        c = text[i]
        if c.isspace():
            i += 1
            continue
        if len(tokens) > MAX_TOKENS:
            raise NoteSyntaxError(i, f"more than {MAX_TOKENS} tokens in one note string",
                                  "split the music into several passages")
        if c == "|":
            tokens.append(NoteToken("bar", scale=scale, tuplets=_ratios(stack), offset=i, length=1))
            i += 1
            continue
        if c == "}":
            if not stack:
                raise NoteSyntaxError(i, "'}' without an open tuplet", "open tuplets with e.g. 3:2{")
            nn, mm, _ = stack.pop()
            scale = scale * Fraction(nn, mm)
            i += 1
            continue
        if c == "{":
            raise NoteSyntaxError(i, "tuplet without a ratio", "write e.g. 3:2{ c5:8 d5 e5 } (3 in the time of 2)")
        if c == ">":
            raise NoteSyntaxError(i, "'>' without '<'", "chords are written <c4 e4 g4>:2")
        start = i
        pitches: list[float] = []
        chord = False
        if c == "<":
            close = text.find(">", i + 1)
            nxt_open = text.find("<", i + 1)
            if close < 0 or (0 <= nxt_open < close):
                raise NoteSyntaxError(i, "unclosed chord '<'", "close the chord with '>', e.g. <c4 e4 g4>:2")
            inner = text[i + 1:close]
            for m in re.finditer(r"\S+", inner):
                word = m.group(0)
                at = i + 1 + m.start()
                if any(ch in _DELIMITERS or ch in _SUFFIX_START for ch in word):
                    raise NoteSyntaxError(at, f"unexpected {word!r} inside a chord",
                                          "a chord holds plain pitches; put :duration after '>'")
                midi, octave = _parse_pitch(word, at, octave)
                pitches.append(midi)
            if not pitches:
                raise NoteSyntaxError(i, "empty chord '<>'", "write pitches inside, e.g. <d3 f3 a3>")
            chord = True
            j = close + 1
            head = ""
        else:
            j = i
            while j < n and not text[j].isspace() and text[j] not in _DELIMITERS:
                j += 1
            word = text[i:j]
            if j < n and text[j] == "{":
                m = _TUPLET_RE.fullmatch(word)
                if m is None:
                    raise NoteSyntaxError(i, f"bad tuplet ratio {word!r}",
                                          "write n:m{ ... } e.g. 3:2{ c5:8 d5 e5 }")
                tn, tm = int(m.group(1)), int(m.group(2))
                if not (1 <= tn <= 64 and 1 <= tm <= 64):
                    raise NoteSyntaxError(i, f"tuplet ratio {word} out of range", "both numbers in 1..64")
                if len(stack) >= MAX_TUPLET_DEPTH:
                    raise NoteSyntaxError(i, f"tuplets nested deeper than {MAX_TUPLET_DEPTH}",
                                          "flatten the tuplets")
                stack.append((tn, tm, i))
                scale = scale * Fraction(tm, tn)
                i = j + 1
                continue
            k = 0
            while k < len(word) and word[k] not in _SUFFIX_START:
                k += 1
            head = word[:k]
            if not head:
                raise NoteSyntaxError(i, f"{word!r} has no note", "a token starts with a pitch, r, R or <chord>")
            j = i + k
        # suffix runs until whitespace or a delimiter
        e = j
        while e < n and not text[e].isspace() and text[e] not in _DELIMITERS:
            e += 1
        if e < n and text[e] in "<>{":
            raise NoteSyntaxError(e, f"unexpected {text[e]!r}", "separate tokens with spaces")
        suffix = _parse_suffix(text[j:e], j)
        if "duration" in suffix:
            duration = suffix["duration"]
        if "velocity" in suffix:
            velocity = suffix["velocity"]
        common = dict(scale=scale, tuplets=_ratios(stack), offset=start, length=e - start)
        if chord:
            tokens.append(NoteToken("note", tuple(pitches), True, duration, velocity=velocity,
                                    accent=suffix.get("accent", 0), staccato=suffix.get("staccato", False),
                                    tie=suffix.get("tie", False), **common))
        elif head in ("r", "R"):
            extra = set(suffix) - {"duration"}
            if extra or (head == "R" and suffix):
                raise NoteSyntaxError(j, f"a rest takes no {'/'.join(sorted(extra or suffix))}",
                                      "write r, r:2 or R (a whole bar)")
            if head == "R":
                if stack:
                    raise NoteSyntaxError(start, "'R' inside a tuplet", "use r with a duration inside tuplets")
                tokens.append(NoteToken("bar_rest", **common))
            else:
                tokens.append(NoteToken("rest", duration=duration, **common))
        else:
            midi, octave = _parse_pitch(head, start, octave)
            tokens.append(NoteToken("note", (midi,), False, duration, velocity=velocity,
                                    accent=suffix.get("accent", 0), staccato=suffix.get("staccato", False),
                                    tie=suffix.get("tie", False), **common))
        i = e
    if stack:
        raise NoteSyntaxError(stack[-1][2], "unclosed tuplet '{'", "close it with '}'")
    return tuple(tokens)


def _ratios(stack: list[tuple[int, int, int]]) -> tuple[tuple[int, int], ...]:
    return tuple((a, b) for a, b, _ in stack)


def midi_to_name(midi: float) -> str:
    """Note name for a MIDI number, sharps for black keys (``61.5`` -> ``'c#4+50c'``)."""
    base = int(round(midi))
    cents = round((midi - base) * 100.0, 9)
    octave, pc = divmod(base, 12)
    name = ["c", "c#", "d", "d#", "e", "f", "f#", "g", "g#", "a", "a#", "b"][pc] + str(octave - 1)
    if cents:
        name += f"{cents:+.12g}c"
    return name


def _format_duration(beats: Fraction) -> str:
    for dots in (0, 1, 2):
        base = beats / _DOT_FACTOR[dots]
        for n, b in DURATIONS.items():
            if b == base:
                return f":{n}" + "." * dots
    raise ValueError(f"duration {beats} beats has no written form")


def format_notes(tokens: tuple[NoteToken, ...] | list[NoteToken]) -> str:
    """Write tokens as note-language text (explicit octave, duration and velocity).

    Examples
    --------
    >>> format_notes(parse_notes("c4:8 e"))
    'c4:8 e4:8'
    """
    out: list[str] = []
    open_: tuple[tuple[int, int], ...] = ()
    for t in tokens:
        common = 0
        while common < min(len(open_), len(t.tuplets)) and open_[common] == t.tuplets[common]:
            common += 1
        for _ in range(len(open_) - common):
            out.append("}")
        for a, b in t.tuplets[common:]:
            out.append(f"{a}:{b}{{")
        open_ = t.tuplets
        if t.kind == "bar":
            out.append("|")
            continue
        if t.kind == "bar_rest":
            out.append("R")
            continue
        if t.kind == "rest":
            out.append("r" + _format_duration(t.duration))
            continue
        names = [midi_to_name(p) for p in t.pitches]
        word = f"<{' '.join(names)}>" if t.chord else names[0]
        word += _format_duration(t.duration)
        if t.velocity is not None:
            word += f"@{t.velocity!r}" if "." in repr(t.velocity) else f"@{float(t.velocity)!r}"
        word += "!" * t.accent + ("'" if t.staccato else "") + ("~" if t.tie else "")
        out.append(word)
    out.extend("}" * len(open_))
    return " ".join(out)


BarInfo = Callable[[Fraction], tuple[int, Fraction, Fraction, str]]
"""``bar_at(beat) -> (bar_number, bar_start_beat, bar_length_beats, "7/8")`` for an absolute beat."""


def realize_notes(tokens: tuple[NoteToken, ...], start: Fraction, bar_at: BarInfo,
                  bar_length: Callable[[int], tuple[Fraction, str]] | None = None,
                  ) -> tuple[list[NoteEvent], list[BarProblem], Fraction]:
    """Place tokens in time from absolute beat ``start``.

    ``bar_at(beat)`` describes the bar holding an absolute beat; ``bar_length(bar)`` (optional)
    gives ``(length_beats, "n/d")`` of a bar number. At the k-th ``|`` the notes since the
    previous ``|`` must fill bar (first bar + k - 1) exactly; ``R`` right after a ``|`` fills
    that bar, elsewhere it fills up to the end of the bar it starts in.

    Returns
    -------
    events : list of NoteEvent
        Absolute onsets; tied notes joined.
    problems : list of BarProblem
        Failed bar checks and tie mismatches (offsets into the text).
    end : Fraction
        Absolute beat where the material ends.
    """
    events: list[NoteEvent] = []
    problems: list[BarProblem] = []
    now = Fraction(start)
    segment_start = now
    checks = 0
    pending: dict | None = None  # a tied note waiting for its continuation

    def flush() -> None:
        nonlocal pending
        if pending is not None:
            events.append(NoteEvent(pending["start"], pending["duration"], pending["pitches"],
                                    pending["velocity"], pending["accent"], pending["staccato"],
                                    pending["tied"], pending["last"], pending["offset"]))
            pending = None

    first_bar = bar_at(now)[0]

    def logical(bar_no: int) -> tuple[Fraction, str]:
        if bar_length is not None:
            return bar_length(bar_no)
        _, _, length, meter = bar_at(segment_start)
        return length, meter

    for t in tokens:
        if t.kind == "bar":
            length, meter = logical(first_bar + checks)
            checks += 1
            held = now - segment_start
            if held != length:
                diff = length - held
                problems.append(BarProblem(
                    t.offset,
                    f"bar check failed at bar {checks} of the passage: bar holds "
                    f"{_show(held)} but {meter} expects {_show(length)}",
                    f"{'add' if diff > 0 else 'remove'} {_show(abs(diff))} (whole-note units) before this '|'"))
            segment_start = now
            continue
        if t.kind == "bar_rest":
            if pending is not None:
                problems.append(BarProblem(t.offset, "tie to a rest 'R'", "a tie ~ joins two equal pitches"))
                pending = None
            if now == segment_start:
                now += logical(first_bar + checks)[0]
            else:
                _, bar_start, length, _ = bar_at(now)
                now = bar_start + length
            continue
        beats = t.beats
        if t.kind == "rest":
            if pending is not None:
                problems.append(BarProblem(t.offset, "tie to a rest", "a tie ~ joins two equal pitches"))
                pending = None
            now += beats
            continue
        if pending is not None:
            if tuple(sorted(pending["pitches"])) != tuple(sorted(t.pitches)):
                problems.append(BarProblem(
                    t.offset,
                    f"tie to a different pitch: {_names(pending['pitches'])} ~ {_names(t.pitches)}",
                    "a tie joins the same pitch; remove the ~ or use the same note (slurs are legato = 1.0)"))
                flush()
            else:
                pending["duration"] += beats
                pending["last"] = beats
                pending["tied"] = True
                pending["staccato"] = t.staccato
                if not t.tie:
                    flush()
                now += beats
                continue
        pending = dict(start=now, duration=beats, pitches=t.pitches, velocity=t.velocity,
                       accent=t.accent, staccato=t.staccato, tied=False, last=beats, offset=t.offset)
        if not t.tie:
            flush()
        now += beats
    if pending is not None:
        problems.append(BarProblem(pending["offset"], "tie '~' at the end has no following note",
                                   "remove the ~ or add the continuation note"))
        flush()
    return events, problems, now


def _names(pitches: tuple[float, ...]) -> str:
    names = [midi_to_name(p) for p in pitches]
    return names[0] if len(names) == 1 else "<" + " ".join(names) + ">"


def _show(beats: Fraction) -> str:
    """Beats as a musical sum: 7/2 beats -> '3/4 + 1/8' style (whole-note fractions)."""
    whole = beats / 4
    if whole == 0:
        return "0"
    parts = []
    rest = whole
    # express as quarters plus a remainder in the smallest power-of-two unit
    quarters = int(rest * 4)
    if quarters:
        parts.append(f"{quarters}/4")
        rest -= Fraction(quarters, 4)
    if rest:
        parts.append(str(rest))
    return " + ".join(parts)


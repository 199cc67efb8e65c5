"""The note language: parsing, exact beats, ties, tuplets, bar checks, round trips, errors."""

from __future__ import annotations

import math
from fractions import Fraction as F

import pytest
from hypothesis import given, settings, strategies as st

from symphony.score.notes import (NoteSyntaxError, format_notes, midi_to_name, parse_notes,
                                  pitch_to_midi, realize_notes)


def bar_at_44(beat):
    """4/4 throughout: (bar, bar start, length, name)."""
    whole = beat // 4
    return 1 + int(whole), whole * 4, F(4), "4/4"


def meter_map(changes):
    """changes: [(bar, beats_per_bar, name)] starting at bar 1 -> (bar_at, bar_length)."""
    starts = []
    beat = F(0)
    for i, (bar, length, name) in enumerate(changes):
        if i:
            pbar, plen, _ = changes[i - 1]
            beat += (bar - pbar) * plen
        starts.append((bar, beat, length, name))

    def bar_at(b):
        cur = starts[0]
        for s in starts:
            if s[1] <= b:
                cur = s
        n = (b - cur[1]) // cur[2]
        return cur[0] + int(n), cur[1] + n * cur[2], cur[2], cur[3]

    def bar_length(bar):
        cur = starts[0]
        for s in starts:
            if s[0] <= bar:
                cur = s
        return cur[2], cur[3]

    return bar_at, bar_length


def events(text, bar_at=bar_at_44, bar_length=None):
    evs, problems, end = realize_notes(parse_notes(text), F(0), bar_at, bar_length)
    assert not problems, problems
    return evs, end


@pytest.mark.parametrize("name, midi", [
    ("c4", 60), ("a4", 69), ("c#4", 61), ("db4", 61), ("bb3", 58), ("b3", 59), ("c##4", 62),
    ("dbb4", 60), ("cn4", 60), ("c-1", 0), ("g9", 127), ("a4+15c", 69.15), ("a4-30c", 68.7),
    ("e#4", 65), ("fb4", 64), ("bbb2", 45),
])
def test_pitch_names(name, midi) -> None:
    assert math.isclose(pitch_to_midi(name), midi, abs_tol=1e-12)


@pytest.mark.parametrize("text, starts, durations", [
    ("c4 d e f", [0, 1, 2, 3], [1, 1, 1, 1]),                          # default quarter
    ("c4:8 d e:4. f:16", [0, F(1, 2), 1, F(5, 2)], [F(1, 2), F(1, 2), F(3, 2), F(1, 4)]),
    ("c4:2.. d:8", [0, F(7, 2)], [F(7, 2), F(1, 2)]),                  # double dot
    ("3:2{ c4:8 d e } f:4", [0, F(1, 3), F(2, 3), 1], [F(1, 3)] * 3 + [1]),
    ("5:4{ c4:16 d e f g }", [F(i, 5) for i in range(5)], [F(1, 5)] * 5),
    ("3:2{ c4:4 3:2{ d:8 e f } g:4 }", [0, F(2, 3), F(8, 9), F(10, 9), F(4, 3)],
     [F(2, 3), F(2, 9), F(2, 9), F(2, 9), F(2, 3)]),                  # nested
    ("c4:2~ c4:8 d:4", [0, F(5, 2)], [F(5, 2), 1]),                    # tie joins
    ("<c4 e g>:2~ <c4 e g>:2", [0], [4]),
    ("c4 r d r:2", [0, 2], [1, 1]),
    ("R d4:1", [4], [4]),
    ("c4:1~ | c4:4 d e f |", [0, 5, 6, 7], [5, 1, 1, 1]),             # tie across a bar line
])
def test_exact_beats(text, starts, durations) -> None:
    evs, _ = events(text)
    assert [e.start for e in evs] == [F(s) for s in starts]
    assert [e.duration for e in evs] == [F(d) for d in durations]


def test_octave_and_duration_carry() -> None:
    toks = parse_notes("a3:8 c4 e g5 b")
    assert [t.pitches[0] for t in toks] == [57, 60, 64, 79, 83]
    assert {t.duration for t in toks} == {F(1, 2)}


def test_velocity_accent_staccato() -> None:
    toks = parse_notes("c4@0.5 d@100 e! f!!' g~ g")
    assert toks[0].velocity == 0.5
    assert toks[1].velocity == pytest.approx(100 / 127)
    assert toks[2].velocity == pytest.approx(100 / 127)  # velocity carries on
    assert (toks[2].accent, toks[3].accent, toks[3].staccato, toks[4].tie) == (1, 2, True, True)


def test_bar_checks_across_a_meter_change() -> None:
    bar_at, bar_length = meter_map([(1, F(4), "4/4"), (2, F(7, 2), "7/8")])
    text = "c4:4 d e f | g:8 a b c5 d e f | R | c4:2 d:4. |"
    tokens = parse_notes(text)
    evs, problems, end = realize_notes(tokens, F(0), bar_at, bar_length)
    assert problems == []
    assert end == F(4) + 3 * F(7, 2)
    assert [e.start for e in evs][-2:] == [F(11), F(13)]  # R filled the whole 7/8 bar
    _, problems, _ = realize_notes(parse_notes("c4:4 d e f | g:4 a b c5 |"), F(0), bar_at, bar_length)
    assert len(problems) == 1
    p = problems[0]
    assert "bar check failed at bar 2" in p.message and "7/8 expects 3/4 + 1/8" in p.message
    assert "bar holds 4/4" in p.message
    assert p.offset == "c4:4 d e f | g:4 a b c5 |".rindex("|")


@pytest.mark.parametrize("text, offset, fragment", [
    ("c4 d h4", 5, "bad note name 'h4'"),
    ("c4 c10", 3, "octave 10 out of range"),
    ("c4:3", 2, "bad duration ':3'"),
    ("c4 <e4 g4", 3, "unclosed chord"),
    ("c4 3:2{ d e", 3, "unclosed tuplet"),
    ("c4 { d e }", 3, "tuplet without a ratio"),
    ("c4 }", 3, "'}' without an open tuplet"),
    ("d e", 0, "needs an octave"),
    ("c4@200", 2, "velocity 200 out of range"),
    ("c4@1.5", 2, "velocity 1.5 out of range"),
    ("c4:4...", 2, "too many dots"),
    ("c4 <>", 3, "empty chord"),
    ("c4 r@0.5", 4, "a rest takes no velocity"),
    ("3:2{ R }", 5, "'R' inside a tuplet"),
    ("c4 x", 3, "bad note name 'x'"),
    ("c4+300c", 0, "cent offset"),
])
def test_syntax_errors(text, offset, fragment) -> None:
    with pytest.raises(NoteSyntaxError) as info:
        parse_notes(text)
    assert fragment in info.value.message
    assert info.value.offset == offset
    assert info.value.hint


@pytest.mark.parametrize("text, offset, fragment", [
    ("c4:2~ d4:2", 6, "tie to a different pitch: c4 ~ d4"),
    ("c4:2~ r:2", 6, "tie to a rest"),
    ("c4 d e f~", 7, "has no following note"),
])
def test_tie_errors(text, offset, fragment) -> None:
    _, problems, _ = realize_notes(parse_notes(text), F(0), bar_at_44)
    assert len(problems) == 1 and fragment in problems[0].message
    assert problems[0].offset == offset


ROUND_TRIP = [
    "d4:8 f a d5 | c5:4. bb4:8 a4:2 |",
    "<c4 e4 g4>:2~ <c4 e4 g4>:8 r:8 R",
    "3:2{ c5:8 d5 e5 } 5:4{ c:16 d e f 3:2{ g:32 a b } }",
    "a4+15c:4@0.5! b-30c@100!!' c5:64~ c5:64 r:1",
    "c-1:1 g9:2.. |",
]


def _signature(text):
    evs, problems, end = realize_notes(parse_notes(text), F(0), bar_at_44)
    return ([(e.start, e.duration, tuple(round(p, 9) for p in e.pitches), e.velocity, e.accent,
              e.staccato, e.tied) for e in evs], end)


@pytest.mark.parametrize("text", ROUND_TRIP)
def test_round_trip(text) -> None:
    formatted = format_notes(parse_notes(text))
    assert _signature(formatted) == _signature(text)
    assert format_notes(parse_notes(formatted)) == formatted  # a fixed point


def test_midi_to_name() -> None:
    assert midi_to_name(61) == "c#4"
    assert midi_to_name(69.15) == "a4+15c"
    assert midi_to_name(0) == "c-1"


_alphabet = st.sampled_from(list("abcdefgrR0123456789#:.@!'~<>{}| -+n") + [" ", "c4", ":8", "3:2{", "}"])


@settings(max_examples=200, deadline=None)
@given(st.lists(_alphabet, max_size=40).map("".join))
def test_fuzz_parser_only_raises_note_syntax_error(text) -> None:
    try:
        tokens = parse_notes(text)
    except NoteSyntaxError as e:
        assert 0 <= e.offset <= len(text)
        return
    realize_notes(tokens, F(0), bar_at_44)
    formatted = format_notes(tokens)
    assert _signature(formatted)[0] == _signature(text)[0]


@settings(max_examples=200, deadline=None)
@given(st.text(max_size=60))
def test_fuzz_parser_any_text(text) -> None:
    try:
        parse_notes(text)
    except NoteSyntaxError:
        pass
